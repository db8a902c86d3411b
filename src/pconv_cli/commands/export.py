"""`pconv export`: shippable weights (safetensors or ONNX) from checkpoints or weights."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from pconv_cli.choices import ExportFormat
from pconv_cli.errors import UsageError
from pconv_cli.files import check_new_file


def output_format(output: Path, fmt: ExportFormat | None) -> ExportFormat:
    """What to write: ``fmt``, else what ``output``'s suffix names (safetensors without one);
    UsageError when ``fmt`` contradicts the suffix.

    Example:
        >>> output_format(Path("m.onnx"), None).value
        'onnx'
    """
    by_suffix = ExportFormat.onnx if output.suffix.lower() == ".onnx" else ExportFormat.safetensors
    if fmt is not None and fmt != by_suffix and output.suffix:
        raise UsageError(f"--format {fmt.value} does not match the output {output.name}; name it *.{fmt.value}")
    return fmt or by_suffix


def command(sources: list[Path], output: Path, fmt: ExportFormat, half: bool, overwrite: bool) -> int:
    """Write ``sources`` (averaged when several) to ``output`` as ``fmt``; returns the exit code."""
    check_new_file(output, sources, overwrite)
    if fmt == ExportFormat.onnx:
        from pconv_cli.model.onnx_export import export_onnx

        path = export_onnx(sources, output, half=half)
    else:
        from pconv_cli.training.checkpoint import export as export_weights

        path = export_weights(sources, output, half=half)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cli(
    sources: list[Path] = typer.Argument(
        ...,
        metavar="WEIGHTS",
        help="A training checkpoint (last.pt, best.pt), weights file or registered name; several of one "
        "architecture are averaged into one model (a model soup).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write, e.g. weights/NAME.safetensors."),
    fmt: ExportFormat | None = typer.Option(
        None,
        "--format",
        help="safetensors (for the torch runtime) or onnx (for --runtime onnx: the bare network in standard "
        "ONNX operators, dynamic batch and size, config in its metadata). Default: from -o's suffix, "
        "else safetensors.",
    ),
    half: bool = typer.Option(False, "--half", help="Store float16 weights (half the size)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (never a source)."),
) -> None:
    """Write shippable weights (config in the metadata) from a checkpoint or weights.

    Example: pconv export runs/x/best.pt runs/y/best.pt -o soup.safetensors --half
    """
    raise typer.Exit(command(sources, output, output_format(output, fmt), half, overwrite))
