"""The watermark example of the README: a caption drawn on a photo, masked, removed.

Draws a semi-opaque white caption in Pillow's bundled font onto a photo, masks its pixels
grown by 2 px (as a hand-made or detected watermark mask is), inpaints it with the model
(blended, and raw with --no-blend's behaviour) and with Telea, and writes an enlarged
crop of each side by side.

Usage: python docs/watermark_figure.py PHOTO MODEL OUT.png [INPUT.png MASK.png]
(the optional paths also save the watermarked photo and its mask)
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pconv_cli.evaluation.baselines import telea
from pconv_cli.imaging.images import read_rgb
from pconv_cli.model.weights import load_model
from pconv_cli.runtime.inpainter import run
from pconv_cli.runtime.runner import Runner, Work
from pconv_cli.runtime.torch_backend import TorchBackend

TEXT = "© pconv  SAMPLE"
ZOOM = 3


def watermark(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The photo with the caption, the hole map (caption grown by 2 px) and the caption's box."""
    h, w = photo.shape[:2]
    font = ImageFont.load_default(size=max(12, w // 14))
    layer = Image.new("L", (w, h))
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = draw.textbbox((0, 0), TEXT, font=font)
    left, top = (w - (x1 - x0)) // 2 - x0, int(h * 0.72) - y0
    draw.text((left, top), TEXT, fill=255, font=font)
    alpha = np.asarray(layer, np.float32)[..., None] / 255 * 0.8
    marked = np.round(photo * (1 - alpha) + 255 * alpha).astype(np.uint8)
    hole = cv2.dilate((np.asarray(layer) > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ys, xs = np.nonzero(hole)
    return marked, hole, (ys.min() - 6, ys.max() + 7, xs.min() - 6, xs.max() + 7)


def main(photo: Path, model_path: Path, out: Path, save_input: Path | None = None, save_mask: Path | None = None):
    truth = read_rgb(photo)
    marked, hole, (y0, y1, x0, x1) = watermark(truth)
    backend = TorchBackend(load_model(model_path), "fp32")
    columns = [("watermarked", marked)]
    for label, blend in (("pconv --no-blend", False), ("pconv", True)):
        (comp,) = run(Runner(backend, blend=blend), Work([marked.astype(np.float32) / 255], [hole]))
        columns.append((label, np.rint(comp * 255).astype(np.uint8)))
    columns += [("Telea", telea(marked, hole)), ("original", truth)]
    tiles = []
    for label, pixels in columns:
        crop = Image.fromarray(pixels[y0:y1, x0:x1]).resize(((x1 - x0) * ZOOM, (y1 - y0) * ZOOM), Image.NEAREST)
        tile = Image.new("RGB", (crop.width, crop.height + 22), "white")
        tile.paste(crop, (0, 22))
        ImageDraw.Draw(tile).text((4, 4), label, fill=(0, 0, 0), font=ImageFont.load_default(size=14))
        tiles.append(tile)
    sheet = Image.new("RGB", (tiles[0].width, sum(t.height for t in tiles) + 4 * len(tiles)), "white")
    y = 0
    for tile in tiles:
        sheet.paste(tile, (0, y))
        y += tile.height + 4
    sheet.save(out)
    if save_input is not None:
        Image.fromarray(marked).save(save_input)
    if save_mask is not None:
        Image.fromarray((hole * 255).astype(np.uint8)).save(save_mask)


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:6]))
