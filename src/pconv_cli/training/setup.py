"""Where a `pconv train` run starts: every option checked and resolved before any work (the run
folder, the starting point, the data and masks, the device and the number of replicas).

``prepare`` turns ``TrainOptions`` into a ``Setup``, shared with every replica; ``launch.train``
then starts the replicas.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from pconv_cli.choices import Precision
from pconv_cli.errors import PconvError, Unavailable, UsageError
from pconv_cli.files import same_file, writable_folder
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.model.weights import load_model, load_state
from pconv_cli.runtime.devices import pick_device, training_precision
from pconv_cli.training.checkpoint import read_checkpoint
from pconv_cli.training.data import decodable, find_images, mask_source
from pconv_cli.training.replicas import under_torchrun

if TYPE_CHECKING:
    from pconv_cli.commands.train import TrainOptions
    from pconv_cli.training.loss import LossWeights

RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl")  # what a run has written once it has trained
FINETUNE_LR = 5e-5
TRAIN_LR = 2e-4
# Paths a resumed run takes from its checkpoint: recorded absolute, so that it resumes from any directory.
RESUMED_PATHS = ("masks", "val", "val_masks")


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
    precision: Precision  # resolved: fp32, bf16 or fp16
    made: Path | None = None  # the outermost folder made for the run folder (None: it was there)


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
    out = _run_folder(opts)
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
    made = _first_missing(out)
    writable_folder(out, "run folder")  # last: a refused option leaves no folder behind
    if replaces:
        _clear_replaced(out)
    if taken:
        print(f"resuming with the run's {', '.join(taken)}", file=sys.stderr)
    for path in bad:
        print(f"warning: skipping unreadable image {path}", file=sys.stderr)
    for path in val_bad + broken:
        print(f"warning: skipping unreadable validation image {path}", file=sys.stderr)
    return Setup(
        opts, out, config, size, lr, files, len(bad), val_files, masks, val_masks,
        checkpoint, init_state, finetune, loss_weights, world, device_type, precision, made,
    )  # fmt: skip


def _first_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that is not there yet (None when ``folder`` is):
    what making ``folder`` creates."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def remove_made_folders(setup: Setup) -> None:
    """Remove the folders ``prepare`` made for the run, from the run folder up, while they are empty:
    a run that failed before writing anything leaves no folder behind; any other folder stays."""
    if setup.made is None:
        return
    for folder in (setup.out, *setup.out.parents):
        try:
            folder.rmdir()
        except OSError:  # not empty: something in it is kept, and so are the folders above
            return
        if folder == setup.made:
            return


def _run_folder(opts: TrainOptions) -> Path:
    """The run folder: --out, else the --resume checkpoint's, else runs/<date-time>; UsageError when
    it is one of the data, validation or mask folders."""
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
    return out


def _clear_replaced(out: Path) -> None:
    """Remove what the run replaced in ``out`` that this run might not write again."""
    # A run that never validates writes no best.pt: the earlier run's would pass for this one's.
    (out / "best.pt").unlink(missing_ok=True)
    # Nor are its sample grids and TensorBoard events all written again, and a run resumed into its folder
    # would keep its metrics up to the resumed step: they would mix with this run's.
    (out / "metrics.jsonl").unlink(missing_ok=True)
    for stale in (*out.glob("samples/step_*.png"), *out.glob("tensorboard/events.out.tfevents.*")):
        stale.unlink()


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
        raise UsageError(f"--arch {opts.arch.value} contradicts {source}, which holds {network}; drop --arch")


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


def _device_and_world(opts: TrainOptions) -> tuple[str, int, Precision]:
    """The device type, the number of replicas and the resolved precision, checked against the machine."""
    device = pick_device("cpu" if opts.gpus == 0 else opts.device)
    world = int(os.environ["WORLD_SIZE"]) if under_torchrun() else max(1, opts.gpus)
    if device.type == "cuda" and not under_torchrun() and world > torch.cuda.device_count():
        raise Unavailable(f"--gpus {world}: only {torch.cuda.device_count()} CUDA device(s) present")
    if device.type == "mps" and world > 1:
        raise UsageError("--gpus > 1 needs CUDA (or --device cpu for CPU processes)")
    if opts.precision == Precision.fp16 and device.type == "cpu":
        raise UsageError("--precision fp16 needs a GPU; use bf16 or fp32 on CPU")
    return device.type, world, training_precision(device, opts.precision)
