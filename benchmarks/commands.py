"""(3) `pconv inpaint` end to end, on either runtime, (4) `pconv make-masks`, (6) `pconv --help`:
the CLI run by subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .timing import interleaved, medians, ratio


def pconv_command() -> list[str]:
    """The installed `pconv` script beside this interpreter, else `python -m pconv_cli`."""
    script = Path(sys.executable).with_name("pconv")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pconv_cli"]


# Runs the measured command from a small process: on Linux a child's ru_maxrss starts at its parent's
# peak at fork, so measured straight from this (large) process it would report this process's memory.
_LAUNCHER = (
    "import os, subprocess, sys, time; start = time.perf_counter(); "
    "p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL); "
    "_, status, usage = os.wait4(p.pid, 0); "
    "open(sys.argv[1], 'w').write(f'{time.perf_counter() - start} {usage.ru_maxrss}'); "
    "sys.exit(os.waitstatus_to_exitcode(status))"
)


def run_measured(args: list[str]) -> tuple[int, float, float, str]:
    """Run a command; return (exit code, wall seconds, peak RSS in MiB of that process, stderr)."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", suffix=".txt") as report:
        code = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, report.name, *args], stdin=subprocess.DEVNULL, stderr=err
        ).returncode
        wall, maxrss = report.read().split() or ("nan", "nan")
        err.seek(0)
        return code, float(wall), float(maxrss) / 1024, err.read().decode(errors="replace")


def _failure(code: int, stderr: str) -> str | None:
    if code == 0:
        return None
    text = [line.strip("│╭╮╰╯─ ") for line in stderr.splitlines()]
    last = next((line for line in reversed(text) if line), "no message")
    return f"failed: exit {code}: {last}"


def _record(group: str, case: str, metric: str, values: dict, ratios: dict, notes: list[str], **extra) -> dict:
    return {"group": group, "case": case, "metric": metric, "values": values, "ratios": ratios, "notes": notes} | extra


def _skipped(group: str, case: str, reason: str) -> dict:
    return _record(group, case, "", {}, {}, [reason], skipped=True)


def help_time(repeats: int) -> list[dict]:
    """`pconv --help` wall time, side by side with a bare interpreter start."""
    cmds = {"pconv --help": pconv_command() + ["--help"], "python -c pass": [sys.executable, "-c", "pass"]}
    times = interleaved(
        {name: lambda c=c: subprocess.run(c, capture_output=True, check=True) for name, c in cmds.items()},
        repeats,
        warmup=1,
    )
    return [
        _record(
            "startup",
            "pconv --help",
            "s",
            medians(times),
            {"pconv --help/python -c pass": ratio(times, "pconv --help", "python -c pass")},
            [],
            repeats=repeats,
        )
    ]


def _smooth_images(folder: Path, count: int, side: int, seed: int, height: int | None = None) -> None:
    """Write ``count`` photo-like PNGs (smooth colour fields plus grain), ``side`` wide and ``height``
    (default ``side``) high, without depending on a dataset."""
    import cv2

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    h = height or side
    for i in range(count):
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = cv2.resize(coarse, (side, h), interpolation=cv2.INTER_CUBIC)
        # a tiled grain keeps an 8000² image's generation within uint8 memory
        reps = (-(-h // 256), -(-side // 256), 1)
        grain = [np.tile(rng.integers(0, 7, (256, 256, 3), dtype=np.uint8), reps)[:h, :side] for _ in range(2)]
        img = cv2.subtract(cv2.add(img, grain[0]), grain[1])
        cv2.imwrite(str(folder / f"img_{i:03d}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])


def _hole_mask(path: Path, side: int, seed: int) -> np.ndarray:
    """A PNG mask (white = hole) with a few irregular strokes and blobs, about 10% hole; returns it too."""
    import cv2

    rng = np.random.default_rng(seed)
    mask = np.zeros((side, side), np.uint8)
    scale = side / 512
    for _ in range(4):
        p, q = rng.integers(0, side, 2), rng.integers(0, side, 2)
        cv2.line(mask, tuple(map(int, p)), tuple(map(int, q)), 255, max(int(12 * scale), 1))
    for _ in range(2):
        c = tuple(map(int, rng.integers(side // 4, 3 * side // 4, 2)))
        cv2.circle(mask, c, int(30 * scale), 255, -1)
    cv2.imwrite(str(path), mask)
    return mask


def make_model(path: Path, preset: str = "paper512") -> None:
    """A randomly initialised model file: speed does not depend on trained weights."""
    import torch

    from pconv_cli.model.unet import PConvConfig, PConvUNet
    from pconv_cli.model.weights import save_weights

    torch.manual_seed(0)
    save_weights(PConvUNet(PConvConfig.preset(preset)), path)


def inpaint(work: Path, count: int, big_side: int | None) -> list[dict]:
    """images/s of `pconv inpaint` on a folder (decode and write included) vs OpenCV Telea; peak RSS on a big image."""
    import cv2

    side = 512
    images, out = work / "images", work / "out"
    _smooth_images(images, count, side, seed=0)
    mask = _hole_mask(work / "mask.png", side, seed=1)
    model = work / "model.safetensors"
    make_model(model)
    base = pconv_command() + ["inpaint"]
    common = ["--weights", str(model), "--device", "cpu", "--quiet"]
    code, wall, rss, err = run_measured(base + [str(images), "--mask", str(work / "mask.png"), "-o", str(out)] + common)
    case = f"pconv inpaint, folder of {count} PNGs at {side}², CPU, one mask"
    reason = _failure(code, err)
    records = []
    if reason:
        records.append(_skipped("end-to-end", case, reason))
    else:
        written = sum(1 for p in out.rglob("*") if p.is_file())
        # OpenCV Telea on the same files, reading and writing included, for scale.
        telea_out = work / "telea"
        telea_out.mkdir()
        start = time.perf_counter()
        for p in sorted(images.iterdir()):
            cv2.imwrite(str(telea_out / p.name), cv2.inpaint(cv2.imread(str(p)), mask, 3, cv2.INPAINT_TELEA))
        telea = time.perf_counter() - start
        records.append(
            _record(
                "end-to-end",
                case,
                "images/s",
                {"pconv": count / wall, "opencv-telea": count / telea},
                {"opencv-telea/pconv": wall / telea},
                [f"{written} files written; process start and model load included; peak RSS {rss:.0f} MiB"],
            )
        )
    if big_side:
        big = work / "big"
        big.mkdir()
        _smooth_images(big, 1, big_side, seed=2)
        _hole_mask(work / "big_mask.png", big_side, seed=3)
        args = base + [str(big / "img_000.png"), "--mask", str(work / "big_mask.png"), "-o", str(work / "big_out.png")]
        code, wall, rss, err = run_measured(args + ["--device", "cpu", "--quiet"])  # the shipped model, as users run it
        case = f"pconv inpaint, one {big_side}×{big_side} PNG, shipped model, auto, CPU: peak RSS"
        reason = _failure(code, err)
        raw_mib = big_side * big_side * 3 / 2**20
        records.append(
            _skipped("end-to-end", case, reason)
            if reason
            else _record(
                "end-to-end",
                case,
                "MiB",
                {"pconv peak RSS": rss, "decoded image": raw_mib},
                {"pconv peak RSS/decoded image": rss / raw_mib},
                [f"{wall:.1f} s wall"],
            )
        )
    return records


def large_photo(work: Path, repeats: int) -> list[dict]:
    """Seconds for `pconv inpaint` on a 3000×2000 PNG with one 6 % hole with the shipped model: as
    users run it (auto: refine, on ONNX Runtime here), refine on torch, crop, and OpenCV Telea on the
    same file, reading and writing included, interleaved."""
    import cv2

    folder = work / "large"
    _smooth_images(folder, 1, 3000, seed=4, height=2000)
    image = folder / "img_000.png"
    mask = np.zeros((2000, 3000), np.uint8)
    cv2.ellipse(mask, (1400, 900), (400, 270), 20, 0, 360, 255, -1)  # π·400·270 px ≈ 5.7 % of the photo
    cv2.imwrite(str(work / "large_mask.png"), mask)
    case = f"pconv inpaint, one 3000×2000 PNG, one {mask.mean() / 255:.1%} hole, shipped model, CPU"
    base = pconv_command() + ["inpaint", str(image), "--mask", str(work / "large_mask.png")]
    base += ["--device", "cpu", "--quiet", "--overwrite", "-o", str(work / "large_out.png")]
    failures: list[str] = []

    def pconv(*args: str):
        def f() -> None:
            code, _, _, err = run_measured(base + list(args))
            if code:
                failures.append(_failure(code, err) or "")

        return f

    def telea() -> None:
        out = cv2.inpaint(cv2.imread(str(image)), mask, 3, cv2.INPAINT_TELEA)
        cv2.imwrite(str(work / "large_telea.png"), out)

    cases = {
        "pconv auto": pconv(),
        "pconv torch": pconv("--runtime", "torch"),
        "pconv crop": pconv("--strategy", "crop"),
    }
    times = interleaved({**cases, "opencv-telea": telea}, repeats, 0)
    if failures:
        return [_skipped("end-to-end", case, failures[0])]
    med = medians(times)
    return [
        _record(
            "end-to-end",
            case,
            "s",
            med,
            {
                "pconv auto/pconv crop": ratio(times, "pconv auto", "pconv crop"),
                "pconv torch/pconv auto": ratio(times, "pconv torch", "pconv auto"),
                "pconv auto/opencv-telea": ratio(times, "pconv auto", "opencv-telea"),
            },
            [f"median of {repeats}, interleaved; process start, model load, decode and encode included"],
        )
    ]


def runtimes(work: Path, repeats: int, count: int) -> list[dict]:
    """`pconv inpaint` with the shipped model on torch and on ONNX Runtime, side by side: start-up
    (one 64² image), seconds per 512² image (a folder of ``count``, less that start-up), peak RSS,
    and the install each runtime adds to pconv's own dependencies."""
    from .installed import extra_size_mib

    small, folder = work / "rt_small", work / "rt_folder"
    _smooth_images(small, 1, 64, seed=5)
    _smooth_images(folder, count, 512, seed=6)
    _hole_mask(work / "rt_mask64.png", 64, seed=7)
    _hole_mask(work / "rt_mask512.png", 512, seed=8)
    rss: dict[str, float] = {}
    failures: list[str] = []

    def job(runtime: str, images: Path, mask: Path):
        def f() -> None:
            out = work / f"rt_out_{runtime}_{images.name}"
            args = ["inpaint", str(images), "--mask", str(mask), "-o", str(out), "--overwrite", "--quiet"]
            code, _, peak, err = run_measured(pconv_command() + args + ["--runtime", runtime, "--device", "cpu"])
            if code:
                failures.append(_failure(code, err) or "")
            rss[runtime] = max(rss.get(runtime, 0.0), peak)

        return f

    cases = {}
    for runtime in ("torch", "onnx"):
        cases[f"{runtime} one 64²"] = job(runtime, small / "img_000.png", work / "rt_mask64.png")
        cases[f"{runtime} {count}×512²"] = job(runtime, folder, work / "rt_mask512.png")
    times = interleaved(cases, repeats, warmup=1)
    case = "pconv inpaint, shipped model, CPU: torch vs ONNX Runtime"
    if failures:
        return [_skipped("runtime", case, failures[0])]
    med = medians(times)
    per_image = {r: (med[f"{r} {count}×512²"] - med[f"{r} one 64²"]) / count for r in ("torch", "onnx")}
    sizes = {r: extra_size_mib(r) for r in ("torch", "onnx")}
    note = f"median of {repeats}, interleaved; process start, model load, decode and encode included"
    return [
        _record(
            "runtime",
            "start-up: one 64² image",
            "s",
            {r: med[f"{r} one 64²"] for r in ("torch", "onnx")},
            {"torch/onnx": ratio(times, "torch one 64²", "onnx one 64²")},
            [note],
        ),  # fmt: skip
        _record(
            "runtime",
            "per 512² image (folder, less start-up)",
            "s",
            per_image,
            {"torch/onnx": per_image["torch"] / per_image["onnx"]},
            [note, f"{count} images"],
        ),  # fmt: skip
        _record(
            "runtime", "peak RSS, folder of 512² images", "MiB", rss, {"torch/onnx": rss["torch"] / rss["onnx"]}, []
        ),  # fmt: skip
        _record(
            "runtime",
            "installed size added to pconv's own dependencies",
            "MiB",
            sizes,
            {"torch/onnx": sizes["torch"] / sizes["onnx"]},
            ["the packages in this environment"],
        ),  # fmt: skip
    ]


def make_masks(work: Path, count: int) -> list[dict]:
    """masks/s of `pconv make-masks` at 512² (process start included)."""
    out = work / "masks"
    args = pconv_command() + ["make-masks", str(out), "--size", "512", "--count", str(count), "--seed", "0"]
    code, wall, _, err = run_measured(args)
    case = f"pconv make-masks, {count} masks at 512²"
    reason = _failure(code, err)
    if reason:
        return [_skipped("make-masks", case, reason)]
    pngs = sum(1 for _ in out.rglob("*.png"))
    return [_record("make-masks", case, "masks/s", {"pconv": count / wall}, {}, [f"{pngs} PNG files written"])]


def run(quick: bool) -> list[dict]:
    """All command benchmarks in a scratch folder that is removed afterwards."""
    from . import texture  # it reuses this module's helpers

    work = Path(tempfile.mkdtemp(prefix="pconv-bench-"))
    try:
        records = help_time(5 if quick else 15)
        records += make_masks(work, 50 if quick else 400)
        records += inpaint(work, 8 if quick else 32, None if quick else 8000)
        records += large_photo(work, 1 if quick else 3)
        records += runtimes(work, 1 if quick else 3, 4 if quick else 9)
        records += texture.run(work, 1 if quick else 3, 4 if quick else 9, None if quick else 8000)
        return records
    finally:
        shutil.rmtree(work, ignore_errors=True)
