import math

import numpy as np
import pytest

from pconv_cli.metrics import all_metrics, hole_psnr, l1_percent, psnr, ssim


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
    assert set(scores) == {"l1", "psnr", "ssim", "hole_psnr"}
    assert scores["hole_psnr"] > scores["psnr"] - 10
