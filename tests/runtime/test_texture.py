import doctest

import cv2
import numpy as np
import pytest

from pconv_cli.runtime import texture
from pconv_cli.runtime.texture import CONTRAST, add_texture


def test_doctests():
    assert doctest.testmod(texture).failed == 0


def _textured(seed: int = 0, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, 0.12, (size, size)).astype(np.float32), (0, 0), 1.0)
    return np.clip(0.5 + np.repeat(grain[..., None], 3, axis=2), 0, 1).astype(np.float32)


def _hole(size: int = 128) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[40:88, 36:92] = True
    return hole


def _detail(image: np.ndarray) -> np.ndarray:
    return image - cv2.GaussianBlur(image, (0, 0), 3.0)


def test_a_smooth_fill_takes_the_photos_grain_and_valid_pixels_stay():
    photo, hole = _textured(), _hole()
    smooth = np.where(hole[..., None], cv2.GaussianBlur(photo, (0, 0), 6.0), photo)
    out = add_texture(photo, smooth, hole, np.ones(hole.shape, np.float32))
    assert np.array_equal(out[~hole], photo[~hole])
    inside = _detail(out)[hole].std()
    around = _detail(photo)[~hole].std()
    # the photo's contrast times CONTRAST, not a fraction of that
    assert 0.7 * CONTRAST * around < inside < 1.3 * CONTRAST * around
    assert _detail(smooth)[hole].std() < 0.2 * around


def test_the_gain_sets_how_much_texture_each_pixel_takes():
    photo, hole = _textured(), _hole()
    smooth = np.where(hole[..., None], np.float32(0.5), photo)
    np.testing.assert_array_equal(add_texture(photo, smooth, hole, np.zeros(hole.shape, np.float32)), smooth)
    half = np.zeros(hole.shape, np.float32)
    half[:, :64] = 1.0  # texture on the left half of the hole only
    out = add_texture(photo, smooth, hole, half)
    assert np.array_equal(out[:, 64:], smooth[:, 64:])
    left = hole.copy()
    left[:, 64:] = False
    assert out[left].std() > 0.5 * _detail(photo)[~hole].std()


def test_the_same_input_gives_the_same_bytes():
    photo, hole = _textured(1), _hole()
    smooth = np.where(hole[..., None], np.float32(0.5), photo)
    gain = np.ones(hole.shape, np.float32)
    a = add_texture(photo, smooth, hole, gain)
    b = add_texture(photo.copy(), smooth.copy(), hole.copy(), gain.copy())
    assert a.tobytes() == b.tobytes()


def test_detail_is_copied_from_where_the_photo_looks_like_the_fill():
    # Left half: dark with vertical stripes; right half: bright with horizontal stripes. A hole across
    # the middle whose smooth fill is dark on the left and bright on the right takes vertical stripes
    # on its left and horizontal ones on its right.
    size = 160
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    left = 0.3 + 0.1 * np.sin(xx * 1.3)
    right = 0.7 + 0.1 * np.sin(yy * 1.3)
    photo = np.repeat(np.where(xx < size // 2, left, right)[..., None], 3, axis=2).astype(np.float32)
    hole = np.zeros((size, size), bool)
    hole[60:100, 40:120] = True
    level = np.where(xx < size // 2, 0.3, 0.7)[..., None].astype(np.float32)
    smooth = np.where(hole[..., None], np.repeat(level, 3, axis=2), photo)
    out = add_texture(photo, smooth, hole, np.ones(hole.shape, np.float32))[..., 0]

    def along(block: np.ndarray) -> tuple[float, float]:  # energy of steps across x and across y
        return float(np.abs(np.diff(block, axis=1)).mean()), float(np.abs(np.diff(block, axis=0)).mean())

    dx, dy = along(out[66:94, 46:74])
    assert dx > 3 * dy  # vertical stripes vary along x
    dx, dy = along(out[66:94, 86:114])
    assert dy > 3 * dx


def test_no_source_leaves_the_fill():
    photo = _textured(size=32)
    hole = np.ones((32, 32), bool)
    hole[0, 0] = False  # one valid pixel: no cell wholly in the photo
    fill = np.full_like(photo, 0.5)
    out = add_texture(photo, fill, hole, np.ones(hole.shape, np.float32))
    assert np.array_equal(out[hole], fill[hole])


def test_checks_its_input():
    photo, hole = _textured(), _hole()
    with pytest.raises(ValueError, match="expected H×W×3 image and fill"):
        add_texture(photo, photo[:64], hole, np.ones(hole.shape, np.float32))
    with pytest.raises(ValueError, match="bool hole map"):
        add_texture(photo, photo, hole.astype(np.uint8), np.ones(hole.shape, np.float32))


def test_a_smooth_fill_does_not_repeat_one_source_cell_after_cell(monkeypatch):
    # Deep in a large hole the fill is smooth, so every cell looks alike; without the reuse penalty
    # most cells took the one smoothest source and its 8-px piece repeated across the hole.
    photo = _textured(2, size=256)
    hole = np.zeros((256, 256), bool)
    hole[48:208, 48:208] = True
    smooth = np.where(hole[..., None], np.float32(0.5), photo)

    def repeat(out: np.ndarray) -> float:  # correlation of the detail with itself one cell across
        d = _detail(out)[64:192, 64:192, 0]
        a, b = d[:, : -texture.CELL].ravel(), d[:, texture.CELL :].ravel()
        return float(np.corrcoef(a, b)[0, 1])

    gain = np.ones(hole.shape, np.float32)
    assert repeat(add_texture(photo, smooth, hole, gain)) < 0.3
    monkeypatch.setattr(texture, "REUSE", 0.0)
    monkeypatch.setattr(texture, "COHERENCE", 0.0)
    assert repeat(add_texture(photo, smooth, hole, gain)) > 0.5


def _stripes_across_a_stroke() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Stripes of a 14-px period (no offset on the 8-px cell grid lines them up) under a 10-px-wide stroke.
    yy, xx = np.mgrid[:96, :96].astype(np.float32)
    photo = np.repeat((0.5 + 0.2 * np.sin(2 * np.pi * xx / 14))[..., None], 3, axis=2)
    hole = np.zeros((96, 96), bool)
    hole[16:80, 43:53] = True
    smooth = np.where(hole[..., None], cv2.GaussianBlur(photo, (0, 0), 6.0), photo)
    return photo.astype(np.float32), smooth.astype(np.float32), hole


def _correlation_with_truth(photo: np.ndarray, out: np.ndarray, hole: np.ndarray) -> float:
    got, truth = _detail(out)[hole][:, 0], _detail(photo)[hole][:, 0]
    return float(np.corrcoef(got, truth)[0, 1])


def test_copied_detail_lines_up_with_the_detail_at_the_holes_edge():
    photo, smooth, hole = _stripes_across_a_stroke()
    out = add_texture(photo, smooth, hole, np.ones(hole.shape, np.float32))
    assert _correlation_with_truth(photo, out, hole) > 0.8


def test_without_the_pixel_fit_the_stripes_come_out_of_phase(monkeypatch):
    # The check above can fail: matches on the cell grid alone cannot line a 14-px period up.
    monkeypatch.setattr(texture, "STEPS", ())
    monkeypatch.setattr(texture, "SWEEPS", 0)
    photo, smooth, hole = _stripes_across_a_stroke()
    out = add_texture(photo, smooth, hole, np.ones(hole.shape, np.float32))
    assert _correlation_with_truth(photo, out, hole) < 0.7  # 0.84 with it
