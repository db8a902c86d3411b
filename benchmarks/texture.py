"""The fill engine's texture stage (`--texture auto` and `hybrid` against `none`), side by side on grainy photos:
seconds per 512² image in a folder, a 3000×2000 photo with a 6 % hole, and an 8000×8000 photo's peak
RSS. Grain here is spatially correlated (as grass or gravel), so the stage does its whole work; on the
other benchmarks' i.i.d. grain it only measures and keeps the smooth fill."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import commands
from .commands import _failure, _hole_mask, _record, _skipped, run_measured
from .timing import interleaved, medians, ratio

TEXTURES = ("auto", "hybrid", "none")  # none last: the others' ratios are against it


def grainy_images(folder: Path, count: int, width: int, height: int, seed: int) -> None:
    """``count`` PNGs of smooth colour fields under a blurred grain of about 12 levels."""
    import cv2

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tile = cv2.GaussianBlur(rng.normal(0, 30, (512, 512)).astype(np.float32), (0, 0), 1.2)
    reps = (-(-height // 512), -(-width // 512))
    for i in range(count):
        field = cv2.resize(rng.integers(40, 216, (6, 6, 3), dtype=np.uint8), (width, height), cv2.INTER_CUBIC)
        grain = np.tile(np.roll(tile, 97 * i, axis=1), reps)[:height, :width, None]
        img = np.clip(field.astype(np.float32) + grain, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img_{i:03d}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])


def run(work: Path, repeats: int, count: int, big_side: int | None) -> list[dict]:
    import cv2

    folder, large = work / "tx_folder", work / "tx_large"
    grainy_images(folder, count, 512, 512, seed=11)
    grainy_images(large, 1, 3000, 2000, seed=12)
    _hole_mask(work / "tx_mask512.png", 512, seed=8)
    mask = np.zeros((2000, 3000), np.uint8)
    cv2.ellipse(mask, (1400, 900), (400, 270), 20, 0, 360, 255, -1)
    cv2.imwrite(str(work / "tx_mask_large.png"), mask)
    failures: list[str] = []

    def job(images: Path, mask_file: Path, texture: str):
        def f() -> None:
            out = work / (f"tx_out_{images.stem}_{texture}" + (images.suffix if images.is_file() else ""))
            args = ["inpaint", str(images), "--mask", str(mask_file), "-o", str(out), "--overwrite", "--quiet"]
            code, _, _, err = run_measured(commands.pconv_command() + args + ["--device", "cpu", "--texture", texture])
            if code:
                failures.append(_failure(code, err) or "")

        return f

    cases = {}
    for texture in TEXTURES:
        cases[f"{count}×512² {texture}"] = job(folder, work / "tx_mask512.png", texture)
        cases[f"3000×2000 {texture}"] = job(large / "img_000.png", work / "tx_mask_large.png", texture)
    times = interleaved(cases, repeats, warmup=1)
    case = "pconv inpaint --texture auto and hybrid vs none, shipped model, CPU, grainy photos"
    if failures:
        return [_skipped("end-to-end", case, failures[0])]
    med = medians(times)
    note = f"median of {repeats}, interleaved; process start, model load, decode and encode included"
    records = [
        _record(
            "end-to-end",
            f"{case}: a folder of {count} 512² images, about 10 % hole each",
            "s",
            {t: med[f"{count}×512² {t}"] for t in TEXTURES},
            {f"{t}/none": ratio(times, f"{count}×512² {t}", f"{count}×512² none") for t in TEXTURES[:-1]},
            [note],
        ),
        _record(
            "end-to-end",
            f"{case}: one 3000×2000 photo, one {mask.mean() / 255:.1%} hole",
            "s",
            {t: med[f"3000×2000 {t}"] for t in TEXTURES},
            {f"{t}/none": ratio(times, f"3000×2000 {t}", "3000×2000 none") for t in TEXTURES[:-1]},
            [note],
        ),
    ]
    if big_side:
        big = work / "tx_big"
        grainy_images(big, 1, big_side, big_side, seed=13)
        _hole_mask(work / "tx_big_mask.png", big_side, seed=3)
        args = ["inpaint", str(big / "img_000.png"), "--mask", str(work / "tx_big_mask.png"), "--quiet", "--overwrite"]
        code, wall, rss, err = run_measured(commands.pconv_command() + args + ["-o", str(work / "tx_big.png")])
        big_case = f"{case}: one {big_side}×{big_side} photo, texture auto: peak RSS"
        reason = _failure(code, err)
        records.append(
            _skipped("end-to-end", big_case, reason)
            if reason
            else _record("end-to-end", big_case, "MiB", {"pconv peak RSS": rss}, {}, [f"{wall:.1f} s wall"])
        )
    return records
