import doctest

import cv2
import numpy as np
import pytest

from pconv_cli.evaluation import perceptual
from pconv_cli.evaluation.perceptual import PerceptualDistance

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def judge():
    return PerceptualDistance()


def test_identical_images_are_at_distance_zero(scene, judge):
    truth, hole = scene()
    truth = truth / 255.0
    # Zero up to float rounding: oneDNN may pick another kernel path for the second, equal input.
    assert judge(truth, truth, hole) == pytest.approx(0.0, abs=1e-7)


def test_a_blurred_fill_is_farther_than_a_sharp_one(scene, judge):
    truth, hole = scene()
    truth = truth / 255.0
    blurred = np.where(hole[..., None], cv2.GaussianBlur(truth, (0, 0), 2.0), truth)
    sharp = np.where(hole[..., None], np.clip(truth + 0.01, 0, 1), truth)
    assert judge(blurred, truth, hole) > 2 * judge(sharp, truth, hole) > 0


def test_only_the_hole_counts(scene, judge):
    truth, hole = scene()
    truth = truth / 255.0
    outside = np.where(hole[..., None], truth, cv2.GaussianBlur(truth, (0, 0), 2.0))
    inside = np.where(hole[..., None], cv2.GaussianBlur(truth, (0, 0), 2.0), truth)
    assert judge(outside, truth, hole) < judge(inside, truth, hole) / 2


def test_features_are_unit_vectors_over_channels(scene, judge):
    truth, _ = scene(16)
    truth = truth / 255.0
    for f in judge.features(truth):
        norms = f.square().sum(1).sqrt()
        assert float((norms - 1).abs().max()) < 1e-4 or float(norms.min()) == 0


def test_shapes_are_checked(scene, judge):
    truth, hole = scene(16)
    truth = truth / 255.0
    with pytest.raises(ValueError, match="H×W bool hole"):
        judge(truth, truth, hole.astype(np.uint8))
    with pytest.raises(ValueError, match="H×W×3 RGB"):
        judge.features(truth[..., :2])


def test_without_torch_it_says_why(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert perceptual.unavailable_reason() == "torch is not installed (pip install 'pconv-cli[torch]')"


def test_the_docstring_examples_run():
    assert doctest.testmod(perceptual, raise_on_error=False).failed == 0
