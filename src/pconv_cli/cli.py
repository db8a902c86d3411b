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
from .choices import ExportFormat, Precision, Runtime, Strategy
from .console import progress_bar
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
    strategy: Strategy = typer.Option(
        Strategy.auto,
        "--strategy",
        help="How an image meets the network's working scale S (256 for the shipped model). full: the whole "
        "image at once. tile: 2S×2S tiles at native resolution overlapping by S/2 (sharp; every hole pixel "
        "needs the photo within a tile). crop: per group of nearby holes (closer than S/8) a window twice "
        "the group's size, shrunk to at most S (context for large holes; the fill is enlarged back, so "
        "softer). refine: per group; groups within S/8 of the photo everywhere are filled at native "
        "resolution, deeper ones first as by crop, then their band within S/8 of the photo again at native "
        "resolution. auto: full up to (2S)² pixels, else refine. --json records each group's box and fill.",
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
        help="What runs the network: torch, or onnx (ONNX Runtime, CPU fp32; needs no torch). "
        "auto: torch where installed, else onnx.",
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
    """Fill the holes of images given masks (white = hole), writing only hole pixels."""
    from rich.console import Console

    from .images import FORMATS, parse_color

    if mask is not None and mask_color is not None:
        raise UsageError("--mask and --mask-color are two ways to give holes; pass one")
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other; pass one")
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
    from .runner import Runner, pick_runtime
    from .weights import DEFAULT_MODEL

    chosen = pick_runtime(runtime.value)
    runner = Runner.open(weights_file, device, precision.value, batch_size, blend, chosen)
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
        strategy=strategy.value,
        max_pixels=max_pixels,
    )
    if not quiet:
        cfg = runner.backend.config
        name = weights_file.name if weights_file is not None else DEFAULT_MODEL
        console.print(
            f"pconv: {chosen} on {runner.backend.device}, precision {precision.value}, batch {runner.batch_size}; "
            f"model {name} ({cfg['levels']} levels × {cfg['width']}, scale {cfg['image_size']})",
            markup=False,
            highlight=False,
        )
    try:
        if quiet:
            code = core.run(inputs, options, runner, json_lines, console, None)
        else:
            with progress_bar(console, rate="img/s") as progress:
                code = core.run(inputs, options, runner, json_lines, console, progress)
    except KeyboardInterrupt:
        # Outputs are renamed into place only when complete, so nothing half-written remains.
        print("pconv: interrupted; finished outputs are kept, no partial file was left", file=sys.stderr)
        code = 130
    raise typer.Exit(code)


weights_app = typer.Typer(help="Inspect the registered weights.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
def weights_list() -> None:
    """List registered weights, one tab-separated line each: name, kind, state (ok, missing or
    corrupt), default marker, files (the ONNX form after a comma), working scale, licence, description."""
    from . import weights

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
        "mixed",
        "--style",
        metavar="strokes|blobs|scratches|text|mixed",
        help="Generator: brush strokes, occlusion blobs, 1-6 px scratches, words in a real font (watermarks, "
        "captions); mixed draws one of them per mask.",
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
    from .maskgen import STYLES

    if style not in STYLES:
        raise UsageError(f"--style must be one of {', '.join(STYLES)}, got {style!r}")
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

    from . import make_masks as core

    groups = core.plan(count, ratio, bins == "paper", border)
    core.check_feasible(groups, hw)
    core.prepare_out_dir(out_dir, overwrite)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(workers or cores or 1, count)
    start = time.perf_counter()
    try:
        with progress_bar(console, transient=True) as bar:
            task = bar.add_task("masks", total=count)
            rows = core.make_masks(out_dir, hw, groups, style, seed, workers, lambda n: bar.advance(task, n))
    except core.Interrupted as stop:
        print(
            f"pconv: interrupted; {stop.done} of {stop.total} masks written and listed in {core.MANIFEST}",
            file=sys.stderr,
        )
        raise typer.Exit(130) from None
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
    resume: Path | None = typer.Option(None, help="Continue from a checkpoint (last.pt) in its run folder."),
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
        precision=precision.value,
        compile=compile,
        sync_bn=sync_bn,
        finetune=str(finetune) if finetune else None,
        init=str(init) if init else None,
        resume=str(resume) if resume else None,
        workers=workers,
        log_every=log_every,
        val_every=val_every,
        sample_every=sample_every,
        save_every=save_every,
        max_nonfinite=max_nonfinite,
        loss_weights=loss_weights,
    )
    summary = run_training(options)
    if summary["interrupted"]:
        raise typer.Exit(130)


@app.command()
def export(
    checkpoint: Path = typer.Argument(
        ..., help="A training checkpoint (last.pt, best.pt), weights file or registered name."
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
) -> None:
    """Write shippable weights (config in the metadata) from a checkpoint or weights.

    Example: pconv export runs/x/best.pt -o model.onnx --half
    """
    suffix_format = ExportFormat.onnx if output.suffix.lower() == ".onnx" else ExportFormat.safetensors
    if fmt is not None and fmt != suffix_format and output.suffix:
        raise UsageError(f"--format {fmt.value} does not match the output {output.name}; name it *.{fmt.value}")
    if (fmt or suffix_format) == ExportFormat.onnx:
        from .onnx_model import export_onnx

        path = export_onnx(checkpoint, output, half=half)
    else:
        from .checkpoint import export as export_weights

        path = export_weights(checkpoint, output, half=half)
    print(f"wrote {path}", file=sys.stderr)


@app.command("eval")
def evaluate(
    images: Path = typer.Argument(..., help="Ground-truth image folder (searched recursively) or one image."),
    masks: Path = typer.Option(..., "--masks", "-m", help="Mask folder (white = hole); bins are measured."),
    weights: list[Path] = typer.Option(
        [],
        "--weights",
        "-w",
        help="A registered name, model weights (.safetensors) or training checkpoint; repeat for several.",
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
    """Compare models and classical baselines per hole-ratio bin (the paper's Table 1)."""
    if pairs_per_bin < 1 or batch_size < 1 or figure_pairs < 0:
        raise UsageError("--pairs-per-bin and --batch-size must be at least 1, --figure-pairs at least 0")
    if size is not None and not 16 <= size <= 8192:
        raise UsageError(f"--size must be 16..8192, got {size}")
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
        precision=precision.value,
        batch_size=batch_size,
        figure_pairs=figure_pairs,
        invert_mask=invert_mask,
        blend=blend,
        strategy=strategy.value,
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


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (kill, timeout, a container stopping) ends like Ctrl-C: 130, no temp files


# The extra that installs each optional module.
EXTRA_OF = {
    **dict.fromkeys(("torch", "torchvision", "safetensors"), "torch"),
    "onnxruntime": "onnx",
    **dict.fromkeys(("onnx", "onnxscript"), "export"),
}


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)  # `pconv train` installs its own: it saves last.pt first
    try:
        # Not standalone: Typer's own usage errors come here and get the same one line as ours.
        code = app(standalone_mode=False)
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
