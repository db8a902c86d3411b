"""Hole generators: `strokes` (PConv-Keras style), `blobs` (occlusion-like regions), and the
thin holes people mask in photos: `scratches` (1–6 px lines and curves) and `text` (words in a
real font, as watermarks and captions are). `mixed` draws one of them per mask.

Everything is rasterised here with NumPy, never with OpenCV drawing (whose output changes
between versions): each convex piece (rotated ellipse, rotated rectangle) is turned into one span
[x0, x1] per row from closed-form formulas that use only +, −, ×, ÷ and sqrt (IEEE-exact on
every machine), and no trigonometry (angles are random unit vectors). Random numbers come
from the bit generator's raw 64-bit words, whose stream NumPy keeps stable across versions.

`text` renders glyphs with Pillow's bundled scalable font (FreeType): its masks, and so
those of `mixed`, are reproducible for a given Pillow and FreeType; `strokes`, `blobs` and
`scratches` on any machine.

Hole-ratio control: shapes are painted one by one until the hole count reaches a target
drawn uniformly in the requested range; a shape that overshoots the range is taken back
and shrunk towards its centre (×0.6, up to 6 times) or dropped, and a mask that cannot
reach the range in a bounded number of shapes is redrawn.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from pconv_cli.choices import MaskStyle, values

STYLES = values(MaskStyle)
# How often `mixed` draws each style: mostly the paper-like shapes, a third thin holes.
_MIXED = (("strokes", 0.35), ("blobs", 0.3), ("scratches", 0.15), ("text", 0.2))
# Spans of pixel centres: row, first and last column (inclusive); a row may hold several.
Piece = tuple[np.ndarray, np.ndarray, np.ndarray]
Shape = Callable[[float], Piece]  # scale factor -> its spans

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


# --- shapes ---------------------------------------------------------------------------------


def _stroke_shape(draw: Draw, size: tuple[int, int], target: float) -> Shape:
    """One PConv-Keras-style brush mark: a thick line, a disc or a thick elliptic arc."""
    height, width = size
    # Keras scales brush widths by (W + H) · 0.03; wider brushes for large targets keep the count of
    # strokes (and the time) bounded when most of the image must be covered.
    brush = max(3.0, 0.03 * (height + width) * (1.0 + 3.0 * target))
    kind = draw.uniform()
    x, y = draw.uniform(0, width), draw.uniform(0, height)
    if kind < 0.5:
        xs = np.array([x, draw.uniform(0, width)])
        ys = np.array([y, draw.uniform(0, height)])
        r = draw.uniform(1.5, brush / 2)
    elif kind < 0.7:
        xs, ys = np.array([x]), np.array([y])
        r = draw.uniform(1.5, brush)
    else:
        a, b = draw.uniform(3, width / 2), draw.uniform(3, height / 2)
        c, s = draw.unit()
        r = draw.uniform(1.5, brush / 2)
        # Walk along the arc by repeated small rotations of a unit vector (about 9°–17° a step).
        step = draw.uniform(0.15, 0.3)
        norm = math.sqrt(1.0 + step * step)
        sc, ss = 1.0 / norm, step / norm
        u, v = draw.unit()
        px, py = [], []
        for _ in range(draw.integer(3, 20)):
            ex, ey = a * u, b * v
            px.append(x + c * ex - s * ey)
            py.append(y + s * ex + c * ey)
            u, v = u * sc - v * ss, u * ss + v * sc
        xs, ys = np.array(px), np.array(py)
    mx, my = math.fsum(xs) / xs.size, math.fsum(ys) / ys.size  # exactly rounded: no SIMD-order effects
    return lambda k: polyline(mx + k * (xs - mx), my + k * (ys - my), k * r, size)


def _blob_shape(draw: Draw, size: tuple[int, int], target: float) -> Shape:
    """One occlusion-like region: a random walk of overlapping rotated ellipses, sized to the target ratio."""
    height, width = size
    radius = math.sqrt(max(target, 0.005) * height * width / math.pi) * draw.uniform(0.25, 0.7)
    cx, cy = draw.uniform(0, width), draw.uniform(0, height)
    parts = []
    px = py = 0.0
    for _ in range(draw.integer(3, 9)):
        a = radius * draw.uniform(0.3, 0.9)
        b = a * draw.uniform(0.35, 1.0)
        c, s = draw.unit()
        parts.append((px, py, a, b, c, s))
        dx, dy = draw.unit()
        hop = radius * draw.uniform(0.3, 0.8)
        px, py = px + hop * dx, py + hop * dy
    ox, oy, a, b, c, s = (np.array(column) for column in zip(*parts))
    return lambda k: ellipses(cx + k * ox, cy + k * oy, np.maximum(k * a, 0.5), np.maximum(k * b, 0.5), c, s, size)


def _turning_walk(draw: Draw, x: float, y: float, steps: int, step: float, bend: float) -> tuple[np.ndarray, ...]:
    """Points of a walk from (x, y) whose heading turns by a random amount (tangent up to ``bend``) each step."""
    u, v = draw.unit()
    px, py = [x], [y]
    for _ in range(steps):
        t = draw.uniform(-bend, bend)
        norm = math.sqrt(1.0 + t * t)
        u, v = (u - v * t) / norm, (u * t + v) / norm
        x, y = x + step * u, y + step * v
        px.append(x)
        py.append(y)
    return np.array(px), np.array(py)


def _scratch_shape(draw: Draw, size: tuple[int, int], target: float) -> Shape:
    """One scratch: a 1–6 px wide line, straight or gently curved, 10–70 % of the shorter side long."""
    height, width = size
    r = draw.uniform(0.5, 3.0)
    steps = draw.integer(1, 12)
    length = draw.uniform(0.1, 0.7) * min(height, width)
    xs, ys = _turning_walk(draw, draw.uniform(0, width), draw.uniform(0, height), steps, length / steps, 0.35)
    mx, my = math.fsum(xs) / xs.size, math.fsum(ys) / ys.size
    return lambda k: polyline(mx + k * (xs - mx), my + k * (ys - my), max(k * r, 0.5), size)


# Words as watermarks and captions write them; random letter strings add unseen shapes.
_WORDS = ("SAMPLE", "PREVIEW", "DRAFT", "Stock Photo", "COPYRIGHT", "watermark", "Proof", "© 2024", "Photo by")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@functools.lru_cache(maxsize=64)
def _font(pixels: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=pixels)  # Pillow's bundled scalable font (Aileron, SIL OFL)


def _runs(patch: np.ndarray, top: int, left: int, size: tuple[int, int]) -> Piece:
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


def _word(draw: Draw) -> str:
    if draw.uniform() < 0.5:
        return _WORDS[draw.integer(0, len(_WORDS) - 1)]
    return "".join(_LETTERS[draw.integer(0, len(_LETTERS) - 1)] for _ in range(draw.integer(2, 10)))


def _text_shape(draw: Draw, size: tuple[int, int], target: float) -> Shape:
    """One word in a real font: random size, angle and stroke width, slightly dilated as masks of text are."""
    from PIL import Image, ImageDraw

    height, width = size
    side = min(height, width)
    word = _word(draw)
    pixels = side * draw.uniform(0.04, 0.14) * (1.0 + 2.0 * target)
    weight = draw.uniform(0.0, 0.05)  # stroke width as a share of the font size: regular to bold
    dilate = max(1, round(draw.integer(1, 2) * side / 512))  # a hand-drawn mask overshoots the letters
    angle = draw.uniform(-45.0, 45.0) if draw.uniform() < 0.6 else 0.0
    cx, cy = draw.uniform(0, width), draw.uniform(0, height)

    def shape(k: float) -> Piece:
        font = _font(max(4, round(k * pixels)))
        stroke = round(k * pixels * weight) + dilate
        box = font.getbbox(word, stroke_width=stroke)
        image = Image.new("L", (box[2] - box[0] + 2, box[3] - box[1] + 2))
        ImageDraw.Draw(image).text((1 - box[0], 1 - box[1]), word, fill=255, font=font, stroke_width=stroke)
        if angle:
            image = image.rotate(angle, resample=Image.Resampling.NEAREST, expand=True)
        patch = np.asarray(image) > 127
        return _runs(patch, round(cy - patch.shape[0] / 2), round(cx - patch.shape[1] / 2), size)

    return shape


_SHAPES = {"strokes": _stroke_shape, "blobs": _blob_shape, "scratches": _scratch_shape, "text": _text_shape}


def count_window(low: float, high: float, total: int) -> tuple[int, int]:
    """Smallest and largest hole counts c with low < c/total <= high, however it is computed, and
    c < total: a mask that leaves no photo has nothing to fill from (inpaint refuses it).

    The ratio is checked as c/total (masks.hole_ratio of a NumPy hole map), as 1 − (total − c)/total
    (of a tensor) and as written to a manifest (6 decimals), so every reader puts the mask in the same bin.
    """

    def inside(c: int) -> bool:
        ratios = (c / total, 1.0 - (total - c) / total, round(c / total, 6))
        return all(low < r <= high for r in ratios)

    lo = max(0, math.floor(low * total) - 2)
    while lo <= total and not inside(lo):
        lo += 1
    hi = min(total - 1, math.ceil(high * total) + 2)
    while hi >= 0 and not inside(hi):
        hi -= 1
    return lo, hi


def _fill(canvas: Canvas, style: str, draw: Draw, goal: int, cmax: int, target: float) -> bool:
    """Add shapes until the hole count lies in [goal, cmax]; False if it gave up.

    A shape that takes the count past ``cmax`` is taken back and shrunk towards its centre
    (×0.6 a try) until it fits, else dropped.
    """
    make = _SHAPES[style]
    for _ in range(_MAX_SHAPES):
        shape = make(draw, canvas.size, target)
        scale = 1.0
        for _ in range(_SHRINK_TRIES + 1):
            painted = canvas.paint(shape(scale))
            count = canvas.count()
            if count <= cmax:
                break
            canvas.undo(painted)
            scale *= _SHRINK
        if goal <= count <= cmax:
            return True
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
        pick = draw.uniform()
        for style, share in _MIXED:  # noqa: B007 - the last style takes what rounding leaves
            pick -= share
            if pick < 0.0:
                break
    for _ in range(_RESTARTS):
        target = draw.uniform(cmin / total, cmax / total)
        goal = max(cmin, min(cmax, math.ceil(target * total)))
        canvas = Canvas(*inner)
        if _fill(canvas, style, draw, goal, cmax, target):
            break
    else:
        raise ValueError(f"gave up drawing a {style} mask with hole ratio in ({low}, {high}] after {_RESTARTS} tries")
    holes = canvas.holes.reshape(inner)
    if margin:
        holes = np.pad(holes, margin)
    return holes, style
