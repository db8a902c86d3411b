"""`pconv eval`: models and classical baselines on the same image × mask pairs, per hole-ratio bin.

The pairs come from `pairs` (masks measured into bins, seeded balanced pairing). Each method's output
is composited (only hole pixels change) and quantised to 8 bits, as a saved PNG would
be, before the metrics see it.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.evaluation import baselines as bl
from pconv_cli.evaluation.metrics import all_metrics
from pconv_cli.evaluation.pairs import MaskInfo, Pair, figure_tags, files_of, load_pair, make_pairs, measure_mask
from pconv_cli.evaluation.reports import AVERAGED, write_json
from pconv_cli.files import atomic_write, writable_folder
from pconv_cli.imaging.images import IMAGE_SUFFIXES
from pconv_cli.imaging.masks import BINS, BORDER_MODES, bin_label, hole_ratio

METRICS = AVERAGED  # one list of per-pair numbers for the CSV, the averages and the reports
CSV_COLUMNS = ("image", "mask", "method", "bin", "border", "hole_ratio", "height", "width", *METRICS)
LATER_COLUMNS = ("detail",)  # added since results files were first written: NaN when a file lacks them
DEFAULT_BASELINES = ("telea", "ns", "biharmonic", "patchmatch")


@dataclass(eq=False)  # methods compare by identity
class Method:
    """A baseline (``run`` on uint8 arrays) or a model (``inpainter``, an api.Inpainter)."""

    name: str
    label: str
    kind: str  # "baseline" or "model"
    run: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    inpainter: object | None = None


@dataclass
class EvalOptions:
    images: Path
    masks: Path
    out: Path
    weights: Sequence[Path] = ()
    baselines: Sequence[str] = DEFAULT_BASELINES
    pairs_per_bin: int = 10
    bins: Sequence[int] = tuple(range(len(BINS)))
    borders: Sequence[str] = BORDER_MODES
    size: int | None = None
    resume: bool = False
    overwrite: bool = False
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 8
    figure_pairs: int = 2
    invert_mask: bool = False
    blend: bool = True  # models' seam blending (api.Inpainter)
    strategy: str = "auto"  # how models meet large images (strategies.STRATEGIES)

    @classmethod
    def from_flags(cls, baselines: str, bins: str, border: str, **flags) -> EvalOptions:
        """Options from the CLI's values, the lists given as text ('telea,ns', 'paper' or '1,3', 'both')."""
        options = cls(
            baselines=parse_baselines(baselines), bins=parse_bins(bins), borders=parse_borders(border), **flags
        )
        options.check()
        return options

    def check(self) -> None:
        if self.pairs_per_bin < 1 or self.batch_size < 1 or self.figure_pairs < 0:
            raise UsageError("--pairs-per-bin and --batch-size must be at least 1, --figure-pairs at least 0")
        if self.size is not None and not 16 <= self.size <= 8192:
            raise UsageError(f"--size must be 16..8192, got {self.size}")
        given = [Path(w).resolve() for w in self.weights]  # registered names resolve apart too
        twice = [str(w) for i, (w, r) in enumerate(zip(self.weights, given)) if r in given[:i]]
        if twice:  # one model would be two methods of one name
            raise UsageError(f"--weights given twice: {', '.join(twice)}")
        if self.resume and self.overwrite:
            raise UsageError("--resume and --overwrite contradict each other; pass one")
        # Its sample pictures would be read back as photos or masks (a folder inside is left out of the listing).
        for folder, what in ((self.images, "IMAGES"), (self.masks, "--masks")):
            if self.out.resolve() == folder.resolve():
                raise UsageError(f"-o {self.out} is the {what} folder; write the results elsewhere")
        if not (self.resume or self.overwrite) and (self.out / "results.csv").exists():
            raise UsageError(
                f"output folder {self.out} already holds results (results.csv); "
                "pass --resume to add to them, or --overwrite to replace them"
            )


@dataclass
class EvalResult:
    rows: list[dict]
    methods: list[Method]
    pairs: list[Pair]
    skipped: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    aside: list[dict] = field(default_factory=list)  # rows of results.csv this run did not ask for
    earlier_methods: list[str] = field(default_factory=list)  # methods of results.csv before the run, in file order

    def reported(self) -> tuple[list[Method], list[dict]]:
        """Every method and row of results.csv after the run, so the reports agree with the file."""
        names = dict.fromkeys([*self.earlier_methods, *(m.name for m in self.methods)])
        ours = {m.name: m for m in self.methods}
        return [ours.get(name) or _listed_method(name) for name in names], self.aside + self.rows


def _listed_method(name: str) -> Method:
    """A method known only by its name in results.csv (an earlier run's): a baseline or a model."""
    if name in bl.BASELINES:
        return Method(name=name, label=bl.BASELINES[name].label, kind="baseline")
    return Method(name=name, label=name, kind="model")


# --- arguments -------------------------------------------------------------------------


def parse_bins(spec: str) -> list[int]:
    """'paper' (all six bins) or 1-based bin numbers such as '1,3,6' -> indices into BINS."""
    spec = spec.strip().lower()
    if spec in ("paper", "all"):
        return list(range(len(BINS)))
    try:
        numbers = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        numbers = []
    if not numbers or any(not 1 <= n <= len(BINS) for n in numbers):
        labels = ", ".join(f"{i + 1}={bin_label(*b)}" for i, b in enumerate(BINS))
        raise UsageError(f"--bins {spec!r}: expected 'paper' or bin numbers 1-{len(BINS)} ({labels})")
    return sorted({n - 1 for n in numbers})


def parse_baselines(spec: str) -> list[str]:
    """Comma-separated baseline names, or 'none'."""
    names = [s.strip().lower() for s in spec.split(",") if s.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in bl.BASELINES]
    if unknown:
        raise UsageError(
            f"unknown baseline(s) {', '.join(unknown)}; expected some of {', '.join(bl.BASELINES)} or none"
        )
    return list(dict.fromkeys(names))


def parse_borders(spec: str) -> list[str]:
    if spec == "both":
        return list(BORDER_MODES)
    if spec not in BORDER_MODES:
        raise UsageError(f"--border {spec!r}: expected margin, none or both")
    return [spec]


def _row(pair: Pair, method: Method, gt: np.ndarray, hole: np.ndarray, comp: np.ndarray, seconds: float) -> dict:
    scores = all_metrics(comp.astype(np.float64) / 255.0, gt.astype(np.float64) / 255.0, hole)
    return {
        "image": pair.image_name,
        "mask": pair.mask.name,
        "method": method.name,
        "bin": bin_label(*BINS[pair.mask.bin]),
        "border": pair.mask.border,
        "hole_ratio": hole_ratio(hole),
        "height": gt.shape[0],
        "width": gt.shape[1],
        **scores,
        "seconds": seconds,
    }


def _run_baseline(method: Method, image: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = method.run(image, hole)
    seconds = time.perf_counter() - start
    return np.where(hole[..., None], out, image), seconds


# --- results file ----------------------------------------------------------------------


def read_results(path: Path) -> list[dict]:
    """Rows of an existing results.csv (numbers parsed); UsageError if it is not one."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = set(CSV_COLUMNS) - set(reader.fieldnames or ()) - set(LATER_COLUMNS)
            missing_later = set(LATER_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise UsageError(f"{path} is not a pconv eval results file (missing {', '.join(sorted(missing))})")
            rows = []
            for raw in reader:
                if any(raw.get(k) in (None, "") for k in CSV_COLUMNS if k not in missing_later):
                    continue  # a row cut short by a killed run: computed again
                row = {k: raw.get(k) or "nan" for k in CSV_COLUMNS}
                for k in ("hole_ratio", *METRICS):
                    row[k] = float(row[k])
                row["height"], row["width"] = int(row["height"]), int(row["width"])
                rows.append(row)
    except (OSError, ValueError, csv.Error) as exc:
        raise UsageError(f"cannot resume from {path}: {exc}".splitlines()[0]) from exc
    return rows


# What a row measures beyond its image × mask × method names, as the option that sets it. --bins,
# --border and --pairs-per-bin only choose which pairs run: a cell's pairs do not depend on them.
SETTINGS = {"images": "IMAGES", "masks": "--masks", "size": "--size", "invert_mask": "--invert-mask", "seed": "--seed"}


def run_settings(opts: EvalOptions) -> dict:
    folders = {"images": str(opts.images.resolve()), "masks": str(opts.masks.resolve())}
    return {**folders, "size": opts.size, "invert_mask": opts.invert_mask, "seed": opts.seed}


def check_settings(opts: EvalOptions) -> None:
    """UsageError when --resume would add rows measured otherwise than those in the folder.

    A folder from before settings.json was written has no record: it is resumed as before.
    """
    path = opts.out / "settings.json"
    if not (opts.resume and path.is_file()):
        return
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot resume from {path}: {exc}".splitlines()[0]) from exc
    now = run_settings(opts)
    differ = [
        f"{flag} {recorded[key]} then, {now[key]} now"
        for key, flag in SETTINGS.items()
        if key in recorded and recorded[key] != now[key]
    ]
    if differ:
        raise UsageError(
            f"cannot resume {opts.out}: its results were made with other settings ({'; '.join(differ)}); "
            "pass the same ones, another --out, or --overwrite"
        )


def write_results(path: Path, rows: list[dict]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


# --- the run ---------------------------------------------------------------------------


def build_methods(opts: EvalOptions) -> tuple[list[Method], dict[str, str]]:
    """Models (loaded onto the device) and available baselines; skipped ones with the reason."""
    from pconv_cli.model.weights import DEFAULT_MODEL
    from pconv_cli.runtime.inpainter import Inpainter

    skipped: dict[str, str] = {}
    methods: list[Method] = []
    weights: list = list(opts.weights) or [DEFAULT_MODEL]  # by name: it runs on whichever runtime is installed
    stems = [Path(w).stem for w in weights]
    for w, stem in zip(weights, stems):
        name = stem if stems.count(stem) == 1 else str(w)
        if not opts.blend:  # its own name: --resume never mixes raw and blended rows of one model
            name += "-noblend"
        if opts.strategy != "auto":  # likewise for a forced strategy
            name += f"-{opts.strategy}"
        inpainter = Inpainter(w, opts.device, opts.precision, batch_size=opts.batch_size, blend=opts.blend)
        methods.append(Method(name=name, label=name, kind="model", inpainter=inpainter))
    for name in opts.baselines:
        reason = bl.unavailable_reason(name)
        if reason is not None:
            skipped[name] = reason
        else:
            b = bl.BASELINES[name]
            methods.append(Method(name=name, label=b.label, kind="baseline", run=b.run))
    return methods, skipped


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


def run_eval(opts: EvalOptions, console) -> EvalResult:
    """Run every method on every pair, writing results.csv after each batch; returns all rows."""

    from pconv_cli.console import progress_bar

    check_settings(opts)
    pairs, failures, notes = collect_pairs(opts, console)  # first: bad inputs fail before any model loads
    methods, skipped = build_methods(opts)
    if not methods:
        raise UsageError("nothing to evaluate: no model and no available baseline")
    writable_folder(opts.out, "output folder")
    if opts.overwrite:  # the replaced run's pictures and reports would pass for this run's
        shutil.rmtree(opts.out / "samples", ignore_errors=True)
        for name in ("results.json", "results.md", "comparison.png"):
            (opts.out / name).unlink(missing_ok=True)
    csv_path = opts.out / "results.csv"
    earlier = read_results(csv_path) if opts.resume and csv_path.exists() else []
    write_json(opts.out / "settings.json", run_settings(opts))  # before any row: what they measure
    _announce(console, methods, skipped, notes)

    wanted = {(p.key, m.name) for p in pairs for m in methods}
    rows: list[dict] = []
    aside: list[dict] = []  # other methods' or pairs' rows: kept in the file and its reports, not run again
    if earlier:
        for row in earlier:
            (rows if ((row["image"], row["mask"]), row["method"]) in wanted else aside).append(row)
        console.print(
            f"resuming: {len(rows)} result(s) kept"
            + (f", {len(aside)} not in this run left in the file" if aside else "")
        )
    done = {((r["image"], r["mask"]), r["method"]) for r in rows}
    todo = [(p, [m for m in methods if (p.key, m.name) not in done]) for p in pairs]
    todo = [(p, ms) for p, ms in todo if ms]
    shown = figure_tags(pairs, opts.figure_pairs)
    samples = opts.out / "samples"

    with progress_bar(console) as progress:
        task = progress.add_task("evaluating", total=sum(len(ms) for _, ms in todo))
        for start in range(0, len(todo), opts.batch_size):
            chunk = todo[start : start + opts.batch_size]
            loaded = []
            for pair, ms in chunk:
                try:
                    loaded.append((pair, ms, *load_pair(pair, opts.size, opts.invert_mask)))
                except PconvError as exc:
                    failures.append(f"{pair.image_name} × {pair.mask.name}: {exc}")
                    progress.advance(task, len(ms))
            for method in methods:
                jobs = [(p, gt, hole) for p, ms, gt, hole in loaded if method in ms]
                for pair, comp, gt, hole, seconds in _composites(method, jobs, opts, failures):
                    rows.append(_row(pair, method, gt, hole, comp, seconds))
                    if pair.tag in shown:
                        _save_png(samples / pair.tag / f"{method.name}.png", comp)
                progress.advance(task, len(jobs))
            for pair, _, gt, hole in loaded:
                if pair.tag in shown:
                    masked = gt.copy()
                    masked[hole] = 255
                    _save_png(samples / pair.tag / "_input.png", masked)
                    _save_png(samples / pair.tag / "_truth.png", gt)
            write_results(csv_path, aside + rows)
    if not todo:
        write_results(csv_path, aside + rows)
    return EvalResult(
        rows=rows,
        methods=methods,
        pairs=pairs,
        skipped=skipped,
        failures=failures,
        aside=aside,
        earlier_methods=list(dict.fromkeys(r["method"] for r in earlier)),
    )


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
    for (pair, gt, hole), filled in method.inpainter.fill_many(items, Strategy(opts.strategy)):
        if filled.error is not None:
            raise filled.error
        yield pair, filled.pixels, gt, hole, filled.seconds


def write_reports(result: EvalResult, opts: EvalOptions, console) -> dict:
    """Print the table on stderr, write results.json, results.md and comparison.png; return the aggregate."""
    from rich.markup import escape

    from pconv_cli.evaluation import reports as rep

    methods, rows = result.reported()
    names = [m.name for m in methods]
    labels = {m.name: m.label for m in methods}
    agg = rep.aggregate(rows, names)
    used = len({(r["image"], r["mask"]) for r in rep.common_rows(rows, names)})
    note = f"{used} image × mask pairs, every method on each; pairs per bin and border mode: {opts.pairs_per_bin}."
    summary = {
        "methods": [{"name": m.name, "label": m.label, "kind": m.kind} for m in methods],
        "skipped": result.skipped,
        "pairs": used,
        "aggregate": agg["cells"],
        "overall": agg["overall"],
        "failures": result.failures,
    }
    config = {
        "images": str(opts.images),
        "masks": str(opts.masks),
        "bins": [bin_label(*BINS[b]) for b in opts.bins],
        "borders": list(opts.borders),
        "pairs_per_bin": opts.pairs_per_bin,
        "size": opts.size,
        "seed": opts.seed,
        "blend": opts.blend,
    }
    rep.write_json(opts.out / "results.json", {"config": config, **summary, "per_pair": rows})
    rep.write_text(opts.out / "results.md", rep.markdown_table(agg, labels, note))
    shown = figure_tags(result.pairs, opts.figure_pairs)
    by_tag = {p.tag: p for p in result.pairs}
    tags = sorted((p.tag for p in result.pairs if p.tag in shown), key=lambda t: by_tag[t].mask.bin)
    row_labels = [f"{bin_label(*BINS[by_tag[t].mask.bin])}\n{by_tag[t].mask.border}" for t in tags]
    if tags:
        rep.comparison_picture(
            opts.out / "comparison.png", opts.out / "samples", tags, list(labels.items()), row_labels
        )
    table = rep.rich_table(agg, labels)
    # Never squeeze the table into a narrow or non-terminal stderr: wrap lines rather than truncate numbers.
    wide = console.measure(table, options=console.options.update(width=10_000)).maximum
    narrow = console.width
    console.width = max(narrow, wide)
    console.print(table)
    console.width = narrow
    written = "results.csv, results.json, results.md" + (", comparison.png" if tags else "")
    console.print(f"{note}\nwrote {escape(str(opts.out))}/{written}")
    return summary
