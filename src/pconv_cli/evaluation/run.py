"""`pconv eval`: models and classical baselines on the same image × mask pairs, per hole-ratio bin.

The pairs come from `pairs` (masks measured into bins, seeded balanced pairing). Each method's output
is composited (only hole pixels change) and quantised to 8 bits, as a saved PNG would
be, before `scoring` measures it; `results` keeps the rows, `publish` reports them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.evaluation.methods import Method, build_methods
from pconv_cli.evaluation.pairs import MaskInfo, Pair, figure_tags, files_of, load_pair, make_pairs, measure_mask
from pconv_cli.evaluation.reports import write_json
from pconv_cli.evaluation.results import EvalResult, check_settings, read_results, run_settings, write_results
from pconv_cli.evaluation.scoring import PATCHES, Scorer
from pconv_cli.files import atomic_write, writable_folder
from pconv_cli.imaging.images import IMAGE_SUFFIXES
from pconv_cli.imaging.masks import BINS, bin_label

if TYPE_CHECKING:
    from pconv_cli.commands.evaluate import EvalOptions

# Written by a run: an --overwrite removes them first, or the replaced run's would pass for this run's.
REPORTS = ("results.json", "results.md", "bins.csv", "comparison.png")


def _run_baseline(method: Method, image: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = method.run(image, hole)
    seconds = time.perf_counter() - start
    return np.where(hole[..., None], out, image), seconds


def collect_pairs(opts: EvalOptions, console) -> tuple[list[Pair], list[str], list[str]]:
    """Measure the masks, pair them with the images; unreadable masks are failures."""
    images = files_of(opts.images, "image folder", opts.out)
    if not images:
        raise UsageError(f"no image files ({' '.join(IMAGE_SUFFIXES)}) in {opts.images}")
    mask_files = files_of(opts.masks, "mask folder", opts.out)
    if not mask_files:
        raise UsageError(f"the mask folder {opts.masks} holds no image files")
    failures: list[str] = []
    notes: list[str] = []  # shown once every option has been checked: an error stays one line
    measured: list[MaskInfo] = []
    with console.status(f"measuring {len(mask_files)} masks"):
        for path, name in mask_files:
            try:
                info = measure_mask(path, name, opts.invert_mask)
            except PconvError as exc:
                failures.append(str(exc))
                continue
            if info is not None:
                measured.append(info)
    usable = [m for m in measured if m.bin in opts.bins and m.border in opts.borders]
    if not usable:
        wanted = ", ".join(bin_label(*BINS[b]) for b in opts.bins)
        raise UsageError(
            f"none of the {len(mask_files)} masks in {opts.masks} has a hole ratio in {wanted} "
            f"with border mode {'/'.join(opts.borders)} ({len(measured)} fall in some paper bin)"
        )
    pairs = make_pairs(images, usable, opts.bins, opts.borders, opts.pairs_per_bin, opts.seed)
    for b in opts.bins:
        for border in opts.borders:
            n = sum(1 for p in pairs if p.mask.bin == b and p.mask.border == border)
            if n < opts.pairs_per_bin:
                notes.append(f"{bin_label(*BINS[b])} {border}: {n} pair(s), fewer than {opts.pairs_per_bin}")
    return pairs, failures, notes


def _announce(console, methods: list[Method], skipped: dict[str, str], notes: list[str]) -> None:
    """What a run will do, said once every option has been checked (so an error stays one line)."""
    from rich.markup import escape  # "[baselines]" in a reason is not markup

    models = [m.inpainter for m in methods if m.inpainter is not None]
    if models:
        console.print(f"models run on {models[0].runner.backend.device}")
    for name, reason in skipped.items():
        console.print(f"[yellow]skipped[/] {name}: {escape(reason)}")
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def _prepare_out(opts: EvalOptions) -> list[dict]:
    """The output folder made ready and settings.json written; the rows already in results.csv to resume."""
    writable_folder(opts.out, "output folder")
    if opts.overwrite:
        for folder in ("samples", PATCHES):
            shutil.rmtree(opts.out / folder, ignore_errors=True)
        for name in REPORTS:
            (opts.out / name).unlink(missing_ok=True)
    csv_path = opts.out / "results.csv"
    earlier = read_results(csv_path) if opts.resume and csv_path.exists() else []
    write_json(opts.out / "settings.json", run_settings(opts))  # before any row: what they measure
    return earlier


def _sort_earlier(earlier: list[dict], pairs: list[Pair], methods: list[Method], console):
    """Earlier rows this run asked for (kept, not run again) and the others (left in the file)."""
    wanted = {(p.key, m.name) for p in pairs for m in methods}
    rows: list[dict] = []
    aside: list[dict] = []
    if earlier:
        for row in earlier:
            (rows if ((row["image"], row["mask"]), row["method"]) in wanted else aside).append(row)
        console.print(
            f"resuming: {len(rows)} result(s) kept"
            + (f", {len(aside)} not in this run left in the file" if aside else "")
        )
    return rows, aside


def run_eval(opts: EvalOptions, console) -> EvalResult:
    """Run every method on every pair, writing results.csv after each batch; returns all rows."""
    from pconv_cli.console import progress_bar

    check_settings(opts)
    pairs, failures, notes = collect_pairs(opts, console)  # first: bad inputs fail before any model loads
    methods, skipped = build_methods(opts)
    if not methods:
        raise UsageError("nothing to evaluate: no model and no available baseline")
    earlier = _prepare_out(opts)
    scorer = Scorer(opts.out)
    if scorer.skipped is not None:
        notes.append(f"perceptual distance left out: {scorer.skipped}")
    _announce(console, methods, skipped, notes)
    rows, aside = _sort_earlier(earlier, pairs, methods, console)
    done = {((r["image"], r["mask"]), r["method"]) for r in rows}
    todo = [(p, [m for m in methods if (p.key, m.name) not in done]) for p in pairs]
    todo = [(p, ms) for p, ms in todo if ms]
    csv_path = opts.out / "results.csv"
    shown = figure_tags(pairs, opts.figure_pairs)
    with progress_bar(console) as progress:
        task = progress.add_task("evaluating", total=sum(len(ms) for _, ms in todo))
        advance = lambda n: progress.advance(task, n)  # noqa: E731
        for start in range(0, len(todo), opts.batch_size):
            chunk = todo[start : start + opts.batch_size]
            rows += _run_chunk(chunk, methods, opts, scorer, failures, advance, shown)
            write_results(csv_path, aside + rows)
    if not todo:
        write_results(csv_path, aside + rows)
    earlier_methods = list(dict.fromkeys(r["method"] for r in earlier))
    return EvalResult(rows, methods, pairs, skipped, failures, aside, earlier_methods)


def _run_chunk(chunk, methods: list[Method], opts: EvalOptions, scorer: Scorer, failures, advance, shown) -> list:
    """Rows of one batch of pairs: each method's composites, then their scores; the figure's samples saved."""
    samples = opts.out / "samples"
    loaded = []
    for pair, ms in chunk:
        try:
            loaded.append((pair, ms, *load_pair(pair, opts.size, opts.invert_mask)))
        except PconvError as exc:
            failures.append(f"{pair.image_name} × {pair.mask.name}: {exc}")
            advance(len(ms))
    filled = []
    for method in methods:
        jobs = [(p, gt, hole) for p, ms, gt, hole in loaded if method in ms]
        made = [
            (pair, method, gt, hole, comp, s) for pair, comp, gt, hole, s in _composites(method, jobs, opts, failures)
        ]
        advance(len(jobs) - len(made))  # failed ones; the rest as they are scored
        for pair, _, _, _, comp, _ in made:
            if pair.tag in shown:
                _save_png(samples / pair.tag / f"{method.name}.png", comp)
        filled += made
    for pair, _, gt, hole in loaded:
        if pair.tag in shown:
            masked = gt.copy()
            masked[hole] = 255
            _save_png(samples / pair.tag / "_input.png", masked)
            _save_png(samples / pair.tag / "_truth.png", gt)
    return scorer.rows(filled, advance)


def _composites(method: Method, jobs: list, opts: EvalOptions, failures: list[str]):
    """Yield (pair, composite, gt, hole, seconds) for each job; a failing input is recorded and skipped."""
    if method.kind == "baseline":
        for pair, gt, hole in jobs:
            try:
                comp, seconds = _run_baseline(method, gt, hole)
            except Exception as exc:  # a baseline crashing on one input must not end the run
                failures.append(f"{method.name} on {pair.image_name} × {pair.mask.name}: {exc}")
                continue
            yield pair, comp, gt, hole, seconds
        return
    from pconv_cli.choices import Strategy
    from pconv_cli.imaging.images import Picture

    # The fill `pconv inpaint` uses: the Inpainter picks each pair's strategy and batches equal sizes.
    items = [((pair, gt, hole), Picture(gt, "PNG"), hole) for pair, gt, hole in jobs]
    for (pair, gt, hole), filled in method.inpainter.fill_many(items, Strategy(opts.strategy), method.texture):
        if filled.error is not None:
            raise filled.error
        yield pair, filled.pixels, gt, hole, filled.seconds
