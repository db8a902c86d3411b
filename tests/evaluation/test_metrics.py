import math

import cv2
import numpy as np
import pytest

from pconv_cli.evaluation.metrics import (
    all_metrics,
    detail_ratio,
    hole_psnr,
    l1_percent,
    psnr,
    rim_bias,
    seam_excess,
    ssim,
)


def test_l1_and_psnr_by_hand():
    target = np.zeros((4, 4, 3))
    pred = target.copy()
    pred[:2, :2] = 0.5  # a quarter of the pixels off by 0.5
    assert l1_percent(pred, target) == pytest.approx(12.5)
    assert psnr(pred, target) == pytest.approx(10 * math.log10(1 / (0.25 * 0.25)))
    assert psnr(target, target) == math.inf
    assert psnr(np.full((2, 2, 1), 0.1), np.zeros((2, 2, 1))) == pytest.approx(20.0)


def test_hole_psnr_sees_only_holes():
    target = np.zeros((6, 6, 3))
    pred = target.copy()
    hole = np.zeros((6, 6), bool)
    hole[:3] = True
    pred[:3] = 0.1  # error 0.1 in the holes: 20 dB
    pred[3:] = 0.7  # larger errors outside must not count
    assert hole_psnr(pred, target, hole) == pytest.approx(20.0)
    assert psnr(pred, target) < 20.0
    with pytest.raises(ValueError, match="at least one hole"):
        hole_psnr(pred, target, np.zeros((6, 6), bool))
    with pytest.raises(ValueError, match="hole map"):
        hole_psnr(pred, target, np.zeros((5, 6), bool))


def test_ssim_of_constant_images_by_hand():
    a, b = 0.2, 0.6
    c1 = 0.01**2
    # no variance anywhere: SSIM reduces to the luminance term (2ab + C1) / (a² + b² + C1)
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(np.full((16, 16, 3), a), np.full((16, 16, 3), b)) == pytest.approx(expected)
    x = np.random.default_rng(1).random((20, 20, 3))
    assert ssim(x, x) == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(11, 11, 3), (37, 52, 3), (64, 48, 1)])
def test_ssim_matches_scikit_image(shape):
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(sum(shape))
    target = rng.random(shape)
    pred = np.clip(target + 0.15 * rng.standard_normal(shape), 0, 1)
    pred[: shape[0] // 2] = target[: shape[0] // 2]  # part identical, part noisy
    reference = metrics.structural_similarity(
        pred, target, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1
    )
    assert ssim(pred, target) == pytest.approx(reference, abs=1e-4)
    assert psnr(pred, target) == pytest.approx(metrics.peak_signal_noise_ratio(target, pred, data_range=1))


def test_bad_shapes_are_value_errors():
    with pytest.raises(ValueError, match="one shape"):
        l1_percent(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="11×11"):
        ssim(np.zeros((10, 30, 3)), np.zeros((10, 30, 3)))


def test_all_metrics_keys():
    x = np.random.default_rng(0).random((16, 16, 3))
    hole = np.zeros((16, 16), bool)
    hole[4:8, 4:8] = True
    scores = all_metrics(x * 0.9, x, hole)
    assert set(scores) == {"l1", "psnr", "ssim", "hole_psnr", "rim", "rim_r", "rim_g", "rim_b", "seam", "detail"}
    assert scores["hole_psnr"] > scores["psnr"] - 10


def _plus_hole() -> np.ndarray:
    """A 5×5 image whose hole is the centre pixel and its four neighbours (a plus sign)."""
    hole = np.zeros((5, 5), bool)
    hole[2, 1:4] = True
    hole[1:4, 2] = True
    return hole


def test_rim_bias_by_hand():
    hole = _plus_hole()
    target = np.full((5, 5, 3), 0.5)
    pred = target.copy()
    pred[2, 2] = 0.0  # the centre touches no valid pixel: it must not count
    pred[1, 2] = pred[3, 2] = 0.5 - 4 / 255  # two arm tips 4 levels too dark in every channel
    pred[2, 1, 0] = 0.5 + 8 / 255  # one arm tip 8 levels too red
    # the four arm tips are the rim: mean error per channel over them
    np.testing.assert_allclose(rim_bias(pred, target, hole), [0.0, -2.0, -2.0], atol=1e-9)
    assert np.isnan(rim_bias(pred, target, np.ones((5, 5), bool))).all()  # no valid pixel anywhere


def test_seam_excess_by_hand():
    hole = _plus_hole()
    rng = np.random.default_rng(3)
    target = rng.random((5, 5, 1))
    assert seam_excess(target, target, hole) == pytest.approx(0.0)  # the truth itself: no excess
    # a flat photo with a flat fill 10 levels off: each of the 12 edge pairs (3 per arm tip) steps by 10
    flat = np.full((5, 5, 1), 0.4)
    pred = flat.copy()
    pred[hole] = 0.4 + 10 / 255
    assert seam_excess(pred, flat, hole) == pytest.approx(10.0)
    # a photo with a step of 0.2 right at the hole (right arm tip), filled smoothly: negative excess
    target = flat.copy()
    target[2, 3] = 0.6  # hole pixel; its three valid neighbours are 0.4
    smooth = flat.copy()  # the fill copies the surroundings
    # only the three pairs around (2, 3) differ: |0.4-0.4| - |0.6-0.4| = -0.2 each, of 12 pairs
    assert seam_excess(smooth, target, hole) == pytest.approx(-0.2 * 3 / 12 * 255)


def test_seam_and_rim_ignore_pixels_outside_the_image():
    hole = np.zeros((4, 4), bool)
    hole[:, :2] = True  # the left half, touching three image edges
    target = np.zeros((4, 4, 3))
    pred = target.copy()
    pred[:, 0] = 1.0  # the column at the image edge touches no valid pixel
    assert seam_excess(pred, target, hole) == pytest.approx(0.0)
    np.testing.assert_allclose(rim_bias(pred, target, hole), [0.0, 0.0, 0.0])
    pred[:, 1] = 2 / 255
    assert seam_excess(pred, target, hole) == pytest.approx(2.0)  # 4 pairs, each 2 levels
    with pytest.raises(ValueError, match="bool hole map"):
        seam_excess(pred, target, hole.astype(np.uint8))


def test_detail_ratio_by_hand():
    # A 9×9 hole in a 15×15 image: its pixels 3 px or more inside are the centre 5×5.
    hole = np.zeros((15, 15), bool)
    hole[3:12, 3:12] = True
    truth = np.zeros((15, 15, 1))
    truth[7, 7] = 1.0  # one bright dot: Laplacian -4 at the dot, +1 at its four neighbours, 0 elsewhere
    expected_var = np.var([-4.0, 1, 1, 1, 1] + [0.0] * 20)
    half = truth * 0.5  # half the contrast: a quarter of the variance
    assert detail_ratio(truth, truth, hole) == pytest.approx(1.0)
    assert detail_ratio(half, truth, hole) == pytest.approx(0.25)
    assert detail_ratio(np.zeros_like(truth), truth, hole) == 0.0
    assert np.var(cv2.Laplacian(truth[..., 0], cv2.CV_64F, ksize=1)[5:10, 5:10]) == pytest.approx(expected_var)
    # a dot outside the centre 5×5 (2 px inside the hole) is not looked at: flat truth there, NaN
    edge = np.zeros((15, 15, 1))
    edge[4, 4] = 1.0
    shifted = np.zeros_like(edge)
    shifted[8, 8] = 1.0
    assert math.isnan(detail_ratio(shifted, edge * 0.0, hole))
    assert math.isnan(detail_ratio(truth, truth, np.pad(np.ones((3, 3), bool), 6)))  # nothing 3 px deep
    rgb = np.repeat(truth, 3, axis=2)
    assert detail_ratio(rgb * 0.5, rgb, hole) == pytest.approx(0.25)  # luma of grey = grey
    with pytest.raises(ValueError, match="depth"):
        detail_ratio(truth, truth, hole, depth=0)


def test_detail_ratio_of_a_blurred_fill_is_farther_from_one_than_a_sharp_one():
    rng = np.random.default_rng(0)
    truth = np.clip(0.5 + rng.normal(0, 0.15, (40, 40, 3)), 0, 1)
    hole = np.zeros((40, 40), bool)
    hole[8:32, 8:32] = True
    blurred = np.where(hole[..., None], cv2.GaussianBlur(truth, (0, 0), 1.5), truth)
    sharp = np.where(hole[..., None], np.clip(truth + 0.02, 0, 1), truth)
    assert detail_ratio(truth, truth, hole) == pytest.approx(1.0)
    assert abs(detail_ratio(blurred, truth, hole) - 1) > 0.5 > 10 * abs(detail_ratio(sharp, truth, hole) - 1)
