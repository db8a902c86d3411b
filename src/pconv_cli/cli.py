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
def train(
    data: list[Path] = typer.Argument(..., help="Image folder(s), searched recursively (JPEG/PNG/WebP)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<date-time>)."),
    arch: str = typer.Option("paper256", help="Network: paper256, paper512, small or tiny."),
    size: int | None = typer.Option(None, help="Crop side (default: the preset's, 256 or 512)."),
    masks: Path | None = typer.Option(None, help="Mask folder (white = hole), augmented (default: generated)."),
    val: Path | None = typer.Option(None, help="Validation image folder (needs --val-masks)."),
    val_masks: Path | None = typer.Option(None, help="Mask folder for validation (fixed, seeded pairs)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    gpus: int = typer.Option(1, help="Replicas: N > 1 runs N DDP processes; 0 = CPU. Under torchrun, joins it."),
    steps: int = typer.Option(100_000, help="Total optimiser steps (a resumed run continues up to this)."),
    batch_size: int = typer.Option(6, help="Images per replica per micro-batch."),
    grad_accum: int = typer.Option(1, help="Micro-batches per optimiser step."),
    lr: float | None = typer.Option(None, help="Adam learning rate (default: 2e-4, or 5e-5 with --finetune)."),
    seed: int = typer.Option(0, help="Seed of weights, data order, crops and masks."),
    precision: str = typer.Option("fp32", help="fp32, bf16, or fp16 (GPU, with gradient scaling)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the network."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Synchronise BatchNorm across replicas."),
    finetune: Path | None = typer.Option(None, help="Fine-tune these weights: encoder BN frozen, lr 5e-5."),
    resume: Path | None = typer.Option(None, help="Continue from a checkpoint (last.pt) in its run folder."),
    workers: int = typer.Option(4, help="DataLoader worker processes per replica."),
    log_every: int = typer.Option(10, help="Steps between metrics lines."),
    val_every: int = typer.Option(1000, help="Steps between validations (best.pt)."),
    sample_every: int = typer.Option(1000, help="Steps between sample grids."),
    save_every: int = typer.Option(500, help="Steps between last.pt saves."),
    max_nonfinite: int = typer.Option(20, help="Stop after this many non-finite losses in a row."),
) -> None:
    """Train a partial-convolution U-Net as in the paper (checkpoints, samples, loss curve)."""
    from .train import TrainOptions
    from .train import train as run_training

    options = TrainOptions(
        data=[str(d) for d in data],
        out=str(out) if out else None,
        arch=arch,
        size=size,
        masks=str(masks) if masks else None,
        val=str(val) if val else None,
        val_masks=str(val_masks) if val_masks else None,
        device=device,
        gpus=gpus,
        steps=steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        seed=seed,
        precision=precision,
        compile=compile,
        sync_bn=sync_bn,
        finetune=str(finetune) if finetune else None,
        resume=str(resume) if resume else None,
        workers=workers,
        log_every=log_every,
        val_every=val_every,
        sample_every=sample_every,
        save_every=save_every,
        max_nonfinite=max_nonfinite,
    )
    summary = run_training(options)
    if summary["interrupted"]:
        raise typer.Exit(130)


@app.command()
def export(
    checkpoint: Path = typer.Argument(..., help="A training checkpoint (last.pt, best.pt) or weights file."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write, e.g. weights/NAME.safetensors."),
    half: bool = typer.Option(False, "--half", help="Store float16 weights (half the size)."),
) -> None:
    """Write shippable safetensors weights (config in the metadata) from a checkpoint."""
    from .train import export as export_weights

    path = export_weights(checkpoint, output, half=half)
    print(f"wrote {path}", file=sys.stderr)


@app.command("eval")
def evaluate() -> None:
    """Compare models and classical baselines per hole-ratio bin (not built yet)."""
    _not_built("eval")


def main() -> None:
    try:
        app()
    except PconvError as exc:
        print(f"pconv: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
