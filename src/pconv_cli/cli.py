"""The `pconv` command line: the app, each command registered from its module in `commands`, and
`main`, which turns every error into one line and an exit code.

Nothing here imports torch at module level, so `pconv --help` stays instant; each command imports
its core when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from pconv_cli import __version__
from pconv_cli.choices import Border, Precision, Strategy
from pconv_cli.commands import export, inpaint, make_masks, serve, train, weights
from pconv_cli.errors import PconvError

app = typer.Typer(
    name="pconv",
    help="Image inpainting with partial convolutions (Liu et al., ECCV 2018).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
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


# Registered in this order, which `pconv --help` lists (the weights group last, as Typer puts groups).
app.command("inpaint")(inpaint.cli)
app.command("serve")(serve.cli)
app.add_typer(weights.app, name="weights")
app.command("make-masks")(make_masks.cli)
app.command("train")(train.cli)
app.command("export")(export.cli)


@app.command("eval")
def evaluate(
    images: Path = typer.Argument(
        ..., metavar="IMAGES", help="Ground-truth image folder (searched recursively) or one image."
    ),
    masks: Path = typer.Option(..., "--masks", "-m", help="Mask folder (white = hole); bins are measured."),
    weights: list[Path] = typer.Option(
        [],
        "--weights",
        "-w",
        help="A registered name, model weights (.safetensors or .onnx) or training checkpoint; repeat for several"
        " (default: the shipped model).",
    ),
    baselines: str = typer.Option(
        "telea,ns,biharmonic,patchmatch", "--baselines", "-b", help="Comma-separated baselines, or 'none'."
    ),
    pairs_per_bin: int = typer.Option(10, "--pairs-per-bin", "-k", help="Pairs per bin and border mode."),
    bins: str = typer.Option("paper", "--bins", help="'paper' (all six) or bin numbers, e.g. 1,3,6."),
    border: Border = typer.Option(Border.both, "--border", help="The paper's B (margin) and N (none) columns."),
    size: int | None = typer.Option(
        None, "--size", help="Centre-crop and resize images to SIZE×SIZE (masks too); default: masks fit each image."
    ),
    out: Path = typer.Option(Path("pconv-eval"), "--out", "-o", help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the aggregate as JSON on stdout."),
    resume: bool = typer.Option(False, "--resume", help="Skip pairs and methods already in OUT/results.csv."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the results already in OUT/results.csv."),
    seed: int = typer.Option(0, "--seed", help="Seed of the image × mask pairing."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps (models only)."),
    precision: Precision = typer.Option(Precision.auto, "--precision", help="Models only; auto: bf16 on CUDA."),
    batch_size: int = typer.Option(8, "--batch-size", help="Pairs loaded at once; models run them as one batch."),
    figure_pairs: int = typer.Option(2, "--figure-pairs", help="Pairs per bin in comparison.png (0: none)."),
    invert_mask: bool = typer.Option(False, "--invert-mask", help="Masks are black = hole."),
    blend: bool = typer.Option(
        True,
        "--blend/--no-blend",
        help="Models set the fill into the photo seamlessly (Poisson blend: no dark outline, step or colour offset); "
        "--no-blend keeps the network's raw fill.",
    ),
    strategy: Strategy = typer.Option(
        Strategy.auto, "--strategy", help="How models meet large images, as in inpaint --strategy."
    ),
) -> None:
    """Compare models and classical baselines per hole-ratio bin (the paper's Table 1).

    Example: pconv eval photos/ --masks masks/ -w pconv-small256-v5 --baselines telea,ns
    """
    from rich.console import Console

    from pconv_cli.evaluation.run import EvalOptions, run_eval, write_reports

    opts = EvalOptions.from_flags(
        baselines, bins, border.value, images=images, masks=masks, out=out, weights=weights,
        pairs_per_bin=pairs_per_bin, size=size, resume=resume, overwrite=overwrite, seed=seed, device=device,
        precision=precision.value, batch_size=batch_size, figure_pairs=figure_pairs, invert_mask=invert_mask,
        blend=blend, strategy=strategy.value,
    )  # fmt: skip
    console = Console(stderr=True, soft_wrap=True)  # one message, one line (the table sets its own width)
    try:
        result = run_eval(opts, console)
    except KeyboardInterrupt:
        kept = f"finished results are in {out / 'results.csv'}; add --resume to continue"
        console.print(f"pconv: interrupted; {kept if (out / 'results.csv').exists() else 'no result was written'}")
        raise typer.Exit(130) from None
    summary = write_reports(result, opts, console)
    if as_json:
        import json

        from pconv_cli.evaluation.reports import finite_or_none

        print(json.dumps(finite_or_none(summary)))
    if result.failures:
        console.print(f"[red]{len(result.failures)} failure(s):[/]")
        for line in result.failures:
            console.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(1)


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (kill, timeout, a container stopping) ends like Ctrl-C: 130, no temp files


# The extra that installs each optional module.
EXTRA_OF = {
    **dict.fromkeys(("torch", "torchvision", "safetensors"), "torch"),
    "onnxruntime": "onnx",
    **dict.fromkeys(("onnx", "onnxscript"), "export"),
    **dict.fromkeys(("fastapi", "starlette", "uvicorn", "multipart", "python_multipart"), "serve"),
}


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)  # `pconv train` installs its own: it saves last.pt first
    try:
        # Not standalone: Typer's own usage errors come here and get the same one line as ours.
        code = app(standalone_mode=False, prog_name="pconv")  # also under python -m: usage and completion
    except PconvError as exc:
        print(f"pconv: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:  # an optional extra (pyproject.toml) is not installed
        extra = EXTRA_OF.get((exc.name or "").partition(".")[0])
        if extra is None:
            raise
        print(f"pconv: error: this needs {exc.name}, which is not installed (pip install 'pconv-cli[{extra}]')",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)
    except OSError as exc:  # the system refused something no command checks for: still one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pconv: error: {exc.strerror or exc}{where}", file=sys.stderr)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        print("pconv: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # a bad or missing option or argument
        message = exc.format_message()
        if message:  # empty: no arguments at all, and the help has been shown
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            print(f"pconv: error: {message}{hint}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
