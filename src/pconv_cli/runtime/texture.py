"""Texture from the photo: its own fine detail carried into a hole, where the fill's structure says.

The network gets a hole's structure and colours right but leaves it smooth: its fill has almost no
detail above a few pixels' scale. The photo around the hole has that detail. This stage splits
both at ``SPLIT_SIGMA``: the fill keeps everything it has, and each hole pixel adds the photo's
detail from the place whose low frequencies look most like the fill's around it:

1. Matching works on cells of ``CELL``×``CELL`` px. Each cell is described by the low-pass image
   (photo outside the hole, fill inside) over the (2·``PATCH``+1)² cells around it, reduced to
   ``DIMS`` principal components, plus its position (a mild penalty on distance keeps the choice
   near where similar surroundings are equally good). Every cell holding hole pixels is matched
   to the nearest cell wholly inside the photo; each use makes a source dearer (``REUSE``), or
   deep in a smooth fill one smoothest source would be copied cell after cell.
2. Matches are made coherent: a cell takes its neighbour's offset when the patch it points to is
   nearly as close, so that the copied detail runs on in whole pieces, as PatchMatch's do.
3. Each match is then fitted to the pixel: moved in ``STEPS`` while the photo's luma at the source
   fits the cell's window better (the photo itself where the window is valid, so that copies line
   up with the detail at the hole's edge; the fill's low-pass where it is hole), and a cell takes
   a neighbour's fitted offset when that fits it better (PatchMatch's propagation).
4. Each hole pixel reads the photo's detail at the offsets of the four cells around it, mixed by
   bilinear weights and rescaled so that mixing different pieces keeps the detail's contrast
   (histogram-preserving blending, Heitz and Neyret 2018).
5. The copied detail is capped at ``CONTRAST`` times the local energy of the photo's own around
   the hole and added to the fill weighted by the detail gain (``detail.py``): flat surroundings
   keep a smooth fill.

Everything is deterministic: the same input gives the same bytes. Why these settings:
docs/design-notes.md (fill engine).
"""

from __future__ import annotations

import cv2
import numpy as np

SPLIT_SIGMA = 2.0  # px: detail is what a Gaussian low-pass of this σ removes
CELL = 8  # px: the grid of matches
PATCH = 2  # cells: each cell is described by its (2·PATCH+1)² neighbourhood
DIMS = 16  # principal components of a description
COHERENCE = 0.15  # a neighbour's offset is taken when its patch is at most this much farther
DISTANCE_COST = 0.02  # per (64 cells)²: prefer nearby matches among near equals
SWEEPS = 2  # of neighbours' offsets, in the coherence pass and in the fit
STEPS = (16, 8, 4, 2, 1)  # px: each cell's match then moves in these steps while it fits the photo better
MARGIN = 2  # px around a cell that this fit compares
# Copied detail's amplitude, at most, against the surroundings' own: it is not the true detail, so full
# contrast buys texture statistics with about 1 dB of hole PSNR (docs/design-notes.md).
CONTRAST = 0.7
REUSE = 0.5  # each use of a source adds this fraction of the typical gap between good matches
_MAX_SOURCES = 4_000  # candidate cells: more are subsampled on a regular grid (large photos)
_BLOCK = 1024  # query cells per matrix product of distances
_CANDIDATES = 64  # nearest sources per query among which reuse decides


def add_texture(image: np.ndarray, fill: np.ndarray, hole: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``fill`` with the photo's own detail in its holes (see the module text).

    Args:
        image: H×W×3 float32 in [0, 1], the photo (only valid pixels are read).
        fill: H×W×3 float32, the blended fill (only hole pixels are read).
        hole: H×W bool, True = hole.
        gain: H×W float32 in [0, 1], how much detail to add per pixel (``detail.detail_gain``).

    Returns:
        H×W×3 float32: ``image`` on valid pixels, the textured fill in the holes; the fill as it
        was where the photo has no cell wholly outside the hole to copy from.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> photo = (0.5 + 0.2 * rng.standard_normal((64, 64, 3))).astype(np.float32)
        >>> hole = np.zeros((64, 64), bool); hole[20:44, 20:44] = True
        >>> smooth = np.where(hole[..., None], np.float32(0.5), photo)
        >>> out = add_texture(photo, smooth, hole, np.ones((64, 64), np.float32))
        >>> bool(out[hole].std() > 0.1), bool((out[~hole] == photo[~hole]).all())
        (True, True)
    """
    _check(image, fill, hole, gain)
    out = np.where(hole[..., None], fill, image).astype(np.float32)
    if not hole.any() or not (gain[hole] > 0).any():
        return out
    h, w = hole.shape
    ch, cw = -(-h // CELL), -(-w // CELL)
    pad = ((0, ch * CELL - h), (0, cw * CELL - w))
    low = cv2.GaussianBlur(out, (0, 0), SPLIT_SIGMA)
    cells_low = cv2.resize(np.pad(low, (*pad, (0, 0)), mode="edge"), (cw, ch), interpolation=cv2.INTER_AREA)
    hole_cells = _cell_any(np.pad(hole, pad, constant_values=False))
    # A source cell and its neighbours lie wholly in the photo: reads at a neighbour's offset stay in it.
    photo_cells = ~_cell_any(np.pad(hole, pad, constant_values=True))
    sources = cv2.erode(photo_cells.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    if not sources.any():
        return out
    offsets = _match(_describe(cells_low), hole_cells, sources)
    offsets = _refine(image, low, hole, hole_cells, offsets * CELL)
    detail = _photo_detail(image, hole)
    copied = _copy(detail, hole, offsets)
    copied *= _cap(copied, detail, hole)[..., None]
    # Added to the fill's own detail, which is faint but in place (edges the network drew).
    return out + (CONTRAST * gain * hole)[..., None] * copied


def _cap(copied: np.ndarray, detail: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Per pixel, at most 1: the factor that brings the copied detail's local energy (Gaussian σ 8 over
    the hole) down to the photo's own around it (σ 16 over valid pixels), so that a busy source never
    lays stronger detail into calmer surroundings. Energies are smooth, so they are measured at 1/4 size."""
    h, w = hole.shape
    small = (max(1, w // 4), max(1, h // 4))

    def local(energy: np.ndarray, where: np.ndarray, sigma: float) -> np.ndarray:
        e = cv2.resize(energy * where, small, interpolation=cv2.INTER_AREA)
        m = cv2.resize(where, small, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(e, (0, 0), sigma / 4) / np.maximum(cv2.GaussianBlur(m, (0, 0), sigma / 4), 1e-6)

    around = local((detail**2).sum(2), (~hole).astype(np.float32), 16)
    copy = local((copied**2).sum(2), hole.astype(np.float32), 8)
    cap = np.minimum(1.0, np.sqrt(around / np.maximum(copy, 1e-9))).astype(np.float32)
    return cv2.resize(cap, (w, h), interpolation=cv2.INTER_LINEAR)


def _check(image: np.ndarray, fill: np.ndarray, hole: np.ndarray, gain: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or fill.shape != image.shape:
        raise ValueError(f"expected H×W×3 image and fill of one shape, got {image.shape} and {fill.shape}")
    if hole.shape != image.shape[:2] or hole.dtype != bool or gain.shape != hole.shape:
        raise ValueError(
            f"expected an H×W bool hole map and an H×W gain of shape {image.shape[:2]}, "
            f"got {hole.dtype} {hole.shape} and {gain.shape}"
        )


def _cell_any(mask: np.ndarray) -> np.ndarray:
    """Per CELL×CELL cell of a bool map whose sides are multiples of CELL: any pixel set."""
    h, w = mask.shape
    return mask.reshape(h // CELL, CELL, w // CELL, CELL).any(axis=(1, 3))


def _describe(cells: np.ndarray) -> np.ndarray:
    """Per cell, its (2·PATCH+1)² neighbourhood of low-pass colours, ch×cw×D float32."""
    ch, cw, c = cells.shape
    padded = cv2.copyMakeBorder(cells, PATCH, PATCH, PATCH, PATCH, cv2.BORDER_REFLECT)
    padded = padded.reshape(ch + 2 * PATCH, cw + 2 * PATCH, c)
    side = 2 * PATCH + 1
    parts = [padded[dy : dy + ch, dx : dx + cw] for dy in range(side) for dx in range(side)]
    return np.concatenate(parts, axis=2).astype(np.float32)


def _match(desc: np.ndarray, queries: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Per cell, the (dy, dx) offset in cells to its matched source cell (ch×cw×2 int; 0 for non-queries)."""
    ch, cw, _ = desc.shape
    sy, sx = np.nonzero(sources)
    stride = max(1, int(np.ceil(np.sqrt(len(sy) / _MAX_SOURCES))))
    keep = (sy % stride == 0) & (sx % stride == 0)
    sy, sx = sy[keep], sx[keep]
    qy, qx = np.nonzero(queries)
    flat = desc.reshape(ch * cw, -1)
    basis = _principal(flat[sy * cw + sx])
    reduced = (flat - flat[sy * cw + sx].mean(0)) @ basis
    # The distance penalty as two more coordinates: squared distances then add it by themselves.
    yy, xx = np.divmod(np.arange(ch * cw, dtype=np.float32), np.float32(cw))
    weight = np.float32(np.sqrt(DISTANCE_COST) / 64.0)
    placed = np.concatenate([reduced, weight * yy[:, None], weight * xx[:, None]], axis=1)
    s = placed[sy * cw + sx]
    s_norm = (s * s).sum(1)
    best = np.empty(len(qy), np.intp)
    # Each use of a source makes it dearer: a smooth query would otherwise take one smoothest source
    # everywhere, and its piece would repeat cell after cell. Uses are weighed among each query's
    # _CANDIDATES nearest sources (one matrix product per _BLOCK queries).
    penalty = np.zeros(len(sy), np.float32)
    k = min(_CANDIDATES, len(sy))
    scale = None
    for start in range(0, len(qy), _BLOCK):
        q = placed[qy[start : start + _BLOCK] * cw + qx[start : start + _BLOCK]]
        d = s_norm[None, :] - 2 * (q @ s.T)
        near = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(sy) else np.broadcast_to(np.arange(k), d.shape)
        near_d = np.take_along_axis(d, near, axis=1)
        if scale is None:  # the typical gap between a query's best source and its good ones
            gaps = np.median(near_d, axis=1) - near_d.min(axis=1)
            scale = np.float32(REUSE * max(float(np.median(gaps)), 1e-9))
        for i in range(len(q)):  # one query at a time: neighbours, matched in turn, see each other's uses
            chosen = near[i, np.argmin(near_d[i] + penalty[near[i]])]
            best[start + i] = chosen
            penalty[chosen] += scale
    offsets = np.zeros((ch, cw, 2), np.int64)
    offsets[qy, qx, 0] = sy[best] - qy
    offsets[qy, qx, 1] = sx[best] - qx
    return _coherent(offsets, reduced.reshape(ch, cw, -1), queries, sources)


def _principal(samples: np.ndarray) -> np.ndarray:
    """The DIMS leading principal directions (D×DIMS) of the rows of ``samples``, signs fixed."""
    samples = samples[:: max(1, len(samples) // 4096)]  # a regular subsample spans the directions as well
    centred = (samples - samples.mean(0)).astype(np.float64)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    basis = vectors[:, ::-1][:, :DIMS]
    basis *= np.sign(basis[np.abs(basis).argmax(0), np.arange(basis.shape[1])])
    return basis.astype(np.float32)


def _coherent(offsets: np.ndarray, desc: np.ndarray, queries: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Offsets where each query cell takes a neighbour's offset whose patch is within COHERENCE of its own
    match's distance (two sweeps)."""
    ch, cw = queries.shape
    qy, qx = np.nonzero(queries)

    def cost(oy: np.ndarray, ox: np.ndarray) -> np.ndarray:
        ty, tx = qy + oy, qx + ox
        ok = (ty >= 0) & (ty < ch) & (tx >= 0) & (tx < cw)
        ty, tx = np.clip(ty, 0, ch - 1), np.clip(tx, 0, cw - 1)
        d = ((desc[ty, tx] - desc[qy, qx]) ** 2).sum(1)
        return np.where(ok & sources[ty, tx], d, np.inf)

    current = cost(offsets[qy, qx, 0], offsets[qy, qx, 1])
    for _ in range(SWEEPS):
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            ny, nx = np.clip(qy + dy, 0, ch - 1), np.clip(qx + dx, 0, cw - 1)
            oy, ox = offsets[ny, nx, 0], offsets[ny, nx, 1]
            d = cost(oy, ox)
            other = (oy != offsets[qy, qx, 0]) | (ox != offsets[qy, qx, 1])
            take = queries[ny, nx] & (d <= current * (1 + COHERENCE)) & other
            offsets[qy[take], qx[take], 0] = oy[take]
            offsets[qy[take], qx[take], 1] = ox[take]
            current[take] = np.minimum(d[take], current[take] * (1 + COHERENCE))
    return offsets


def _photo_detail(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The valid photo minus its Gaussian low-pass (σ SPLIT_SIGMA) normalised over valid pixels; 0 in holes."""
    v = (~hole).astype(np.float32)
    low = cv2.GaussianBlur(image * v[..., None], (0, 0), SPLIT_SIGMA)
    low /= np.maximum(cv2.GaussianBlur(v, (0, 0), SPLIT_SIGMA), 1e-6)[..., None]
    return (image - low) * v[..., None]


def _copy(detail: np.ndarray, hole: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per hole pixel, the photo's detail read at its four nearest cells' offsets, mixed keeping contrast
    (H×W×3; 0 outside holes)."""
    h, w = hole.shape
    ch, cw, _ = offsets.shape
    ys, xs = np.nonzero(hole)
    uy, ux = (ys + 0.5) / CELL - 0.5, (xs + 0.5) / CELL - 0.5
    iy, ix = np.floor(uy).astype(np.intp), np.floor(ux).astype(np.intp)
    ty, tx = (uy - iy).astype(np.float32), (ux - ix).astype(np.float32)
    corners = []
    for cy, wy in ((iy, 1 - ty), (iy + 1, ty)):
        for cx, wx in ((ix, 1 - tx), (ix + 1, tx)):
            cy_, cx_ = np.clip(cy, 0, ch - 1), np.clip(cx, 0, cw - 1)
            oy, ox = offsets[cy_, cx_, 0], offsets[cy_, cx_, 1]
            ry, rx = ys + oy, xs + ox
            ok = (ry >= 0) & (ry < h) & (rx >= 0) & (rx < w)
            ry, rx = np.clip(ry, 0, h - 1), np.clip(rx, 0, w - 1)
            ok &= ~hole[ry, rx]
            corners.append((wy * wx * ok, oy, ox, detail[ry, rx]))
    total = np.maximum(sum(c[0] for c in corners), 1e-6)
    mixed = np.zeros((len(ys), 3), np.float32)
    energy = np.zeros(len(ys), np.float32)
    for wk, oy, ox, value in corners:
        wk = wk / total
        mixed += wk[:, None] * value
        same = sum(wj / total * ((oyj == oy) & (oxj == ox)) for wj, oyj, oxj, _ in corners)
        energy += wk * same
    out = np.zeros((h, w, 3), np.float32)
    out[ys, xs] = mixed / np.sqrt(np.maximum(energy, 1e-6))[:, None]
    return out


def _refine(
    image: np.ndarray, low: np.ndarray, hole: np.ndarray, queries: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Pixel offsets (ch×cw×2): each query cell's match moved (hill-climbing in STEPS) to where the
    photo's luma fits the cell's window best: the photo itself on the window's valid pixels (so copies
    line up with the detail at the hole's edge), the fill's low-pass on its hole pixels; then each
    cell takes a neighbour's offset that fits it better (SWEEPS, as PatchMatch propagates). A source
    window always lies wholly in the photo."""
    h, w = hole.shape
    qy, qx = np.nonzero(queries)
    side = CELL + 2 * MARGIN
    span = np.arange(side) - MARGIN
    wy, wx = qy[:, None] * CELL + span, qx[:, None] * CELL + span  # n×side each
    weight = (((wy >= 0) & (wy < h))[:, :, None] & ((wx >= 0) & (wx < w))[:, None, :]).reshape(len(qy), -1)
    ys, xs = np.clip(wy, 0, h - 1)[:, :, None], np.clip(wx, 0, w - 1)[:, None, :]
    # One flat array, photo luma then the low-pass's: a window's pixel reads the first where it is valid.
    planes = np.concatenate([image.mean(2).ravel(), low.mean(2).ravel()])
    at = (ys * w + xs + hole[ys, xs] * (h * w)).reshape(len(qy), -1)
    target = planes[at] * weight
    # A source window lies in the photo when its centre is this far from any hole pixel or border.
    reach = side // 2 + 1
    clear = cv2.erode(np.pad(~hole, 1).view(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))[1:-1, 1:-1]
    centre = CELL // 2

    def cost(oy: np.ndarray, ox: np.ndarray) -> np.ndarray:
        cy, cx = np.clip(qy * CELL + centre + oy, 0, h - 1), np.clip(qx * CELL + centre + ox, 0, w - 1)
        ok = clear[cy, cx] > 0
        d = target - planes[at + np.where(ok, oy * w + ox, 0)[:, None]] * weight  # reads stay in bounds
        return np.where(ok, np.einsum("ij,ij->i", d, d), np.inf)

    oy, ox = offsets[qy, qx, 0].copy(), offsets[qy, qx, 1].copy()
    best = cost(oy, ox)
    for step in STEPS:
        centre_y, centre_x = oy.copy(), ox.copy()
        for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
            ty, tx = centre_y + dy * step, centre_x + dx * step
            d = cost(ty, tx)
            better = d < best
            oy[better], ox[better], best[better] = ty[better], tx[better], d[better]
    out = offsets.copy()
    out[qy, qx, 0], out[qy, qx, 1] = oy, ox
    ch, cw = queries.shape
    for _ in range(SWEEPS):
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            ny, nx = np.clip(qy + dy, 0, ch - 1), np.clip(qx + dx, 0, cw - 1)
            ty, tx = out[ny, nx, 0], out[ny, nx, 1]
            d = np.where(queries[ny, nx], cost(ty, tx), np.inf)
            better = d < best
            out[qy[better], qx[better], 0], out[qy[better], qx[better], 1] = ty[better], tx[better]
            best[better] = d[better]
    return out
