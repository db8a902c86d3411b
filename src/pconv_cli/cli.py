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
def inpaint(
    inputs: list[str] = typer.Argument(..., help="Image files, folders (recursive), globs, or - for stdin."),
    mask: Path | None = typer.Option(
        None, "--mask", "-m", help="Mask file for every image, or a folder of masks matched by relative path and stem."
    ),
    mask_color: str | None = typer.Option(
        None, "--mask-color", help="Holes are the image's pixels of this colour, RRGGBB (e.g. 00ff00)."
    ),
    color_tolerance: int = typer.Option(
        0, "--color-tolerance", min=0, max=255, help="Per-channel distance still counted as the --mask-color."
    ),
    invert_mask: bool = typer.Option(False, "--invert-mask", help="Black is hole instead of white."),
    threshold: int = typer.Option(127, "--threshold", min=0, max=254, help="Mask grey levels above this are hole."),
    dilate: int = typer.Option(0, "--dilate", min=0, help="Grow holes by this many pixels."),
    resize_mask: bool = typer.Option(False, "--resize-mask", help="Scale a mask of another size to its image."),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Output file, folder, or - for PNG on stdout (default: <stem>_inpainted.<ext> beside the input).",
    ),
    fmt: str | None = typer.Option(None, "--format", help="Output format: png, jpg, webp, tif or bmp."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Leave existing outputs alone (resume a run)."),
    strategy: str = typer.Option("auto", "--strategy", help="auto, full, crop or tile (see the README)."),
    weights_file: Path | None = typer.Option(
        None, "--weights", "-w", help="A pconv safetensors file or training checkpoint (default: the shipped model)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: str = typer.Option("auto", "--precision", help="auto, fp32, bf16 or fp16 (auto: bf16 on CUDA)."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help="Images or tiles per forward pass (default: 8 on GPU, 4 on CPU)."
    ),
    max_pixels: int = typer.Option(
        100_000_000, "--max-pixels", min=1, help="Refuse images with more pixels (decompression bombs)."
    ),
    json_lines: bool = typer.Option(False, "--json", help="One JSON line per image on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr, only errors."),
) -> None:
    """Fill the holes of images given masks (white = hole), writing only hole pixels."""
    from rich.console import Console

    from .images import FORMATS, parse_color
    from .inference import PRECISIONS

    if mask is not None and mask_color is not None:
        raise UsageError("--mask and --mask-color are two ways to give holes; pass one")
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other; pass one")
    if strategy not in ("auto", "full", "crop", "tile"):
        raise UsageError(f"--strategy {strategy!r}: expected auto, full, crop or tile")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if fmt is not None and fmt.lower().lstrip(".") not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected png, jpg, webp, tif or bmp")
    if output == "-" and json_lines:
        raise UsageError("-o - and --json both write to stdout; pass one")
    if mask is not None and not mask.exists():
        raise UsageError(f"--mask {mask}: no such file or folder")
    try:
        color = parse_color(mask_color) if mask_color is not None else None
    except ValueError as exc:
        raise UsageError(f"--mask-color: {exc}") from None

    from . import inpaint as core
    from .devices import describe, pick_device
    from .strategies import Runner
    from .weights import default_model_path, load_model

    path = weights_file if weights_file is not None else default_model_path()
    torch_device = pick_device(device)
    model = load_model(path).to(torch_device)
    if batch_size is None:
        batch_size = 4 if torch_device.type == "cpu" else 8
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    options = core.Options(
        mask=mask,
        mask_color=color,
        color_tolerance=color_tolerance,
        invert_mask=invert_mask,
        threshold=threshold,
        dilate=dilate,
        resize_mask=resize_mask,
        output=output,
        format=FORMATS[fmt.lower().lstrip(".")] if fmt else None,
        overwrite=overwrite,
        skip_existing=skip_existing,
        strategy=strategy,
        max_pixels=max_pixels,
    )
    runner = Runner(model, precision, batch_size)
    if not quiet:
        cfg = model.config
        console.print(
            f"pconv: device {describe(torch_device)}, precision {precision}, batch {batch_size}; "
            f"model {path.name} ({cfg.levels} levels × {cfg.width}, scale {cfg.image_size})",
            markup=False,
            highlight=False,
        )
    try:
        if quiet:
            code = core.run(inputs, options, runner, json_lines, console, None)
        else:
            with _progress(console) as progress:
                code = core.run(inputs, options, runner, json_lines, console, progress)
    except KeyboardInterrupt:
        # Outputs are renamed into place only when complete, so nothing half-written remains.
        print("pconv: interrupted; finished outputs are kept, no partial file was left", file=sys.stderr)
        code = 130
    raise typer.Exit(code)


def _progress(console):
    """A rich progress bar with count, rate and ETA, drawn only when stderr is a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:.2f} img/s" if task.speed else "… img/s")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


weights_app = typer.Typer(help="Inspect the registered weights.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
def weights_list() -> None:
    """List registered weights: name, kind, whether present and verified, default marker, description."""
    from . import weights

    for name, entry in sorted(weights.REGISTRY.items()):
        path = weights.weights_dir() / entry.file
        if not path.is_file():
            state = "missing"
        else:
            state = "ok" if weights.sha256_file(path) == entry.sha256 else "corrupt"
        default = "default" if name == weights.DEFAULT_MODEL else "-"
        print(f"{name}\t{entry.kind}\t{state}\t{default}\t{entry.file}\t{entry.description}")
    if weights.DEFAULT_MODEL is None:
        print("no default inpainting model ships yet; pass --weights FILE to pconv inpaint", file=sys.stderr)


@app.command("make-masks")
def make_masks() -> None:
    """Generate irregular hole masks for training and evaluation (not built yet)."""
    _not_built("make-masks")


@app.command()
def train() -> None:
    """Train a partial-convolution U-Net (not built yet)."""
    _not_built("train")


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
