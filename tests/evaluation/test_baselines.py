import sys

import numpy as np
import pytest

from pconv_cli.evaluation import baselines as bl


def _scene():
    y, x = np.mgrid[0:40, 0:48]
    image = np.stack([x * 5, y * 5, np.full_like(x, 120)], axis=-1).astype(np.uint8)
    hole = np.zeros((40, 48), bool)
    hole[15:25, 18:30] = True
    return image, hole


@pytest.mark.parametrize("name", list(bl.BASELINES))
def test_each_baseline_fills_a_smooth_hole(name):
    if bl.unavailable_reason(name) is not None:
        pytest.skip(f"{name}: {bl.unavailable_reason(name)}")
    image, hole = _scene()
    damaged = image.copy()
    damaged[hole] = 0  # the baseline must not see the truth in the hole
    out = bl.BASELINES[name].run(damaged, hole)
    assert out.shape == image.shape and out.dtype == np.uint8
    error = np.abs(out[hole].astype(int) - image[hole].astype(int)).mean()
    assert error < 25, f"{name} hole error {error}"  # far below the 0-filled hole's error
    assert np.abs(damaged[hole].astype(int) - image[hole].astype(int)).mean() > 60


def test_baselines_check_their_inputs():
    image, hole = _scene()
    with pytest.raises(ValueError, match="uint8"):
        bl.telea(image.astype(np.float32), hole)
    with pytest.raises(ValueError, match="bool hole map"):
        bl.navier_stokes(image, hole.astype(np.uint8))


def test_missing_optional_package_is_a_reason_not_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)  # makes `import skimage` fail
    monkeypatch.setitem(sys.modules, "skimage.restoration", None)
    reason = bl.unavailable_reason("biharmonic")
    assert reason is not None and "not installed" in reason and "pconv-cli[baselines]" in reason
    monkeypatch.setitem(sys.modules, "patchmatch", None)  # a core dependency, but a platform may lack its wheel
    monkeypatch.setitem(sys.modules, "patchmatch.patch_match", None)
    reason = bl.unavailable_reason("patchmatch")
    assert reason is not None and "not installed" in reason and "pip install pypatchmatch" in reason
    assert bl.unavailable_reason("telea") is None and bl.unavailable_reason("ns") is None
