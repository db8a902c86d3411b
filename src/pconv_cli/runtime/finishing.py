"""The fill engine's last stage: each group of nearby holes takes the photo's own texture where its
surroundings hold detail, after the network's fill (any strategy) is blended into the photo.

A group is worked on in its box grown by ``margin`` (photo to copy from and to measure the detail
gain in), so memory follows the group, not the photo. Groups whose box would exceed ``MAX_BOX``
pixels keep the smooth fill (its record says so).
"""

from __future__ import annotations

import numpy as np

from pconv_cli.imaging.images import Picture
from pconv_cli.runtime.detail import detail_gain
from pconv_cli.runtime.groups import group_holes
from pconv_cli.runtime.strategies import paste
from pconv_cli.runtime.texture import add_texture

MAX_BOX = 6_000_000  # px: a group's working box (float32 copies of it are the stage's memory)
MIN_MARGIN = 64  # px of photo around a group, at least; half the group's longest side beyond that
PHOTO_GAIN = 0.5  # a group whose mean detail gain reaches this takes the photo's texture ("photo")


def add_photo_texture(
    picture: Picture, holes: np.ndarray, pixels: np.ndarray, scale: int
) -> list[tuple[int, int, int, int, str]]:
    """Give each group of ``holes`` in ``pixels`` (the picture's filled pixels, changed in place) the
    photo's texture, and say per group what it got.

    Args:
        picture: the photo as decoded (its valid pixels are read).
        holes: H×W bool, True = hole.
        pixels: the filled image in the picture's layout and integers.
        scale: the model's working scale (groups join holes closer than scale/8, as the strategies do).

    Returns:
        Per group, (x, y, w, h, got): "photo" where the photo's texture was added (weighted per
        pixel by the detail gain), "smooth" where its surroundings are mostly flat and the blended
        fill stays as it is,
        "too large" where the box exceeded MAX_BOX.

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
    got = []
    for label, (x, y, w, h) in enumerate(groups.boxes, 1):
        margin = max(MIN_MARGIN, max(w, h) // 4)
        y0, y1 = max(y - margin, 0), min(y + h + margin, height)
        x0, x1 = max(x - margin, 0), min(x + w + margin, width)
        if (y1 - y0) * (x1 - x0) > MAX_BOX:
            got.append((x, y, w, h, "too large"))
            continue
        region = Picture(pixels[y0:y1, x0:x1], picture.format).rgb_float()
        hole = holes[y0:y1, x0:x1]
        mine = groups.member(label, y0, y1, x0, x1) & hole
        gain = detail_gain(region, hole) * mine
        textured = float(gain[mine].mean()) >= PHOTO_GAIN
        if textured:  # a group mostly in flat surroundings keeps its smooth fill whole (a sky beside a tower)
            paste(pixels, y0, x0, mine, add_texture(region, region, hole, gain), picture)
        got.append((x, y, w, h, "photo" if textured else "smooth"))
    return got
