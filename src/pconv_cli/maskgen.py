"""Irregular hole generators: `strokes` (PConv-Keras style) and `blobs` (occlusion-like regions).

Everything is rasterised here with NumPy, never with OpenCV drawing (whose output changes
between versions): each convex piece (rotated ellipse, capsule) is turned into one span
[x0, x1] per row from closed-form formulas that use only +, −, ×, ÷ and sqrt (IEEE-exact on
every machine), and no trigonometry (angles are random unit vectors). Random numbers come
from the bit generator's raw 64-bit words, whose stream NumPy keeps stable across versions.

Spans are accumulated in a per-row difference array, so adding or removing a shape costs
O(rows) and the mask is one cumulative sum. Hole-ratio control: shapes are added (in
doubling batches) until the hole count reaches a target drawn uniformly in the requested
range; a shape that overshoots the range is shrunk (×0.6, up to 6 times) or dropped, and a
mask that cannot reach the range in a bounded number of shapes is restarted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

STYLES = ("strokes", "blobs", "mixed")
# A piece: (first row, x0 per row, x1 per row), inclusive columns, rows where x0 <= x1.
Piece = tuple[np.ndarray, np.ndarray, np.ndarray]
Shape = Callable[[float], list[Piece]]  # scale factor -> pieces

_MAX_SHAPES = 600
_RESTARTS = 20
_SHRINK, _SHRINK_TRIES = 0.6, 6


class Draw:
    """Uniform draws built from a bit generator's raw 64-bit output (a stable stream)."""

    def __init__(self, bit_generator: np.random.BitGenerator) -> None:
        self._bits = bit_generator
        self._buffer: list[int] = []

    def _word(self) -> int:
        if not self._buffer:
            self._buffer = self._bits.random_raw(64).tolist()[::-1]
        return self._buffer.pop()

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        return low + (high - low) * ((self._word() >> 11) * 2.0**-53)

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high] (inclusive)."""
        return low + ((self._word() * (high - low + 1)) >> 64)

    def unit(self) -> tuple[float, float]:
        """A random direction (cos, sin) without trigonometry: a normalised point of the unit disc."""
        while True:
            u, v = self.uniform(-1.0, 1.0), self.uniform(-1.0, 1.0)
            r2 = u * u + v * v
            if 0.01 < r2 <= 1.0:
                r = math.sqrt(r2)
                return u / r, v / r


def seeded_draw(seed: int, index: int) -> Draw:
    """The draw stream of mask ``index`` of a run with ``seed``: independent of workers and order."""
    return Draw(np.random.PCG64(np.random.SeedSequence([seed, index])))


# --- rasterisation -----------------------------------------------------------------------


def _band(k: float, m: float, h: float, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row dy, the dx interval where |k·dx + m·dy| <= h (empty rows: lo > hi)."""
    if k == 0.0:
        inside = np.abs(m * dy) <= h
        return np.where(inside, -np.inf, np.inf), np.where(inside, np.inf, -np.inf)
    a, b = (-h - m * dy) / k, (h - m * dy) / k
    return np.minimum(a, b), np.maximum(a, b)


def _piece(y0: int, cx: float, lo: np.ndarray, hi: np.ndarray, width: int) -> Piece | None:
    with np.errstate(invalid="ignore"):
        x0 = np.ceil(cx + lo)
        x1 = np.floor(cx + hi)
        keep = (x0 <= x1) & (x1 >= 0) & (x0 <= width - 1)
    if not keep.any():
        return None
    rows = np.flatnonzero(keep)
    x0 = np.clip(x0[rows], 0, width - 1).astype(np.int32)
    x1 = np.clip(x1[rows], 0, width - 1).astype(np.int32)
    return (rows + y0).astype(np.int32), x0, x1


def _rows(cy: float, extent: float, height: int) -> tuple[int, np.ndarray]:
    y0 = max(0, math.ceil(cy - extent))
    y1 = min(height - 1, math.floor(cy + extent))
    return y0, np.arange(y0, y1 + 1, dtype=np.float64) - cy


def ellipse(cx: float, cy: float, a: float, b: float, c: float, s: float, size: tuple[int, int]) -> list[Piece]:
    """Filled ellipse, semi-axes a along (c, s) and b across, on an H×W canvas (pixel centres)."""
    height, width = size
    y0, dy = _rows(cy, max(a, b), height)
    if dy.size == 0:
        return []
    ia, ib = 1.0 / (a * a), 1.0 / (b * b)
    qa = c * c * ia + s * s * ib
    qb = 2.0 * c * s * (ia - ib)
    qc = s * s * ia + c * c * ib
    disc = (qb * dy) ** 2 - 4.0 * qa * (qc * dy * dy - 1.0)
    root = np.sqrt(np.maximum(disc, 0.0))
    lo = np.where(disc >= 0, (-qb * dy - root) / (2.0 * qa), np.inf)
    hi = np.where(disc >= 0, (-qb * dy + root) / (2.0 * qa), -np.inf)
    piece = _piece(y0, cx, lo, hi, width)
    return [piece] if piece else []


def capsule(x0: float, y0: float, x1: float, y1: float, r: float, size: tuple[int, int]) -> list[Piece]:
    """Thick segment with round caps (radius r) from (x0, y0) to (x1, y1)."""
    height, width = size
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half = math.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2) / 2.0
    pieces = ellipse(x0, y0, r, r, 1.0, 0.0, size) + ellipse(x1, y1, r, r, 1.0, 0.0, size)
    if half > 0.0:
        c, s = (x1 - x0) / (2.0 * half), (y1 - y0) / (2.0 * half)
        first, dy = _rows(cy, half + r, height)
        if dy.size:
            lo1, hi1 = _band(c, s, half, dy)
            lo2, hi2 = _band(-s, c, r, dy)
            piece = _piece(first, cx, np.maximum(lo1, lo2), np.minimum(hi1, hi2), width)
            if piece:
                pieces.append(piece)
    return pieces


class Canvas:
    """Hole coverage of an H×W canvas as per-row span counts (a difference array)."""

    def __init__(self, height: int, width: int) -> None:
        self.size = (height, width)
        self.diff = np.zeros((height, width + 1), np.int16)

    def add(self, pieces: list[Piece], sign: int = 1) -> None:
        for rows, x0, x1 in pieces:
            self.diff[rows, x0] += sign
            self.diff[rows, x1 + 1] -= sign

    def holes(self) -> np.ndarray:
        """H×W bool, True = hole."""
        return np.cumsum(self.diff[:, :-1], axis=1, dtype=np.int16) > 0


# --- shapes ---------------------------------------------------------------------------------


def _stroke_shape(draw: Draw, size: tuple[int, int], target: float) -> Shape:
    """One PConv-Keras-style brush mark: a thick line, a disc or a thick elliptic arc."""
    height, width = size
    brush = max(3.0, 0.03 * (height + width))  # Keras scales brush widths by (W + H) · 0.03
    kind = draw.uniform()
    x, y = draw.uniform(0, width), draw.uniform(0, height)
    if kind < 0.5:
        x2, y2 = draw.uniform(0, width), draw.uniform(0, height)
        r = draw.uniform(1.5, brush / 2)

        def line(k: float) -> list[Piece]:
            mx, my = (x + x2) / 2, (y + y2) / 2
            return capsule(mx + k * (x - mx), my + k * (y - my), mx + k * (x2 - mx), my + k * (y2 - my), k * r, size)

        return line
    if kind < 0.7:
        r = draw.uniform(1.5, brush)
        return lambda k: ellipse(x, y, k * r, k * r, 1.0, 0.0, size)
    a, b = draw.uniform(3, width / 2), draw.uniform(3, height / 2)
    c, s = draw.unit()
    r = draw.uniform(1.5, brush / 2)
    # Walk along the arc by repeated small rotations of a unit vector (about 9°–17° a step).
    step = draw.uniform(0.15, 0.3)
    norm = math.sqrt(1.0 + step * step)
    sc, ss = 1.0 / norm, step / norm
    u, v = draw.unit()
    points = []
    for _ in range(draw.integer(3, 20)):
        ex, ey = a * u, b * v
        points.append((x + c * ex - s * ey, y + s * ex + c * ey))
        u, v = u * sc - v * ss, u * ss + v * sc

    def arc(k: float) -> list[Piece]:
        pieces: list[Piece] = []
        scaled = [(x + k * (px - x), y + k * (py - y)) for px, py in points]
        for (p0x, p0y), (p1x, p1y) in zip(scaled, scaled[1:]):
            pieces += capsule(p0x, p0y, p1x, p1y, k * r, size)
        return pieces

    return arc


def _blob_shape(draw: Draw, size: tuple[int, int], target: float) -> Shape:
    """One occlusion-like region: a random walk of overlapping rotated ellipses, sized to the target ratio."""
    height, width = size
    area = max(target, 0.005) * height * width
    radius = math.sqrt(area / math.pi) * draw.uniform(0.25, 0.7)
    cx, cy = draw.uniform(0, width), draw.uniform(0, height)
    parts = []
    px, py = cx, cy
    for _ in range(draw.integer(3, 9)):
        a = radius * draw.uniform(0.3, 0.9)
        b = a * draw.uniform(0.35, 1.0)
        c, s = draw.unit()
        parts.append((px - cx, py - cy, a, b, c, s))
        dx, dy = draw.unit()
        hop = radius * draw.uniform(0.3, 0.8)
        px, py = px + hop * dx, py + hop * dy

    def blob(k: float) -> list[Piece]:
        pieces: list[Piece] = []
        for ox, oy, a, b, c, s in parts:
            pieces += ellipse(cx + k * ox, cy + k * oy, max(k * a, 0.5), max(k * b, 0.5), c, s, size)
        return pieces

    return blob


_SHAPES = {"strokes": _stroke_shape, "blobs": _blob_shape}


def count_window(low: float, high: float, total: int) -> tuple[int, int]:
    """Smallest and largest hole counts c with low < c/total <= high, however it is computed.

    The ratio is checked as c/total, as 1 − (total − c)/total (masks.hole_ratio) and as
    written to a manifest (6 decimals), so every reader puts the mask in the same bin.
    """

    def inside(c: int) -> bool:
        ratios = (c / total, 1.0 - (total - c) / total, round(c / total, 6))
        return all(low < r <= high for r in ratios)

    lo = max(0, math.floor(low * total) - 2)
    while lo <= total and not inside(lo):
        lo += 1
    hi = min(total, math.ceil(high * total) + 2)
    while hi >= 0 and not inside(hi):
        hi -= 1
    return lo, hi


def _fill(canvas: Canvas, style: str, draw: Draw, goal: int, cmax: int, target: float) -> bool:
    """Add shapes until the hole count lies in [goal, cmax]; False if it gave up."""
    make = _SHAPES[style]
    queue: list[Shape] = []
    batch = 1
    for _ in range(_MAX_SHAPES):
        while len(queue) < batch:
            queue.append(make(draw, canvas.size, target))
        shapes, queue = queue[:batch], queue[batch:]
        pieces = [p for shape in shapes for p in shape(1.0)]
        canvas.add(pieces)
        count = int(np.count_nonzero(canvas.holes()))
        if count < goal:
            batch = min(batch * 2, 16)
            continue
        if count <= cmax:
            return True
        canvas.add(pieces, -1)
        if batch > 1:  # overshot with several: retry them one at a time
            queue = shapes + queue
            batch = 1
            continue
        scale = 1.0
        for _ in range(_SHRINK_TRIES):
            scale *= _SHRINK
            pieces = shapes[0](scale)
            canvas.add(pieces)
            count = int(np.count_nonzero(canvas.holes()))
            if goal <= count <= cmax:
                return True
            if count < goal:
                break
            canvas.add(pieces, -1)
    return False


def generate(
    style: str, size: tuple[int, int], ratio: tuple[float, float], margin: int, draw: Draw
) -> tuple[np.ndarray, str]:
    """One H×W bool mask (True = hole) with hole ratio in (low, high] and no hole within ``margin`` px of
    the border; returns it with the generator that drew it (``mixed`` picks one per mask)."""
    if style not in STYLES:
        raise ValueError(f"expected style in {STYLES}, got {style!r}")
    height, width = size
    low, high = ratio
    total = height * width
    cmin, cmax = count_window(low, high, total)
    inner = (height - 2 * margin, width - 2 * margin)
    if cmin > cmax or inner[0] <= 0 or inner[1] <= 0 or cmin > inner[0] * inner[1]:
        raise ValueError(f"no {height}×{width} mask with margin {margin} can have a hole ratio in ({low}, {high}]")
    if style == "mixed":
        style = "strokes" if draw.uniform() < 0.5 else "blobs"
    for _ in range(_RESTARTS):
        target = draw.uniform(cmin / total, cmax / total)
        goal = max(cmin, min(cmax, math.ceil(target * total)))
        canvas = Canvas(*inner)
        if _fill(canvas, style, draw, goal, cmax, target):
            break
    else:
        raise ValueError(f"gave up drawing a {style} mask with hole ratio in ({low}, {high}] after {_RESTARTS} tries")
    holes = canvas.holes()
    if margin:
        holes = np.pad(holes, margin)
    return holes, style
