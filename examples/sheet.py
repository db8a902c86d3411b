"""Before/after sheet of the demo: masked input (holes in white) above each inpainted result.

Usage: python examples/sheet.py IMAGES MASKS RESULTS OUT.png
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

HEIGHT = 240


def row_tile(path: Path, width: int) -> Image.Image:
    img = Image.open(path).convert("RGB")
    return img.resize((width, HEIGHT), Image.Resampling.LANCZOS)


def main(images: Path, masks: Path, results: Path, out: Path) -> None:
    top, bottom = [], []
    for image in sorted(images.glob("*.png")):
        pixels = np.array(Image.open(image).convert("RGB"))
        pixels[np.array(Image.open(masks / image.name).convert("L")) > 127] = 255
        width = round(pixels.shape[1] * HEIGHT / pixels.shape[0])
        top.append(Image.fromarray(pixels).resize((width, HEIGHT), Image.Resampling.LANCZOS))
        bottom.append(row_tile(results / image.name, width))
    sheet = Image.new("RGB", (sum(t.width for t in top) + 4 * (len(top) - 1), 2 * HEIGHT + 4), "white")
    x = 0
    for a, b in zip(top, bottom):
        sheet.paste(a, (x, 0))
        sheet.paste(b, (x, HEIGHT + 4))
        x += a.width + 4
    sheet.save(out)


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:5]))
