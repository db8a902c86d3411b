"""`pconv train`: its options, their checks before any work starts, and the start of the replicas
that run the paper's training loop (``trainer.py``) on one CPU/GPU or many through DDP.

One process per replica (``replicas.py``). ``train(options)`` runs in-process for one replica,
spawns ``gpus`` workers on this machine, or joins a torchrun job when its environment
variables are set. Rank 0 alone writes the run folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

import torch

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.files import same_file, writable_folder
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.model.weights import load_model, load_state
from pconv_cli.runtime.devices import pick_device, training_precision
from pconv_cli.runtime.torch_backend import PRECISIONS
from pconv_cli.training.checkpoint import read_checkpoint
from pconv_cli.training.data import decodable, find_images, mask_source
from pconv_cli.training.loss import LossWeights
from pconv_cli.training.replicas import process_group, spawn, under_torchrun
from pconv_cli.training.trainer import Trainer

RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl")  # what a run has written once it has trained
MAX_SIZE = 4096  # crop side: a 256-image batch of 4096² crops is already ~50 GB of activations
FINETUNE_LR = 5e-5
TRAIN_LR = 2e-4
# Options a resumed run takes from this invocation even when not given: they describe the machine
# (or, for the data folders, are required), not the run; --finetune and --init say where a run started,
# and a resumed run starts from its checkpoint.
NOT_RESUMED = (
    "data", "out", "device", "gpus", "precision", "compile", "sync_bn", "workers", "resume", "overwrite",
    "finetune", "init",
)  # fmt: skip
# Paths a resumed run takes from its checkpoint: recorded absolute, so that it resumes from any directory.
RESUMED_PATHS = ("masks", "val", "val_masks")


@dataclass
class TrainOptions:
    """Every option of `pconv train`; saved as the run's config.json."""

    data: list[str]
    out: str | None = None
    arch: str = "paper256"
    size: int | None = None
    masks: str | None = None
    val: str | None = None
    val_masks: str | None = None
    device: str = "auto"
    gpus: int = 1
    steps: int = 100_000
    batch_size: int = 6
    grad_accum: int = 1
    lr: float | None = None
    seed: int = 0
    precision: str = "auto"
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

    @classmethod
    def from_flags(cls, given: Iterable[str] | None = None, **flags) -> TrainOptions:
        """Options from the CLI's values: paths become text (config.json is JSON), enums their values;
        ``given`` names those typed on the command line."""

        def plain(value):
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value.value if isinstance(value, Enum) else str(value) if isinstance(value, Path) else value

        given = None if given is None else frozenset(given)
        return cls(**{name: plain(value) for name, value in flags.items()}, given=given)

    def record(self) -> dict:
        """The options as config.json and the checkpoints keep them."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "given"}

    def resumed(self, saved: dict) -> TrainOptions:
        """These options with every run-defining one not given taken from ``saved`` (the run's)."""
        if self.given is None:
            return self
        taken = {name: saved[name] for name in self.record() if name in saved}
        return dataclasses.replace(self, **{k: v for k, v in taken.items() if k not in {*NOT_RESUMED, *self.given}})

    def check(self) -> LossWeights:
        """Refuse bad values and options that exclude or need each other (UsageError, one line);
        returns the parsed --loss-weights."""
        if self.precision not in PRECISIONS:
            raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
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


@dataclass
class Setup:
    """Checked options plus what they resolve to, shared with every worker."""

    opts: TrainOptions
    out: Path
    config: PConvConfig
    size: int
    lr: float
    files: list[Path]
    skipped_files: int
    val_files: list[Path]
    masks: object  # GeneratedMasks or FolderMasks: .sample(rng, (h, w)) -> bool hole array
    val_masks: object | None
    checkpoint: dict | None  # the --resume checkpoint
    init_state: dict | None  # the --finetune or --init weights
    finetune: bool
    loss_weights: LossWeights
    world: int
    device_type: str
    precision: str  # resolved: fp32, bf16 or fp16


def prepare(opts: TrainOptions) -> Setup:
    """Validate every option before any work starts (UsageError -> exit 2)."""
    checkpoint, taken = None, []
    if opts.resume and Path(opts.resume).is_dir():  # a run folder: its last.pt
        opts = dataclasses.replace(opts, resume=str(Path(opts.resume) / "last.pt"))
    if opts.resume and not (opts.finetune or opts.init):  # check() refuses those together
        checkpoint = read_checkpoint(opts.resume)
        opts, taken = _continuing(opts, checkpoint)
    absolute = {name: os.path.abspath(getattr(opts, name)) for name in RESUMED_PATHS if getattr(opts, name)}
    opts = dataclasses.replace(opts, data=[os.path.abspath(d) for d in opts.data], **absolute)
    loss_weights = opts.check()
    if opts.out:
        out = Path(opts.out)
    elif opts.resume:
        out = Path(opts.resume).parent
    else:
        out = Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    # Its sample grids and loss curve would be read back as photos or masks (a folder inside is left out).
    inputs = [*opts.data, opts.val, opts.val_masks, opts.masks]
    if any(folder and Path(folder).resolve() == out.resolve() for folder in inputs):
        raise UsageError(f"the run folder {out} is a data, validation or mask folder; write the run elsewhere")
    replaces = _replaces_a_run(out, opts)
    checkpoint, config, init_state, finetune = _starting_point(opts, checkpoint)
    opts = dataclasses.replace(opts, arch=config.preset_name())  # the network trained, not --arch's default
    size = config.image_size if opts.size is None else opts.size
    if size < config.multiple or size % config.multiple:
        raise UsageError(f"--size must be a multiple of 2**levels = {config.multiple} for this network, got {size}")
    # The working scale inference uses (strategies) is the crop side the weights last trained at.
    config = dataclasses.replace(config, image_size=size)
    lr = opts.lr if opts.lr is not None else (FINETUNE_LR if finetune else TRAIN_LR)
    files, bad = find_images(opts.data, out=out)
    val_files, val_bad = find_images([opts.val], "validation", out) if opts.val else ([], [])
    val_files, broken = decodable(val_files)
    masks = mask_source(opts.masks)
    val_masks = mask_source(opts.val_masks, augment=False) if opts.val_masks else None
    device_type, world, precision = _device_and_world(opts)
    writable_folder(out, "run folder")  # last: a refused option leaves no folder behind
    if replaces:  # a run that never validates writes no best.pt: the earlier run's would pass for this one's
        (out / "best.pt").unlink(missing_ok=True)
        # Nor are its sample grids and TensorBoard events all written again, and a run resumed into its folder
        # would keep its metrics up to the resumed step: they would mix with this run's.
        (out / "metrics.jsonl").unlink(missing_ok=True)
        for stale in (*out.glob("samples/step_*.png"), *out.glob("tensorboard/events.out.tfevents.*")):
            stale.unlink()
    if taken:
        print(f"resuming with the run's {', '.join(taken)}", file=sys.stderr)
    for path in bad:
        print(f"warning: skipping unreadable image {path}", file=sys.stderr)
    for path in val_bad + broken:
        print(f"warning: skipping unreadable validation image {path}", file=sys.stderr)
    return Setup(
        opts, out, config, size, lr, files, len(bad), val_files, masks, val_masks,
        checkpoint, init_state, finetune, loss_weights, world, device_type, precision,
    )  # fmt: skip


def _replaces_a_run(out: Path, opts: TrainOptions) -> bool:
    """Whether training into ``out`` replaces another run (its checkpoints or metrics): refused
    (UsageError) unless --overwrite. A folder without them, or the --resume checkpoint's own, is free."""
    if opts.resume and same_file(out, Path(opts.resume).parent):
        return False
    held = [name for name in RUN_FILES if (out / name).is_file() and (out / name).stat().st_size]
    if held and not opts.overwrite:
        resume = f"continue it with --resume {out / 'last.pt'}, or " if "last.pt" in held else ""
        raise UsageError(
            f"run folder {out} already holds a run ({', '.join(held)}); {resume}pass --overwrite to replace it"
        )
    return bool(held)


def _continuing(opts: TrainOptions, checkpoint: dict) -> tuple[TrainOptions, list[str]]:
    """The options of a resumed run: those not given come from the run, as its checkpoint saved them
    (or, from before checkpoints held them, its config.json); and those taken that differ from this
    call's, as flags."""
    saved = checkpoint.get("options")
    config_json = Path(opts.resume).parent / "config.json"
    if saved is None and config_json.is_file():
        try:
            saved = json.loads(config_json.read_text())
        except (OSError, ValueError) as exc:
            raise PconvError(f"cannot read the run's options from {config_json}: {exc}") from None
    if not isinstance(saved, dict):
        return opts, []
    resumed = opts.resumed(saved)
    return resumed, [f"--{k.replace('_', '-')} {v}" for k, v in resumed.record().items() if v != getattr(opts, k)]


def _check_arch(opts: TrainOptions, config: PConvConfig, source: str | None) -> None:
    """UsageError when --arch, typed, names another network than the one the run starts from (it was ignored)."""
    if opts.given is not None and "arch" in opts.given and config.preset_name() != opts.arch:
        network = config.preset_name() or "a network of no preset"
        raise UsageError(f"--arch {opts.arch} contradicts {source}, which holds {network}; drop --arch")


def _starting_point(opts: TrainOptions, checkpoint: dict | None) -> tuple[dict | None, PConvConfig, dict | None, bool]:
    """Where the run starts: the --resume checkpoint (read by prepare), or --finetune/--init weights,
    or the --arch preset; returns (checkpoint, config, initial weights, finetune)."""
    if checkpoint is not None:
        config = PConvConfig.from_dict(checkpoint["config"])
        try:
            load_state(PConvUNet(config), checkpoint["model"])
        except ValueError as exc:
            raise PconvError(f"cannot resume from {opts.resume}: {exc}") from None
        if opts.steps <= checkpoint["step"]:
            raise UsageError(
                f"--steps {opts.steps} is not above the checkpoint's step {checkpoint['step']}: nothing to train"
            )
        _check_arch(opts, config, opts.resume)
        return checkpoint, config, None, bool(checkpoint.get("finetune", False))
    if opts.finetune or opts.init:
        model = load_model(opts.finetune or opts.init)
        _check_arch(opts, model.config, opts.finetune or opts.init)
        return None, model.config, model.state_dict(), bool(opts.finetune)
    try:
        return None, PConvConfig.preset(opts.arch), None, False
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _device_and_world(opts: TrainOptions) -> tuple[str, int, str]:
    """The device type, the number of replicas and the resolved precision, checked against the machine."""
    device = pick_device("cpu" if opts.gpus == 0 else opts.device)
    world = int(os.environ["WORLD_SIZE"]) if under_torchrun() else max(1, opts.gpus)
    if device.type == "cuda" and not under_torchrun() and world > torch.cuda.device_count():
        raise UsageError(f"--gpus {world}: only {torch.cuda.device_count()} CUDA device(s) present")
    if device.type == "mps" and world > 1:
        raise UsageError("--gpus > 1 needs CUDA (or --device cpu for CPU processes)")
    if opts.precision == "fp16" and device.type == "cpu":
        raise UsageError("--precision fp16 needs a GPU; use bf16 or fp32 on CPU")
    return device.type, world, training_precision(device, opts.precision)


def train(opts: TrainOptions) -> dict:
    """Run the training; returns a summary dict (step, best_val, interrupted, run folder)."""
    setup = prepare(opts)
    if under_torchrun():
        rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
        return _replica(local, setup, rank, "env://")
    if setup.world == 1:
        return _replica(0, setup, 0, None)
    # Tensors pickled to spawned processes live in shared memory, and Adam's load_state_dict
    # keeps them as they are: the replicas would update one shared moment buffer. Each
    # worker reads the checkpoint itself instead.
    light = dataclasses.replace(setup, checkpoint=None, init_state=None)
    return spawn(_spawned_replica, light, setup.world, setup.out)


def _spawned_replica(local: int, setup: Setup, init: str) -> dict:
    """A spawned replica: it reads the checkpoint and the initial weights itself (see train)."""
    opts = setup.opts
    if opts.resume:
        setup.checkpoint = read_checkpoint(opts.resume)
    if opts.finetune or opts.init:
        setup.init_state = load_model(opts.finetune or opts.init).state_dict()
    return _replica(local, setup, local, init)


def _replica(local: int, setup: Setup, rank: int, init: str | None) -> dict:
    """Train as replica ``rank`` (``local`` on this machine); the run's summary."""
    if setup.device_type == "cuda":
        device = torch.device("cuda", local) if setup.world > 1 else pick_device(setup.opts.device)
        torch.cuda.set_device(device)
    else:
        device = torch.device(setup.device_type)
    with process_group(device, rank, setup.world, init):
        return Trainer(setup, rank, device).run()
