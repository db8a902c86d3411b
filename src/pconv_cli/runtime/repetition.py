"""How exactly a photo repeats itself around a hole: a façade's panels, tiles, a fence.

Where it does, a piece copied from elsewhere in the photo is the true content of the hole, and
PatchMatch's copy beats any fill the network can draw, which blurs such detail; where it does
not (most natural photos: foliage, water, faces), a copied piece is only like the truth and the
network judges it (``patchmatch.take_agreeing``).

The measure: patches along the hole's edge, each against its nearest patch elsewhere in the
photo (a shortlist found on a few DCT coefficients of patches on a 3-px grid, then compared
pixel by pixel at ±1 px), the mean squared difference in units of the patch's variance about its
best-fitting plane; the median over the edge. Near 0 where the photo repeats exactly (0.03–0.12
on panel façades, as shot and enlarged 3×); 0.2 and more around the holes of BSDS500-val's natural
photos, except along a long straight edge, which repeats along itself. Why these settings:
docs/design-notes.md (fill engine).
"""

from __future__ import annotations

import cv2
import numpy as np

RADIUS = 3  # 7×7 luma patches
EDGE = 6  # px beyond a patch's reach from the hole: the band the edge patches come from
QUERIES = 256  # edge patches drawn, with a fixed seed
APART = 8  # px: a patch nearer than this (either axis) is the patch's own neighbourhood, not a repeat
FLAT = 4 / 255  # an edge patch whose luma deviates from its plane less than this says nothing about repetition
MIN_QUERIES = 16  # textured edge patches needed to judge at all
GATE = 0.13  # repetition below this: the photo repeats itself
_DESCRIPTOR = 10  # DCT functions (lowest first) in the coarse search
_SHORTLIST = 8  # candidates per edge patch compared pixel by pixel: the nearest in each of this many runs
_CANDIDATES = 32_768  # grid points searched at most (a large box's are sampled): time and memory stay bounded
_GRID = 3  # px between candidate centres in the coarse search; the fine compare at ±1 px then sees every centre


def repetition(image: np.ndarray, hole: np.ndarray, edge_of: np.ndarray | None = None) -> float:
    """How exactly the photo repeats itself along a hole's edge (see the module text).

    Args:
        image: H×W×3 float32 in [0, 1] (hole pixels are not read).
        hole: H×W bool, True = hole; no patch touching it is compared.
        edge_of: H×W bool, the holes whose edge is measured (default: ``hole``).

    Returns:
        The median, over textured patches along the edge, of the squared difference to the nearest
        other patch over the patch's variance about its plane: near 0 for exact repetition. NaN
        where the edge has fewer than ``MIN_QUERIES`` textured patches or the photo no other patch.

    Example:
        >>> panels = np.random.default_rng(0).random((3, 3, 3), dtype=np.float32).repeat(4, 0).repeat(4, 1)
        >>> wall = np.tile(panels, (8, 8, 1))
        >>> hole = np.zeros((96, 96), bool); hole[40:56, 40:56] = True
        >>> repetition(wall, hole) < GATE
        True
        >>> noise = np.random.default_rng(1).random((96, 96, 3), dtype=np.float32)
        >>> repetition(noise, hole) > GATE
        True
    """
    if image.ndim != 3 or image.shape[2] != 3 or hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(
            f"expected an H×W×3 image and an H×W bool hole map of its size, "
            f"got {image.shape} and {hole.shape} {hole.dtype}"
        )
    edge_of = hole if edge_of is None else edge_of
    if edge_of.shape != hole.shape or edge_of.dtype != bool:
        raise ValueError(f"expected edge_of an H×W bool map of shape {hole.shape}, got {edge_of.shape} {edge_of.dtype}")
    height, width = hole.shape
    size = 2 * RADIUS + 1
    if height <= 2 * size or width <= 2 * size:
        return float("nan")
    luma = cv2.cvtColor(np.where(hole[..., None], 0, image).astype(np.float32), cv2.COLOR_RGB2GRAY)
    valid = cv2.dilate(hole.astype(np.uint8), np.ones((size, size), np.uint8)) == 0  # the patch misses every hole
    valid[:RADIUS] = valid[height - RADIUS :] = False
    valid[:, :RADIUS] = valid[:, width - RADIUS :] = False
    variance = _unplanar_variance(luma)
    near_edge = cv2.distanceTransform((~edge_of).astype(np.uint8), cv2.DIST_L2, 3) <= RADIUS + EDGE
    qy, qx = np.nonzero(valid & near_edge & (variance > FLAT**2))
    if len(qy) < MIN_QUERIES:
        return float("nan")
    pick = np.sort(np.random.default_rng(0).choice(len(qy), min(QUERIES, len(qy)), replace=False))
    qy, qx = qy[pick], qx[pick]
    shortlist = _shortlist(luma, valid, qy, qx)
    if shortlist is None:
        return float("nan")
    best = _nearest(luma, valid, qy, qx, shortlist)
    return float(np.median(best / variance[qy, qx]))


def _unplanar_variance(luma: np.ndarray) -> np.ndarray:
    """Per patch centre, the luma's variance over the patch less what its best-fitting plane explains.

    A ramp matches another ramp anywhere along it, so in a soft or enlarged photo, where every small
    patch is nearly a plane, the plain variance would make everything look repeated."""
    size = 2 * RADIUS + 1
    mean = cv2.blur(luma, (size, size))
    variance = cv2.blur(luma * luma, (size, size)) - mean * mean
    ramp = np.arange(-RADIUS, RADIUS + 1, dtype=np.float32)
    spread = float((ramp * ramp).sum() * size)  # Σ u² over the patch
    across = cv2.filter2D(luma, -1, np.tile(ramp, (size, 1)) / spread, borderType=cv2.BORDER_REPLICATE)
    down = cv2.filter2D(luma, -1, np.tile(ramp[:, None], (1, size)) / spread, borderType=cv2.BORDER_REPLICATE)
    return np.maximum(variance - (across * across + down * down) * spread / size**2, 0)


def _dct_basis() -> list[np.ndarray]:
    """The 2-D DCT's functions on a patch, lowest frequencies first."""
    size = 2 * RADIUS + 1
    x = np.arange(size)
    waves = [np.cos(np.pi * (2 * x + 1) * u / (2 * size)) for u in range(size)]
    order = sorted(((u, v) for u in range(size) for v in range(size)), key=lambda uv: (uv[0] + uv[1], uv[0]))
    return [np.outer(waves[u], waves[v]).astype(np.float32) / size for u, v in order[:_DESCRIPTOR]]


def _shortlist(luma: np.ndarray, valid: np.ndarray, qy: np.ndarray, qx: np.ndarray) -> np.ndarray | None:
    """Q×_SHORTLIST (y, x) of candidate centres on a ``_GRID``-px grid nearest each edge patch in DCT terms."""
    grid = valid[::_GRID, ::_GRID]
    gy, gx = np.nonzero(grid)
    if len(gy) == 0:
        return None
    if len(gy) > _CANDIDATES:  # a repeating pattern repeats many times over: a sample still meets it
        pick = np.sort(np.random.default_rng(1).choice(len(gy), _CANDIDATES, replace=False))
        gy, gx = gy[pick], gx[pick]
    queries = np.empty((len(qy), _DESCRIPTOR), np.float32)
    candidates = np.empty((len(gy), _DESCRIPTOR), np.float32)
    for i, kernel in enumerate(_dct_basis()):  # one response image at a time: memory stays one luma's
        response = cv2.filter2D(luma, -1, kernel, borderType=cv2.BORDER_REPLICATE)
        queries[:, i], candidates[:, i] = response[qy, qx], response[gy * _GRID, gx * _GRID]
    number = -np.ones(grid.shape, np.int64)
    number[gy, gx] = np.arange(len(gy))
    # the grid points within APART of each edge patch: its own neighbourhood, left out of the search
    reach = np.arange(-(APART - 1) // _GRID - 1, (APART - 1) // _GRID + 2)
    ny = qy[:, None, None] // _GRID + reach[None, :, None]
    nx = qx[:, None, None] // _GRID + reach[None, None, :]
    inside = (ny >= 0) & (ny < grid.shape[0]) & (nx >= 0) & (nx < grid.shape[1])
    own = np.where(inside, number[np.clip(ny, 0, grid.shape[0] - 1), np.clip(nx, 0, grid.shape[1] - 1)], -1)
    own = np.where(
        (np.abs(ny * _GRID - qy[:, None, None]) < APART) & (np.abs(nx * _GRID - qx[:, None, None]) < APART), own, -1
    ).reshape(len(qy), -1)
    d = (queries * queries).sum(1)[:, None] - 2 * queries @ candidates.T + (candidates * candidates).sum(1)[None]
    rows = np.broadcast_to(np.arange(len(qy))[:, None], own.shape)
    d[rows[own >= 0], own[own >= 0]] = np.inf
    # the nearest in each of _SHORTLIST runs of the grid (bands of rows): argmin is many times faster than a
    # partial sort, and the shortlist holds the nearest overall
    run = -(-len(gy) // _SHORTLIST)
    d = np.pad(d, ((0, 0), (0, run * _SHORTLIST - len(gy))), constant_values=np.inf)
    top = np.minimum(d.reshape(len(qy), _SHORTLIST, run).argmin(2) + np.arange(_SHORTLIST) * run, len(gy) - 1)
    return np.stack([gy[top] * _GRID, gx[top] * _GRID], -1)


def _nearest(luma: np.ndarray, valid: np.ndarray, qy: np.ndarray, qx: np.ndarray, shortlist: np.ndarray) -> np.ndarray:
    """Per edge patch, the least mean squared luma difference to a shortlisted patch moved by up to ±1 px."""
    from numpy.lib.stride_tricks import sliding_window_view

    size = 2 * RADIUS + 1
    windows = sliding_window_view(luma, (size, size))  # indexed by the patch's top-left corner
    height, width = valid.shape
    step = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    spots = (shortlist[:, :, None, :] + step[None, None]).reshape(len(qy), -1, 2)  # Q×(K·9)×2
    sy = np.clip(spots[..., 0], 0, height - 1)
    sx = np.clip(spots[..., 1], 0, width - 1)
    usable = valid[sy, sx] & ((np.abs(sy - qy[:, None]) >= APART) | (np.abs(sx - qx[:, None]) >= APART))
    sy, sx = np.where(usable, sy, RADIUS), np.where(usable, sx, RADIUS)
    mine = windows[qy - RADIUS, qx - RADIUS][:, None]
    theirs = windows[sy - RADIUS, sx - RADIUS]
    d = ((theirs - mine) ** 2).mean((-1, -2))
    return np.where(usable, d, np.inf).min(1)
