"""Random hole masks, the generators of `pconv make-masks` and of training's masks (``masks``
holds what is done with a hole map once it exists: its ratio, bin, border mode, dilation).

Styles: `strokes` (PConv-Keras style), `blobs` (occlusion-like regions), and the thin holes
people mask in photos: `scratches` (1–6 px lines and curves) and `text` (words in a real font,
as watermarks and captions are). `mixed` draws one of them per mask.

Shapes are rasterised exactly by ``raster`` (no trigonometry: angles are random unit
vectors). Random numbers come from the bit generator's raw 64-bit words, whose stream NumPy
keeps stable across versions. `text` renders glyphs with Pillow's bundled scalable font
(FreeType): its masks, and so those of `mixed`, are reproducible for a given Pillow and
FreeType; `strokes`, `blobs` and `scratches` on any machine.

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
from pconv_cli.imaging.raster import Canvas, Piece, bool_runs, ellipses, polyline

STYLES = values(MaskStyle)
# How often `mixed` draws each style: mostly the paper-like shapes, a third thin holes.
_MIXED = (
    (MaskStyle.strokes.value, 0.35),
    (MaskStyle.blobs.value, 0.3),
    (MaskStyle.scratches.value, 0.15),
    (MaskStyle.text.value, 0.2),
)
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
        return bool_runs(patch, round(cy - patch.shape[0] / 2), round(cx - patch.shape[1] / 2), size)

    return shape


_SHAPES = {
    MaskStyle.strokes.value: _stroke_shape,
    MaskStyle.blobs.value: _blob_shape,
    MaskStyle.scratches.value: _scratch_shape,
    MaskStyle.text.value: _text_shape,
}


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


def _pick(style: str, draw: Draw) -> str:
    """The generator of one mask, as a plain name: ``style`` itself, or for `mixed` one drawn by its share."""
    if style != MaskStyle.mixed:
        return MaskStyle(style).value
    pick = draw.uniform()
    for name, share in _MIXED:  # noqa: B007 - the last style takes what rounding leaves
        pick -= share
        if pick < 0.0:
            break
    return name


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
    style = _pick(style, draw)
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
