"""The `pconv` command line: parse, validate, call the core.

Nothing here imports torch at module level, so `pconv --help` stays instant;
each command imports its core module when it runs.
"""

from __future__ import annotations

import sys

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
def evaluate() -> None:
    """Compare models and classical baselines per hole-ratio bin (not built yet)."""
    _not_built("eval")


def main() -> None:
    try:
        app()
    except PconvError as exc:
        print(f"pconv: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
