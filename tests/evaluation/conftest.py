import numpy as np
import pytest


def _textured_scene(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A textured photo stand-in (stripes, checks and grain), uint8 H×W×3, and a hole in its middle."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size]
    base = 128 + 60 * np.sin(x * 0.9) + 40 * np.sign(np.sin(y * 0.5 + x * 0.2))
    image = np.stack([base, base * 0.8 + 20, 255 - base], -1) + rng.normal(0, 6, (size, size, 3))
    hole = np.zeros((size, size), bool)
    hole[16:48, 12:52] = True
    return np.clip(image, 0, 255).astype(np.uint8), hole


@pytest.fixture
def scene():
    """``scene(size=64)``: the textured stand-in and its hole (the metrics' tests share it)."""
    return _textured_scene
