"""Hole masks: ratios, the paper's hole-ratio bins, dilation.

Internal masks are float tensors with 1 = valid and 0 = hole (DESIGN §2).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Paper Table 1: hole-ratio bins (low, high], plus whether holes keep a 50-px border margin.
BINS: tuple[tuple[float, float], ...] = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
BORDER_MODES = ("margin", "none")
BORDER_MARGIN = 50


def hole_ratio(mask: torch.Tensor | np.ndarray) -> float:
    """Fraction of hole pixels of one mask (1 = valid, 0 = hole), any shape."""
    total = mask.size if isinstance(mask, np.ndarray) else mask.numel()
    if total == 0:
        raise ValueError("expected a non-empty mask, got an empty one")
    return 1.0 - float((mask > 0.5).sum()) / total


def bin_label(low: float, high: float) -> str:
    """Display name of a bin, e.g. '(0.10,0.20]'."""
    return f"({low:.2f},{high:.2f}]"


def bin_index(ratio: float) -> int | None:
    """Index into BINS of the bin holding ``ratio``, or None outside every bin."""
    for i, (low, high) in enumerate(BINS):
        if low < ratio <= high:
            return i
    return None


def dilate_holes(mask: torch.Tensor | np.ndarray, pixels: int) -> torch.Tensor | np.ndarray:
    """Grow the holes of a mask (1 = valid) by ``pixels`` (square neighbourhood).

    mask: an N×1×H×W tensor, or an H×W bool/uint8 array (done in uint8 with OpenCV, so a
    huge image's mask needs no float copy).
    """
    if pixels < 0:
        raise ValueError(f"expected pixels >= 0, got {pixels}")
    if isinstance(mask, np.ndarray):
        if mask.ndim != 2:
            raise ValueError(f"expected an H×W mask array, got shape {mask.shape}")
        if pixels == 0:
            return mask
        import cv2

        holes = cv2.dilate((mask <= 0.5).view(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8))
        return (holes == 0) if mask.dtype == bool else (holes == 0).astype(mask.dtype)
    if mask.dim() != 4:
        raise ValueError(f"expected an N×1×H×W mask, got shape {tuple(mask.shape)}")
    if pixels == 0:
        return mask
    k = 2 * pixels + 1
    holes = F.max_pool2d(1.0 - mask.float(), k, stride=1, padding=pixels)
    return (1.0 - holes).to(mask.dtype)
