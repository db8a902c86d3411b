"""`pconv train`: its flags and its options (``TrainOptions``, saved as a run's config.json) with
their checks; the run itself is ``training.setup`` (where it starts) and ``training.launch``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pconv_cli.choices import AUTO_DEVICE, Arch, Precision, values
from pconv_cli.errors import UsageError

if TYPE_CHECKING:
    from pconv_cli.training.loss import LossWeights

MAX_SIZE = 4096  # crop side: larger crops exhaust memory at any useful batch size (design-notes)
# Options a resumed run takes from this invocation even when not given: they describe the machine
# (or, for the data folders, are required), not the run; --finetune and --init say where a run started,
# and a resumed run starts from its checkpoint.
NOT_RESUMED = (
    "data", "out", "device", "gpus", "precision", "compile", "sync_bn", "workers", "resume", "overwrite",
    "finetune", "init",
)  # fmt: skip


@dataclass
class TrainOptions:
    """Every option of `pconv train`; saved as the run's config.json."""

    data: list[str]
    out: str | None = None
    arch: Arch = Arch.paper256
    size: int | None = None
    masks: str | None = None
    val: str | None = None
    val_masks: str | None = None
    device: str = AUTO_DEVICE
    gpus: int = 1
    steps: int = 100_000
    batch_size: int = 6
    grad_accum: int = 1
    lr: float | None = None
    seed: int = 0
    precision: Precision = Precision.auto
    compile: bool = False
    sync_bn: bool = False
    finetune: str | None = None
    init: str | None = None
    resume: str | None = None
    overwrite: bool = False
    workers: int = 4
    log_every: int = 10
    val_every: int = 1000
    sample_every: int = 1000
    save_every: int = 500
    max_nonfinite: int = 20
    loss_weights: str = ""  # LossWeights.parse spec; empty = the paper's weights
    # The options the command line gave; on --resume the others come from the run. None: all given.
    given: frozenset[str] | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        # A saved run (config.json) gives the choices as their values: members again, as the flags give
        # them; a value of no choice stays for ``check`` to refuse.
        if self.arch in values(Arch):
            self.arch = Arch(self.arch)
        if self.precision in values(Precision):
            self.precision = Precision(self.precision)

    @classmethod
    def from_flags(cls, given: Iterable[str] | None = None, **flags) -> TrainOptions:
        """Options from the CLI's values: paths become text (config.json is JSON); ``given`` names those
        typed on the command line."""

        def plain(value):
            if isinstance(value, list):
                return [plain(v) for v in value]
            return str(value) if isinstance(value, Path) else value

        given = None if given is None else frozenset(given)
        return cls(**{name: plain(value) for name, value in flags.items()}, given=given)

    def record(self) -> dict:
        """The options as config.json and the checkpoints keep them: plain values, choices as their text."""
        return {k: v.value if isinstance(v, Enum) else v for k, v in dataclasses.asdict(self).items() if k != "given"}

    def resumed(self, saved: dict) -> TrainOptions:
        """These options with every run-defining one not given taken from ``saved`` (the run's)."""
        if self.given is None:
            return self
        taken = {name: saved[name] for name in self.record() if name in saved}
        return dataclasses.replace(self, **{k: v for k, v in taken.items() if k not in {*NOT_RESUMED, *self.given}})

    def check(self) -> LossWeights:
        """Refuse bad values and options that exclude or need each other (UsageError, one line);
        returns the parsed --loss-weights."""
        from pconv_cli.training.loss import LossWeights  # torch: imported once a run starts

        precisions = values(Precision)
        if self.precision not in precisions:
            raise UsageError(f"--precision must be one of {', '.join(precisions)}, got {self.precision!r}")
        counts = ("steps", "batch_size", "grad_accum", "log_every", "val_every", "sample_every", "save_every")
        for name in (*counts, "max_nonfinite"):  # 0 would stop the run after its first step
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.lr is not None and not 0 < self.lr < 1:  # also refuses NaN
            raise UsageError(f"--lr must be a positive learning rate below 1, got {self.lr}")
        if self.size is not None and self.size > MAX_SIZE:
            raise UsageError(f"--size must be at most {MAX_SIZE}, got {self.size}")
        if self.gpus < 0 or self.workers < 0:
            raise UsageError("--gpus and --workers must be >= 0")
        if sum(bool(x) for x in (self.resume, self.finetune, self.init)) > 1:
            raise UsageError("--resume, --finetune and --init exclude each other (a resumed run keeps its own start)")
        if self.val and not self.val_masks:
            raise UsageError("--val needs --val-masks DIR: validation uses fixed masks from a folder")
        if self.val_masks and not self.val:
            raise UsageError("--val-masks needs --val DIR")
        try:
            return LossWeights.parse(self.loss_weights)
        except ValueError as exc:
            raise UsageError(f"--loss-weights: {exc}") from None


def command(options: TrainOptions) -> int:
    """Run `pconv train`; returns the exit code (130 when a stop signal ended the run early)."""
    from pconv_cli.training.launch import train

    return 130 if train(options)["interrupted"] else 0


def cli(
    ctx: typer.Context,
    data: list[Path] = typer.Argument(
        ...,
        metavar="FOLDER",
        help="Image folder(s), searched recursively (JPEG/PNG/WebP); one named N times is sampled N times as often.",
    ),
    out: Path | None = typer.Option(TrainOptions.out, "--out", "-o", help="Run folder (default: runs/<date-time>)."),
    arch: Arch = typer.Option(TrainOptions.arch, help="Network preset (the paper's 512 or 256 network, or smaller)."),
    size: int | None = typer.Option(TrainOptions.size, help="Crop side (default: the preset's, 256 or 512)."),
    masks: Path | None = typer.Option(
        TrainOptions.masks, help="Mask folder (white = hole), augmented (default: generated)."
    ),
    val: Path | None = typer.Option(TrainOptions.val, help="Validation image folder (needs --val-masks)."),
    val_masks: Path | None = typer.Option(
        TrainOptions.val_masks, help="Mask folder for validation (fixed, seeded pairs)."
    ),
    device: str = typer.Option(TrainOptions.device, help="auto, cpu, cuda or cuda:N."),
    gpus: int = typer.Option(
        TrainOptions.gpus, help="Replicas: N > 1 runs N DDP processes; 0 = CPU. Under torchrun, joins it."
    ),
    steps: int = typer.Option(TrainOptions.steps, help="Total optimiser steps (a resumed run continues up to this)."),
    batch_size: int = typer.Option(TrainOptions.batch_size, help="Images per replica per micro-batch."),
    grad_accum: int = typer.Option(TrainOptions.grad_accum, help="Micro-batches per optimiser step."),
    lr: float | None = typer.Option(
        TrainOptions.lr, help="Adam learning rate (default: 2e-4, or 5e-5 with --finetune)."
    ),
    seed: int = typer.Option(TrainOptions.seed, help="Seed of weights, data order, crops and masks."),
    precision: Precision = typer.Option(
        TrainOptions.precision,
        help="fp16 is GPU only, with gradient scaling. auto: bf16 on CUDA, and on a CPU only where a short "
        "probe finds it faster than fp32.",
    ),
    compile: bool = typer.Option(TrainOptions.compile, "--compile", help="torch.compile the network."),
    sync_bn: bool = typer.Option(TrainOptions.sync_bn, "--sync-bn", help="Synchronise BatchNorm across replicas."),
    finetune: Path | None = typer.Option(
        TrainOptions.finetune, help="Fine-tune these weights (a file or registered name): encoder BN frozen, lr 5e-5."
    ),
    init: Path | None = typer.Option(
        TrainOptions.init, help="Start from these weights (a file or registered name), every layer learning, lr 2e-4."
    ),
    resume: Path | None = typer.Option(
        TrainOptions.resume, help="Continue a run from its checkpoint (last.pt, or the run folder)."
    ),
    overwrite: bool = typer.Option(
        TrainOptions.overwrite,
        "--overwrite",
        help="Train into a run folder that holds another run, replacing it (its best.pt too).",
    ),
    workers: int = typer.Option(TrainOptions.workers, help="DataLoader worker processes per replica."),
    log_every: int = typer.Option(TrainOptions.log_every, help="Steps between metrics lines."),
    val_every: int = typer.Option(TrainOptions.val_every, help="Steps between validations (best.pt)."),
    sample_every: int = typer.Option(TrainOptions.sample_every, help="Steps between sample grids."),
    save_every: int = typer.Option(TrainOptions.save_every, help="Steps between last.pt saves."),
    max_nonfinite: int = typer.Option(
        TrainOptions.max_nonfinite, help="Stop after this many non-finite losses in a row."
    ),
    loss_weights: str = typer.Option(
        TrainOptions.loss_weights,
        help="Replace some of the paper's loss weights (valid=1,hole=6,perceptual=0.05,style=120,tv=0.1), "
        "e.g. 'perceptual=0,style=0' (no VGG pass).",
    ),
) -> None:
    """Train a partial-convolution U-Net as in the paper (checkpoints, samples, loss curve).

    Example: pconv train photos/ --arch paper256 --val val/ --val-masks masks/ -o runs/a
    """
    flags = dict(locals())  # first: exactly the flags, named as TrainOptions' fields
    del flags["ctx"]
    # Which flags were typed (or set in the environment): a resumed run takes the others from its own
    # options. By name: typer ships its own click, whose ParameterSource is not click's.
    given = [name for name in flags if ctx.get_parameter_source(name).name not in ("DEFAULT", "DEFAULT_MAP")]
    raise typer.Exit(command(TrainOptions.from_flags(given, **flags)))
