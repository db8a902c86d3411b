import doctest

import cv2
import numpy as np
import pytest

from pconv_cli.imaging.images import Picture
from pconv_cli.runtime import finishing
from pconv_cli.runtime.finishing import add_photo_texture
from pconv_cli.runtime.patchmatch import patchmatch_fill


def test_doctests():
    assert doctest.testmod(finishing).failed == 0


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """Left: grass-like grain; right: flat sky with sensor noise; a hole in each."""
    rng = np.random.default_rng(0)
    grain = cv2.GaussianBlur(rng.normal(0, 40, (192, 384)).astype(np.float32), (0, 0), 1.0)
    photo = np.empty((192, 384, 3), np.float32)
    photo[:, :192] = np.array([70, 120, 50], np.float32) + grain[:, :192, None]
    photo[:, 192:] = np.array([60, 110, 200], np.float32)
    photo += rng.normal(0, 1.5, photo.shape).astype(np.float32)
    hole = np.zeros((192, 384), bool)
    hole[60:130, 50:140] = True
    hole[60:130, 250:340] = True
    return np.clip(np.rint(photo), 0, 255).astype(np.uint8), hole


def test_each_group_gets_what_its_surroundings_hold():
    photo, hole = _scene()
    filled = photo.copy()
    filled[hole] = cv2.GaussianBlur(photo, (0, 0), 8)[hole]  # a smooth fill, as the network's
    before = filled.copy()
    got = add_photo_texture(Picture(photo, "png"), hole, filled, 256)
    assert [g[4] for g in got] == ["photo", "smooth"]
    assert np.array_equal(filled[~hole], photo[~hole])
    grass, sky = hole.copy(), hole.copy()
    grass[:, 192:] = False
    sky[:, :192] = False
    assert filled[grass].astype(float).std(axis=0).mean() > 2 * before[grass].astype(float).std(axis=0).mean()
    assert np.array_equal(filled[sky], before[sky])  # flat surroundings keep the smooth fill


def test_a_group_mostly_in_flat_surroundings_takes_texture_only_where_its_own_are_detailed():
    photo, _ = _scene()
    hole = np.zeros(photo.shape[:2], bool)
    hole[60:130, 150:340] = True  # a little in the grain, most in the sky
    filled = photo.copy()
    filled[hole] = cv2.GaussianBlur(photo, (0, 0), 8)[hole]
    before = filled.copy()
    gain = finishing.detail_gain(filled.astype(np.float32) / 255, hole)
    assert gain[hole].mean() < finishing.PHOTO_GAIN  # the group as a whole is flat
    got = add_photo_texture(Picture(photo, "png"), hole, filled, 256)
    assert [g[4] for g in got] == ["photo"]
    grass, sky = hole.copy(), hole.copy()
    grass[:, 180:] = False
    sky[:, :230] = False
    assert filled[grass].astype(float).std(axis=0).mean() > 1.5 * before[grass].astype(float).std(axis=0).mean()
    assert np.array_equal(filled[sky], before[sky])  # the sky part keeps the smooth fill


def test_a_group_too_large_keeps_its_fill(monkeypatch):
    photo, hole = _scene()
    filled = photo.copy()
    monkeypatch.setattr(finishing, "MAX_BOX", 1000)
    got = add_photo_texture(Picture(photo, "png"), hole, filled, 256)
    assert [g[4] for g in got] == ["too large", "too large"]
    assert np.array_equal(filled, photo)


def test_grey_and_16_bit_pictures_keep_their_layout():
    photo, hole = _scene()
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None].astype(np.uint16) * 257
    filled = grey.copy()
    add_photo_texture(Picture(grey, "png"), hole, filled, 256)
    assert filled.shape == grey.shape and filled.dtype == np.uint16
    assert np.array_equal(filled[~hole], grey[~hole])


def _stripes() -> tuple[np.ndarray, np.ndarray]:
    """Diagonal stripes (period 10 px) with a round hole: PatchMatch continues them whole."""
    yy, xx = np.mgrid[0:160, 0:160]
    wave = 128 + 50 * np.sin(2 * np.pi * (xx + yy) / 10.0)
    photo = np.clip(np.rint(np.repeat(wave[..., None], 3, axis=2)), 0, 255).astype(np.uint8)
    hole = (yy - 80) ** 2 + (xx - 80) ** 2 < 20**2
    return photo, hole


def test_patchmatch_takes_the_copy_where_the_network_agrees(monkeypatch):
    truth, hole = _stripes()
    monkeypatch.setattr(finishing, "REPEATS", 0.0)  # the judged copy, not the whole one that repetition earns
    smooth = truth.copy()
    smooth[hole] = cv2.GaussianBlur(truth, (0, 0), 1)[hole]  # the network's: stripes in place, softer
    errors = {}
    for patchmatch in (False, True):
        filled = smooth.copy()
        got = add_photo_texture(Picture(truth, "png"), hole, filled, 256, patchmatch=patchmatch)
        assert [g[4] for g in got] == ["hybrid" if patchmatch else "photo"]
        assert np.array_equal(filled[~hole], truth[~hole])
        errors[patchmatch] = np.abs(filled[hole].astype(float) - truth[hole]).mean()
    assert errors[True] < 0.75 * errors[False]  # measured 4.0 against 6.8 levels


def test_hybrid_beyond_patchmatchs_box_gets_what_auto_gives(monkeypatch):
    truth, hole = _stripes()
    smooth = truth.copy()
    smooth[hole] = cv2.GaussianBlur(truth, (0, 0), 1)[hole]
    auto, hybrid = smooth.copy(), smooth.copy()
    monkeypatch.setattr(finishing, "PATCHMATCH_BOX", 1000)
    add_photo_texture(Picture(truth, "png"), hole, auto, 256)
    got = add_photo_texture(Picture(truth, "png"), hole, hybrid, 256, patchmatch=True)
    assert [g[4] for g in got] == ["photo"] and np.array_equal(hybrid, auto)


@pytest.mark.parametrize("patchmatch", [False, True])
def test_a_group_whose_surroundings_repeat_takes_patchmatchs_copy_whole(patchmatch):
    panels = np.random.default_rng(2).integers(0, 256, (4, 4, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    truth = np.tile(panels, (10, 10, 1))  # a façade: the copy is the truth, where any smooth fill blurs
    _, hole = _stripes()
    smooth = truth.copy()
    smooth[hole] = cv2.GaussianBlur(truth, (0, 0), 2)[hole]
    filled = smooth.copy()
    got = add_photo_texture(Picture(truth, "png"), hole, filled, 256, patchmatch=patchmatch)
    assert [g[4] for g in got] == ["repeated"]
    assert np.array_equal(filled[~hole], truth[~hole])
    assert np.array_equal(filled[hole], patchmatch_fill(truth, hole)[hole])
    error = lambda fill: np.abs(fill[hole].astype(float) - truth[hole]).mean()  # noqa: E731
    assert error(filled) < 0.25 * error(smooth)  # measured 8.4 against 46 levels


def test_only_groups_with_detail_around_them_count_as_repeated(monkeypatch):
    truth, hole = _stripes()
    monkeypatch.setattr(finishing, "PHOTO_GAIN", 2.0)  # no group's surroundings count as having detail
    monkeypatch.setattr(finishing, "FLAT_GAIN", 1.5)  # nor any of their pixels
    filled = truth.copy()
    filled[hole] = 128
    got = add_photo_texture(Picture(truth, "png"), hole, filled, 256)
    assert [g[4] for g in got] == ["smooth"] and (filled[hole] == 128).all()


def test_without_pypatchmatch_auto_gives_repeating_surroundings_the_photos_texture(monkeypatch):
    panels = np.random.default_rng(2).integers(0, 256, (4, 4, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    truth = np.tile(panels, (10, 10, 1))
    _, hole = _stripes()
    monkeypatch.setattr(finishing, "unavailable_reason", lambda: "PyPatchMatch is not installed")
    got = add_photo_texture(Picture(truth, "png"), hole, truth.copy(), 256)
    assert [g[4] for g in got] == ["photo"]
