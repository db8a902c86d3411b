"""Hole masks drawn exactly: convex pieces (rotated ellipses, brush strokes) as row spans, and
the canvas they are painted into and taken back out of (used by ``maskgen``).

Each piece becomes one span [x0, x1] of pixel centres per row, from closed-form formulas
that use only +, −, ×, ÷ and sqrt (IEEE-exact on every machine) and no trigonometry, never
from OpenCV's drawing, whose output changes between its versions: the same numbers give the
same mask everywhere.
"""

from __future__ import annotations

import numpy as np

# Spans of pixel centres: row, first and last column (inclusive); a row may hold several.
Piece = tuple[np.ndarray, np.ndarray, np.ndarray]


def _rows(cy: np.ndarray, extent: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """For pieces centred on rows cy reaching ``extent`` up and down: each covered row's piece
    index and row number (clipped to the canvas)."""
    y0 = np.maximum(np.ceil(cy - extent), 0.0)
    y1 = np.minimum(np.floor(cy + extent), height - 1.0)
    n = np.maximum(y1 - y0 + 1.0, 0.0).astype(np.int64)
    owner = np.repeat(np.arange(cy.size), n)
    first = np.cumsum(n) - n
    rows = y0[owner] + (np.arange(owner.size) - first[owner])
    return owner, rows


def _spans(rows: np.ndarray, cx: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: int) -> Piece:
    """Rows and the inclusive column span [ceil(cx + lo), floor(cx + hi)] of the pixel centres inside."""
    with np.errstate(invalid="ignore"):
        x0 = np.ceil(cx + lo)
        x1 = np.floor(cx + hi)
        keep = (x0 <= x1) & (x1 >= 0.0) & (x0 <= width - 1.0)
    x0 = np.maximum(x0[keep], 0.0).astype(np.int32)
    x1 = np.minimum(x1[keep], width - 1.0).astype(np.int32)
    return rows[keep].astype(np.int32), x0, x1


def _concat(pieces: list[Piece]) -> Piece:
    return tuple(np.concatenate(parts) for parts in zip(*pieces))  # type: ignore[return-value]


def ellipses(
    cx: np.ndarray, cy: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, s: np.ndarray, size: tuple[int, int]
) -> Piece:
    """Filled ellipses, semi-axes a along (c, s) and b across, on an H×W canvas (pixel centres)."""
    height, width = size
    owner, rows = _rows(cy, np.maximum(a, b), height)
    ia, ib = 1.0 / (a * a), 1.0 / (b * b)
    qa = (c * c * ia + s * s * ib)[owner]
    qb = (2.0 * c * s * (ia - ib))[owner]
    qc = (s * s * ia + c * c * ib)[owner]
    dy = rows - cy[owner]
    # Row dy of the ellipse: qa·dx² + qb·dy·dx + qc·dy² − 1 <= 0, solved for dx.
    disc = (qb * dy) ** 2 - 4.0 * qa * (qc * dy * dy - 1.0)
    root = np.sqrt(np.maximum(disc, 0.0))
    lo = np.where(disc >= 0.0, (-qb * dy - root) / (2.0 * qa), np.inf)
    hi = np.where(disc >= 0.0, (-qb * dy + root) / (2.0 * qa), -np.inf)
    return _spans(rows, cx[owner], lo, hi, width)


def _band(k: np.ndarray, m: np.ndarray, h: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row dy, the dx interval where |k·dx + m·dy| <= h (an empty row has lo > hi)."""
    flat = k == 0.0
    safe = np.where(flat, 1.0, k)
    a, b = (-h - m * dy) / safe, (h - m * dy) / safe
    inside = np.abs(m * dy) <= h
    lo = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(a, b))
    hi = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(a, b))
    return lo, hi


def polyline(xs: np.ndarray, ys: np.ndarray, r: float, size: tuple[int, int]) -> Piece:
    """A brush of radius r along the points (xs, ys): a disc at every point and a rectangle
    along every segment, i.e. every pixel centre within r of the polyline."""
    height, width = size
    radius = np.full(xs.size, r)
    one, zero = np.ones(xs.size), np.zeros(xs.size)
    pieces = [ellipses(xs, ys, radius, radius, one, zero, size)]
    dx, dy = np.diff(xs), np.diff(ys)
    half = np.sqrt(dx * dx + dy * dy) / 2.0
    long = half > 0.0
    if long.any():
        dx, dy, half = dx[long], dy[long], half[long]
        cx, cy = (xs[:-1][long] + xs[1:][long]) / 2.0, (ys[:-1][long] + ys[1:][long]) / 2.0
        c, s = dx / (2.0 * half), dy / (2.0 * half)
        owner, rows = _rows(cy, half + r, height)
        offset = rows - cy[owner]
        lo1, hi1 = _band(c[owner], s[owner], half[owner], offset)
        lo2, hi2 = _band(-s[owner], c[owner], np.full(owner.size, r), offset)
        pieces.append(_spans(rows, cx[owner], np.maximum(lo1, lo2), np.minimum(hi1, hi2), width))
    return _concat(pieces)


class Canvas:
    """An H×W bool hole mask that shapes are painted into and taken back out of."""

    def __init__(self, height: int, width: int) -> None:
        self.size = (height, width)
        self.holes = np.zeros(height * width, bool)

    def paint(self, piece: Piece) -> tuple[np.ndarray, np.ndarray]:
        """Set the piece's pixels; returns what ``undo`` needs."""
        rows, x0, x1 = piece
        lengths = (x1 - x0 + 1).astype(np.int64)
        first = np.cumsum(lengths) - lengths
        index = np.repeat(rows.astype(np.int64) * self.size[1] + x0 - first, lengths) + np.arange(lengths.sum())
        before = self.holes[index]
        self.holes[index] = True
        return index, before

    def undo(self, painted: tuple[np.ndarray, np.ndarray]) -> None:
        index, before = painted
        self.holes[index] = before  # repeated pixels carry the same earlier value

    def count(self) -> int:
        return int(np.count_nonzero(self.holes))


def bool_runs(patch: np.ndarray, top: int, left: int, size: tuple[int, int]) -> Piece:
    """The True runs of a bool patch placed at (top, left) on an H×W canvas, as clipped spans."""
    edges = np.diff(np.pad(patch, ((0, 0), (1, 1))).view(np.int8), axis=1)
    rows, x0 = np.nonzero(edges == 1)
    x1 = np.nonzero(edges == -1)[1] - 1
    rows, x0, x1 = rows + top, x0 + left, x1 + left
    keep = (rows >= 0) & (rows < size[0]) & (x1 >= 0) & (x0 < size[1])
    return (
        rows[keep].astype(np.int32),
        np.maximum(x0[keep], 0).astype(np.int32),
        np.minimum(x1[keep], size[1] - 1).astype(np.int32),
    )
