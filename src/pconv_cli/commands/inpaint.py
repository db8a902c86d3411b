"""The `pconv inpaint` command: its flags, their contradictions, and the run's report.

Each input's output is planned (or refused, or skipped) by ``imaging.inputs``; ``runtime.batch``
decodes ahead of the model, pushes each image to the Inpainter's stream (which picks its strategy
and batches what it can) and writes each output atomically; here its records become JSON lines,
messages and the summary.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pconv_cli.choices import AUTO_DEVICE, Precision, Runtime, Strategy, Texture
from pconv_cli.errors import UsageError
from pconv_cli.files import release_stdout
from pconv_cli.imaging.defaults import (
    DEFAULT_JPEG_QUALITY,
    DEFAULT_MAX_PIXELS,
    DEFAULT_THRESHOLD,
    FORMAT_LIST,
    FORMATS,
    QUALITY_FORMATS,
    STDIO,
)

if TYPE_CHECKING:
    from pconv_cli.imaging.inputs import Job, Masking, Outputs
    from pconv_cli.runtime.inpainter import Inpainter

# `pconv --help` imports this module for its signature: NumPy, OpenCV and the runtime load only
# when the command runs (inside the functions below).


@dataclass
class Options:
    """Everything `pconv inpaint` was asked; ``from_flags`` parses the flags and ``check``
    refuses contradictions, naming the flags (UsageError)."""

    inputs: list[str] = field(default_factory=list)  # files, folders, globs, or STDIO
    mask: Path | None = None
    mask_color: tuple[int, int, int] | None = None
    color_tolerance: int = 0
    invert_mask: bool = False
    threshold: int = DEFAULT_THRESHOLD
    dilate: int = 0
    resize_mask: bool = False
    output: str | None = None
    format: str | None = None  # PIL format name
    quality: int | None = None  # JPEG and WebP outputs' (None: JPEG at DEFAULT_JPEG_QUALITY, WebP lossless)
    overwrite: bool = False
    skip_existing: bool = False
    shard: tuple[int, int] | None = None  # (K, N): this worker takes the K-th of N parts of the inputs
    strategy: Strategy = Strategy.auto
    texture: Texture = Texture.auto
    max_pixels: int = DEFAULT_MAX_PIXELS
    # the model session (runtime.inpainter.Inpainter)
    weights: Path | None = None  # None: the shipped default
    runtime: Runtime = Runtime.auto
    device: str = AUTO_DEVICE
    precision: Precision = Precision.auto
    batch_size: int | None = None
    blend: bool = True
    # reporting
    json_lines: bool = False
    quiet: bool = False

    @classmethod
    def from_flags(
        cls, mask_color: str | None = None, fmt: str | None = None, shard: str | None = None, **flags
    ) -> Options:
        """Options from the CLI's values: ``mask_color`` as RRGGBB text, ``fmt`` as a suffix name,
        ``shard`` as K/N."""
        from pconv_cli.imaging.images import parse_color

        found = re.fullmatch(r"([0-9]+)/([0-9]+)", shard) if shard is not None else None
        if shard is not None and (found is None or not 1 <= int(found[1]) <= int(found[2])):
            expected = "K/N, whole numbers with 1 <= K <= N (worker K of N, e.g. 1/4)"
            raise UsageError(f"--shard {shard!r}: expected {expected}")
        try:
            color = parse_color(mask_color) if mask_color is not None else None
        except ValueError as exc:
            raise UsageError(f"--mask-color: {exc}") from None
        if fmt is not None and fmt.lower().lstrip(".") not in FORMATS:
            raise UsageError(f"--format {fmt!r}: expected {FORMAT_LIST}")
        fmt = FORMATS[fmt.lower().lstrip(".")] if fmt else None
        options = cls(mask_color=color, format=fmt, shard=(int(found[1]), int(found[2])) if found else None, **flags)
        options.check()
        return options

    @property
    def masking(self) -> Masking:
        """Where each image's holes come from, and how they are read."""
        from pconv_cli.imaging.inputs import Masking

        return Masking(
            self.mask, self.mask_color, self.color_tolerance, self.invert_mask, self.threshold, self.resize_mask,
            self.dilate,
        )  # fmt: skip

    @property
    def outputs(self) -> Outputs:
        """Where the results go, in which format, and what becomes of existing ones."""
        from pconv_cli.imaging.inputs import Outputs

        return Outputs(self.output, self.format, self.overwrite, self.skip_existing)

    def check(self) -> None:
        if self.mask is not None and self.mask_color is not None:
            raise UsageError("--mask and --mask-color are two ways to give holes; pass one")
        if self.invert_mask and self.mask is None:
            given = "--mask-color" if self.mask_color is not None else "an alpha mask (no --mask)"
            raise UsageError(f"--invert-mask flips the holes of a --mask file; with {given} it would do nothing")
        if self.overwrite and self.skip_existing:
            raise UsageError("--overwrite and --skip-existing contradict each other; pass one")
        # An empty name (an unset shell variable) is a path to the current folder: it would inpaint it all.
        if "" in self.inputs:
            raise UsageError("an input is an empty name; give a file, folder, glob or - (stdin)")
        if self.output == "":
            raise UsageError("-o is an empty name; give a file, folder or - (stdout)")
        if self.inputs.count(STDIO) > 1:
            raise UsageError("- (stdin) is given more than once; it holds one image")
        if self.shard is not None and STDIO in self.inputs:
            raise UsageError("--shard splits files among workers; - (stdin) is one image, for one")
        # stdin's image goes to stdout unless -o names a file or folder: JSON lines would join it there.
        writes_stdout = self.output == STDIO or (self.output is None and STDIO in self.inputs)
        given = "-o -" if self.output == STDIO else "- (stdin) without -o"
        if self.json_lines and writes_stdout:
            raise UsageError(f"{given} writes the image to stdout, where --json writes too; pass -o FILE or no --json")
        # As curl does: image bytes in a terminal are garbage on screen, and the result is lost.
        if writes_stdout and sys.stdout is not None and sys.stdout.isatty():
            raise UsageError(
                f"{given} writes PNG bytes to stdout, which is a terminal; pipe it on (| …, > FILE) or pass -o FILE"
            )
        # -o x.png --format jpg would write JPEG bytes under a .png name.
        named = FORMATS.get(Path(self.output or "").suffix.lower().lstrip("."))
        if self.format and named and named != self.format and not self.outputs.names_folder:
            raise UsageError(f"--format {self.format} does not match -o {self.output} ({named}); drop one of them")
        self._check_quality(named)
        if self.mask is not None and not self.mask.exists():
            why = "stdin holds only the image (-); give the mask as a file" if str(self.mask) == STDIO else None
            raise UsageError(f"--mask {self.mask}: {why or 'no such file or folder'}")

    def _check_quality(self, named: str | None) -> None:
        """Refuse --quality where every output's format is known and lossless (-o FILE, --format, stdout's
        PNG); outputs named after their inputs take it where they are JPEG or WebP."""
        if self.quality is None:
            return
        if not 1 <= self.quality <= 100:
            raise UsageError(f"--quality {self.quality}: expected 1 to 100")
        to_stdout = self.output == STDIO or (self.output is None and self.inputs == [STDIO])
        known = self.format or ("PNG" if to_stdout else None if self.outputs.names_folder else named)
        if known is not None and known not in QUALITY_FORMATS:
            where = "--format " + self.format.lower() if self.format else f"-o {self.output or STDIO}"
            raise UsageError(
                f"--quality sets the compression of JPEG and WebP outputs; {where} writes {known}, which is "
                "lossless (pass --format jpg or webp, or drop --quality)"
            )


def command(options: Options) -> int:
    """Run `pconv inpaint`: open the model session, process every input, report on stderr;
    returns the exit code (0, 1 when an input failed, 130 when interrupted)."""
    from rich.console import Console

    from pconv_cli.console import progress_bar
    from pconv_cli.imaging.images import own_pixel_limit
    from pconv_cli.model.weights import DEFAULT_MODEL
    from pconv_cli.runtime.inpainter import Inpainter

    own_pixel_limit()
    inpainter = Inpainter(
        options.weights, options.device, options.precision,
        runtime=options.runtime, batch_size=options.batch_size, blend=options.blend,
    )  # fmt: skip
    runner = inpainter.runner
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    cfg, name = runner.backend.config, options.weights.name if options.weights else DEFAULT_MODEL
    banner = (
        f"pconv: {runner.backend.runtime} on {runner.backend.device}, precision {runner.backend.precision_used}, "
        f"batch {runner.batch_size}; model {name} ({cfg['levels']} levels × {cfg['width']}, scale {cfg['image_size']})"
    )
    try:
        if options.quiet:
            return run(options, inpainter, console, None)
        with progress_bar(console, rate="img/s", transient=True) as progress:  # the summary line stays last
            return run(options, inpainter, console, progress, banner)
    except KeyboardInterrupt:
        # Outputs are renamed into place only when complete, so nothing half-written remains.
        console.print("pconv: interrupted; finished outputs are kept, no partial file was left", markup=False)
        return 130


def run(options: Options, inpainter: Inpainter, console, progress, banner: str | None = None) -> int:
    """Process every input; JSON lines on stdout, failures and a summary on ``console`` (stderr).

    ``progress``: a rich Progress (disabled when quiet) or None for no messages but failures;
    ``banner``: said once the outputs are planned, so a usage error stays one line.
    Returns the exit code: 0 when nothing failed, else 1.
    """
    from pconv_cli.runtime.batch import Driver

    began = time.perf_counter()
    jobs, total = planned(options)
    if banner is not None:
        console.print(banner, markup=False)
        if options.quality is not None and jobs and not any(job.format in QUALITY_FORMATS for job in jobs):
            # Outputs named after their inputs: their formats are known only now; a part of a mixed folder may differ.
            console.print("pconv: --quality is ignored: every output here is PNG, TIFF or BMP (lossless)", markup=False)
    counts = {"ok": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    failed = []
    task = progress.add_task("inpainting", total=len(jobs)) if progress is not None else None
    try:
        driver = Driver(
            inpainter, options.masking, options.strategy, options.max_pixels, options.quality, began, options.texture
        )
        for record in driver.process(jobs):
            counts[record["status"]] += 1
            if options.json_lines:
                _print_record(record)
            if record["status"] == "failed":
                failed.append(record["input"])
                error = record["error"]
                where = "" if record["input"] in error else f"{record['input']}: "
                console.print(f"pconv: error: {where}{error}", markup=False, highlight=False, soft_wrap=True)
            elif record["status"] == "unchanged" and progress is not None:
                console.print(f"pconv: {record['input']} has no hole; copied unchanged", markup=False, highlight=False)
            if task is not None:
                progress.advance(task)
    except BrokenPipeError:
        # The reader of `-o -` took what it wanted (`| head -c 10`): as `cat` ends, quietly. Exit 0,
        # not 141, so that under `set -o pipefail` the pipeline's status is the reader's.
        release_stdout()
        return 0
    if progress is not None:
        said = f"{counts['ok']} inpainted, {counts['unchanged']} unchanged, {counts['skipped']} skipped"
        said += f", {counts['failed']} failed in {time.perf_counter() - began:.1f} s"
        if options.shard:
            said = f"shard {options.shard[0]}/{options.shard[1]}, {len(jobs)} of {total} inputs: {said}"
        console.print(f"pconv: {said}" + (": " + ", ".join(failed) if failed else ""), markup=False, soft_wrap=True)
    return 1 if failed else 0


def planned(options: Options) -> tuple[list[Job], int]:
    """The jobs of the inputs ``options`` name (of its --shard only), each output planned or refused
    (``inputs.plan_jobs``), and the count of inputs of all shards."""
    from pconv_cli.imaging import images, inputs

    sources = inputs.discover(options.inputs, options.output, options.mask)
    if not sources:
        raise UsageError("no input images found" + images.other_files(options.inputs))
    # Counted before the split: -o names a folder for several inputs in every shard, one holding one too.
    several = len(sources) > 1
    several |= any(Path(t).is_dir() or (inputs.is_glob(t) and not Path(t).exists()) for t in options.inputs)
    mine = inputs.shard(sources, *options.shard) if options.shard else sources
    return inputs.plan_jobs(mine, options.outputs, options.mask, several), len(sources)


def _print_record(record: dict) -> None:
    """One JSON line on stdout. When its reader has gone (`--json | head -1`), the lines that follow
    go nowhere and the images are still written: they, not the records, are the run's work."""
    try:
        print(json.dumps(record, ensure_ascii=False), flush=True)
    except BrokenPipeError:
        release_stdout()


def cli(
    inputs: list[str] = typer.Argument(
        ..., metavar="IMAGE", help="Image files, folders (recursive), globs, or - for stdin."
    ),
    mask: Path | None = typer.Option(
        Options.mask,
        "--mask",
        "-m",
        help="Mask file for every image, or a folder of masks matched by relative path and stem.",
    ),
    mask_color: str | None = typer.Option(
        Options.mask_color, "--mask-color", help="Holes are the image's pixels of this colour, RRGGBB (e.g. 00ff00)."
    ),
    color_tolerance: int = typer.Option(
        Options.color_tolerance,
        "--color-tolerance",
        min=0,
        max=255,
        help="Per-channel distance still counted as the --mask-color.",
    ),
    invert_mask: bool = typer.Option(Options.invert_mask, "--invert-mask", help="Black is hole instead of white."),
    threshold: int = typer.Option(
        Options.threshold, "--threshold", min=0, max=254, help="Mask grey levels above this are hole."
    ),
    dilate: int = typer.Option(Options.dilate, "--dilate", min=0, help="Grow holes by this many pixels."),
    resize_mask: bool = typer.Option(
        Options.resize_mask, "--resize-mask", help="Scale a mask of another size to its image."
    ),
    output: str | None = typer.Option(
        Options.output,
        "--output",
        "-o",
        help="Output file, folder, or - for PNG on stdout (default: <stem>_inpainted.<ext> beside the input).",
    ),
    fmt: str | None = typer.Option(Options.format, "--format", help=f"Output format: {FORMAT_LIST}."),
    quality: int | None = typer.Option(
        Options.quality,
        "--quality",
        min=1,
        max=100,
        help=f"JPEG and WebP quality, 1-100 (default: JPEG {DEFAULT_JPEG_QUALITY}, WebP lossless). Refused "
        "where the output is PNG, TIFF or BMP, which are lossless; outputs named after their inputs take it "
        "where they are JPEG or WebP.",
    ),
    overwrite: bool = typer.Option(Options.overwrite, "--overwrite", help="Replace existing outputs."),
    skip_existing: bool = typer.Option(
        Options.skip_existing, "--skip-existing", help="Leave existing outputs alone (resume a run)."
    ),
    shard: str | None = typer.Option(
        None,
        "--shard",
        metavar="K/N",
        help="Take only the K-th of N parts of the inputs (1 <= K <= N), for N workers of one job: each "
        "input falls in one part, by a hash of its path inside its folder, the same in every process.",
    ),
    strategy: Strategy = typer.Option(
        Options.strategy,
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
    texture: Texture = typer.Option(
        Options.texture,
        "--texture",
        help="auto: holes whose surroundings hold detail (grass, bark, brick) take the photo's own fine "
        "texture, copied from where the photo looks most like the network's fill there; flat surroundings "
        "(sky, walls) keep a smooth fill; where the photo repeats itself around a hole (a façade's panels, "
        "tiles), PatchMatch's copy of the photo fills it. hybrid: as auto, and where PatchMatch's copy agrees "
        "with the network's fill it is taken whole (sharper edges and texture; slower: PatchMatch searches the "
        "photo around the holes, seconds per megapixel). none: the network's smooth fill only. --json records, "
        "per group of holes, which it got.",
    ),
    weights_file: Path | None = typer.Option(
        Options.weights,
        "--weights",
        "-w",
        help="A registered name (pconv weights list), pconv safetensors file or training checkpoint; "
        "with --runtime onnx a registered name or .onnx model (default: the shipped model).",
    ),
    runtime: Runtime = typer.Option(
        Options.runtime,
        "--runtime",
        help="What runs the network: torch, or onnx (ONNX Runtime, fp32; needs no torch). auto: onnx for a "
        "registered model or .onnx file in fp32 on a CPU (the same fill, a fraction of the start-up), torch "
        "otherwise; whichever is installed if only one is.",
    ),
    device: str = typer.Option(Options.device, "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: Precision = typer.Option(Options.precision, "--precision", help="auto: bf16 on CUDA, fp32 elsewhere."),
    batch_size: int | None = typer.Option(
        Options.batch_size, "--batch-size", min=1, help="Images or tiles per pass (default: 8 on GPU, 1 on CPU)."
    ),
    max_pixels: int = typer.Option(
        Options.max_pixels, "--max-pixels", min=1, help="Refuse images with more pixels (decompression bombs)."
    ),
    blend: bool = typer.Option(
        Options.blend,
        "--blend/--no-blend",
        help="Set the fill into the photo seamlessly (Poisson blend: no dark outline, step or colour offset); "
        "--no-blend keeps the network's raw fill.",
    ),
    json_lines: bool = typer.Option(Options.json_lines, "--json", help="One JSON line per image on stdout."),
    quiet: bool = typer.Option(Options.quiet, "--quiet", "-q", help="No progress or messages on stderr, only errors."),
) -> None:
    """Fill the holes of images given masks (white = hole), writing only hole pixels.

    Example: pconv inpaint photos/ --mask masks/ -o done/ --skip-existing
    """
    # Set before NumPy loads (from_flags imports it): its BLAS work here is small (the texture stage's 18-D
    # products, a 75×75 eigh), where OpenBLAS's threads cost more than they give (docs/design-notes.md).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    options = Options.from_flags(
        mask_color, fmt, shard, inputs=inputs, mask=mask, color_tolerance=color_tolerance, invert_mask=invert_mask,
        threshold=threshold, dilate=dilate, resize_mask=resize_mask, output=output, quality=quality,
        overwrite=overwrite, skip_existing=skip_existing, strategy=strategy, texture=texture, max_pixels=max_pixels,
        weights=weights_file, runtime=runtime, device=device, precision=precision, batch_size=batch_size,
        blend=blend, json_lines=json_lines, quiet=quiet,
    )  # fmt: skip
    raise typer.Exit(command(options))
