"""PatchMatch's copy where the network agrees with it: the texture setting ``hybrid``.

PatchMatch (Barnes et al. 2009; PyPatchMatch's native library) fills a hole with pieces of the photo
at full resolution, so that edges at the hole's border run on and texture keeps the photo's own
statistics; but it also copies pieces of the wrong structure. The network draws the structure but
no detail. Here the network judges PatchMatch's copy: wherever the copy's low frequencies (Gaussian
σ ``AGREE_SIGMA``) are within about ``TOLERANCE`` of the network's fill, the copy's pixels are taken;
elsewhere the ``auto`` texture stays. Where the photo repeats itself exactly around a hole (a
façade's panels, tiles), the copy is the truth where the network can only blur, and the fill engine
takes it whole (``runtime.repetition``). Why these settings: docs/design-notes.md (fill engine).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

PATCH_RADIUS = 3  # 7×7 patches, as the eval baseline (pypatchmatch's default of 15 is much slower)
SEED = 0
AGREE_SIGMA = 2.0  # px
TOLERANCE = 0.03  # RGB distance in [0, 1] units at which the copy's weight falls to 1/e

# The library's seed is global to the process: a fill sets it and runs under this lock, so that
# threads (pconv serve) get the same bytes for the same input.
_LOCK = threading.Lock()


def unavailable_reason() -> str | None:
    """Why PatchMatch cannot run here, or None when it can."""
    try:
        from patchmatch import patch_match
    except ImportError:
        return "PyPatchMatch is not installed (pip install pypatchmatch)"
    return None if patch_match.patchmatch_available else "PyPatchMatch's native library failed to load"


def patchmatch_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """PatchMatch's fill of ``hole``, seeded: the same input gives the same bytes.

    Args:
        image: H×W×3 uint8 RGB (hole pixels are not read).
        hole: H×W bool, True = hole.

    Returns:
        H×W×3 uint8: ``image`` with its holes filled from its own pieces.

    Example:
        >>> img = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))
        >>> hole = np.zeros((64, 64), bool); hole[28:36, 28:36] = True
        >>> out = patchmatch_fill(img, hole)
        >>> out.shape, bool((out[~hole] == img[~hole]).all())
        ((64, 64, 3), True)
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 image, got {image.shape} {image.dtype}")
    if hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(f"expected an H×W bool hole map of shape {image.shape[:2]}, got {hole.shape} {hole.dtype}")
    from patchmatch import patch_match

    source = np.where(hole[..., None], 0, image).astype(np.uint8)
    with _LOCK:
        patch_match.set_random_seed(SEED)
        return patch_match.inpaint(source, hole.astype(np.uint8) * 255, patch_size=PATCH_RADIUS)


def take_agreeing(textured: np.ndarray, smooth: np.ndarray, copy: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``textured`` with ``copy``'s pixels taken where the copy's low frequencies agree with ``smooth``'s.

    Args:
        textured: H×W×3 float32 in [0, 1], the fill to keep where the copy disagrees.
        smooth: H×W×3 float32, the network's fill (its structure is the judge).
        copy: H×W×3 float32, PatchMatch's fill.
        weight: H×W float32 in [0, 1], at most how much of the copy to take per pixel (0 outside holes).

    Returns:
        H×W×3 float32: per pixel, ``a·copy + (1 − a)·textured`` with
        ``a = weight · exp(−(d / TOLERANCE)²)``, ``d`` the RGB distance of the two low-passes.

    Example:
        >>> flat = np.full((32, 32, 3), 0.5, np.float32)
        >>> near, far = flat + 0.001, flat + 0.2
        >>> ones = np.ones((32, 32), np.float32)
        >>> bool(np.allclose(take_agreeing(flat, flat, near, ones), near, atol=1e-4))
        True
        >>> bool(np.allclose(take_agreeing(flat, flat, far, ones), flat))
        True
    """
    if not (textured.shape == smooth.shape == copy.shape) or textured.ndim != 3 or weight.shape != textured.shape[:2]:
        raise ValueError(
            f"expected three H×W×3 images of one shape and an H×W weight, got {textured.shape}, "
            f"{smooth.shape}, {copy.shape} and {weight.shape}"
        )
    low = cv2.GaussianBlur(copy - smooth, (0, 0), AGREE_SIGMA)
    a = (weight * np.exp(-(low * low).sum(2) / TOLERANCE**2)).astype(np.float32)[..., None]
    return a * copy + (1 - a) * textured
