"""Classical inpainting baselines for `pconv eval`, one function each with a common signature.

Every baseline takes ``image`` H×W×3 uint8 RGB and ``hole`` H×W bool (True = hole) and
returns H×W×3 uint8; the caller composites, so only hole pixels count. Telea and
Navier–Stokes come with OpenCV and PatchMatch with pypatchmatch (core dependencies: the fill engine
uses it too); biharmonic (scikit-image) is the optional extra ``pconv-cli[baselines]``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from pconv_cli.runtime.patchmatch import patchmatch_fill
from pconv_cli.runtime.patchmatch import unavailable_reason as patchmatch_unavailable

# OpenCV's neighbourhood radius for Telea and NS; 3 px is its documented usual choice.
CV_RADIUS = 3


def _check(image: np.ndarray, hole: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 image, got {image.shape} {image.dtype}")
    if hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(f"expected an H×W bool hole map of shape {image.shape[:2]}, got {hole.shape} {hole.dtype}")


def telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV fast marching (Telea 2004)."""
    _check(image, hole)
    return cv2.inpaint(image, hole.astype(np.uint8), CV_RADIUS, cv2.INPAINT_TELEA)


def navier_stokes(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV Navier–Stokes (Bertalmio et al. 2001)."""
    _check(image, hole)
    return cv2.inpaint(image, hole.astype(np.uint8), CV_RADIUS, cv2.INPAINT_NS)


def biharmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image biharmonic inpainting (Damelin & Hoang 2018)."""
    _check(image, hole)
    from skimage.restoration import inpaint_biharmonic

    out = inpaint_biharmonic(image.astype(np.float64) / 255.0, hole, channel_axis=-1)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def patchmatch(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """PatchMatch (Barnes et al. 2009) through pypatchmatch, 7×7 patches, seeded (``runtime.patchmatch``,
    which checks the inputs)."""
    return patchmatch_fill(image, hole)


@dataclass(frozen=True)
class Baseline:
    name: str  # as given to --baselines
    label: str  # as shown in tables
    run: Callable[[np.ndarray, np.ndarray], np.ndarray]
    module: str | None = None  # optional package it needs
    ready: Callable[[], str | None] | None = None  # extra check once the module imports


BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("telea", "Telea", telea),
        Baseline("ns", "NS", navier_stokes),
        Baseline("biharmonic", "Biharmonic", biharmonic, module="skimage.restoration"),
        Baseline("patchmatch", "PatchMatch", patchmatch, ready=patchmatch_unavailable),
    )
}


def unavailable_reason(name: str) -> str | None:
    """Why baseline ``name`` cannot run here (a missing optional package), or None when it can."""
    baseline = BASELINES[name]
    try:
        if baseline.module is not None:
            importlib.import_module(baseline.module)
        # ready() imports the package again, and that can fail too (a parent package hidden or broken)
        return baseline.ready() if baseline.ready is not None else None
    except ImportError as exc:
        return f"{exc.name or baseline.module} is not installed (pip install 'pconv-cli[baselines]')"
