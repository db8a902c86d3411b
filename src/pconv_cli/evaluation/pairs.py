"""The pairs `pconv eval` measures: masks measured into bins and border modes, seeded balanced
pairing of images and masks, and each pair loaded at its working size.

Masks are measured, not trusted by name: each mask's hole ratio picks its bin
(masks.bin_index) and its border mode is "margin" when no hole pixel lies within
50 px (at 512, scaled with the size) of the edge (masks.border_mode), both on the mask
file as stored. Pairing is seeded and balanced: every (bin, border) cell gets the same
number of pairs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.imaging.images import list_images, read_mask, read_rgb
from pconv_cli.imaging.masks import BORDER_MODES, bin_index, border_mode, hole_ratio, resize_holes


@dataclass(frozen=True)
class MaskInfo:
    """A mask file as measured: ``name`` is its path relative to the mask folder."""

    path: Path
    name: str
    ratio: float
    bin: int  # index into masks.BINS
    border: str  # "margin" or "none"


@dataclass(frozen=True)
class Pair:
    """One evaluation pair; ``index`` is its position within its (bin, border) cell."""

    image: Path
    image_name: str
    mask: MaskInfo
    index: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.image_name, self.mask.name)

    @property
    def tag(self) -> str:
        return f"bin{self.mask.bin + 1}-{self.mask.border}-{self.index:03d}"


def measure_mask(path: Path, name: str, invert: bool = False) -> MaskInfo | None:
    """Bin and border mode of one mask file, or None when its hole ratio is in no bin."""
    hole = read_mask(path, invert=invert)
    ratio = hole_ratio(hole)
    index = bin_index(ratio)
    if index is None:
        return None
    return MaskInfo(path=path, name=name, ratio=ratio, bin=index, border=border_mode(hole))


def make_pairs(
    images: Sequence[tuple[Path, str]],
    masks: Sequence[MaskInfo],
    bins: Sequence[int],
    borders: Sequence[str],
    per_cell: int,
    seed: int,
) -> list[Pair]:
    """Seeded pairs, ``per_cell`` for each (bin, border) cell, in round-robin order over the cells.

    Each cell draws its own masks and images from a generator seeded by (seed, bin, border),
    so a cell's pairs do not depend on which other cells are evaluated. Masks and images
    are used without repetition while they last, then reused in new combinations; a cell
    never holds the same (image, mask) twice.
    """
    images = sorted(images, key=lambda item: item[1])
    pairs: list[Pair] = []
    for b in bins:
        for border in borders:
            cell = sorted((m for m in masks if m.bin == b and m.border == border), key=lambda m: m.name)
            if not cell or not images:
                continue
            rng = random.Random(f"pconv-eval/{seed}/{b}/{border}")
            mask_order = rng.sample(cell, len(cell))
            image_order = rng.sample(images, len(images))
            count = min(per_cell, math.lcm(len(cell), len(images)))
            for j in range(count):
                path, name = image_order[j % len(image_order)]
                pairs.append(Pair(path, name, mask_order[j % len(mask_order)], j))
    pairs.sort(key=lambda p: (p.index, p.mask.bin, BORDER_MODES.index(p.mask.border)))
    return pairs


def files_of(path: Path, what: str, out: Path | None = None) -> list[tuple[Path, str]]:
    """(path, name relative to ``path``) of the image files of a folder (none under the output folder
    ``out``), or of a single file."""
    if path.is_file():
        return [(path, path.name)]
    if not path.is_dir():
        raise UsageError(f"{what} not found: {path}")
    return [(p, p.relative_to(path).as_posix()) for p in list_images(path, out)]


def center_square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an H×W×3 image to a square and resize it to size×size."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[top : top + side, left : left + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def load_pair(pair: Pair, size: int | None, invert: bool) -> tuple[np.ndarray, np.ndarray]:
    """The pair's ground truth H×W×3 uint8 and hole map H×W bool at the working size.

    With ``size`` the image is centre-cropped and resized to size×size, else the mask is
    resized (nearest neighbour) to the image.
    """
    image = read_rgb(pair.image)
    if size is not None:
        image = center_square(image, size)
    hole = read_mask(pair.mask.path, invert=invert)
    h, w = image.shape[:2]
    hole = resize_holes(hole, (h, w))
    if not hole.any():
        raise PconvError(f"mask {pair.mask.name} has no hole left at {w}×{h}")
    return image, hole


def figure_tags(pairs: Sequence[Pair], per_bin: int) -> set[str]:
    """Tags of the first ``per_bin`` pairs of each bin (in run order) shown in the comparison picture."""
    chosen: dict[int, list[str]] = {}
    for p in pairs:
        tags = chosen.setdefault(p.mask.bin, [])
        if len(tags) < per_bin:
            tags.append(p.tag)
    return {t for tags in chosen.values() for t in tags}
