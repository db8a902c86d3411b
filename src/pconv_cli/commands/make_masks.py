"""`pconv make-masks`: its flags, its options and the command around ``imaging.mask_sets``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import typer

from pconv_cli.choices import Border, MaskStyle
from pconv_cli.errors import UsageError

DEFAULT_SIZE = 512  # mask side without --size (the parser's default too)


@dataclass
class Options:
    """Everything `pconv make-masks` was asked; ``from_flags`` parses the flags and ``check``
    refuses what cannot be done, naming the flag (UsageError)."""

    out_dir: Path | None = None
    style: MaskStyle = MaskStyle.mixed
    paper_bins: bool = False
    ratio: tuple[float, float] | None = None
    border: Border = Border.none
    size: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE)  # (height, width)
    count: int = 100
    seed: int = 0
    workers: int = 0  # 0: one per core
    overwrite: bool = False
    preview: Path | None = None
    stats: Path | None = None  # read this folder's histogram instead of writing masks

    @classmethod
    def from_flags(cls, paths: list[str], size: str | None, bins: str | None, **flags) -> Options:
        """Options from the CLI's values: OUT_DIR among ``paths`` (click hands the H of
        ``--size W H`` over as a positional beside it), ``--size`` text, ``--bins`` text."""
        extra = []
        if size is not None and len(paths) == 2 and any(p.isdigit() for p in paths):
            extra = [next(p for p in paths if p.isdigit())]
            paths = [p for p in paths if p is not extra[0]]
        if flags.get("stats") is not None and paths:
            raise UsageError("--stats DIR reads a folder; it takes no OUT_DIR")
        if flags.get("stats") is None and len(paths) != 1:
            raise UsageError("expected one OUT_DIR (or --stats DIR)")
        if bins is not None and bins != "paper":
            raise UsageError(f"--bins accepts only 'paper', got {bins!r}")
        out_dir = Path(paths[0]) if paths else None
        options = cls(out_dir=out_dir, size=parse_size(size, extra), paper_bins=bins is not None, **flags)
        options.check()
        return options

    def check(self) -> None:
        if self.paper_bins and self.ratio is not None:
            raise UsageError("give --bins paper or --ratio LOW HIGH, not both")
        if self.ratio is not None:
            low, high = self.ratio
            if not (0.0 <= low <= 1.0 and 0.0 <= high <= 1.0):
                raise UsageError(f"--ratio values must lie in 0..1, got {low} {high}")
            if low >= high:
                raise UsageError(f"--ratio LOW must be below HIGH, got {low} {high}")
        if self.workers < 0:
            raise UsageError(f"--workers must be 0 (one per core) or more, got {self.workers}")
        if self.seed < 0:
            raise UsageError(f"--seed must be 0 or more, got {self.seed}")
        if self.preview is not None and self.out_dir is not None:
            if self.out_dir.resolve() in self.preview.resolve().parents:
                raise UsageError("--preview must lie outside OUT_DIR: a PNG there would be taken for a mask")
        if self.preview is not None and self.preview.suffix.lower() != ".png":
            raise UsageError(f"--preview writes a PNG; give a FILE.png, got {str(self.preview)!r}")
        if self.preview is not None and not self.preview.resolve().parent.is_dir():
            raise UsageError(f"--preview: folder {self.preview.parent} does not exist")


def parse_size(size: str | None, extra: list[str]) -> tuple[int, int]:
    """--size 512 | W H | WxH -> (height, width)."""
    text = (size or str(DEFAULT_SIZE)).lower().replace("x", " ").replace(",", " ").split() + extra
    if not 1 <= len(text) <= 2 or not all(t.isdigit() for t in text):
        raise UsageError(f"--size expects 512, W H or WxH, got {' '.join(text)!r}")
    width, height = (int(text[0]), int(text[-1]))
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise UsageError(f"--size sides must be 16..16384 px, got {width}×{height}")
    return height, width


def command(options: Options, console) -> int:
    """Run `pconv make-masks`: the statistics of a folder, or a new mask set with its manifest
    (and contact sheet), reporting on ``console``; returns the exit code."""
    import os

    from pconv_cli.console import progress_bar
    from pconv_cli.imaging import mask_sets

    if options.stats is not None:
        result = mask_sets.folder_stats(options.stats)
        print(mask_sets.format_stats(result))
        for path in result.unreadable:
            console.print(f"[yellow]skipped unreadable[/] {path}", highlight=False)
        return 0
    out_dir, count = options.out_dir, options.count
    assert out_dir is not None  # from_flags requires it without --stats
    groups = mask_sets.plan(count, options.ratio, options.paper_bins, options.border)
    mask_sets.check_feasible(groups, options.size)
    mask_sets.prepare_out_dir(out_dir, options.overwrite)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(options.workers or cores or 1, count)
    start = time.perf_counter()
    try:
        with progress_bar(console, transient=True) as bar:
            task = bar.add_task("masks", total=count)
            advance = lambda n: bar.advance(task, n)  # noqa: E731
            rows = mask_sets.make_masks(out_dir, options.size, groups, options.style, options.seed, workers, advance)
    except mask_sets.Interrupted as stop:
        listed = f"{stop.done} of {stop.total} masks written and listed in {mask_sets.MANIFEST}"
        console.print(f"pconv: interrupted; {listed}", markup=False, highlight=False)
        return 130
    seconds = time.perf_counter() - start
    if options.preview is not None:
        mask_sets.contact_sheet(out_dir, rows, options.preview)
    if count % len(groups):
        console.print(f"note: {count} masks do not split evenly over {len(groups)} groups; the first take one more")
    height, width = options.size
    console.print(
        f"wrote {count} masks ({width}×{height}) and {mask_sets.MANIFEST} to {out_dir} in {seconds:.1f} s "
        f"({count / seconds:.0f} masks/s, {workers} worker{'s' if workers != 1 else ''})",
        highlight=False,
    )
    return 0


def cli(
    paths: list[str] = typer.Argument(None, metavar="OUT_DIR", help="Folder to write the masks into."),
    style: MaskStyle = typer.Option(
        Options.style,
        "--style",
        help="Generator: brush strokes, occlusion blobs, 1-6 px scratches, words in a real font (watermarks, "
        "captions); mixed draws one of them per mask.",
    ),
    bins: str = typer.Option(
        None, "--bins", metavar="paper", help="Equal numbers in the six hole-ratio bins of the paper's Table 1."
    ),
    ratio: tuple[float, float] = typer.Option(
        Options.ratio,
        "--ratio",
        metavar="LOW HIGH",
        help="Hole-ratio range (LOW, HIGH]; without it and --bins: 0.01 0.6.",
    ),
    border: Border = typer.Option(
        Options.border,
        "--border",
        help="margin: no hole within 50 px (at 512, scaled) of the border; both: half of each.",
    ),
    size: str = typer.Option(
        None, "--size", metavar="W [H]", help="Mask size: 512 (square), W H or WxH; 512 if not given."
    ),
    count: int = typer.Option(
        Options.count, "--count", "-n", help="Number of masks (all bins and border modes together)."
    ),
    seed: int = typer.Option(
        Options.seed, "--seed", help="Same seed and arguments: byte-identical files on any machine."
    ),
    workers: int = typer.Option(Options.workers, "--workers", "-j", help="Processes; 0 = one per core."),
    overwrite: bool = typer.Option(
        Options.overwrite, "--overwrite", help="Write into a non-empty folder, replacing the masks its manifest lists."
    ),
    preview: Path = typer.Option(Options.preview, "--preview", metavar="FILE.png", help="Also write a contact sheet."),
    stats: Path = typer.Option(
        Options.stats, "--stats", metavar="DIR", help="Print the hole-ratio histogram of a mask folder."
    ),
) -> None:
    """Generate irregular hole masks (white = hole) in exact hole-ratio bins, with manifest.csv.

    Example: pconv make-masks masks/ --bins paper --count 600 --preview masks.png
    """
    from rich.console import Console

    flags = dict(style=style, ratio=ratio, border=border, count=count, seed=seed, workers=workers)
    options = Options.from_flags(paths or [], size, bins, overwrite=overwrite, preview=preview, stats=stats, **flags)
    raise typer.Exit(command(options, Console(stderr=True, soft_wrap=True)))
