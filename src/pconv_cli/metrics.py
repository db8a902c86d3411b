"""Image-quality metrics of DESIGN §2 (paper Table 1): L1 %, PSNR, SSIM, hole-only PSNR.

Every function takes H×W×C float arrays in [0, 1] (data range 1) and works in float64.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11×11 window: scikit-image's int(3.5 * sigma + 0.5) for sigma 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(f"expected two H×W×C arrays of one shape, got {pred.shape} and {target.shape}")
    return pred.astype(np.float64), target.astype(np.float64)


def _psnr_from_mse(mse: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def l1_percent(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error over every pixel and channel, in % of the data range."""
    pred, target = _pair(pred, target)
    return float(np.abs(pred - target).mean() * 100.0)


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB over the whole image (inf when identical)."""
    pred, target = _pair(pred, target)
    return _psnr_from_mse(float(((pred - target) ** 2).mean()))


def hole_psnr(pred: np.ndarray, target: np.ndarray, hole: np.ndarray) -> float:
    """PSNR in dB over hole pixels only; hole: H×W bool, True = hole (at least one)."""
    pred, target = _pair(pred, target)
    if hole.shape != pred.shape[:2]:
        raise ValueError(f"expected an H×W hole map of shape {pred.shape[:2]}, got {hole.shape}")
    if not hole.any():
        raise ValueError("expected at least one hole pixel, got none")
    return _psnr_from_mse(float(((pred[hole] - target[hole]) ** 2).mean()))


def _gaussian_kernel() -> np.ndarray:
    x = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    return k / k.sum()


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM (11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03), averaged over channels.

    Statistics are population (not sample) moments, and only windows lying wholly
    inside the image count: the same as scikit-image's structural_similarity with
    gaussian_weights=True, use_sample_covariance=False, data_range=1, channel_axis=-1.
    """
    pred, target = _pair(pred, target)
    h, w = pred.shape[:2]
    if min(h, w) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"expected an image of at least 11×11 for SSIM, got {h}×{w}")
    k = _gaussian_kernel()

    def blur(a: np.ndarray) -> np.ndarray:
        # The border mode does not matter: the crop below drops every window that reaches it.
        out = cv2.sepFilter2D(a, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)
        return out.reshape(a.shape)[SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS]

    c1, c2 = SSIM_K1**2, SSIM_K2**2
    scores = []
    for c in range(pred.shape[2]):
        x, y = np.ascontiguousarray(pred[..., c]), np.ascontiguousarray(target[..., c])
        ux, uy = blur(x), blur(y)
        vx = blur(x * x) - ux * ux
        vy = blur(y * y) - uy * uy
        vxy = blur(x * y) - ux * uy
        s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        scores.append(s.mean())
    return float(np.mean(scores))


def all_metrics(pred: np.ndarray, target: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """The four quality metrics of one composite as a dict (l1, psnr, ssim, hole_psnr)."""
    return {
        "l1": l1_percent(pred, target),
        "psnr": psnr(pred, target),
        "ssim": ssim(pred, target),
        "hole_psnr": hole_psnr(pred, target, hole),
    }
