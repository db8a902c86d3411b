"""How one image is fed to the network: whole, cropped around holes, or in overlapping tiles.

The network works at one scale (``model.config.image_size``, S below), so a large image is
never fed whole by ``auto``. Every strategy writes only hole pixels into a copy of the
image's own integer pixels, so valid pixels stay bit-identical.

- full: the whole image at native resolution (padded to the model's multiple).
- tile: 2S×2S tiles overlapping by S/2 at native resolution, only tiles that hold holes,
  blended with linear ramps, one row of tiles in memory at a time. Sharp, but every
  hole pixel must find context inside a tile: for thin holes (scratches, text, specks).
- crop: per group of nearby holes, a window twice the group's size (at least S),
  resized to at most S, inpainted, resized back; only that group's hole pixels are pasted,
  so windows never meet and there are no seams. For large holes, which need context from
  far away.
- auto: full when the image has at most (2S)² pixels; else tile when no hole pixel is more
  than S/8 from a valid one; else crop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .images import Picture
from .inference import run_model
from .unet import PConvUNet

STRATEGIES = ("auto", "full", "crop", "tile")
_GREY = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class Runner:
    """Runs lists of h×w×3 float32 images with h×w bool holes through the model in batches.

    Items of equal size share a batch of at most ``batch_size``; returns the composites
    (h×w×3 float32 in [0, 1]) in input order.
    """

    model: PConvUNet
    precision: str = "auto"
    batch_size: int = 1
    blend: bool = True  # inference.run_model's seam blending

    def __call__(self, images: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
        if len(images) != len(holes):
            raise ValueError(f"expected as many hole maps as images, got {len(holes)} and {len(images)}")
        results: list[np.ndarray | None] = [None] * len(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, (img, hole) in enumerate(zip(images, holes)):
            if img.ndim != 3 or img.shape[2] != 3 or hole.shape != img.shape[:2]:
                raise ValueError(f"expected h×w×3 image and h×w holes, got {img.shape} and {hole.shape}")
            by_size.setdefault(img.shape[:2], []).append(i)
        for indices in by_size.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                x = torch.from_numpy(np.stack([images[i] for i in chunk])).permute(0, 3, 1, 2)
                m = torch.from_numpy(np.stack([~holes[i] for i in chunk])[:, None]).float()
                out = run_model(self.model, x, m, self.precision, self.blend).permute(0, 2, 3, 1).numpy()
                for i, composite in zip(chunk, out):
                    results[i] = composite
        return results  # type: ignore[return-value]


def choose(size: tuple[int, int], holes: np.ndarray, strategy: str, scale: int) -> str:
    """The strategy ``auto`` resolves to for an image of ``size`` (H, W) and its holes."""
    if strategy not in STRATEGIES:
        raise ValueError(f"expected strategy in {STRATEGIES}, got {strategy!r}")
    if strategy != "auto":
        return strategy
    if size[0] * size[1] <= (2 * scale) ** 2:
        return "full"
    # A hole pixel survives erosion by r only if it is more than r from every valid pixel.
    r = max(1, scale // 8)
    deep = cv2.erode(holes.view(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    return "crop" if deep.any() else "tile"


def _to_int(values: np.ndarray, picture: Picture) -> np.ndarray:
    """Float values in [0, 1] to the picture's integers, rounding in place (huge hole sets)."""
    scaled = values * np.float32(picture.max_value)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, picture.max_value, out=scaled)
    return scaled.astype(picture.pixels.dtype)


def _paste(out: np.ndarray, y0: int, x0: int, where: np.ndarray, rgb: np.ndarray, picture: Picture) -> None:
    """Write h×w×3 ``rgb`` (float in [0, 1], or the picture's integers) into ``out`` at the pixels
    ``where`` of the region at (y0, x0)."""
    h, w = where.shape
    region = out[y0 : y0 + h, x0 : x0 + w]
    values = rgb[where]
    if out.shape[2] == 1:
        grey = values.astype(np.float32) @ _GREY
        region[where, 0] = _to_int(grey if values.dtype == np.float32 else grey / picture.max_value, picture)
    else:
        region[where, :3] = _to_int(values, picture) if values.dtype == np.float32 else values


def fill_full(pictures: list[Picture], holes: list[np.ndarray], run: Runner) -> list[np.ndarray]:
    """Inpaint whole images at native resolution (equal sizes share batches)."""
    composites = run([p.rgb_float() for p in pictures], holes)
    results = []
    for picture, hole, composite in zip(pictures, holes, composites):
        out = picture.pixels.copy()
        _paste(out, 0, 0, hole, composite, picture)
        results.append(out)
    return results


def _ramp(length: int, overlap: int) -> np.ndarray:
    i = np.arange(length, dtype=np.float32)
    return np.minimum(1.0, np.minimum(i + 1, length - i) / (overlap + 1))


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    return list(range(0, length - tile, stride)) + [length - tile]


def fill_tiles(picture: Picture, holes: np.ndarray, run: Runner, scale: int) -> np.ndarray:
    """Overlapping 2·scale tiles holding holes, blended; memory is one row of tiles."""
    height, width = picture.size
    side, overlap = 2 * scale, scale // 2
    th, tw = min(side, height), min(side, width)
    weight = _ramp(th, overlap)[:, None] * _ramp(tw, overlap)[None, :]
    ys, xs = _starts(height, th, side - overlap), _starts(width, tw, side - overlap)
    out = picture.pixels.copy()
    carry = np.zeros((0, width, 3), np.float32), np.zeros((0, width), np.float32)
    for row, y in enumerate(ys):
        band_holes = holes[y : y + th]
        acc = np.zeros((th, width, 3), np.float32)
        total = np.zeros((th, width), np.float32)
        acc[: len(carry[0])] += carry[0]
        total[: len(carry[1])] += carry[1]
        cols = [x for x in xs if band_holes[:, x : x + tw].any()]
        images = [picture.rgb_float(y, y + th, x, x + tw) for x in cols]
        for x, composite in zip(cols, run(images, [band_holes[:, x : x + tw] for x in cols])):
            acc[:, x : x + tw] += composite * weight[..., None]
            total[:, x : x + tw] += weight
        done = (ys[row + 1] if row + 1 < len(ys) else y + th) - y
        where = band_holes[:done]
        fill = acc[:done] / np.maximum(total[:done], 1e-12)[..., None]
        _paste(out, y, 0, where, fill, picture)
        carry = acc[done:], total[done:]
    return out


def _window(center: int, side: int, length: int) -> tuple[int, int]:
    """Start and end of a window of ``side`` centred on ``center``, kept inside [0, length)."""
    if side >= length:
        return 0, length
    start = min(max(center - side // 2, 0), length - side)
    return start, start + side


def fill_crops(picture: Picture, holes: np.ndarray, run: Runner, scale: int) -> np.ndarray:
    """Context windows around groups of nearby holes, at most scale×scale when fed to the model."""
    height, width = picture.size
    gap = max(1, scale // 8)
    grouped = cv2.dilate(holes.view(np.uint8), np.ones((2 * gap + 1, 2 * gap + 1), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8, ltype=cv2.CV_32S)
    if count < 2**16:  # halves the largest buffer of a huge image
        labels = labels.astype(np.uint16)
    del grouped
    out = picture.pixels.copy()
    jobs: list[tuple[int, int, int, int, int, tuple[int, int]]] = []
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        side = max(scale, 2 * max(w, h))
        y0, y1 = _window(y + h // 2, side, height)
        x0, x1 = _window(x + w // 2, side, width)
        f = min(1.0, scale / max(y1 - y0, x1 - x0))
        jobs.append((label, y0, y1, x0, x1, (max(1, round((y1 - y0) * f)), max(1, round((x1 - x0) * f)))))
    # Windows of one working size go to the model together, a batch's worth at a time.
    for start in range(0, len(jobs), max(1, run.batch_size)):
        chunk = jobs[start : start + run.batch_size]
        images, small_holes = [], []
        for _, y0, y1, x0, x1, (sh, sw) in chunk:
            images.append(_resized_rgb(picture, y0, y1, x0, x1, (sh, sw)))
            hole = holes[y0:y1, x0:x1]
            if hole.shape != (sh, sw):  # a low-resolution pixel is hole if any pixel under it is
                hole = cv2.resize(hole.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0
            small_holes.append(hole)
        for (label, y0, y1, x0, x1, (sh, sw)), composite in zip(chunk, run(images, small_holes)):
            where = (labels[y0:y1, x0:x1] == label) & holes[y0:y1, x0:x1]
            if (sh, sw) != (y1 - y0, x1 - x0):  # enlarged in the file's integers: a quarter of float32's memory
                composite = cv2.resize(_to_int(composite, picture), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            _paste(out, y0, x0, where, composite, picture)
    return out


def _resized_rgb(picture: Picture, y0: int, y1: int, x0: int, x1: int, size: tuple[int, int]) -> np.ndarray:
    """RGB of a region as float32, area-resized to ``size`` (h, w) in the file's integer type first."""
    region = picture.pixels[y0:y1, x0:x1]
    region = np.repeat(region, 3, axis=2) if region.shape[2] == 1 else np.ascontiguousarray(region[..., :3])
    if region.shape[:2] != size:
        region = cv2.resize(region, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return region.astype(np.float32) / picture.max_value


def inpaint_one(picture: Picture, holes: np.ndarray, strategy: str, run: Runner) -> np.ndarray:
    """Inpaint one image with a resolved strategy ('full', 'crop' or 'tile'); returns its pixels."""
    scale = run.model.config.image_size
    fill: dict[str, Callable[[], np.ndarray]] = {
        "full": lambda: fill_full([picture], [holes], run)[0],
        "crop": lambda: fill_crops(picture, holes, run, scale),
        "tile": lambda: fill_tiles(picture, holes, run, scale),
    }
    if strategy not in fill:
        raise ValueError(f"expected a resolved strategy (full, crop or tile), got {strategy!r}")
    return fill[strategy]()
