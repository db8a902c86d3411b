"""Training checkpoints (last.pt, best.pt): what one holds, writing and reading it, resuming from it,
and exporting its weights.

A checkpoint is a ``torch.save`` dict read with ``weights_only=True``: the config and model that
``weights.load_model`` reads, plus what --resume needs to go on bit for bit (optimizer, scaler,
step, every rank's generator states). ``format_version`` names its layout, so that a file of a
layout this pconv does not know is refused rather than misread; files from before the field are
version 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.files import atomic_write
from pconv_cli.model.weights import load_averaged, load_plain, save_weights
from pconv_cli.training.loss import LossWeights

FORMAT_VERSION = 1
_RESUMABLE = ("config", "model", "optimizer", "step")


def checkpoint_state(
    model, optimizer, scaler, *, step: int, best_val: float, nonfinite: int, loss_weights: LossWeights,
    finetune: bool, rngs: list[dict], world: int, options: dict,
) -> dict:  # fmt: skip
    """The checkpoint of a run at ``step``; ``rngs`` holds the generator states (``rng_state``) of
    every rank, or of rank 0 alone where gathering them would need every rank (best.pt); ``options``
    the run's (``TrainOptions.record``), which --resume continues with."""
    return {
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "step": step,
        "best_val": best_val,
        "loss_weights": dataclasses.asdict(loss_weights),
        "nonfinite": nonfinite,
        "finetune": finetune,
        "rng": rngs,
        "world": world,
        "options": options,
    }


def rng_state(device: torch.device) -> dict:
    """This process's generator states: the CPU one, and the device's on CUDA."""
    rng = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a run killed mid-save, or one out of disk space, keeps
    its previous file whole. A full disk is a PconvError naming the folder and the space it needs."""
    previous = path.stat().st_size if path.is_file() else 0  # the closest estimate, when there is one
    atomic_write(path, lambda tmp: torch.save(state, tmp), size=max(tensor_bytes(state), previous))


def tensor_bytes(state) -> int:
    """The bytes of every tensor in ``state`` (nested dicts, lists and tuples): about the size of its
    checkpoint file, whose zip records add a few percent for a small network.

    Example:
        >>> tensor_bytes({"model": {"w": torch.zeros(2, 3)}, "rng": [torch.zeros(4, dtype=torch.uint8)], "step": 7})
        28
    """
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(tensor_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(tensor_bytes(v) for v in state)
    return 0


def read_checkpoint(path: str | Path) -> dict:
    """A training checkpoint (weights_only); UsageError when missing, PconvError when unreadable,
    not resumable or of a format version this pconv does not know."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    try:
        ckpt = load_plain(path)
    except ValueError as exc:  # a truncated or foreign file is a one-line error
        raise PconvError(f"cannot read checkpoint {path}: {exc}") from exc
    if isinstance(ckpt, dict) and (version := ckpt.get("format_version", 1)) != FORMAT_VERSION:
        raise PconvError(
            f"{path} has checkpoint format version {version!r}; this pconv reads version {FORMAT_VERSION} "
            "(a newer pconv wrote it?)"
        )
    for key in _RESUMABLE:
        if not isinstance(ckpt, dict) or key not in ckpt:
            raise PconvError(f"{path} is not a resumable pconv training checkpoint (no {key!r})")
    return ckpt


def restore_training(ckpt: dict, optimizer, scaler, lr: float, loss_weights: LossWeights) -> tuple[int, float, int]:
    """Load the optimizer and gradient-scaler states of ``ckpt``, at learning rate ``lr`` (an explicit
    --lr overrides the saved one); the run's step, best validation loss and non-finite count."""
    optimizer.load_state_dict(ckpt["optimizer"])
    for group in optimizer.param_groups:
        group["lr"] = lr
    if ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    # Validation losses under other loss weights do not compare: best.pt starts afresh.
    same_loss = ckpt.get("loss_weights", dataclasses.asdict(LossWeights())) == dataclasses.asdict(loss_weights)
    best_val = float(ckpt.get("best_val", math.inf)) if same_loss else math.inf
    return int(ckpt["step"]), best_val, int(ckpt.get("nonfinite", 0))


def restore_rng(ckpt: dict, rank: int, device: torch.device) -> None:
    """Set this rank's generators as ``ckpt`` saved them; a rank it has none for keeps its seeded ones."""
    if rank < len(ckpt.get("rng", [])):
        saved = ckpt["rng"][rank]
        torch.set_rng_state(saved["cpu"])
        if device.type == "cuda" and "cuda" in saved:
            torch.cuda.set_rng_state(saved["cuda"], device)


def remove_stale_temporaries(run: Path) -> None:
    """Delete what saves cut short by a kill left in a run folder and its samples/: atomic_write's
    temporaries (SIGKILL skips its clean-up), never a file under its final name."""
    for stale in [*run.glob(".*.tmp"), *(run / "samples").glob(".*.tmp")]:
        stale.unlink(missing_ok=True)


def export(checkpoint: str | Path | Sequence[str | Path], output: str | Path, half: bool = False) -> Path:
    """Write the weights of a checkpoint (or weights file), or the average of several
    (``weights.load_averaged``), as shippable safetensors with its config."""
    output = Path(output)
    if output.suffix.lower() != ".safetensors":
        raise UsageError(f"export writes safetensors: the output name must end in .safetensors, got {output}")
    save_weights(load_averaged(checkpoint), output, half=half)
    return output
