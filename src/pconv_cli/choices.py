"""The choices of options, defined once: the CLI shows and checks them, the core iterates them.

Nothing here imports torch, so `pconv --help` can list them instantly.
"""

from __future__ import annotations

from enum import Enum


class Strategy(str, Enum):
    """How one image meets the network's working scale (see `strategies`)."""

    auto = "auto"
    full = "full"
    tile = "tile"
    crop = "crop"
    refine = "refine"


class Texture(str, Enum):
    """Whether a fill takes the photo's own fine detail where its surroundings hold some (`runtime.texture`)
    or PatchMatch's copy where they repeat (`runtime.repetition`), and, with ``hybrid``, PatchMatch's copy
    where the network agrees with it (`runtime.patchmatch`)."""

    auto = "auto"
    none = "none"
    hybrid = "hybrid"


class Arch(str, Enum):
    """Network presets of `pconv train --arch` (see `unet.PConvConfig.preset`)."""

    paper512 = "paper512"
    paper256 = "paper256"
    small = "small"
    tiny = "tiny"


class Precision(str, Enum):
    """Arithmetic of a model run: auto is bf16 on CUDA (where native), fp32 elsewhere; fp16 is GPU only."""

    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class Runtime(str, Enum):
    """What runs the network: auto is ONNX Runtime for the shipped models on a CPU in fp32, else torch
    (or whichever is installed; see `runner.pick_runtime`)."""

    auto = "auto"
    torch = "torch"
    onnx = "onnx"


class ExportFormat(str, Enum):
    """What `pconv export` writes: safetensors weights (torch), or an ONNX model (ONNX Runtime)."""

    safetensors = "safetensors"
    onnx = "onnx"


class MaskStyle(str, Enum):
    """Mask generators of `pconv make-masks` (see `maskgen`); mixed draws one per mask."""

    strokes = "strokes"
    blobs = "blobs"
    scratches = "scratches"
    text = "text"
    mixed = "mixed"


class Border(str, Enum):
    """Border modes: margin (holes keep off the border, paper Table 1 'B'), none ('N'), both."""

    margin = "margin"
    none = "none"
    both = "both"


# Words of options that also take free text, so they are no enum: `--device auto` lets pconv pick
# (CUDA, then MPS, then CPU); `pconv eval --baselines none` runs no classical baseline.
AUTO_DEVICE = "auto"
NO_BASELINES = "none"


def values(choice: type[Enum]) -> tuple[str, ...]:
    """The string values of a choice enum, in order."""
    return tuple(member.value for member in choice)
