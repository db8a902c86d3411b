"""Crops of image arrays: one centre crop for evaluation's pairs and training's validation images."""

from __future__ import annotations

import numpy as np


def center_crop(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """The central h×w region of an H×W or H×W×C array, as a new C-contiguous (writable) array.

    size: (h, w), or one int for a square. When H − h (or W − w) is odd, the extra row (column)
    is cut at the bottom (right): top = (H − h) // 2, left = (W − w) // 2.

    Example:
        >>> center_crop(np.arange(20).reshape(4, 5), 2)
        array([[ 6,  7],
               [11, 12]])
    """
    h, w = (size, size) if isinstance(size, int) else size
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an H×W or H×W×C array, got shape {image.shape}")
    height, width = image.shape[:2]
    if not (0 < h <= height and 0 < w <= width):
        raise ValueError(f"expected a crop size within 1..{height}×1..{width} (h×w), got {h}×{w}")
    top, left = (height - h) // 2, (width - w) // 2
    return np.array(image[top : top + h, left : left + w], order="C")
