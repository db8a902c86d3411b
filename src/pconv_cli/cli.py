"""The `pconv` command line: parse, validate, call the core.

Nothing here imports torch at module level, so `pconv --help` stays instant;
each command imports its core module when it runs.
"""

from __future__ import annotations

import sys
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


@app.command("make-masks")
def make_masks() -> None:
    """Generate irregular hole masks for training and evaluation (not built yet)."""
    _not_built("make-masks")


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
