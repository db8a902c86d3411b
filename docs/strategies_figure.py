"""The README's large-photo figure: one photo enlarged to 2560 px, a blob and two strokes
masked, filled by each strategy and by Telea, a 1:1 crop of each side by side.

The enlarged photo stands in for a camera's large photo (the examples are small); the crop
shows where the fill meets the photo, where magnified blur and seams show.

Usage: python docs/strategies_figure.py PHOTO MODEL OUT.png
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pconv_cli.evaluation.baselines import telea
from pconv_cli.imaging.images import Picture, read_rgb
from pconv_cli.model.weights import load_model
from pconv_cli.runtime.inpainter import execute
from pconv_cli.runtime.runner import Runner
from pconv_cli.runtime.strategies import inpaint_one
from pconv_cli.runtime.torch_backend import TorchBackend

SCALE = 4  # the photo is enlarged this much
CROP = (380, 300)  # width, height of the 1:1 crop


def holes_for(shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """A blob of about 5 % of the photo and two strokes; returns the hole map and the crop's corner."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    centre = (int(w * 0.62), int(h * 0.55))
    cv2.ellipse(mask, centre, (w // 9, h // 7), 25, 0, 360, 255, -1)
    cv2.line(mask, (int(w * 0.1), int(h * 0.2)), (int(w * 0.45), int(h * 0.85)), 255, 14)
    cv2.line(mask, (int(w * 0.15), int(h * 0.9)), (int(w * 0.9), int(h * 0.8)), 255, 6)
    corner = (centre[0] - w // 9 - CROP[0] // 2, centre[1] - CROP[1] // 2)  # across the blob's left edge
    return mask > 0, corner


def main(photo: Path, model_path: Path, out: Path) -> None:
    small = read_rgb(photo)
    truth = cv2.resize(small, (small.shape[1] * SCALE, small.shape[0] * SCALE), interpolation=cv2.INTER_CUBIC)
    hole, (x0, y0) = holes_for(truth.shape[:2])
    run = Runner(TorchBackend(load_model(model_path), "fp32"), 4)
    masked = truth.copy()
    masked[hole] = 255
    columns = [("masked", masked), ("Telea", telea(truth, hole))]
    for strategy in ("crop", "tile", "refine"):
        pixels, _ = execute(inpaint_one(Picture(truth.copy(), "PNG"), hole, strategy, run), run)
        columns.append((f"{strategy}" + (" (auto)" if strategy == "refine" else ""), pixels))
    columns.append(("original", truth))
    font = ImageFont.load_default(size=16)
    tiles = []
    for label, pixels in columns:
        crop = Image.fromarray(pixels[y0 : y0 + CROP[1], x0 : x0 + CROP[0]])
        tile = Image.new("RGB", (crop.width, crop.height + 24), "white")
        tile.paste(crop, (0, 24))
        ImageDraw.Draw(tile).text((4, 4), label, fill=(0, 0, 0), font=font)
        tiles.append(tile)
    sheet = Image.new("RGB", (3 * (CROP[0] + 4), 2 * (CROP[1] + 28)), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % 3) * (CROP[0] + 4), (i // 3) * (CROP[1] + 28)))
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
