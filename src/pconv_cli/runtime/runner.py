"""Around the network, for every runtime: batching by size, padding (as hole), compositing, seam blending.

A backend runs the bare network on padded batches: PyTorch (``torch_backend.TorchBackend``) or
ONNX Runtime (``onnx_backend.OnnxBackend``). The ``Runner`` prepares those batches and finishes
their output here, in NumPy, so both runtimes fill holes the same way; ``inpainter.run`` hands
each batch to the backend in between. Nothing here imports torch: with ``--runtime onnx`` the CLI
runs on a machine without it.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pconv_cli.choices import AUTO_DEVICE, Precision, Runtime, values
from pconv_cli.errors import PconvError, Unavailable
from pconv_cli.runtime.blend import blend_fill

if TYPE_CHECKING:
    from collections.abc import Iterator

RUNTIMES = values(Runtime)
# The module each runtime imports (the torch runtime's is named as the runtime).
_MODULE = {Runtime.torch: Runtime.torch.value, Runtime.onnx: "onnxruntime"}


class Backend(Protocol):
    """A loaded network: ``forward`` maps N×3×H×W float32 images (holes zeroed) and N×1×H×W masks
    (1 = valid), H and W multiples of ``multiple``, to the raw N×3×H×W float32 output."""

    runtime: str  # "torch" or "onnx"
    config: dict  # the model's PConvConfig as a dict (levels, width, image_size, …)
    device: str  # where it runs, for messages: "cpu", "cuda:N (the GPU's name)", …
    precision_used: str  # what it computes in, for messages: the precision asked for, auto resolved
    memory_errors: tuple[type[BaseException], ...]  # what running out of memory raises

    def forward(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray: ...


def pick_runtime(
    runtime: Runtime | str,
    weights: str | Path | None = None,
    device: str = AUTO_DEVICE,
    precision: Precision | str = Precision.auto,
) -> Runtime:
    """The runtime a command uses; Unavailable (exit 2, naming the extra) when it is not installed.

    ``auto``: ONNX Runtime where it does the same work, a registered model (it ships in ONNX form)
    or an .onnx file computed in fp32 on a CPU, since it gives the same fill and starts faster
    (docs/design-notes.md); torch for checkpoints, safetensors files, GPUs and low precision.
    When only one of the two is installed, that one.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"expected runtime in {RUNTIMES}, got {runtime!r}")
    installed = {r: importlib.util.find_spec(m) is not None for r, m in _MODULE.items()}
    runtime, named = Runtime(runtime), runtime != Runtime.auto
    if not named:
        onnx_file = weights is not None and str(weights).lower().endswith(".onnx")
        torch_file = weights is not None and not onnx_file and not _registered(weights)
        if onnx_file or torch_file:  # only one runtime reads the file
            runtime = Runtime.onnx if onnx_file else Runtime.torch
        elif installed[Runtime.torch] and installed[Runtime.onnx]:
            runtime = Runtime.onnx if _onnx_serves(weights, device, precision) else Runtime.torch
        else:
            runtime = Runtime.onnx if installed[Runtime.onnx] else Runtime.torch
    if not installed[runtime]:
        needs = f"--runtime {runtime.value}" if named else f"{weights or 'this'}"
        raise Unavailable(
            f"{needs} needs {_MODULE[runtime]}, which is not installed (pip install 'pconv-cli[{runtime.value}]')"
        )
    return runtime


def _registered(weights: str | Path) -> bool:
    from pconv_cli.model.weights import REGISTRY

    return not Path(weights).exists() and str(weights) in REGISTRY


def _onnx_serves(weights: str | Path | None, device: str, precision: Precision | str) -> bool:
    """Whether ONNX Runtime runs this as torch would: see ``pick_runtime``."""
    from pconv_cli.model.weights import REGISTRY

    registered = weights is None or bool(REGISTRY[str(weights)].onnx_file)  # pick_runtime sent files elsewhere
    spec = device.strip().lower()
    on_cpu = spec == "cpu" or (spec == AUTO_DEVICE and not accelerator_present())
    return registered and on_cpu and precision in (Precision.auto, Precision.fp32)


def accelerator_present() -> bool:
    """Whether torch might find a GPU here (NVIDIA or ROCm device nodes, or a Mac's MPS), known
    without importing torch, which alone takes over a second."""
    return sys.platform == "darwin" or any(Path(p).exists() for p in ("/dev/nvidia0", "/dev/kfd"))


def composite(image, output, valid):
    """I_comp = M·I + (1−M)·clip(I_out, 0, 1) (paper eq. 3's composite), for NumPy arrays and torch
    tensors alike: ``image`` and ``output`` of one shape, ``valid`` (M, 1 = valid, 0 = hole) of as
    many dimensions, each of the image's size or 1 (a mask N×1×H×W for N×C×H×W images).

    Only hole pixels change, exactly: M is 0 or 1, so each pixel is one term plus an exact zero.

    Example:
        >>> composite(np.zeros((1, 2, 3), np.float32), np.full((1, 2, 3), 2.0, np.float32),
        ...           np.array([[[0.0], [1.0]]], np.float32))[0, :, 0]
        array([1., 0.], dtype=float32)
    """
    shape, mask = tuple(image.shape), tuple(valid.shape)
    if tuple(output.shape) != shape or len(mask) != len(shape) or any(m not in (1, s) for m, s in zip(mask, shape)):
        raise ValueError(
            f"expected image and output of one shape and a mask of as many dimensions, each the image's or 1; "
            f"got {shape}, {tuple(output.shape)} and {mask}"
        )
    return valid * image + (1 - valid) * output.clip(0.0, 1.0)


@dataclass
class Work:
    """What a strategy asks the network for: h×w×3 float32 images with h×w bool holes; their
    composites come back in order. ``blend``: False when the strategy blends them itself."""

    images: list[np.ndarray]
    holes: list[np.ndarray]
    blend: bool = True


@dataclass
class Batch:
    """Items ``indices`` of a Work, all of size (h, w), padded for the network: N×3×H×W float32
    images with holes zeroed and N×1×H×W masks (1 = valid); the padding is hole."""

    indices: list[int]
    size: tuple[int, int]
    image: np.ndarray
    valid: np.ndarray


@dataclass
class Runner:
    """How images go through a backend: in batches of equal size of at most ``batch_size``, each
    padded to the network's multiple (padding is hole), composited and, with ``blend``, set into the
    photo by ``blend.blend_fill``. ``inpainter.run`` drives it: ``batches``, the backend, ``finish``.
    """

    backend: Backend
    batch_size: int = 1
    blend: bool = True

    @property
    def scale(self) -> int:
        """The model's working scale S (the side it was trained at)."""
        return int(self.backend.config["image_size"])

    @property
    def multiple(self) -> int:
        """Sides the network takes are multiples of this (2**levels)."""
        return 2 ** int(self.backend.config["levels"])

    def batches(self, work: Work) -> Iterator[Batch]:
        """The work's items in padded batches, equal sizes together (every item checked before the first)."""
        images, holes = work.images, work.holes
        if len(images) != len(holes):
            raise ValueError(f"expected as many hole maps as images, got {len(holes)} and {len(images)}")
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, (img, hole) in enumerate(zip(images, holes)):
            if img.ndim != 3 or img.shape[2] != 3 or hole.shape != img.shape[:2]:
                raise ValueError(f"expected h×w×3 image and h×w holes, got {img.shape} and {hole.shape}")
            by_size.setdefault(img.shape[:2], []).append(i)
        for (h, w), indices in by_size.items():
            ph, pw = -(-h // self.multiple) * self.multiple, -(-w // self.multiple) * self.multiple
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                # Padding on the bottom and right is hole, so it contributes nothing.
                x = np.zeros((len(chunk), 3, ph, pw), np.float32)
                valid = np.zeros((len(chunk), 1, ph, pw), np.float32)
                for j, i in enumerate(chunk):
                    valid[j, 0, :h, :w] = ~holes[i]
                    x[j, :, :h, :w] = images[i].transpose(2, 0, 1) * valid[j, :, :h, :w]
                yield Batch(chunk, (h, w), x, valid)

    def finish(self, work: Work, batch: Batch, output: np.ndarray) -> list[np.ndarray]:
        """The composites (h×w×3 float32 in [0, 1]) of a batch's items from the network's raw output."""
        h, w = batch.size
        valid = batch.valid[:, :, :h, :w]
        output = np.asarray(output, np.float32)[:, :, :h, :w]
        if not np.isfinite(output).all():  # a broken model: no garbage under an output's name
            raise PconvError("the model's output is not finite (NaN or infinity); are the weights broken?")
        # The zeroed holes of the batch's images are the only pixels the composite replaces.
        comps = composite(batch.image[:, :, :h, :w], output, valid).transpose(0, 2, 3, 1)
        if not (self.blend and work.blend):
            return list(comps)
        done = []
        for i, comp in zip(batch.indices, comps):
            image, hole = work.images[i], work.holes[i]
            done.append(np.clip(blend_fill(image, np.ascontiguousarray(comp), hole), 0.0, 1.0))
        return done
