"""Seam blending: set a network's fill into the photo without a rim, a step or a colour cast.

The network's last layer sees the photo with its holes zeroed, so the hole pixels next to
valid ones come out too dark (a 1-px outline), and a whole fill can sit a little off the
surroundings' colour. Blending keeps what the network is good at, the structure inside the
hole, and takes the level from the photo: the hole is re-solved as a Poisson problem

    for every hole pixel p:  sum over in-image 4-neighbours q of (x_p - x_q - g_pq) = 0

with x_q the photo where q is valid, and the guidance g_pq the fill's own step
fill_p - fill_q between hole pixels deeper than ``band`` px, scaled by p's detail gain
(``detail.detail_gain``: 0 where the photo around is flat, 1 where it holds real detail), 0
between other hole pixels,
and towards a valid q a quarter of the photo's own step beyond it, x_q - x_r with r = 2q - p
(where r is valid too). Near the edge the solution is a smooth membrane from the photo into
the fill that leaves the photo at a little of its own slope (as classical inpainting does);
deeper, it is the fill shifted by a smooth correction that meets the photo's colours. Holes
entirely within ``band`` px of the photo (scratches, text) become that membrane, and so do holes
in flat surroundings (sky, walls), where the network's colour prior would show as a cast and
its outline as a ring: there the smooth fill is the best one.

Solved by conjugate gradients over all hole pixels at once, in float64, starting from the fill
plus a correction solved at half resolution (recursively), which carries the smooth part of
the solution that plain iterations are slowest to find.
"""

from __future__ import annotations

import cv2
import numpy as np

from pconv_cli.runtime.detail import REACH_SIGMA, detail_gain

# 2 px: the network's dark outline reaches two pixels deep; its step at 1 px lifted the interior into a ring
# (docs/design-notes.md).
DEFAULT_BAND = 2
# Stop when every pixel's equation, divided by its neighbour count, is off by less than this: close to the
# exact solution at 8 bits (docs/design-notes.md).
_TOL = 0.01 / 255.0
_MAX_ITER = 2000
# The photo's step continued into the hole, at this fraction: a flat membrane (0) loses thin scratches' texture,
# a half raises the seam (docs/design-notes.md).
SLOPE = 0.25
_COARSE_MIN = 4096  # holes of fewer pixels in all start from the fill alone, with no half-resolution level
MARGIN = 4  # photo around the holes' box: at half resolution it still has photo on every side
CONTEXT = MARGIN + int(2 * REACH_SIGMA)  # photo around the holes that the detail gain reads


def _check(image: np.ndarray, fill: np.ndarray, hole: np.ndarray, band: int) -> None:
    if image.ndim != 3 or fill.shape != image.shape:
        raise ValueError(f"expected image and fill H×W×C of one shape, got {image.shape} and {fill.shape}")
    if hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(f"expected an H×W bool hole map of shape {image.shape[:2]}, got {hole.dtype} {hole.shape}")
    if band < 0:
        raise ValueError(f"expected band >= 0, got {band}")


def _depth(hole: np.ndarray, limit: int) -> np.ndarray:
    """Per pixel, its 4-neighbour steps to the nearest valid pixel, capped at limit + 1 (0 on valid pixels)."""
    if limit <= 0:
        return hole.astype(np.int32)
    d = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L1, 3)
    return np.minimum(d, limit + 1).astype(np.int32)


def blend_fill(
    image: np.ndarray, fill: np.ndarray, hole: np.ndarray, band: int = DEFAULT_BAND, gain: np.ndarray | None = None
) -> np.ndarray:
    """The fill's hole pixels re-solved to meet the photo seamlessly (see the module text).

    Args:
        image: H×W×C float array, the photo (only its valid pixels are read).
        fill: H×W×C float array, the network's output or composite (only hole pixels are read).
        hole: H×W bool, True = hole.
        band: width in px of the edge zone where the fill's own steps are ignored.
        gain: H×W float in [0, 1], the weight of the fill's steps per pixel; None: ``detail_gain``
            of the photo around the holes.

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
    # All holes are solved as one system (each 4-connected hole is a block of its own, reaching only itself
    # and the photo; one system spares the per-iteration overhead of many), in the holes' bounding box
    # plus a margin, which holds every valid neighbour.
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    m = MARGIN
    y0, y1 = max(rows[0] - m, 0), min(rows[-1] + 1 + m, hole.shape[0])
    x0, x1 = max(cols[0] - m, 0), min(cols[-1] + 1 + m, hole.shape[1])
    part = hole[y0:y1, x0:x1]
    box = out[y0:y1, x0:x1]
    if gain is None:
        gain = _gain_around(image, hole, (y0, y1, x0, x1))
    else:
        gain = gain[y0:y1, x0:x1]
    box[part] = _solve(box, part, band, gain)[part]
    return out


def _gain_around(image: np.ndarray, hole: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``detail_gain`` over ``box`` (y0, y1, x0, x1), measured with the photo within reach around it."""
    y0, y1, x0, x1 = box
    m = CONTEXT - MARGIN
    gy0, gx0 = max(y0 - m, 0), max(x0 - m, 0)
    gy1, gx1 = min(y1 + m, hole.shape[0]), min(x1 + m, hole.shape[1])
    gain = detail_gain(image[gy0:gy1, gx0:gx1], hole[gy0:gy1, gx0:gx1])
    return gain[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0]


_STEPS = ((0, 1), (1, 0), (0, -1), (-1, 0))
_CROSS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32)


def _neighbour_sum(a: np.ndarray) -> np.ndarray:
    """Sum of the four neighbours of every pixel of an H×W or H×W×C float array (0 beyond the edge)."""
    out = cv2.filter2D(a, -1, _CROSS, borderType=cv2.BORDER_CONSTANT)
    return out.reshape(a.shape)


def _solve(start: np.ndarray, hole: np.ndarray, band: int, gain: np.ndarray) -> np.ndarray:
    """``start`` (photo on valid pixels, fill in holes, h×w×C) with its holes solved, as float32."""
    start = start.astype(np.float64)  # float32 sums stall the iterations short of the tolerance on large holes
    mask = hole[..., None].astype(np.float64)
    valid = 1.0 - mask
    degree = _neighbour_sum(np.ones(hole.shape, np.float64))[..., None]
    # Right-hand side: the photo's valid neighbours, plus the fill's steps towards deep neighbours.
    deep = (_depth(hole, band) > band).astype(np.float64)
    deep_neighbours = _neighbour_sum(deep)[..., None]
    deep = deep[..., None]
    guidance = (gain[..., None] * deep) * (deep_neighbours * start - _neighbour_sum(start * deep))
    rhs = (_neighbour_sum(start * valid) + guidance) * mask
    x = start * mask
    if int(hole.sum()) > _COARSE_MIN:
        x = x + _coarse_correction(start, hole, band, gain) * mask
    # The iterations run on the hole pixels alone, as N×C arrays with one more row that stays 0: a
    # neighbour that is valid or beyond the image reads that row, its value being in rhs already.
    ys, xs = np.nonzero(hole)
    n = len(ys)
    index = np.full((hole.shape[0] + 2, hole.shape[1] + 2), n, np.intp)
    index[ys + 1, xs + 1] = np.arange(n)
    neighbours = [np.append(index[ys + 1 + dy, xs + 1 + dx], n) for dy, dx in _STEPS]
    d = np.append(degree[ys, xs, 0], 0.0)[:, None]
    inv_d = np.append(1.0 / degree[ys, xs, 0], 0.0)[:, None]
    gathered = np.empty((n + 1, start.shape[2]))

    def apply(v: np.ndarray) -> np.ndarray:
        out = d * v
        for nb in neighbours:
            # mode "clip" changes nothing (every index is in range) but skips a bounds check that took
            # more than half of the gather's time
            out -= np.take(v, nb, axis=0, out=gathered, mode="clip")
        return out

    def rows(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[ys, xs], np.zeros((1, a.shape[2]))])

    b = rows(rhs)
    _add_photo_slope(b, start, hole, index)
    solved = _cg(apply, b, rows(x), inv_d)
    out = start.copy()
    out[ys, xs] = solved[:n]
    return out.astype(np.float32)


def _add_photo_slope(rows: np.ndarray, start: np.ndarray, hole: np.ndarray, index: np.ndarray) -> None:
    """Add the guidance towards valid neighbours to the hole pixels' right-hand sides ``rows`` (N×C; pixel
    (y, x) is row ``index[y + 1, x + 1]``): SLOPE × (photo(q) − photo(r)) for every valid 4-neighbour
    q = p + d whose next pixel r = p + 2d is valid too. Only the edge pixels are gathered (a huge hole's
    rows stay one array)."""
    h, w = hole.shape
    valid = ~hole
    for dy, dx in _STEPS:
        # p, q and r as three windows of the box shifted by 0, d and 2d; steps from beyond the box are none.
        y0, y1, x0, x1 = max(0, -2 * dy), h - max(0, 2 * dy), max(0, -2 * dx), w - max(0, 2 * dx)
        if y1 <= y0 or x1 <= x0:
            continue
        p, q, r = ((slice(y0 + k * dy, y1 + k * dy), slice(x0 + k * dx, x1 + k * dx)) for k in range(3))
        ok = hole[p] & valid[q] & valid[r]
        py, px = np.nonzero(ok)
        rows[index[py + y0 + 1, px + x0 + 1]] += SLOPE * (start[q][ok] - start[r][ok])


def _coarse_correction(start: np.ndarray, hole: np.ndarray, band: int, gain: np.ndarray) -> np.ndarray:
    """The solution's offset from the fill, solved at half resolution and enlarged (h×w×C)."""
    h, w = hole.shape
    size = ((w + 1) // 2, (h + 1) // 2)
    # A coarse pixel is hole only when all four of its pixels are; the others average photo and fill,
    # close enough for a starting point, which is all this is.
    small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    small = cv2.resize(start, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
    if not small_hole.any() or small_hole.all():
        return np.zeros_like(start)
    small_gain = cv2.resize(gain.astype(np.float32), size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0])
    solved = blend_fill(small, small, small_hole, max(1, band // 2), small_gain)
    offset = cv2.resize(solved - small, (w, h), interpolation=cv2.INTER_LINEAR)
    return offset.reshape(start.shape)


def _cg(apply, rhs: np.ndarray, x: np.ndarray, inv_diag: np.ndarray) -> np.ndarray:
    """Jacobi-preconditioned conjugate gradients for apply(x) = rhs, per channel (arrays N×C, float64)."""

    def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("nc,nc->c", a, b)

    r = rhs - apply(x)
    z = r * inv_diag
    p = z.copy()
    rz = dot(r, z)
    step = np.empty_like(x)
    # In place, each product and sum as before (IEEE products and sums commute): the same bits, without
    # allocating five N×C arrays an iteration.
    for _ in range(_MAX_ITER):
        if max(z.max(), -z.min()) <= _TOL:
            break
        ap = apply(p)
        alpha = rz / np.maximum(dot(p, ap), 1e-300)
        x += np.multiply(alpha, p, out=step)
        r -= np.multiply(alpha, ap, out=step)
        np.multiply(r, inv_diag, out=z)
        rz_new = dot(r, z)
        p *= rz_new / np.maximum(rz, 1e-300)
        p += z
        rz = rz_new
    return x
