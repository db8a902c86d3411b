"""Success and failure pictures for MODEL_CARD.md from a `pconv eval` run.

Picks the pairs of border mode "none" where the model's hole PSNR beats Telea's by the
most (successes) and by the least (failures), re-inpaints them, and draws
masked input | model | Telea | ground truth rows.

Usage: python docs/model_figures.py EVAL_DIR IMAGES MASKS MODEL OUT_DIR
"""

import csv
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pconv_cli.evaluation.baselines import telea
from pconv_cli.evaluation.reports import comparison_picture
from pconv_cli.imaging.images import read_mask, read_rgb
from pconv_cli.model.weights import load_model
from pconv_cli.runtime.inpainter import run as run_work
from pconv_cli.runtime.runner import Runner, Work
from pconv_cli.runtime.torch_backend import TorchBackend

ROWS = 4


def main(eval_dir: Path, images: Path, masks: Path, model_path: Path, out: Path) -> None:
    rows = list(csv.DictReader(open(eval_dir / "results.csv")))
    name = model_path.stem
    by_pair = {}
    for r in rows:
        if r["border"] == "none":
            by_pair.setdefault((r["image"], r["mask"], r["bin"]), {})[r["method"]] = float(r["hole_psnr"])
    deltas = sorted((v[name] - v["telea"], k) for k, v in by_pair.items() if name in v and "telea" in v)
    run = Runner(TorchBackend(load_model(model_path), "fp32"))
    for title, picked in (("successes", deltas[::-1][:ROWS]), ("failures", deltas[:ROWS])):
        with tempfile.TemporaryDirectory() as tmp:
            samples, tags, labels = Path(tmp), [], []
            for i, (delta, (image_name, mask_name, bin_text)) in enumerate(picked):
                gt = read_rgb(images / image_name)
                hole = read_mask(masks / mask_name)
                hole = np.array(Image.fromarray(hole).resize(gt.shape[1::-1], Image.Resampling.NEAREST))
                (comp,) = run_work(run, Work([gt.astype(np.float32) / 255], [hole]))
                comp = np.rint(comp * 255).astype(np.uint8)
                masked = gt.copy()
                masked[hole] = 255
                tag = f"{i:02d}"
                (samples / tag).mkdir()
                for file, pixels in (("_input", masked), ("_truth", gt), ("model", comp), ("telea", telea(gt, hole))):
                    Image.fromarray(pixels).save(samples / tag / f"{file}.png")
                tags.append(tag)
                labels.append(f"{bin_text}\n{delta:+.1f} dB")
            comparison_picture(
                out / f"model-{title}.png", samples, tags, [("model", "pconv"), ("telea", "Telea")], labels
            )


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:6]))
