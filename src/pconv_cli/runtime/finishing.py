"""The fill engine's last stage: each group of nearby holes takes the photo's own texture where its
surroundings hold detail, after the network's fill (any strategy) is blended into the photo; with
``patchmatch`` (the texture setting ``hybrid``), also PatchMatch's copy where the network's fill
agrees with it. In every setting, a group whose surroundings repeat themselves exactly (a façade's
panels, tiles) takes PatchMatch's copy whole: there the copy is the truth and the network blurs.

A group is worked on in its box grown by ``margin`` (photo to copy from and to measure the detail
gain in), so memory follows the group, not the photo. Groups whose box would exceed ``MAX_BOX``
pixels keep the smooth fill (its record says so).
"""

from __future__ import annotations

import numpy as np

from pconv_cli.choices import Texture
from pconv_cli.imaging.images import Picture
from pconv_cli.runtime.detail import detail_gain
from pconv_cli.runtime.groups import group_holes
from pconv_cli.runtime.patchmatch import patchmatch_fill, take_agreeing, unavailable_reason
from pconv_cli.runtime.repetition import GATE as REPEATS
from pconv_cli.runtime.repetition import repetition
from pconv_cli.runtime.strategies import paste
from pconv_cli.runtime.texture import add_texture

MAX_BOX = 6_000_000  # px: a group's working box (float32 copies of it are the stage's memory)
# px: the most PatchMatch searches at once. Its time and memory follow the area: a 6-MP box took 43 s and
# 821 MiB. A group beyond gets the photo texture, whether it repeats or not.
PATCHMATCH_BOX = 2_000_000
MIN_MARGIN = 64  # px of photo around a group, at least; a quarter of the group's longest side beyond that
PHOTO_GAIN = 0.5  # a group whose mean detail gain reaches this takes the photo's texture ("photo")
# In a group mostly in flat surroundings, only pixels whose own gain rises from this to PHOTO_GAIN take
# texture: a sky beside a tower (gain about 0.2) stays smooth, a statue's stone beside that sky does not.
FLAT_GAIN = 0.25
# The gain's noise is the quietest tenth of the photo's blocks: where fine texture covers most of a photo
# (stone, foliage) the whole photo's median takes that texture for noise, and the fill stays smooth there.
NOISE_QUANTILE = 0.1


def add_photo_texture(
    picture: Picture, holes: np.ndarray, pixels: np.ndarray, scale: int, patchmatch: bool = False
) -> list[tuple[int, int, int, int, str]]:
    """Give each group of ``holes`` in ``pixels`` (the picture's filled pixels, changed in place) the
    photo's texture, and say per group what it got.

    Args:
        picture: the photo as decoded (its valid pixels are read).
        holes: H×W bool, True = hole.
        pixels: the filled image in the picture's layout and integers.
        scale: the model's working scale (groups join holes closer than scale/8, as the strategies do).
        patchmatch: also take PatchMatch's copy where the network's fill agrees with it
            (``runtime.patchmatch``), in every group.

    Returns:
        Per group, (x, y, w, h, got): "photo" where the photo's texture was added (weighted per
        pixel by the detail gain; in a group mostly in flat surroundings, only where a pixel's own
        gain passes FLAT_GAIN), "smooth" where none was and the blended fill stays as it is,
        "hybrid" with ``patchmatch`` (PatchMatch's copy taken where it agrees, over either of
        those; a box beyond PATCHMATCH_BOX gets what auto gives), "repeated" where the
        surroundings have detail and the photo repeats itself there (``runtime.repetition``):
        PatchMatch's copy taken whole, with or without ``patchmatch`` (where PyPatchMatch can load
        and the box is within PATCHMATCH_BOX); "too large" where the box exceeded MAX_BOX.

    Example:
        >>> from pconv_cli.imaging.images import Picture
        >>> flat = np.full((64, 64, 3), 128, np.uint8); hole = np.zeros((64, 64), bool); hole[20:40, 20:40] = True
        >>> add_photo_texture(Picture(flat, "png"), hole, flat.copy(), 256)
        [(20, 20, 20, 20, 'smooth')]
    """
    if holes.shape != picture.size or pixels.shape != picture.pixels.shape:
        raise ValueError(
            f"expected holes of shape {picture.size} and pixels of shape {picture.pixels.shape}, "
            f"got {holes.shape} and {pixels.shape}"
        )
    groups = group_holes(holes, scale)
    height, width = picture.size
    boxes = []
    for x, y, w, h in groups.boxes:
        margin = max(MIN_MARGIN, max(w, h) // 4)
        boxes.append((max(y - margin, 0), min(y + h + margin, height), max(x - margin, 0), min(x + w + margin, width)))
    # Without ``patchmatch`` PatchMatch still fills the groups whose surroundings repeat, one by one.
    copies = None
    if patchmatch or unavailable_reason() is None:
        copies = _PatchMatchCopies(picture, holes, pixels, [b for b in boxes if _area(b) <= MAX_BOX], union=patchmatch)
    got = []
    for label, ((x, y, w, h), box) in enumerate(zip(groups.boxes, boxes), 1):
        y0, y1, x0, x1 = box
        if _area(box) > MAX_BOX:
            got.append((x, y, w, h, "too large"))
            continue
        region = Picture(pixels[y0:y1, x0:x1], picture.format).rgb_float()
        hole = holes[y0:y1, x0:x1]
        mine = groups.member(label, y0, y1, x0, x1) & hole
        gain = detail_gain(region, hole, NOISE_QUANTILE) * mine
        textured = float(gain[mine].mean()) >= PHOTO_GAIN
        repeated = (
            copies is not None
            and textured
            and _area(box) <= PATCHMATCH_BOX  # so PatchMatch's copy of the box is made
            and repetition(region, hole, mine) < REPEATS
        )
        if repeated:
            paste(pixels, y0, x0, mine, copies.of(box), picture)
            got.append((x, y, w, h, "repeated"))
            continue
        weight = gain if textured else gain * np.clip((gain - FLAT_GAIN) / (PHOTO_GAIN - FLAT_GAIN), 0, 1)
        took = bool(weight.any())
        filled = add_texture(region, region, hole, weight) if took else region
        copy = copies.of(box) if copies is not None and patchmatch else None
        if copy is not None:
            # in flat surroundings (low gain) a copy's grain is noise that no fill can place, so it is left out
            filled = take_agreeing(filled, region, copy, mine.astype(np.float32) if textured else gain)
        elif not took:
            got.append((x, y, w, h, "smooth"))
            continue
        paste(pixels, y0, x0, mine, filled, picture)
        got.append((x, y, w, h, Texture.hybrid.value if copy is not None else "photo"))
    return got


def _area(box: tuple[int, int, int, int]) -> int:
    y0, y1, x0, x1 = box
    return (y1 - y0) * (x1 - x0)


class _PatchMatchCopies:
    """PatchMatch's fill of a group's box, made on first use: with ``union``, once for the box around every
    group when that stays within PATCHMATCH_BOX (part of PatchMatch's time follows the area it works on, so
    one search beats several overlapping ones), else per group; None for a box beyond it. Only valid pixels
    are read, so pastes into holes in between change nothing."""

    def __init__(self, picture: Picture, holes: np.ndarray, pixels: np.ndarray, boxes: list, union: bool) -> None:
        self.picture, self.holes, self.pixels = picture, holes, pixels
        self.union = None
        if boxes and union:
            ys0, ys1, xs0, xs1 = zip(*boxes)
            around = (min(ys0), max(ys1), min(xs0), max(xs1))
            self.union = around if _area(around) <= PATCHMATCH_BOX else None
        self.made: np.ndarray | None = None

    def _fill(self, box: tuple[int, int, int, int]) -> np.ndarray:
        y0, y1, x0, x1 = box
        photo = Picture(self.pixels[y0:y1, x0:x1], self.picture.format).rgb_float()
        photo = np.clip(np.rint(photo * 255), 0, 255).astype(np.uint8)
        return patchmatch_fill(photo, self.holes[y0:y1, x0:x1]).astype(np.float32) / 255

    def of(self, box: tuple[int, int, int, int]) -> np.ndarray | None:
        """H×W×3 float32 in [0, 1]: PatchMatch's fill of ``box`` (y0, y1, x0, x1); None beyond PATCHMATCH_BOX."""
        if self.union is None:
            return self._fill(box) if _area(box) <= PATCHMATCH_BOX else None
        if self.made is None:
            self.made = self._fill(self.union)
        uy, ux = self.union[0], self.union[2]
        return self.made[box[0] - uy : box[1] - uy, box[2] - ux : box[3] - ux]
