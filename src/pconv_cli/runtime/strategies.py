"""How one image is fed to the network: whole, in tiles, cropped around holes, or coarse to fine.

Each strategy is a plan: a generator that yields ``runner.Work`` (images and holes for the
network) and is sent their composites back, so it never calls the network itself;
``inpainter.execute`` runs it.

The network works at one scale (``model.config.image_size``, S below), so a large image is
never fed whole by ``auto``. Every strategy writes only hole pixels into a copy of the
image's own integer pixels, so valid pixels stay bit-identical.

- full: the whole image at native resolution (padded to the model's multiple).
- tile: 2S×2S tiles overlapping by S/2 at native resolution, only tiles that hold holes,
  blended with linear ramps, one row of tiles in memory at a time. Sharp, but every
  hole pixel must find context inside a tile: for thin holes (scratches, text, specks).
- crop: per group of nearby holes, a window twice the group's size (at least 2S), resized
  to at most 2S (less where its holes are deep, see _fed_size), inpainted, resized back; only
  that group's hole pixels are pasted, so windows never meet and there are no seams. Context
  for large holes, but the fill is enlarged as much as the window was shrunk.
- refine: per group of nearby holes (hole pixels closer than S/8 join one group). A group
  whose every pixel lies within S/8 of the photo is filled at native resolution only; a group
  with deeper pixels is first filled as by crop, for structure, and then the band of its hole
  within S/8 of the photo is filled again at native resolution, the coarse fill beyond the
  band standing in for photo. The native pass runs in tiles, so the band gets the photo's
  own detail and meets the coarse fill without a seam; the band's local level (a Gaussian
  low-pass) then follows the coarse fill's, since a native band alone runs a few levels dark
  and drew a dark ring inside large holes.
- auto: full when the image has at most (2S)² pixels, else refine.

2S is the side the model is fed whole (``_whole``): auto's limit for full, tile's side and
a coarse window's largest working size (why 2S: docs/design-notes.md, runtime).
"""

from __future__ import annotations

from collections.abc import Generator

import cv2
import numpy as np

from pconv_cli.choices import Strategy, values
from pconv_cli.imaging.images import LUMA, Picture
from pconv_cli.imaging.masks import deeper_than
from pconv_cli.runtime import blend
from pconv_cli.runtime.groups import Groups, any_per_cell, group_holes, reach
from pconv_cli.runtime.runner import Runner, Work

STRATEGIES = values(Strategy)
Composites = list[np.ndarray]  # what a plan is sent back for each Work it yields
_STRIP = 512  # rows of an enlarged coarse window made at a time
_BLEND_BOX = 4_000_000  # px: refine blends a group's band whole up to this box (float64 solver memory), else per tile


def choose(size: tuple[int, int], strategy: Strategy | str, scale: int) -> Strategy:
    """The strategy ``auto`` resolves to for an image of ``size`` (H, W); refine then decides per group.

    Example:
        >>> choose((600, 800), Strategy.auto, 256).value, choose((600, 800), "tile", 256).value
        ('refine', 'tile')
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"expected strategy in {STRATEGIES}, got {strategy!r}")
    if strategy != Strategy.auto:
        return Strategy(strategy)
    return Strategy.full if size[0] * size[1] <= _whole(scale) ** 2 else Strategy.refine


def _whole(scale: int) -> int:
    """The largest side (px) the model is fed whole: twice its working scale."""
    return 2 * scale


def _to_int(values: np.ndarray, picture: Picture) -> np.ndarray:
    """Float values in [0, 1] to the picture's integers, rounding in place (huge hole sets)."""
    scaled = values * np.float32(picture.max_value)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, picture.max_value, out=scaled)
    return scaled.astype(picture.pixels.dtype)


def paste(out: np.ndarray, y0: int, x0: int, where: np.ndarray, rgb: np.ndarray, picture: Picture) -> None:
    """Write h×w×3 ``rgb`` (float in [0, 1], or the picture's integers) into ``out`` at the pixels
    ``where`` of the region at (y0, x0)."""
    h, w = where.shape
    region = out[y0 : y0 + h, x0 : x0 + w]
    values = rgb[where]
    if out.shape[2] == 1:
        grey = values.astype(np.float32) @ LUMA
        region[where, 0] = _to_int(grey if values.dtype == np.float32 else grey / picture.max_value, picture)
    else:
        region[where, :3] = _to_int(values, picture) if values.dtype == np.float32 else values


def fill_full(
    pictures: list[Picture], holes: list[np.ndarray], run: Runner
) -> Generator[Work, Composites, list[np.ndarray]]:
    """Plan: whole images at native resolution (equal sizes share batches); returns their pixels."""
    composites = yield Work([p.rgb_float() for p in pictures], holes)
    results = []
    for picture, hole, composite in zip(pictures, holes, composites):
        out = picture.pixels.copy()
        paste(out, 0, 0, hole, composite, picture)
        results.append(out)
    return results


def _ramp(length: int, overlap: int) -> np.ndarray:
    i = np.arange(length, dtype=np.float32)
    return np.minimum(1.0, np.minimum(i + 1, length - i) / (overlap + 1))


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    return list(range(0, length - tile, stride)) + [length - tile]


def fill_tiles(
    picture: Picture,
    holes: np.ndarray,
    run: Runner,
    side: int,
    in_place: bool = False,
    overlap: int | None = None,
    blend: bool = True,
) -> Generator[Work, Composites, np.ndarray]:
    """Plan: tiles of ``side`` px overlapping by ``overlap`` (default a quarter of a side), only those
    holding holes, blended; memory is one row of tiles. Returns the pixels.

    in_place writes into ``picture.pixels`` (safe: a row of tiles is written only above
    where the next row starts reading); ``blend`` False leaves seam blending to the caller.
    """
    height, width = picture.size
    overlap = side // 4 if overlap is None else overlap
    th, tw = min(side, height), min(side, width)
    weight = _ramp(th, overlap)[:, None] * _ramp(tw, overlap)[None, :]
    ys, xs = _starts(height, th, side - overlap), _starts(width, tw, side - overlap)
    out = picture.pixels if in_place else picture.pixels.copy()
    carry = np.zeros((0, width, 3), np.float32), np.zeros((0, width), np.float32)
    for row, y in enumerate(ys):
        band_holes = holes[y : y + th]
        cols = [x for x in xs if band_holes[:, x : x + tw].any()]
        if not cols and not carry[1].any():  # no hole in this row of tiles and none carried into it
            carry = carry[0][:0], carry[1][:0]
            continue
        acc = np.zeros((th, width, 3), np.float32)
        total = np.zeros((th, width), np.float32)
        acc[: len(carry[0])] += carry[0]
        total[: len(carry[1])] += carry[1]
        for start in range(0, len(cols), max(1, run.batch_size)):  # a batch's tiles in memory at a time
            chunk = cols[start : start + run.batch_size]
            images = [picture.rgb_float(y, y + th, x, x + tw) for x in chunk]
            composites = yield Work(images, [band_holes[:, x : x + tw] for x in chunk], blend)
            for x, composite in zip(chunk, composites):
                acc[:, x : x + tw] += composite * weight[..., None]
                total[:, x : x + tw] += weight
        done = (ys[row + 1] if row + 1 < len(ys) else y + th) - y
        fill = acc[:done]
        fill /= np.maximum(total[:done], 1e-12)[..., None]  # in place: the rows done are not carried
        paste(out, y, 0, band_holes[:done], fill, picture)
        carry = acc[done:], total[done:]
    return out


def _window(center: int, side: int, length: int) -> tuple[int, int]:
    """Start and end of a window of ``side`` centred on ``center``, kept inside [0, length)."""
    if side >= length:
        return 0, length
    start = min(max(center - side // 2, 0), length - side)
    return start, start + side


def _coarse(
    picture: Picture, holes: np.ndarray, groups: Groups, chosen: list[int], run: Runner, scale: int, out: np.ndarray
) -> Generator[Work, Composites, None]:
    """Plan: fill the groups ``chosen`` (labels) into ``out`` from windows twice their size (at least
    2S), each fed at the size ``_fed_size`` picks."""
    height, width = picture.size
    jobs: list[tuple[int, int, int, int, int, tuple[int, int]]] = []
    for label in chosen:
        x, y, w, h = groups.boxes[label - 1]
        window = max(_whole(scale), 2 * max(w, h))
        y0, y1 = _window(y + h // 2, window, height)
        x0, x1 = _window(x + w // 2, window, width)
        jobs.append((label, y0, y1, x0, x1, _fed_size(holes[y0:y1, x0:x1], scale)))
    # Windows of one working size go to the model together, a batch's worth at a time.
    for start in range(0, len(jobs), max(1, run.batch_size)):
        chunk = jobs[start : start + run.batch_size]
        images, small_holes = [], []
        for _, y0, y1, x0, x1, (sh, sw) in chunk:
            small_hole = _shrunk_holes(holes[y0:y1, x0:x1], (sh, sw))
            if small_hole.all():  # no photo left to fill from (speckles, a thin strip): the network would give black
                image, small_hole = _photo_only(picture, holes[y0:y1, x0:x1], y0, x0, (sh, sw))
            else:
                image = _resized_rgb(picture, y0, y1, x0, x1, (sh, sw))
            images.append(image)
            small_holes.append(small_hole)
        composites = yield Work(images, small_holes)
        for (label, y0, y1, x0, x1, (sh, sw)), composite in zip(chunk, composites):
            if (sh, sw) == (y1 - y0, x1 - x0):
                paste(out, y0, x0, groups.member(label, y0, y1, x0, x1) & holes[y0:y1, x0:x1], composite, picture)
                continue
            # Enlarged in the file's integers (a quarter of float32's memory), a strip of rows at a time:
            # a window can be the whole of a huge photo.
            small = _to_int(composite, picture)
            fy, fx = sh / (y1 - y0), sw / (x1 - x0)
            for r0 in range(y0, y1, _STRIP):
                r1 = min(r0 + _STRIP, y1)
                where = groups.member(label, r0, r1, x0, x1) & holes[r0:r1, x0:x1]
                if where.any():
                    # dst → src as cv2.resize maps pixel centres, shifted to this strip's rows
                    m = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, (r0 - y0 + 0.5) * fy - 0.5]])
                    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
                    strip = cv2.warpAffine(small, m, (x1 - x0, r1 - r0), flags=flags, borderMode=cv2.BORDER_REPLICATE)
                    paste(out, r0, x0, where, strip.reshape(r1 - r0, x1 - x0, -1), picture)


def _fed_size(hole: np.ndarray, scale: int) -> tuple[int, int]:
    """The (h, w) a coarse window with hole map ``hole`` is fed to the network at.

    At most 2S a side, and smaller until no hole pixel lies deeper than S/4 from the photo in
    the network's pixels, but never below S a side: a window of side S, twice its group's size,
    holds nothing deeper anyway. Deeper, the network invents colour casts (docs/design-notes.md).
    """
    height, width = hole.shape

    def size(f: float) -> tuple[int, int]:
        return max(1, round(height * f)), max(1, round(width * f))

    longest = max(height, width)
    f = min(1.0, _whole(scale) / longest)
    deepest = float(cv2.distanceTransform(_shrunk_holes(hole, size(f)).astype(np.uint8), cv2.DIST_L2, 3).max())
    if deepest > scale / 4:
        f = max(f * scale / 4 / deepest, min(1.0, scale / longest))
    return size(f)


def fill_crops(
    picture: Picture, holes: np.ndarray, run: Runner, scale: int
) -> Generator[Work, Composites, tuple[np.ndarray, list]]:
    """Plan: context windows around groups of nearby holes, at most 2·scale a side when fed to the model.

    Returns the pixels and, per group, its box and how it was filled (all "coarse").
    """
    groups = group_holes(holes, scale)
    out = picture.pixels.copy()
    yield from _coarse(picture, holes, groups, list(range(1, len(groups.boxes) + 1)), run, scale, out)
    return out, [(*box, "coarse") for box in groups.boxes]


def fill_refine(
    picture: Picture, holes: np.ndarray, run: Runner, scale: int
) -> Generator[Work, Composites, tuple[np.ndarray, list]]:
    """Plan: coarse windows for the groups that reach deeper than S/8 into a hole, then native tiles over
    every hole pixel within S/8 of the photo, the coarse fill standing in for photo beyond.

    Returns the pixels and, per group, its box and how it was filled ("native" or "coarse+native").
    """
    groups = group_holes(holes, scale)
    deep = deeper_than(holes, reach(scale))
    deep_labels = groups.labels_of(deep)
    out = picture.pixels.copy()
    height, width = picture.size
    if deep_labels:
        yield from _coarse(picture, holes, groups, deep_labels, run, scale, out)
    # The coarse fill of each deep group's band, kept to level the native fill by (see _relevel).
    sigma = reach(scale) / 4
    coarse = []
    for label in deep_labels:
        y0, y1, x0, x1 = _grown(groups.boxes[label - 1], int(3 * sigma) + 1, height, width)
        if (y1 - y0) * (x1 - x0) <= _BLEND_BOX:
            coarse.append((label, (y0, y1, x0, x1), Picture(out[y0:y1, x0:x1].copy(), picture.format)))
    band = np.logical_and(holes, ~deep, out=deep)
    # Seam blending once per group rather than per tile (each tile would solve its overlaps again),
    # where every group's box is small enough to solve whole.
    boxes = [_grown(box, blend.MARGIN, height, width) for box in groups.boxes]
    whole = run.blend and all((y1 - y0) * (x1 - x0) <= _BLEND_BOX for y0, y1, x0, x1 in boxes)
    native = Picture(out, picture.format)
    # S-px tiles overlapping by S/8: the band's context lies within S/8 on both sides, and small tiles
    # hug a large hole's band.
    yield from fill_tiles(native, band, run, scale, in_place=True, overlap=reach(scale), blend=not whole)
    for label, (y0, y1, x0, x1), guide in coarse:
        where = groups.member(label, y0, y1, x0, x1) & band[y0:y1, x0:x1]
        if where.any():
            levelled = _relevel(native.rgb_float(y0, y1, x0, x1), guide.rgb_float(), where, sigma)
            paste(out, y0, x0, where, np.clip(levelled, 0.0, 1.0), picture)
    if whole:
        # The band only: the coarse fill beyond was blended in its window. The box holds the photo the
        # detail gain reads around the hole.
        for label, box in enumerate(groups.boxes, 1):
            y0, y1, x0, x1 = _grown(box, blend.CONTEXT, height, width)
            where = groups.member(label, y0, y1, x0, x1) & band[y0:y1, x0:x1]
            rgb = native.rgb_float(y0, y1, x0, x1)
            paste(out, y0, x0, where, blend.blend_fill(rgb, rgb, where), picture)
    fills = ["native"] * len(groups.boxes)
    for label in deep_labels:
        fills[label - 1] = "coarse+native"
    return out, [(*box, fill) for box, fill in zip(groups.boxes, fills)]


def _relevel(fill: np.ndarray, guide: np.ndarray, where: np.ndarray, sigma: float) -> np.ndarray:
    """``fill`` (h×w×3 float) with the local level of ``guide`` over the pixels ``where``: fill plus a
    Gaussian low-pass (σ = ``sigma``, normalised over ``where``, so other pixels count for nothing)
    of guide − fill. The native band of a deep hole comes out a few levels darker than both the
    photo and the coarse fill (a dark ring along the hole); the coarse fill's level is the better
    estimate at that scale, and the native fill keeps its finer detail.

    Example: a fill 0.1 darker than a flat guide everywhere comes back at the guide's level.
        >>> where = np.ones((8, 8), bool)
        >>> float(_relevel(np.full((8, 8, 3), 0.4, np.float32), np.full((8, 8, 3), 0.5, np.float32), where, 2)[4, 4, 0])
        0.5
    """
    weight = where.astype(np.float32)
    low = cv2.GaussianBlur((guide - fill) * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    # Faded in over σ from the band's edges, where the fill already meets the photo and the coarse fill.
    taper = np.clip(cv2.distanceTransform(where.view(np.uint8), cv2.DIST_L2, 3) / sigma, 0.0, 1.0)
    return fill + (taper / np.maximum(norm, 1e-6))[..., None] * low


def _grown(box: tuple[int, int, int, int], margin: int, height: int, width: int) -> tuple[int, int, int, int]:
    """An (x, y, w, h) box grown by ``margin`` px inside the image, as (y0, y1, x0, x1)."""
    x, y, w, h = box
    return max(y - margin, 0), min(y + h + margin, height), max(x - margin, 0), min(x + w + margin, width)


def _resized_rgb(picture: Picture, y0: int, y1: int, x0: int, x1: int, size: tuple[int, int]) -> np.ndarray:
    """RGB of a region as float32, area-resized to ``size`` (h, w) in the file's integer type first,
    every channel at once straight from the pixels (no full-size RGB copy of a huge window)."""
    region = picture.pixels[y0:y1, x0:x1]
    if region.shape[:2] != size:
        region = cv2.resize(region, (size[1], size[0]), interpolation=cv2.INTER_AREA).reshape(*size, -1)
    return Picture(region, picture.format).rgb_float()


def _photo_only(
    picture: Picture, hole: np.ndarray, y0: int, x0: int, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """A window's RGB area-resized to ``size`` (h, w) from its valid pixels alone, and its small hole map:
    hole only where no valid pixel lies under a small pixel. For windows whose photo the any-rule of
    ``_shrunk_holes`` erases; it copies the window as float, so it is kept to those."""
    h, w = hole.shape
    valid = (~hole).astype(np.float32)
    rgb = Picture(picture.pixels[y0 : y0 + h, x0 : x0 + w], picture.format).rgb_float() * valid[..., None]
    total = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA).reshape(*size, 3)
    weight = cv2.resize(valid, (size[1], size[0]), interpolation=cv2.INTER_AREA).reshape(size)
    return total / np.maximum(weight, 1e-12)[..., None], weight <= 0


def _shrunk_holes(hole: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A hole map shrunk to ``size`` (h, w) where a small pixel is hole if any pixel under it is:
    first whole cells (bool, strip by strip), then an area resize of that small map."""
    if hole.shape == size:
        return hole
    cell = max(1, min(hole.shape[0] // size[0], hole.shape[1] // size[1]))
    pooled = any_per_cell(hole, cell) if cell > 1 else hole
    return cv2.resize(pooled.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA) > 0


def inpaint_one(
    picture: Picture, holes: np.ndarray, strategy: Strategy | str, run: Runner
) -> Generator[Work, Composites, tuple[np.ndarray, list | None]]:
    """Plan: one image by a resolved strategy (full, tile, crop or refine).

    Returns its pixels and, for crop and refine, one (x, y, w, h, fill) per group of holes.
    """
    if strategy == Strategy.full:
        return (yield from fill_full([picture], [holes], run))[0], None
    if strategy == Strategy.tile:
        return (yield from fill_tiles(picture, holes, run, _whole(run.scale))), None
    if strategy == Strategy.crop:
        return (yield from fill_crops(picture, holes, run, run.scale))
    if strategy == Strategy.refine:
        return (yield from fill_refine(picture, holes, run, run.scale))
    raise ValueError(f"expected a resolved strategy (full, tile, crop or refine), got {strategy!r}")
