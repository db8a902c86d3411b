"""The `pconv` command line: parse, validate, call the core.

Nothing here imports torch at module level, so `pconv --help` stays instant;
each command imports its core module when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from pconv_cli import __version__
from pconv_cli.choices import Arch, Border, ExportFormat, MaskStyle, Precision, Runtime, Strategy
from pconv_cli.errors import PconvError, UsageError

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


@app.command()
def inpaint(
    inputs: list[str] = typer.Argument(
        ..., metavar="IMAGE", help="Image files, folders (recursive), globs, or - for stdin."
    ),
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
    strategy: Strategy = typer.Option(
        Strategy.auto,
        "--strategy",
        help="How an image meets the network's working scale S (256 for the shipped model). full: the whole "
        "image at once. tile: 2S×2S tiles at native resolution overlapping by S/2 (sharp; every hole pixel "
        "needs the photo within a tile). crop: per group of nearby holes (closer than S/8) a window twice "
        "the group's size, shrunk to at most 2S, and further until no hole pixel lies over S/4 from the "
        "photo (context for large holes; the fill is enlarged back, so softer). refine: per group; groups "
        "within S/8 of the photo everywhere are filled at native resolution, deeper ones first as by crop, "
        "then their band within S/8 of the photo again at native resolution. auto: full up to (2S)² pixels, "
        "else refine. --json records each group's box and fill.",
    ),
    weights_file: Path | None = typer.Option(
        None,
        "--weights",
        "-w",
        help="A registered name (pconv weights list), pconv safetensors file or training checkpoint; "
        "with --runtime onnx a registered name or .onnx model (default: the shipped model).",
    ),
    runtime: Runtime = typer.Option(
        Runtime.auto,
        "--runtime",
        help="What runs the network: torch, or onnx (ONNX Runtime, fp32; needs no torch). auto: onnx for a "
        "registered model or .onnx file in fp32 on a CPU (the same fill, a fraction of the start-up), torch "
        "otherwise; whichever is installed if only one is.",
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: Precision = typer.Option(Precision.auto, "--precision", help="auto: bf16 on CUDA, fp32 elsewhere."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help="Images or tiles per forward pass (default: 8 on GPU, 1 on CPU)."
    ),
    max_pixels: int = typer.Option(
        100_000_000, "--max-pixels", min=1, help="Refuse images with more pixels (decompression bombs)."
    ),
    blend: bool = typer.Option(
        True,
        "--blend/--no-blend",
        help="Set the fill into the photo seamlessly (Poisson blend: no dark outline, step or colour offset); "
        "--no-blend keeps the network's raw fill.",
    ),
    json_lines: bool = typer.Option(False, "--json", help="One JSON line per image on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr, only errors."),
) -> None:
    """Fill the holes of images given masks (white = hole), writing only hole pixels.

    Example: pconv inpaint photos/ --mask masks/ -o done/ --skip-existing
    """
    from pconv_cli.commands import inpaint as core

    options = core.Options.from_flags(
        mask_color, fmt, inputs=inputs, mask=mask, color_tolerance=color_tolerance, invert_mask=invert_mask,
        threshold=threshold, dilate=dilate, resize_mask=resize_mask, output=output, overwrite=overwrite,
        skip_existing=skip_existing, strategy=strategy.value, max_pixels=max_pixels, weights=weights_file,
        runtime=runtime.value, device=device, precision=precision.value, batch_size=batch_size, blend=blend,
        json_lines=json_lines, quiet=quiet,
    )  # fmt: skip
    raise typer.Exit(core.command(options))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8080, "--port", "-p", help="Port (0: any free one, printed)."),
    queue: int = typer.Option(8, "--queue", help="Requests waiting or running at most; more are answered 503."),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="Largest request body (413 beyond)."),
    max_pixels: int = typer.Option(
        100_000_000, "--max-pixels", min=1, help="Refuse images with more pixels (decompression bombs)."
    ),
    weights_file: Path | None = typer.Option(
        None, "--weights", "-w", help="A registered name, weights file, checkpoint or .onnx model (as inpaint)."
    ),
    runtime: Runtime = typer.Option(Runtime.auto, "--runtime", help="torch or onnx; auto as for inpaint."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: Precision = typer.Option(Precision.auto, "--precision", help="auto: bf16 on CUDA, fp32 elsewhere."),
) -> None:
    """Serve a page to paint masks and inpaint in the browser, and an HTTP API (needs pconv-cli\\[serve]).

    POST /api/inpaint: multipart image and mask (white = hole) in, the filled image out. GET /api/health: the model.

    Example: pconv serve --port 8080
    """
    options_flags = dict(
        host=host, port=port, queue=queue, max_upload_mb=max_upload_mb, max_pixels=max_pixels,
        weights=weights_file, runtime=runtime.value, device=device, precision=precision.value,
    )  # fmt: skip
    from pconv_cli.serve import app as core  # FastAPI is the serve extra: a missing one is one line (main)

    raise typer.Exit(core.command(core.Options.from_flags(**options_flags)))


weights_app = typer.Typer(help="Inspect the registered weights.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
def weights_list() -> None:
    """List registered weights, one tab-separated line each.

    Fields: name, kind, state (ok/missing/corrupt), default, files (ONNX after a comma), scale, licence, description.

    Example: pconv weights list | cut -f1,3
    """
    from pconv_cli.model import weights

    def state(file: str, sha256: str) -> str:
        path = weights.weights_dir() / file
        if not path.is_file():
            return "missing"
        return "ok" if weights.sha256_file(path) == sha256 else "corrupt"

    for name, entry in sorted(weights.REGISTRY.items()):
        states, files = [state(entry.file, entry.sha256)], [entry.file]
        if entry.onnx_file and entry.onnx_sha256:
            states.append(state(entry.onnx_file, entry.onnx_sha256))
            files.append(entry.onnx_file)
        worst = next((s for s in ("corrupt", "missing") if s in states), "ok")
        default = "default" if name == weights.DEFAULT_MODEL else "-"
        scale = str(entry.scale) if entry.scale else "-"
        print("\t".join([name, entry.kind, worst, default, ",".join(files), scale, entry.licence, entry.description]))


@app.command("make-masks")
def make_masks(
    paths: list[str] = typer.Argument(None, metavar="OUT_DIR", help="Folder to write the masks into."),
    style: MaskStyle = typer.Option(
        MaskStyle.mixed,
        "--style",
        help="Generator: brush strokes, occlusion blobs, 1-6 px scratches, words in a real font (watermarks, "
        "captions); mixed draws one of them per mask.",
    ),
    bins: str = typer.Option(
        None, "--bins", metavar="paper", help="Equal numbers in the six hole-ratio bins of the paper's Table 1."
    ),
    ratio: tuple[float, float] = typer.Option(
        None, "--ratio", metavar="LOW HIGH", help="Hole-ratio range (LOW, HIGH]; without it and --bins: 0.01 0.6."
    ),
    border: Border = typer.Option(
        Border.none, "--border", help="margin: no hole within 50 px (at 512, scaled) of the border; both: half of each."
    ),
    size: str = typer.Option(
        None, "--size", metavar="W [H]", help="Mask size: 512 (square), W H or WxH; 512 if not given."
    ),
    count: int = typer.Option(100, "--count", "-n", help="Number of masks (all bins and border modes together)."),
    seed: int = typer.Option(0, "--seed", help="Same seed and arguments: byte-identical files on any machine."),
    workers: int = typer.Option(0, "--workers", "-j", help="Processes; 0 = one per core."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Write into a non-empty folder, replacing the masks its manifest lists."
    ),
    preview: Path = typer.Option(None, "--preview", metavar="FILE.png", help="Also write a contact sheet."),
    stats: Path = typer.Option(None, "--stats", metavar="DIR", help="Print the hole-ratio histogram of a mask folder."),
) -> None:
    """Generate irregular hole masks (white = hole) in exact hole-ratio bins, with manifest.csv.

    Example: pconv make-masks masks/ --bins paper --count 600 --preview masks.png
    """
    from rich.console import Console

    from pconv_cli.commands import make_masks as core

    flags = dict(style=style.value, ratio=ratio, border=border.value, count=count, seed=seed, workers=workers)
    options = core.Options.from_flags(
        paths or [], size, bins, overwrite=overwrite, preview=preview, stats=stats, **flags
    )
    raise typer.Exit(core.command(options, Console(stderr=True, soft_wrap=True)))


@app.command()
def train(
    ctx: typer.Context,
    data: list[Path] = typer.Argument(
        ...,
        metavar="FOLDER",
        help="Image folder(s), searched recursively (JPEG/PNG/WebP); one named N times is sampled N times as often.",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<date-time>)."),
    arch: Arch = typer.Option(Arch.paper256, help="Network preset (the paper's 512 or 256 network, or smaller)."),
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
    precision: Precision = typer.Option(
        Precision.auto,
        help="fp16 is GPU only, with gradient scaling. auto: bf16 on CUDA, and on a CPU only where a short "
        "probe finds it faster than fp32.",
    ),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the network."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Synchronise BatchNorm across replicas."),
    finetune: Path | None = typer.Option(
        None, help="Fine-tune these weights (a file or registered name): encoder BN frozen, lr 5e-5."
    ),
    init: Path | None = typer.Option(
        None, help="Start from these weights (a file or registered name), every layer learning, lr 2e-4."
    ),
    resume: Path | None = typer.Option(None, help="Continue a run from its checkpoint (last.pt, or the run folder)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Train into a run folder that holds another run, replacing it (its best.pt too)."
    ),
    workers: int = typer.Option(4, help="DataLoader worker processes per replica."),
    log_every: int = typer.Option(10, help="Steps between metrics lines."),
    val_every: int = typer.Option(1000, help="Steps between validations (best.pt)."),
    sample_every: int = typer.Option(1000, help="Steps between sample grids."),
    save_every: int = typer.Option(500, help="Steps between last.pt saves."),
    max_nonfinite: int = typer.Option(20, help="Stop after this many non-finite losses in a row."),
    loss_weights: str = typer.Option(
        "",
        help="Replace some of the paper's loss weights (valid=1,hole=6,perceptual=0.05,style=120,tv=0.1), "
        "e.g. 'perceptual=0,style=0' (no VGG pass).",
    ),
) -> None:
    """Train a partial-convolution U-Net as in the paper (checkpoints, samples, loss curve).

    Example: pconv train photos/ --arch paper256 --val val/ --val-masks masks/ -o runs/a
    """
    flags = dict(locals())  # first: exactly the flags, named as TrainOptions' fields
    del flags["ctx"]
    from pconv_cli.training.setup import TrainOptions
    from pconv_cli.training.setup import train as run_training

    # Which flags were typed (or set in the environment): a resumed run takes the others from its own
    # options. By name: typer ships its own click, whose ParameterSource is not click's.
    given = [name for name in flags if ctx.get_parameter_source(name).name not in ("DEFAULT", "DEFAULT_MAP")]
    options = TrainOptions.from_flags(given, **flags)
    summary = run_training(options)
    if summary["interrupted"]:
        raise typer.Exit(130)


@app.command()
def export(
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
    suffix_format = ExportFormat.onnx if output.suffix.lower() == ".onnx" else ExportFormat.safetensors
    if fmt is not None and fmt != suffix_format and output.suffix:
        raise UsageError(f"--format {fmt.value} does not match the output {output.name}; name it *.{fmt.value}")
    from pconv_cli.files import check_new_file

    check_new_file(output, sources, overwrite)
    if (fmt or suffix_format) == ExportFormat.onnx:
        from pconv_cli.model.onnx_export import export_onnx

        path = export_onnx(sources, output, half=half)
    else:
        from pconv_cli.training.checkpoint import export as export_weights

        path = export_weights(sources, output, half=half)
    print(f"wrote {path}", file=sys.stderr)


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
