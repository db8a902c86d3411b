"""`pconv eval`: its flags (the Typer signature), their checks (``EvalOptions``) and ``command``.

Nothing here imports numpy, OpenCV or torch at module level: `pconv --help` lists the command
without them. The core lives in `pconv_cli.evaluation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer

from pconv_cli.choices import AUTO_DEVICE, NO_BASELINES, Border, Precision, Strategy, Texture, values
from pconv_cli.errors import UsageError

# PatchMatch is a default baseline so that every protocol run includes it where it is installed
# (the `baselines` extra); where it is not, the run says so and goes on.
DEFAULT_BASELINES = ("telea", "ns", "biharmonic", "patchmatch")


# --bins and --border as typed; the options' defaults are these parsed (one place for both forms).
DEFAULT_BINS = "paper"
DEFAULT_BORDER = Border.both


def _default_bins() -> tuple[int, ...]:
    return tuple(parse_bins(DEFAULT_BINS))


def _default_borders() -> tuple[str, ...]:
    return tuple(parse_borders(DEFAULT_BORDER))


def _both_borders() -> tuple[str, ...]:
    from pconv_cli.imaging.masks import BORDER_MODES

    return tuple(BORDER_MODES)


@dataclass
class EvalOptions:
    """What one `pconv eval` run measures and where it writes; ``check`` refuses contradictions."""

    images: Path
    masks: Path
    out: Path = Path("pconv-eval")
    weights: Sequence[Path] = ()
    baselines: Sequence[str] = DEFAULT_BASELINES
    pairs_per_bin: int = 10
    bins: Sequence[int] = field(default_factory=_default_bins)
    borders: Sequence[str] = field(default_factory=_default_borders)
    size: int | None = None
    resume: bool = False
    overwrite: bool = False
    seed: int = 0
    device: str = AUTO_DEVICE
    precision: Precision = Precision.auto
    batch_size: int = 8
    figure_pairs: int = 2
    invert_mask: bool = False
    blend: bool = True  # models' seam blending (Inpainter)
    strategy: Strategy = Strategy.auto  # how models meet large images (runtime.strategies)
    textures: tuple[Texture, ...] = (Texture.auto,)  # each model runs once per texture setting
    as_json: bool = False  # the aggregate as JSON on stdout

    @classmethod
    def from_flags(
        cls, baselines: str, bins: str, border: Border | str, texture: str | None = None, **flags
    ) -> EvalOptions:
        """Options from the CLI's values, the lists given as text ('telea,ns', 'paper' or '1,3', 'both',
        'auto,none')."""
        if texture is not None:
            flags["textures"] = parse_textures(texture)
        options = cls(
            baselines=parse_baselines(baselines), bins=parse_bins(bins), borders=parse_borders(border), **flags
        )
        options.check()
        return options

    def check(self) -> None:
        if self.pairs_per_bin < 1 or self.batch_size < 1 or self.figure_pairs < 0:
            raise UsageError("--pairs-per-bin and --batch-size must be at least 1, --figure-pairs at least 0")
        if self.size is not None and not 16 <= self.size <= 8192:
            raise UsageError(f"--size must be 16..8192, got {self.size}")
        given = [Path(w).resolve() for w in self.weights]  # registered names resolve apart too
        twice = [str(w) for i, (w, r) in enumerate(zip(self.weights, given)) if r in given[:i]]
        if twice:  # one model would be two methods of one name
            raise UsageError(f"--weights given twice: {', '.join(twice)}")
        if self.resume and self.overwrite:
            raise UsageError("--resume and --overwrite contradict each other; pass one")
        # Its sample pictures would be read back as photos or masks (a folder inside is left out of the listing).
        for folder, what in ((self.images, "IMAGES"), (self.masks, "--masks")):
            if self.out.resolve() == folder.resolve():
                raise UsageError(f"-o {self.out} is the {what} folder; write the results elsewhere")
        if not (self.resume or self.overwrite) and (self.out / "results.csv").exists():
            raise UsageError(
                f"output folder {self.out} already holds results (results.csv); "
                "pass --resume to add to them, or --overwrite to replace them"
            )


def parse_bins(spec: str) -> list[int]:
    """'paper' (all six bins) or 1-based bin numbers such as '1,3,6' -> indices into BINS."""
    from pconv_cli.imaging.masks import BINS, bin_label

    spec = spec.strip().lower()
    if spec in ("paper", "all"):
        return list(range(len(BINS)))
    try:
        numbers = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        numbers = []
    if not numbers or any(not 1 <= n <= len(BINS) for n in numbers):
        labels = ", ".join(f"{i + 1}={bin_label(*b)}" for i, b in enumerate(BINS))
        raise UsageError(f"--bins {spec!r}: expected 'paper' or bin numbers 1-{len(BINS)} ({labels})")
    return sorted({n - 1 for n in numbers})


def parse_baselines(spec: str) -> list[str]:
    """Comma-separated baseline names, or 'none'."""
    from pconv_cli.evaluation.baselines import BASELINES

    names = [s.strip().lower() for s in spec.split(",") if s.strip()]
    if names == [NO_BASELINES]:
        return []
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise UsageError(f"unknown baseline(s) {', '.join(unknown)}; expected some of {', '.join(BASELINES)} or none")
    return list(dict.fromkeys(names))


def parse_textures(spec: str) -> tuple[Texture, ...]:
    """Comma-separated texture settings ('auto', 'none', 'hybrid') -> Texture members, in order, once each."""
    names = [s.strip().lower() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in values(Texture)]
    if not names or unknown:
        raise UsageError(f"--texture {spec!r}: expected some of {', '.join(values(Texture))}, comma-separated")
    return tuple(Texture(n) for n in dict.fromkeys(names))


def parse_borders(spec: Border | str) -> list[str]:
    """Border margin, none or both (a member or its value) -> the border modes of the masks to use,
    as the values that mask measurements carry."""
    if spec == Border.both:
        return list(_both_borders())
    if spec not in _both_borders():
        raise UsageError(f"--border {spec!r}: expected margin, none or both")
    return [Border(spec).value]


def command(options: EvalOptions, console) -> int:
    """Run `pconv eval`: every method on every pair, then the reports; returns the exit code."""
    from pconv_cli.evaluation.publish import write_reports
    from pconv_cli.evaluation.run import run_eval

    try:
        result = run_eval(options, console)
    except KeyboardInterrupt:
        csv_path = options.out / "results.csv"
        kept = f"finished results are in {csv_path}; add --resume to continue"
        console.print(f"pconv: interrupted; {kept if csv_path.exists() else 'no result was written'}")
        return 130
    summary = write_reports(result, options, console)
    if options.as_json:
        import json

        from pconv_cli.evaluation.reports import finite_or_none

        print(json.dumps(finite_or_none(summary)))
    if result.failures:
        console.print(f"[red]{len(result.failures)} failure(s):[/]")
        for line in result.failures:
            console.print(f"  {line}", markup=False, highlight=False)
        return 1
    return 0


def cli(
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
        ",".join(DEFAULT_BASELINES), "--baselines", "-b", help="Comma-separated baselines, or 'none'."
    ),
    pairs_per_bin: int = typer.Option(
        EvalOptions.pairs_per_bin, "--pairs-per-bin", "-k", help="Pairs per bin and border mode."
    ),
    bins: str = typer.Option(DEFAULT_BINS, "--bins", help="'paper' (all six) or bin numbers, e.g. 1,3,6."),
    border: Border = typer.Option(DEFAULT_BORDER, "--border", help="The paper's B (margin) and N (none) columns."),
    size: int | None = typer.Option(
        EvalOptions.size,
        "--size",
        help="Centre-crop and resize images to SIZE×SIZE (masks too); default: masks fit each image.",
    ),
    out: Path = typer.Option(EvalOptions.out, "--out", "-o", help="Output folder."),
    as_json: bool = typer.Option(EvalOptions.as_json, "--json", help="Print the aggregate as JSON on stdout."),
    resume: bool = typer.Option(
        EvalOptions.resume, "--resume", help="Skip pairs and methods already in OUT/results.csv."
    ),
    overwrite: bool = typer.Option(
        EvalOptions.overwrite, "--overwrite", help="Replace the results already in OUT/results.csv."
    ),
    seed: int = typer.Option(EvalOptions.seed, "--seed", help="Seed of the image × mask pairing."),
    device: str = typer.Option(EvalOptions.device, "--device", help="auto, cpu, cuda, cuda:N or mps (models only)."),
    precision: Precision = typer.Option(EvalOptions.precision, "--precision", help="Models only; auto: bf16 on CUDA."),
    batch_size: int = typer.Option(
        EvalOptions.batch_size, "--batch-size", help="Pairs loaded at once; models run them as one batch."
    ),
    figure_pairs: int = typer.Option(
        EvalOptions.figure_pairs, "--figure-pairs", help="Pairs per bin in comparison.png (0: none)."
    ),
    invert_mask: bool = typer.Option(EvalOptions.invert_mask, "--invert-mask", help="Masks are black = hole."),
    blend: bool = typer.Option(
        EvalOptions.blend,
        "--blend/--no-blend",
        help="Models set the fill into the photo seamlessly (Poisson blend: no dark outline, step or colour offset); "
        "--no-blend keeps the network's raw fill.",
    ),
    strategy: Strategy = typer.Option(
        EvalOptions.strategy, "--strategy", help="How models meet large images, as in inpaint --strategy."
    ),
    texture: str = typer.Option(
        ",".join(t.value for t in EvalOptions.textures),
        "--texture",
        help=f"{', '.join(values(Texture))}: as in inpaint --texture; comma-separated to run each model once per "
        "setting (a model with texture none is named NAME-texture-none).",
    ),
) -> None:
    """Compare models and classical baselines per hole-ratio bin (the paper's Table 1).

    Example: pconv eval photos/ --masks masks/ -w pconv-small256-v5 --baselines telea,ns
    """
    from rich.console import Console

    options = EvalOptions.from_flags(
        baselines, bins, border, images=images, masks=masks, out=out, weights=weights,
        pairs_per_bin=pairs_per_bin, size=size, resume=resume, overwrite=overwrite, seed=seed, device=device,
        precision=precision, batch_size=batch_size, figure_pairs=figure_pairs, invert_mask=invert_mask,
        blend=blend, strategy=strategy, texture=texture, as_json=as_json,
    )  # fmt: skip
    console = Console(stderr=True, soft_wrap=True)  # one message, one line (the table sets its own width)
    raise typer.Exit(command(options, console))
