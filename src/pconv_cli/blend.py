"""Seam blending: set a network's fill into the photo without a rim, a step or a colour cast.

The network's last layer sees the photo with its holes zeroed, so the hole pixels next to
valid ones come out too dark (a 1-px outline), and a whole fill can sit a little off the
surroundings' colour. Blending keeps what the network is good at, the structure inside the
hole, and takes the level from the photo: the hole is re-solved as a Poisson problem

    for every hole pixel p:  sum over in-image 4-neighbours q of (x_p - x_q - g_pq) = 0

with x_q the photo where q is valid, and the guidance g_pq the fill's own step
fill_p - fill_q between hole pixels deeper than ``band`` px, 0 nearer the edge. Near the
edge the solution is a smooth membrane from the photo into the fill (as classical inpainting
is); deeper, it is the fill shifted by a smooth correction that meets the photo's colours.
Holes entirely within ``band`` px of the photo (scratches, text) become that membrane.

Solved by conjugate gradients on the hole pixels only, starting from the fill; a coarse
solve at half resolution gives the smooth correction first, so few iterations remain.
"""

from __future__ import annotations

import numpy as np

DEFAULT_BAND = 2
_TOL = 0.01 / 255.0  # stop when no pixel's equation is off by more than this: ~1 level of 8 bits at worst
_MAX_ITER = 500
_COARSE_MIN = 4096  # below this many hole pixels solve directly, no coarser level


def _check(image: np.ndarray, fill: np.ndarray, hole: np.ndarray, band: int) -> None:
    if image.ndim != 3 or fill.shape != image.shape:
        raise ValueError(f"expected image and fill H×W×C of one shape, got {image.shape} and {fill.shape}")
    if hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(f"expected an H×W bool hole map of shape {image.shape[:2]}, got {hole.dtype} {hole.shape}")
    if band < 0:
        raise ValueError(f"expected band >= 0, got {band}")


def _depth(hole: np.ndarray, limit: int) -> np.ndarray:
    """Per pixel, its 4-neighbour steps to the nearest valid pixel, capped at limit + 1 (0 on valid pixels)."""
    import cv2

    if limit <= 0:
        return hole.astype(np.int32)
    d = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L1, 3)
    return np.minimum(d, limit + 1).astype(np.int32)


def blend_fill(image: np.ndarray, fill: np.ndarray, hole: np.ndarray, band: int = DEFAULT_BAND) -> np.ndarray:
    """The fill's hole pixels re-solved to meet the photo seamlessly (see the module text).

    Args:
        image: H×W×C float array, the photo (only its valid pixels are read).
        fill: H×W×C float array, the network's output or composite (only hole pixels are read).
        hole: H×W bool, True = hole.
        band: width in px of the edge zone where the fill's own steps are ignored.

    Returns:
        H×W×C float32: ``image`` on valid pixels, the blended fill in the holes. When no hole
        pixel touches a valid one (the whole image is hole) the fill is returned as it is.

    Example:
        >>> img = np.full((8, 8, 1), 0.5, np.float32); hole = np.zeros((8, 8), bool); hole[2:6, 2:6] = True
        >>> out = blend_fill(img, np.zeros_like(img), hole)   # a flat fill 0.5 too dark
        >>> float(abs(out - 0.5).max()) < 1e-3                # takes the photo's level
        True
    """
    _check(image, fill, hole, band)
    image = np.asarray(image, np.float32)
    out = np.where(hole[..., None], np.asarray(fill, np.float32), image)
    if not hole.any() or hole.all():
        return out
    ys, xs = np.nonzero(hole)
    out[ys, xs] = _solve(image, out, hole, band)
    return out


def _solve(image: np.ndarray, fill: np.ndarray, hole: np.ndarray, band: int) -> np.ndarray:
    """The hole pixels' values (n×C, in np.nonzero order) solving the blending problem."""
    h, w = hole.shape
    ys, xs = np.nonzero(hole)
    n = ys.size
    index = np.full((h, w), n, np.int64)  # n: "not an unknown" (valid, or outside the image)
    index[ys, xs] = np.arange(n)
    depth = _depth(hole, band)
    deep = depth[ys, xs] > band
    degree = np.zeros(n, np.float32)
    rhs = np.zeros((n, fill.shape[2]), np.float32)
    neighbours = []
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        qy, qx = ys + dy, xs + dx
        inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        qy, qx = np.where(inside, qy, 0), np.where(inside, qx, 0)
        q_hole = inside & hole[qy, qx]
        q_valid = inside & ~hole[qy, qx]
        degree += inside
        rhs[q_valid] += image[qy[q_valid], qx[q_valid]]
        both_deep = q_hole & deep & (depth[qy, qx] > band)
        rhs[both_deep] += fill[ys[both_deep], xs[both_deep]] - fill[qy[both_deep], qx[both_deep]]
        neighbours.append(np.where(q_hole, index[qy, qx], n))
    start = fill[ys, xs]
    if n > _COARSE_MIN:
        start = start + _coarse_correction(image, fill, hole, band, ys, xs)
    return _cg(degree, neighbours, rhs, start)


def _coarse_correction(image, fill, hole, band, ys, xs) -> np.ndarray:
    """The solution's offset from the fill, solved at half resolution and read back per hole pixel."""
    import cv2

    h, w = hole.shape
    size = ((w + 1) // 2, (h + 1) // 2)
    small_hole = cv2.resize(hole.view(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
    small_img = cv2.resize(image, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
    small_fill = cv2.resize(fill, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
    if small_hole.all():
        return np.zeros((ys.size, fill.shape[2]), np.float32)
    solved = blend_fill(small_img, small_fill, small_hole, max(1, band // 2))
    offset = np.where(small_hole[..., None], solved - small_fill, 0.0).astype(np.float32)
    offset = cv2.resize(offset, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
    return offset[ys, xs]


def _cg(degree: np.ndarray, neighbours: list[np.ndarray], rhs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Jacobi-preconditioned conjugate gradients on A x = rhs, A = diag(degree) − (hole-neighbour sums)."""
    n, c = x.shape
    padded = np.zeros((n + 1, c), np.float32)  # row n stays 0: a neighbour that is not an unknown

    def apply(v: np.ndarray) -> np.ndarray:
        padded[:n] = v
        result = degree[:, None] * v
        for nb in neighbours:
            result -= padded[nb]
        return result

    inv = (1.0 / degree)[:, None]
    r = rhs - apply(x)
    z = r * inv
    p = z.copy()
    rz = (r * z).sum(0)
    for _ in range(_MAX_ITER):
        if np.abs(r * inv).max() <= _TOL:
            break
        ap = apply(p)
        alpha = rz / np.maximum((p * ap).sum(0), 1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        z = r * inv
        rz_new = (r * z).sum(0)
        p = z + (rz_new / np.maximum(rz, 1e-30)) * p
        rz = rz_new
    return x
