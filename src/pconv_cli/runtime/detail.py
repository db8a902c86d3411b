"""How much real detail surrounds each hole pixel: the photo's local detail energy against its noise.

A flat sky or wall holds nothing but sensor noise and 8-bit rounding, and the best fill there is a
smooth one (its error is the noise's own); a textured or structured surround holds detail that a
fill should carry on. ``detail_gain`` measures this per pixel, from the valid photo around it, as a
gain from 0 (flat: smooth fill) to 1 (detailed: keep the network's structure, add the photo's
texture). The seam blend (``blend.py``) and the texture stage (``texture.py``) both read it.
"""

from __future__ import annotations

import cv2
import numpy as np

from pconv_cli.imaging.images import LUMA

DETAIL_SIGMA = 4.0  # px: detail is what a Gaussian low-pass of this σ removes
REACH_SIGMA = 24.0  # px: the detail energy is averaged over a Gaussian of this σ around each pixel
# Energy at most LOW × the noise energy counts as flat (gain 0), at least HIGH × as detailed (gain 1):
# pure Gaussian noise has energy about 0.7× its variance here; a soft sky gradient stays under 4×.
LOW, HIGH = 4.0, 12.0
NOISE_FLOOR = 0.5 / 255  # the noise of an 8-bit photo is at least its rounding
_WORK = 8  # the energy is smooth over REACH_SIGMA, so it is measured at 1/8 of the size
_BLOCK = 16  # px: the blocks of noise_level's quantile


def noise_level(luma: np.ndarray, valid: np.ndarray, quantile: float | None = None) -> float:
    """The photo's noise σ (in its own units) from its valid pixels: Immerkær's fast estimate, with
    the median of the filter's magnitude in place of its mean, so that edges and texture do not count.
    Fine texture over most of a photo (stone, foliage) still reads as noise to that median; with
    ``quantile``, the estimate is that quantile of the medians of wholly valid 16×16 blocks (at most
    the whole median), which the photo's quietest parts decide.

    Args:
        luma: H×W float array.
        valid: H×W bool, True = photo.
        quantile: optional, in (0, 1].

    Returns:
        The noise standard deviation; 0.0 when no 3×3 neighbourhood is wholly valid.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> y = rng.normal(0.5, 0.02, (128, 128)).astype(np.float32)
        >>> round(noise_level(y, np.ones((128, 128), bool)), 2)
        0.02
    """
    if luma.shape != valid.shape or luma.ndim != 2:
        raise ValueError(f"expected an H×W luma and an H×W valid map, got {luma.shape} and {valid.shape}")
    if quantile is not None and not 0 < quantile <= 1:
        raise ValueError(f"expected a quantile in (0, 1], got {quantile}")
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = np.abs(cv2.filter2D(np.asarray(luma, np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT))
    inner = cv2.erode(valid.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    if not inner.any():
        return 0.0
    # For Gaussian noise the filter's output has σ·6, and its magnitude's median is 0.6745 of that.
    median = float(np.median(response[inner]))
    if quantile is not None:
        h, w = (n // _BLOCK * _BLOCK for n in luma.shape)
        blocks = response[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).swapaxes(1, 2)
        whole = inner[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).all(axis=(1, 3))
        if whole.sum() >= 8:
            median = min(median, float(np.quantile(np.median(blocks[whole].reshape(-1, _BLOCK**2), axis=1), quantile)))
    return median / (0.6745 * 6)


def detail_gain(image: np.ndarray, hole: np.ndarray, noise_quantile: float | None = None) -> np.ndarray:
    """Per pixel, 0 to 1: how far the photo's local detail energy around it stands above its noise.

    The energy is the mean square, per 8×8 cell, of the valid photo's luma minus its Gaussian
    low-pass (σ ``DETAIL_SIGMA``, normalised over valid pixels); its geometric mean over valid
    cells within about ``REACH_SIGMA`` is the typical detail around a pixel, so a hole pixel takes
    its surround's value (pixels farther than that from any photo take a four times wider
    average). The gain ramps from 0 at ``LOW`` × the noise energy to 1 at ``HIGH`` ×.

    Args:
        image: H×W×C float array in [0, 1] (C = 3 or 1); only valid pixels are read.
        hole: H×W bool, True = hole.
        noise_quantile: ``noise_level``'s ``quantile`` (None: the whole photo's median).

    Returns:
        H×W float32 gain.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> flat = np.clip(0.5 + rng.normal(0, 0.01, (96, 96, 3)), 0, 1).astype(np.float32)
        >>> hole = np.zeros((96, 96), bool); hole[32:64, 32:64] = True
        >>> float(detail_gain(flat, hole)[hole].max())
        0.0
        >>> stripes = np.broadcast_to((np.arange(96) // 3 % 2)[None, :, None], (96, 96, 3)).astype(np.float32)
        >>> float(detail_gain(stripes, hole)[hole].min())
        1.0
    """
    if image.ndim != 3 or image.shape[:2] != hole.shape or hole.dtype != bool:
        got = f"{image.shape} and {hole.dtype} {hole.shape}"
        raise ValueError(f"expected an H×W×C image and an H×W bool hole map, got {got}")
    luma = image @ LUMA if image.shape[2] >= 3 else image[..., 0]
    luma = np.asarray(luma, np.float32)
    valid = ~hole
    noise = max(noise_level(luma, valid, noise_quantile), NOISE_FLOOR)
    v = valid.astype(np.float32)
    low = cv2.GaussianBlur(luma * v, (0, 0), DETAIL_SIGMA) / np.maximum(cv2.GaussianBlur(v, (0, 0), DETAIL_SIGMA), 1e-6)
    energy = (luma - low) ** 2 * v
    # Per 8×8 cell (area-shrunk sums), then averaged over σ 24 px (3 cells) in the log: the typical
    # surroundings, which a tower's lattice beside a sky does not outweigh as a plain mean lets it.
    h, w = hole.shape
    size = (max(1, w // _WORK), max(1, h // _WORK))
    small_v = cv2.resize(v, size, interpolation=cv2.INTER_AREA)
    cell = cv2.resize(energy, size, interpolation=cv2.INTER_AREA) / np.maximum(small_v, 1e-6)
    log_ratio = np.log(np.maximum(cell / noise**2, 1e-3))
    typical = np.exp(_normalised_blur(log_ratio * small_v, small_v, REACH_SIGMA * size[0] / w))
    gain = np.clip((typical - LOW) / (HIGH - LOW), 0.0, 1.0)
    return cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w).astype(np.float32)


def _normalised_blur(energy: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian average of ``energy`` over ``weight`` (h×w); where the weight within σ is nil, 4σ."""
    sigma = max(sigma, 0.5)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)
    mean = cv2.GaussianBlur(energy, (0, 0), sigma) / np.maximum(den, 1e-6)
    far = den < 1e-3
    if far.any():
        wide_den = cv2.GaussianBlur(weight, (0, 0), 4 * sigma)
        mean[far] = (cv2.GaussianBlur(energy, (0, 0), 4 * sigma) / np.maximum(wide_den, 1e-9))[far]
    return mean.reshape(energy.shape)
