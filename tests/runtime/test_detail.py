import doctest

import cv2
import numpy as np
import pytest

from pconv_cli.runtime import detail
from pconv_cli.runtime.detail import detail_gain, noise_level


def test_doctests():
    assert doctest.testmod(detail).failed == 0


@pytest.mark.parametrize("sigma", [1.0, 2.0, 5.0])
def test_noise_level_is_the_noises_sigma_even_beside_edges(sigma):
    rng = np.random.default_rng(int(sigma))
    step = np.zeros((200, 200), np.float32)
    step[:, 100:] = 80.0  # a strong edge: the median ignores it
    luma = step + rng.normal(0, sigma, step.shape).astype(np.float32)
    assert noise_level(luma, np.ones(luma.shape, bool)) == pytest.approx(sigma, rel=0.1)


def test_noise_level_reads_only_valid_pixels():
    rng = np.random.default_rng(0)
    luma = rng.normal(0, 1.0, (100, 100)).astype(np.float32)
    valid = np.ones((100, 100), bool)
    valid[:, 50:] = False
    luma[:, 50:] += rng.normal(0, 30, (100, 50)).astype(np.float32)  # garbage in the hole
    assert noise_level(luma, valid) == pytest.approx(1.0, rel=0.15)


def _photo(kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:192, :192].astype(np.float32)
    if kind == "flat":
        base = np.full((192, 192), 120.0, np.float32)
    elif kind == "gradient":
        base = 60 + 0.4 * xx + 0.2 * yy
    else:  # texture: blurred noise of 12 levels
        base = 120 + cv2.GaussianBlur(rng.normal(0, 30, (192, 192)).astype(np.float32), (0, 0), 1.2)
    levels = np.clip(np.rint(base[..., None] + rng.normal(0, 2, (192, 192, 3))), 0, 255)
    return (levels / 255).astype(np.float32)


@pytest.mark.parametrize(("kind", "lo", "hi"), [("flat", 0.0, 0.0), ("gradient", 0.0, 0.0), ("texture", 1.0, 1.0)])
def test_gain_tells_flat_and_smooth_from_detailed(kind, lo, hi):
    hole = np.zeros((192, 192), bool)
    hole[60:140, 50:150] = True
    gain = detail_gain(_photo(kind), hole)
    assert lo <= float(gain[hole].min()) and float(gain[hole].max()) <= hi


def test_gain_follows_the_surroundings_across_a_hole():
    # Left half textured, right half flat: each side of the hole takes its own surroundings' gain.
    image = _photo("flat")
    image[:, :96] = _photo("texture")[:, :96]
    hole = np.zeros((192, 192), bool)
    hole[60:140, 40:152] = True
    gain = detail_gain(image, hole)
    assert gain[100, 50] == 1.0 and gain[100, 145] == 0.0


def test_gain_checks_its_input():
    with pytest.raises(ValueError, match="expected an H×W×C image"):
        detail_gain(np.zeros((8, 8), np.float32), np.zeros((8, 8), bool))


def test_the_noise_quantile_reads_the_quiet_part_of_a_mostly_textured_photo():
    rng = np.random.default_rng(0)
    luma = 0.5 + rng.normal(0, 0.01, (256, 256)).astype(np.float32)  # the sensor's noise, σ 0.01
    luma[:, 64:] += cv2.GaussianBlur(rng.normal(0, 0.2, (256, 192)).astype(np.float32), (0, 0), 0.7)  # fine stone
    valid = np.ones(luma.shape, bool)
    assert noise_level(luma, valid) > 1.5 * 0.01  # the median takes the stone for noise
    assert noise_level(luma, valid, quantile=0.1) == pytest.approx(0.01, rel=0.15)
    flat = 0.5 + rng.normal(0, 0.01, (256, 256)).astype(np.float32)
    assert noise_level(flat, valid, quantile=0.1) == pytest.approx(noise_level(flat, valid), rel=0.15)
    with pytest.raises(ValueError, match=r"expected a quantile in \(0, 1\], got 0"):
        noise_level(flat, valid, quantile=0)
