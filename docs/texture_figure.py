"""The fill engine beside the classical methods, on pictures pconv may ship: README.md and MODEL_CARD.md.

Rows: a dusk sky and a launch tower's lattice (examples/images/rocket.png), a brick wall and grass
(scikit-image's `brick` and `grass`, CC0), and a caption over a cat (examples/images/watermark.png).
Columns: the masked input, pconv (texture auto), pconv --texture hybrid, pconv --texture none,
OpenCV Telea, PatchMatch
(PyPatchMatch, 7×7 patches) and the truth, each a crop around the hole enlarged 2×; the sky row is
also shown contrast-stretched (its 1st to 99th percentiles over the whole range), where rings and
casts would show.

Usage: python docs/texture_figure.py OUT.png
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from skimage import data

from pconv_cli.evaluation.baselines import patchmatch, telea
from pconv_cli.runtime.inpainter import Inpainter

EXAMPLES = Path(__file__).parents[1] / "examples"
SCALE = 2
COLUMNS = ("input", "pconv", "--texture hybrid", "--texture none", "Telea", "PatchMatch", "truth")


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _blob(shape: tuple[int, int], center: tuple[int, int], axes: tuple[int, int], angle: int = 0) -> np.ndarray:
    hole = np.zeros(shape, np.uint8)
    cv2.ellipse(hole, center, axes, angle, 0, 360, 1, -1)
    return hole.astype(bool)


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int, int], bool]]:
    """(title, input, hole, truth, crop (y0, y1, x0, x1), stretch) per row."""
    rocket = _rgb(EXAMPLES / "images" / "rocket.png")
    brick, grass = (np.repeat(getattr(data, name)()[..., None], 3, axis=2) for name in ("brick", "grass"))
    cat, caption = _rgb(EXAMPLES / "images" / "chelsea.png"), _rgb(EXAMPLES / "images" / "watermark.png")
    mark = np.asarray(Image.open(EXAMPLES / "masks" / "watermark.png").convert("L")) > 127
    ys, xs = np.nonzero(mark)
    return [
        ("sky", rocket, _blob(rocket.shape[:2], (135, 110), (28, 70)), rocket, (20, 200, 80, 190), True),
        ("lattice", rocket, _blob(rocket.shape[:2], (50, 250), (26, 40), 20), rocket, (190, 310, 0, 110), False),
        ("brick", brick, _blob((512, 512), (250, 260), (60, 45), 30), brick, (180, 340, 170, 330), False),
        ("grass", grass, _blob((512, 512), (256, 256), (55, 70), 60), grass, (176, 336, 176, 336), False),
        ("caption", caption, mark, cat, (ys.min() - 12, ys.max() + 12, xs.min() - 12, xs.min() + 148), False),
    ]


def _stretched(crops: list[np.ndarray], truth: np.ndarray) -> list[np.ndarray]:
    lo, hi = np.percentile(truth, 1, axis=(0, 1)), np.percentile(truth, 99, axis=(0, 1))
    return [np.clip((c.astype(np.float32) - lo) / np.maximum(hi - lo, 1) * 255, 0, 255).astype(np.uint8) for c in crops]


def _row(inpainter: Inpainter, image, hole, truth, crop, stretch) -> list[list[np.ndarray]]:
    masked = image.copy()
    masked[hole] = 255
    fills = [
        masked,
        inpainter(image, hole),
        inpainter(image, hole, texture="hybrid"),
        inpainter(image, hole, texture="none"),
        telea(image, hole),
        patchmatch(image, hole),
        truth,
    ]
    y0, y1, x0, x1 = crop
    crops = [f[y0:y1, x0:x1] for f in fills]
    rows = [crops] + ([_stretched(crops, truth[y0:y1, x0:x1])] if stretch else [])
    return [[np.kron(c, np.ones((SCALE, SCALE, 1), np.uint8)) for c in r] for r in rows]


def main(out: Path) -> None:
    inpainter = Inpainter(device="cpu")
    rows, titles = [], []
    for title, image, hole, truth, crop, stretch in _cases():
        made = _row(inpainter, image, hole, truth, crop, stretch)
        rows += made
        titles += [title] + [f"{title}, stretched"] * (len(made) - 1)
    gap, label = 6, 22
    width = max(sum(c.shape[1] for c in r) + gap * (len(r) - 1) for r in rows) + 110
    height = label + sum(r[0].shape[0] + gap for r in rows)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    x = 110
    for name, c in zip(COLUMNS, rows[0]):
        draw.text((x + 4, 4), name, fill="black")
        x += c.shape[1] + gap
    y = label
    for title, r in zip(titles, rows):
        draw.text((6, y + r[0].shape[0] // 2 - 6), title, fill="black")
        x = 110
        for c in r:
            sheet.paste(Image.fromarray(c), (x, y))
            x += c.shape[1] + gap
        y += r[0].shape[0] + gap
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
