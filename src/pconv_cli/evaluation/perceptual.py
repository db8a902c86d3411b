"""The perceptual distance of `pconv eval`: LPIPS-style, without learned weights, inside the hole.

The shipped Caffe VGG-16 (model/vgg.py) is read at relu1_2, relu2_2 and relu3_3; each activation
is unit-normalised over channels at every position, and the squared difference of fill and truth,
summed over channels, is averaged over the hole's positions at that layer, then over the layers
(docs/metrics.md). It needs torch; it runs on the CPU in float32, so that a figure does not
depend on the machine's accelerator.
"""

from __future__ import annotations

import importlib.util
import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

NORM_EPS = 1e-10
_NEEDS = "torch safetensors"  # the modules the VGG features import (the torch extra's)


def unavailable_reason() -> str | None:
    """Why the perceptual distance cannot be measured here (torch missing), or None when it can."""
    for module in _NEEDS.split():
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'pconv-cli[torch]')"
    return None


class PerceptualDistance:
    """The distance of fills from their truth; ``features`` of a truth can serve several fills.

    Example:
        >>> judge = PerceptualDistance()
        >>> image = np.random.default_rng(0).random((16, 16, 3))
        >>> hole = np.zeros((16, 16), bool); hole[4:12, 4:12] = True
        >>> round(judge(image, image, hole), 6)  # zero up to float rounding
        0.0
    """

    def __init__(self) -> None:
        from pconv_cli.model.vgg import RELUS, VGG16Features

        self.vgg = VGG16Features(RELUS)

    def features(self, image: np.ndarray) -> list[torch.Tensor]:
        """Unit-normalised relu1_2, relu2_2, relu3_3 activations (1×C×h×w each) of an H×W×3 RGB image in [0, 1]."""
        import torch

        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an H×W×3 RGB image, got shape {image.shape}")
        x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
        with torch.inference_mode():
            return [f / (f.square().sum(1, keepdim=True).sqrt() + NORM_EPS) for f in self.vgg(x)]

    def distance(self, fill: list[torch.Tensor], truth: list[torch.Tensor], hole: np.ndarray) -> float:
        """Mean over the layers of the channel-summed squared difference, averaged over hole positions.

        fill, truth: ``features`` of two images of one size; hole: their H×W bool map, True = hole.
        A layer where no position is hole (a hole smaller than its cell) is left out.
        """
        per_layer = []
        for f, t in zip(fill, truth):
            h, w = f.shape[2:]
            inside = cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
            if inside.any():
                squared = (f - t).square().sum(1)[0].numpy().astype(np.float64)
                per_layer.append(float(squared[inside].mean()))
        return float(np.mean(per_layer)) if per_layer else math.nan

    def __call__(self, pred: np.ndarray, target: np.ndarray, hole: np.ndarray) -> float:
        """The distance of ``pred`` from ``target`` (H×W×3 RGB in [0, 1]) inside ``hole`` (H×W bool)."""
        if pred.shape != target.shape or hole.shape != pred.shape[:2] or hole.dtype != bool:
            raise ValueError(
                f"expected two H×W×3 images of one shape and an H×W bool hole, got {pred.shape}, "
                f"{target.shape} and {hole.dtype} {hole.shape}"
            )
        return self.distance(self.features(pred), self.features(target), hole)
