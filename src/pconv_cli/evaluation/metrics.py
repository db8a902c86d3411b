"""Image-quality metrics: the paper's Table 1 (L1 %, PSNR, SSIM, hole-only PSNR) and two of the hole's edge.

Every function takes H×W×C float arrays in [0, 1] (data range 1) and works in float64.
Rim bias and seam excess measure what people see at a fill's outline: a dark or
coloured ring, a visible step where the fill meets the photo. Both are in 8-bit
levels (×255) and use 4-neighbours: a hole pixel "touches" a valid pixel when one of
its four neighbours inside the image is valid. Detail ratio measures magnified blur
inside the hole.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pconv_cli.imaging.images import LUMA
from pconv_cli.imaging.masks import deeper_than

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
    _check_hole(pred, hole)
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


def _check_hole(pred: np.ndarray, hole: np.ndarray) -> None:
    if hole.shape != pred.shape[:2] or hole.dtype != bool:
        raise ValueError(f"expected an H×W bool hole map of shape {pred.shape[:2]}, got {hole.dtype} {hole.shape}")
    if not hole.any():
        raise ValueError("expected at least one hole pixel, got none")


def _edge_pairs(hole: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Index arrays (hole pixel, valid pixel) of every 4-neighbour pair across the hole's edge."""
    hy, hx, vy, vx = [], [], [], []
    h, w = hole.shape
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        # pixel p = (y, x) in the hole and its neighbour q = (y + dy, x + dx) valid, q inside the image
        ys, xs = np.nonzero(hole[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)])
        ys, xs = ys + max(0, -dy), xs + max(0, -dx)
        keep = ~hole[ys + dy, xs + dx]
        hy.append(ys[keep])
        hx.append(xs[keep])
        vy.append(ys[keep] + dy)
        vx.append(xs[keep] + dx)
    cat = np.concatenate
    return (cat(hy), cat(hx)), (cat(vy), cat(vx))


def rim_bias(pred: np.ndarray, target: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Mean signed error (pred − target, ×255) per channel over the hole pixels that touch a valid pixel.

    pred, target: H×W×C in [0, 1]; hole: H×W bool, True = hole. Returns C values: a dark
    outline shows as negative values, a colour cast as channels that differ. NaN when no
    hole pixel touches a valid one (a hole covering the whole image).

    Example: a fill 2 levels too dark on its rim gives about -2 in every channel.
    """
    pred, target = _pair(pred, target)
    _check_hole(pred, hole)
    (hy, hx), _ = _edge_pairs(hole)
    rim = np.zeros_like(hole)
    rim[hy, hx] = True
    if not rim.any():
        return np.full(pred.shape[2], np.nan)
    return (pred[rim] - target[rim]).mean(0) * 255.0


def seam_excess(pred: np.ndarray, target: np.ndarray, hole: np.ndarray) -> float:
    """The step across the hole's edge beyond the true photo's own step, ×255.

    Over every 4-neighbour pair (p in the hole, q valid) and every channel, the mean of
    |pred(p) − target(q)| − |target(p) − target(q)|: positive when the fill stands out
    from the photo around it more than the truth did, negative when it is smoother. The
    valid pixel is read from ``target``, as a composite keeps it. NaN when there is no such pair.
    """
    pred, target = _pair(pred, target)
    _check_hole(pred, hole)
    p, q = _edge_pairs(hole)
    if not len(p[0]):
        return math.nan
    outside = target[q]
    return float((np.abs(pred[p] - outside) - np.abs(target[p] - outside)).mean() * 255.0)


DETAIL_DEPTH = 3


def detail_ratio(pred: np.ndarray, target: np.ndarray, hole: np.ndarray, depth: int = DETAIL_DEPTH) -> float:
    """How much fine detail the fill has against the truth: var(Laplacian of pred) ÷ var(Laplacian
    of target), both of the luma (Rec. 601), over the hole pixels at least ``depth`` px inside the
    hole (chessboard distance to the nearest valid pixel ≥ depth).

    pred, target: H×W×C in [0, 1]; hole: H×W bool, True = hole. 1 is as detailed as the photo,
    near 0 is a smooth or enlarged fill. NaN when no pixel lies that deep or the truth is flat there.

    Example: a fill that copies the truth gives 1.0; a flat fill gives 0.0.
    """
    pred, target = _pair(pred, target)
    _check_hole(pred, hole)
    if depth < 1:
        raise ValueError(f"expected depth >= 1, got {depth}")
    inside = deeper_than(hole, depth - 1)
    if not inside.any():
        return math.nan

    def laplacian(a: np.ndarray) -> np.ndarray:
        luma = a @ LUMA if a.shape[2] == 3 else a[..., 0]
        return cv2.Laplacian(luma, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT)[inside]

    truth = laplacian(target).var()
    return math.nan if truth == 0 else float(laplacian(pred).var() / truth)


def all_metrics(pred: np.ndarray, target: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """The quality metrics of one composite: l1, psnr, ssim, hole_psnr, seam, rim (mean), rim_r/g/b, detail."""
    rim = rim_bias(pred, target, hole)
    channels = {f"rim_{c}": float(v) for c, v in zip("rgb", rim)} if rim.shape == (3,) else {}
    return {
        "l1": l1_percent(pred, target),
        "psnr": psnr(pred, target),
        "ssim": ssim(pred, target),
        "hole_psnr": hole_psnr(pred, target, hole),
        "rim": float(rim.mean()),
        **channels,
        "seam": seam_excess(pred, target, hole),
        "detail": detail_ratio(pred, target, hole),
    }
