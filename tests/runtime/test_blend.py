import doctest

import numpy as np
import pytest

from pconv_cli.evaluation.metrics import rim_bias, seam_excess
from pconv_cli.runtime import blend
from pconv_cli.runtime.blend import blend_fill


def _reference(image: np.ndarray, fill: np.ndarray, hole: np.ndarray, band: int, gain: np.ndarray) -> np.ndarray:
    """The blending equations written out pixel by pixel and solved densely in float64."""
    h, w = hole.shape
    cells = [(y, x) for y in range(h) for x in range(w) if hole[y, x]]
    where = {c: i for i, c in enumerate(cells)}

    def depth(y: int, x: int) -> int:  # 4-neighbour steps to the nearest valid pixel
        return min(abs(y - vy) + abs(x - vx) for vy in range(h) for vx in range(w) if not hole[vy, vx])

    n = len(cells)
    a = np.zeros((n, n))
    b = np.zeros((n, image.shape[2]))
    for i, (y, x) in enumerate(cells):
        for qy, qx in ((y, x + 1), (y + 1, x), (y, x - 1), (y - 1, x)):
            if not (0 <= qy < h and 0 <= qx < w):
                continue
            a[i, i] += 1
            if not hole[qy, qx]:
                b[i] += image[qy, qx]
                ry, rx = 2 * qy - y, 2 * qx - x  # the photo's step beyond q, continued into the hole
                if 0 <= ry < h and 0 <= rx < w and not hole[ry, rx]:
                    b[i] += blend.SLOPE * (image[qy, qx] - image[ry, rx])
                continue
            a[i, where[(qy, qx)]] -= 1
            if depth(y, x) > band and depth(qy, qx) > band:
                b[i] += gain[y, x] * (fill[y, x] - fill[qy, qx])
    out = image.astype(np.float64).copy()
    out[hole] = np.linalg.solve(a, b)
    return out


def _case(seed: int, size=(14, 17)):
    rng = np.random.default_rng(seed)
    image = rng.random((*size, 3)).astype(np.float32)
    hole = np.zeros(size, bool)
    hole[3:11, 4:13] = True
    hole[6, 1:4] = True  # a thin arm reaching the left
    hole[0, 8] = True  # a hole pixel on the image's edge
    fill = rng.random((*size, 3)).astype(np.float32)
    gain = rng.random(size).astype(np.float32)
    return image, fill, hole, gain


@pytest.mark.parametrize("band", [0, 1, 2, 5])
def test_matches_the_equations_solved_densely(band):
    image, fill, hole, gain = _case(band)
    got = blend_fill(image, fill, hole, band, gain)
    np.testing.assert_allclose(got, _reference(image, fill, hole, band, gain), atol=2e-4)
    assert np.array_equal(got[~hole], image[~hole])  # valid pixels are the photo's, exactly


def test_deep_structure_is_kept_and_shifted_to_the_photo_level():
    size = (80, 80)
    image = np.full((*size, 1), 0.6, np.float32)
    hole = np.zeros(size, bool)
    hole[8:72, 8:72] = True
    yy, xx = np.mgrid[: size[0], : size[1]]
    texture = (0.1 * np.sin(xx / 2.0) * np.cos(yy / 3.0))[..., None].astype(np.float32)
    fill = 0.3 + texture  # the right structure, 0.3 too dark
    got = blend_fill(image, fill, hole, band=2, gain=np.ones(size, np.float32))
    # Near the edge the texture fades into the membrane; from 8 px in, the fill's own steps are kept.
    core = np.zeros(size, bool)
    core[16:64, 16:64] = True
    pairs = core[:, 1:] & core[:, :-1]
    np.testing.assert_allclose(np.diff(got[..., 0], axis=1)[pairs], np.diff(fill[..., 0], axis=1)[pairs], atol=3e-3)
    assert abs(float(got[hole].mean()) - 0.6) < 0.005  # the level comes from the photo
    assert abs(float(fill[hole].mean()) - 0.6) > 0.25


def test_removes_a_dark_rim_and_the_seam_step():
    rng = np.random.default_rng(0)
    truth = np.clip(0.5 + 0.05 * rng.standard_normal((48, 48, 3)), 0, 1)
    hole = np.zeros((48, 48), bool)
    hole[10:38, 12:36] = True
    fill = truth.copy()
    inner = np.zeros_like(hole)
    inner[11:37, 13:35] = True
    fill[hole & ~inner] -= 12 / 255  # the network's 1-px dark outline
    composite = np.where(hole[..., None], fill, truth)
    assert rim_bias(composite, truth, hole).mean() < -10
    got = blend_fill(truth, fill, hole)
    # The membrane is smooth and the photo is noise of σ 12.75 levels: its rim is off by a level or two
    # per channel either way (seeds 0-3: up to 4), the outline's −12 is gone.
    assert abs(rim_bias(got, truth, hole).mean()) < 1.5
    assert seam_excess(got, truth, hole) < seam_excess(composite, truth, hole) - 5


def test_default_band_keeps_structure_from_three_px_in():
    # A 6-px stroke over a flat photo: its two inner rows lie 3 px deep. The default 2-px band keeps
    # the fill's steps there (the network's outline it removes reaches 2 px deep); a 3-px band
    # flattens the whole stroke into a membrane, and a 4-px stroke is a membrane either way.
    image = np.full((24, 64, 1), 0.5, np.float32)
    xx = np.arange(64, dtype=np.float32)
    fill = np.broadcast_to(0.5 + 0.1 * np.sin(xx / 2.0)[None, :, None], image.shape).copy()
    gain = np.ones((24, 64), np.float32)
    stroke = np.zeros((24, 64), bool)
    stroke[9:15] = True
    inner = np.s_[11:13, 8:56, 0]
    assert blend_fill(image, fill, stroke, gain=gain)[inner].std() > 0.02
    assert blend_fill(image, fill, stroke, band=3, gain=gain)[inner].std() < 1e-3
    thin = np.zeros((24, 64), bool)
    thin[10:14] = True
    assert blend_fill(image, fill, thin, gain=gain)[10:14].std() < 1e-3


def _noisy_flat(size, colour, sigma, seed=0):
    rng = np.random.default_rng(seed)
    levels = np.asarray(colour, np.float64) + rng.normal(0, sigma, (*size, 3))
    return (np.clip(np.rint(levels), 0, 255) / 255).astype(np.float32)


def test_flat_surroundings_get_a_smooth_fill_whatever_the_network_gave():
    # Sky-blue with 2 levels of sensor noise; the fill has the network's faults: a colour cast deep in
    # the hole and a dark outline. The photo is flat, so the blend ignores the fill: the hole's error
    # is the noise's own (an ideal smooth fill), and its mean is the photo's.
    image = _noisy_flat((160, 160), (46, 84, 161), 2.0)
    yy, xx = np.mgrid[:160, :160]
    hole = (yy - 80) ** 2 / 50**2 + (xx - 80) ** 2 / 30**2 < 1
    depth = np.minimum(np.hypot((yy - 80) / 50, (xx - 80) / 30), 1)
    fill = image + np.array([0, -8, 6], np.float32) / 255 * (1 - depth[..., None])  # cast, strongest inside
    fill[hole & (depth > 0.9)] -= 10 / 255  # outline
    got = blend_fill(image, fill, hole)
    error = (got[hole] - image[hole]) * 255
    assert np.sqrt((error**2).mean()) < 2.0 * 1.1
    assert np.abs(error.mean(axis=0)).max() < 0.5
    composite = np.where(hole[..., None], fill, image)
    assert np.sqrt((((composite[hole] - image[hole]) * 255) ** 2).mean()) > 4.0


def test_detailed_surroundings_keep_the_fills_structure():
    # The same kind of hole in a textured photo: the fill's own steps are kept deep in the hole, and
    # its level moves to the photo's.
    import cv2

    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.normal(0, 0.1, (160, 160)).astype(np.float32), (0, 0), 1.5)
    image = np.repeat(0.5 + texture[..., None], 3, axis=2)
    hole = np.zeros((160, 160), bool)
    hole[40:120, 50:110] = True
    got = blend_fill(image, image - 0.1, hole)
    core = np.zeros((160, 160), bool)
    core[55:105, 65:95] = True
    pairs = core[:, 1:] & core[:, :-1]
    np.testing.assert_allclose(np.diff(got[..., 0], axis=1)[pairs], np.diff(image[..., 0], axis=1)[pairs], atol=3e-3)
    assert abs(float((got - image)[core].mean())) < 0.02


def test_a_thin_slit_follows_the_photos_curvature():
    # A 1-px slit across a parabola: a flat membrane takes the mean of its two neighbours, one
    # unit of curvature too high; continuing the photo's slope from both sides takes 3 × SLOPE of it back.
    xx = np.arange(32, dtype=np.float64)
    image = np.broadcast_to((1e-3 * (xx - 4.0) ** 2)[None, :, None], (16, 32, 1)).astype(np.float32)
    slit = np.zeros((16, 32), bool)
    slit[:, 20] = True
    got = blend_fill(image, np.zeros_like(image), slit)[:, 20, 0]
    membrane = (image[0, 19, 0] + image[0, 21, 0]) / 2
    assert abs(membrane - image[0, 20, 0]) == pytest.approx(1e-3, rel=1e-3)
    np.testing.assert_allclose(got - image[:, 20, 0], (1 - 3 * blend.SLOPE) * 1e-3, atol=2e-5)
    assert np.abs(got - image[:, 20, 0]).max() < 0.5e-3  # closer than the membrane


def test_coarse_start_reaches_the_same_solution(monkeypatch):
    rng = np.random.default_rng(5)
    size = (96, 96)
    image = rng.random((*size, 3)).astype(np.float32)
    fill = rng.random((*size, 3)).astype(np.float32)
    hole = np.zeros(size, bool)
    hole[10:90, 5:80] = True  # 6,000 hole pixels: above the size that starts from a coarse solve
    assert hole.sum() > blend._COARSE_MIN
    coarse = blend_fill(image, fill, hole)
    monkeypatch.setattr(blend, "_COARSE_MIN", 10**9)
    direct = blend_fill(image, fill, hole)
    np.testing.assert_allclose(coarse, direct, atol=3 / 255)


def test_edge_cases_and_bad_input():
    image = np.full((6, 6, 3), 0.25, np.float32)
    fill = np.zeros_like(image)
    no_hole = np.zeros((6, 6), bool)
    assert np.array_equal(blend_fill(image, fill, no_hole), image)
    all_hole = np.ones((6, 6), bool)
    assert np.array_equal(blend_fill(image, fill, all_hole), fill)  # nothing to take a level from
    with pytest.raises(ValueError, match="one shape"):
        blend_fill(image, fill[:5], no_hole)
    with pytest.raises(ValueError, match="bool hole map"):
        blend_fill(image, fill, no_hole.astype(np.uint8))
    with pytest.raises(ValueError, match="band"):
        blend_fill(image, fill, no_hole, band=-1)


def test_the_docstring_examples_run():
    assert doctest.testmod(blend, raise_on_error=False).failed == 0
