"""The `pconv` command line: parse, validate, call the core.

Nothing here imports torch at module level, so `pconv --help` stays instant;
each command imports its core module when it runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from . import __version__
from .errors import PconvError, UsageError

app = typer.Typer(
    name="pconv",
    help="Image inpainting with partial convolutions (Liu et al., ECCV 2018).",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"pconv {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Fill holes in images with a partial-convolution U-Net."""


def _not_built(command: str) -> None:
    raise UsageError(f"`pconv {command}` is not built yet in this version")


@app.command()
def inpaint() -> None:
    """Fill the holes of images given masks (not built yet)."""
    _not_built("inpaint")


def _parse_size(size: str | None, extra: list[str]) -> tuple[int, int]:
    """--size 512 | W H | WxH -> (height, width)."""
    text = (size or "512").lower().replace("x", " ").replace(",", " ").split() + extra
    if not 1 <= len(text) <= 2 or not all(t.isdigit() for t in text):
        raise UsageError(f"--size expects 512, W H or WxH, got {' '.join(text)!r}")
    width, height = (int(text[0]), int(text[-1]))
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise UsageError(f"--size sides must be 16..16384 px, got {width}×{height}")
    return height, width


@app.command("make-masks")
def make_masks(
    paths: list[str] = typer.Argument(None, metavar="OUT_DIR", help="Folder to write the masks into."),
    style: str = typer.Option(
        "mixed", "--style", metavar="strokes|blobs|mixed", help="Generator; mixed draws one of the two per mask."
    ),
    bins: str = typer.Option(
        None, "--bins", metavar="paper", help="Equal numbers in the six hole-ratio bins of the paper's Table 1."
    ),
    ratio: tuple[float, float] = typer.Option(
        None, "--ratio", metavar="LOW HIGH", help="Hole-ratio range (LOW, HIGH]; without it and --bins: 0.01 0.6."
    ),
    border: str = typer.Option(
        "none",
        "--border",
        metavar="margin|none|both",
        help="margin: no hole within 50 px (at 512, scaled) of the border; both: half of each.",
    ),
    size: str = typer.Option(
        None, "--size", metavar="W [H]", help="Mask size: 512 (square), W H or WxH; 512 if not given."
    ),
    count: int = typer.Option(100, "--count", "-n", help="Number of masks (all bins and border modes together)."),
    seed: int = typer.Option(0, "--seed", help="Same seed and arguments: byte-identical files on any machine."),
    workers: int = typer.Option(0, "--workers", "-j", help="Processes; 0 = one per core."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty folder (same names replaced)."),
    preview: str = typer.Option(None, "--preview", metavar="FILE.png", help="Also write a contact sheet."),
    stats: str = typer.Option(None, "--stats", metavar="DIR", help="Print the hole-ratio histogram of a mask folder."),
) -> None:
    """Generate irregular hole masks (white = hole) in exact hole-ratio bins, with manifest.csv."""
    import os
    from pathlib import Path

    from rich.console import Console

    console = Console(stderr=True)
    paths = paths or []
    if stats is not None:
        if paths:
            raise UsageError("--stats DIR reads a folder; it takes no OUT_DIR")
        from .make_masks import folder_stats, format_stats

        result = folder_stats(Path(stats))
        print(format_stats(result))
        for path in result.unreadable:
            console.print(f"[yellow]skipped unreadable[/] {path}", highlight=False)
        return
    # `--size W H`: click hands H over as a positional, beside OUT_DIR.
    extra = []
    if size is not None and len(paths) == 2 and any(p.isdigit() for p in paths):
        extra = [next(p for p in paths if p.isdigit())]
        paths = [p for p in paths if p is not extra[0]]
    if len(paths) != 1:
        raise UsageError("expected one OUT_DIR (or --stats DIR)")
    out_dir = Path(paths[0])
    if style not in ("strokes", "blobs", "mixed"):
        raise UsageError(f"--style must be strokes, blobs or mixed, got {style!r}")
    if border not in ("margin", "none", "both"):
        raise UsageError(f"--border must be margin, none or both, got {border!r}")
    if bins is not None and bins != "paper":
        raise UsageError(f"--bins accepts only 'paper', got {bins!r}")
    if bins is not None and ratio is not None:
        raise UsageError("give --bins paper or --ratio LOW HIGH, not both")
    if ratio is not None:
        low, high = ratio
        if not (0.0 <= low <= 1.0 and 0.0 <= high <= 1.0):
            raise UsageError(f"--ratio values must lie in 0..1, got {low} {high}")
        if low >= high:
            raise UsageError(f"--ratio LOW must be below HIGH, got {low} {high}")
    if workers < 0:
        raise UsageError(f"--workers must be 0 (one per core) or more, got {workers}")
    if preview is not None and not preview.lower().endswith(".png"):
        raise UsageError(f"--preview writes a PNG; give a FILE.png, got {preview!r}")
    if preview is not None and not Path(preview).resolve().parent.is_dir():
        raise UsageError(f"--preview: folder {Path(preview).parent} does not exist")
    hw = _parse_size(size, extra)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from . import make_masks as core

    groups = core.plan(count, ratio, bins == "paper", border)
    core.check_feasible(groups, hw)
    core.prepare_out_dir(out_dir, overwrite)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(workers or cores or 1, count)
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    start = time.perf_counter()
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("masks", total=count)
        rows = core.make_masks(out_dir, hw, groups, style, seed, workers, lambda n: bar.advance(task, n))
    seconds = time.perf_counter() - start
    if preview is not None:
        core.contact_sheet(out_dir, rows, Path(preview))
    if count % len(groups):
        console.print(f"note: {count} masks do not split evenly over {len(groups)} groups; the first take one more")
    console.print(
        f"wrote {count} masks ({hw[1]}×{hw[0]}) and {core.MANIFEST} to {out_dir} in {seconds:.1f} s "
        f"({count / seconds:.0f} masks/s, {workers} workers)",
        highlight=False,
    )


@app.command()
def train() -> None:
    """Train a partial-convolution U-Net (not built yet)."""
    _not_built("train")


@app.command("eval")
def evaluate(
    images: Path = typer.Argument(..., help="Ground-truth image folder (searched recursively) or one image."),
    masks: Path = typer.Option(..., "--masks", "-m", help="Mask folder (white = hole); bins are measured."),
    weights: list[Path] = typer.Option(
        [], "--weights", "-w", help="Model weights (.safetensors) or training checkpoint; repeat for several."
    ),
    baselines: str = typer.Option(
        "telea,ns,biharmonic,patchmatch", "--baselines", "-b", help="Comma-separated baselines, or 'none'."
    ),
    pairs_per_bin: int = typer.Option(10, "--pairs-per-bin", "-k", help="Pairs per bin and border mode."),
    bins: str = typer.Option("paper", "--bins", help="'paper' (all six) or bin numbers, e.g. 1,3,6."),
    border: str = typer.Option("both", "--border", help="margin, none or both (the paper's B and N columns)."),
    size: int | None = typer.Option(
        None, "--size", help="Centre-crop and resize images to SIZE×SIZE (masks too); default: masks fit each image."
    ),
    out: Path = typer.Option(Path("pconv-eval"), "--out", "-o", help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the aggregate as JSON on stdout."),
    resume: bool = typer.Option(False, "--resume", help="Skip pairs and methods already in OUT/results.csv."),
    seed: int = typer.Option(0, "--seed", help="Seed of the image × mask pairing."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps (models only)."),
    precision: str = typer.Option("auto", "--precision", help="auto, fp32, bf16 or fp16 (models only)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Pairs loaded at once; models run them as one batch."),
    figure_pairs: int = typer.Option(2, "--figure-pairs", help="Pairs per bin in comparison.png (0: none)."),
    invert_mask: bool = typer.Option(False, "--invert-mask", help="Masks are black = hole."),
) -> None:
    """Compare models and classical baselines per hole-ratio bin (the paper's Table 1)."""
    if pairs_per_bin < 1 or batch_size < 1 or figure_pairs < 0:
        raise UsageError("--pairs-per-bin and --batch-size must be at least 1, --figure-pairs at least 0")
    if size is not None and size < 16:
        raise UsageError(f"--size must be at least 16, got {size}")
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise UsageError(f"--precision {precision!r}: expected auto, fp32, bf16 or fp16")
    from rich.console import Console

    from .evaluate import EvalOptions, parse_baselines, parse_bins, parse_borders, run_eval, write_reports

    opts = EvalOptions(
        images=images,
        masks=masks,
        out=out,
        weights=weights,
        baselines=parse_baselines(baselines),
        pairs_per_bin=pairs_per_bin,
        bins=parse_bins(bins),
        borders=parse_borders(border),
        size=size,
        resume=resume,
        seed=seed,
        device=device,
        precision=precision,
        batch_size=batch_size,
        figure_pairs=figure_pairs,
        invert_mask=invert_mask,
    )
    console = Console(stderr=True, soft_wrap=True)  # one message, one line (the table sets its own width)
    try:
        result = run_eval(opts, console)
    except KeyboardInterrupt:
        console.print(f"interrupted: finished results are in {out / 'results.csv'}; add --resume to continue")
        raise typer.Exit(130) from None
    summary = write_reports(result, opts, console)
    if as_json:
        import json

        from .eval_report import finite_or_none

        print(json.dumps(finite_or_none(summary)))
    if result.failures:
        console.print(f"[red]{len(result.failures)} failure(s):[/]")
        for line in result.failures:
            console.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except PconvError as exc:
        print(f"pconv: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
