"""The one way commands run a network on images: batching, padding, compositing, seam blending.

A backend runs the bare network on padded batches: PyTorch (``inference.TorchBackend``) or
ONNX Runtime (``onnx_model.OnnxBackend``). Everything around it lives here, in NumPy, so both
runtimes fill holes the same way. Nothing here imports torch: with ``--runtime onnx`` the CLI
runs on a machine without it.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pconv_cli.choices import Runtime, values
from pconv_cli.errors import PconvError
from pconv_cli.runtime.blend import blend_fill

RUNTIMES = values(Runtime)


class Backend(Protocol):
    """A loaded network: ``forward`` maps N×3×H×W float32 images (holes zeroed) and N×1×H×W masks
    (1 = valid), H and W multiples of ``multiple``, to the raw N×3×H×W float32 output."""

    runtime: str  # "torch" or "onnx"
    config: dict  # the model's PConvConfig as a dict (levels, width, image_size, …)
    device: str  # where it runs, for messages, e.g. "cpu" or "cuda:0 (NVIDIA H100)"
    memory_errors: tuple[type[BaseException], ...]  # what running out of memory raises

    def forward(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray: ...


def pick_runtime(runtime: str, weights: str | Path | None = None, device: str = "auto", precision: str = "auto") -> str:
    """The runtime a command uses; PconvError (exit 1, naming the extra) when it is not installed.

    ``auto``: ONNX Runtime where it does the same work, a registered model (it ships in ONNX form)
    or an .onnx file computed in fp32 on a CPU, since it gives the same fill within one 8-bit level
    and starts in a fraction of torch's time; torch for checkpoints, safetensors files, GPUs and low
    precision. When only one of the two is installed, that one.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"expected runtime in {RUNTIMES}, got {runtime!r}")
    installed = {r: importlib.util.find_spec(m) is not None for r, m in (("torch", "torch"), ("onnx", "onnxruntime"))}
    named = runtime != "auto"
    if not named:
        onnx_file = weights is not None and str(weights).lower().endswith(".onnx")
        torch_file = weights is not None and not onnx_file and not _registered(weights)
        if onnx_file or torch_file:  # only one runtime reads the file
            runtime = "onnx" if onnx_file else "torch"
        elif installed["torch"] and installed["onnx"]:
            runtime = "onnx" if _onnx_serves(weights, device, precision) else "torch"
        else:
            runtime = "onnx" if installed["onnx"] else "torch"
    if not installed[runtime]:
        package = "onnxruntime" if runtime == "onnx" else "torch"
        needs = f"--runtime {runtime}" if named else f"{weights or 'this'}"
        # A missing extra is an installation problem (exit 1), as in cli.main, not a usage error.
        raise PconvError(f"{needs} needs {package}, which is not installed (pip install 'pconv-cli[{runtime}]')")
    return runtime


def _registered(weights: str | Path) -> bool:
    from pconv_cli.model.weights import REGISTRY

    return not Path(weights).exists() and str(weights) in REGISTRY


def _onnx_serves(weights: str | Path | None, device: str, precision: str) -> bool:
    """Whether ONNX Runtime runs this as torch would: see ``pick_runtime``."""
    from pconv_cli.model.weights import REGISTRY

    registered = weights is None or bool(REGISTRY[str(weights)].onnx_file)  # pick_runtime sent files elsewhere
    on_cpu = device.strip().lower() == "cpu" or (device.strip().lower() == "auto" and not accelerator_present())
    return registered and on_cpu and precision in ("auto", "fp32")


def accelerator_present() -> bool:
    """Whether torch might find a GPU here (NVIDIA or ROCm device nodes, or a Mac's MPS), known
    without importing torch, which alone takes over a second."""
    return sys.platform == "darwin" or any(Path(p).exists() for p in ("/dev/nvidia0", "/dev/kfd"))


def composite(image: np.ndarray, output: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """I_comp = M·I + (1−M)·clip(I_out) (paper eq. 3's composite): h×w×3 float image and output,
    h×w bool holes; only hole pixels change.

    Example:
        >>> composite(np.zeros((1, 2, 3), np.float32), np.full((1, 2, 3), 2.0, np.float32),
        ...           np.array([[True, False]]))[0, :, 0]
        array([1., 0.], dtype=float32)
    """
    if image.shape != output.shape or hole.shape != image.shape[:2]:
        raise ValueError(f"expected h×w×3 image and output, h×w holes; got {image.shape}, {output.shape}, {hole.shape}")
    return np.where(hole[..., None], np.clip(output, 0.0, 1.0), image)


def _forward(backend: Backend, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``backend.forward``, with an allocator's failure raised as MemoryError: torch on a CPU and
    ONNX Runtime report running out of memory as a RuntimeError of their own."""
    try:
        return backend.forward(x, valid)
    except backend.memory_errors:
        raise
    except Exception as exc:
        if "allocate" in str(exc).lower():
            raise MemoryError(str(exc).strip().splitlines()[0]) from exc
        raise


@dataclass
class Runner:
    """Runs lists of h×w×3 float32 images with h×w bool holes through a backend in batches.

    Items of equal size share a batch of at most ``batch_size``; each is padded to the network's
    multiple (padding is hole), composited and, with ``blend``, set into the photo by
    ``blend.blend_fill``. Returns the composites (h×w×3 float32 in [0, 1]) in input order.
    """

    backend: Backend
    batch_size: int = 1
    blend: bool = True

    @classmethod
    def open(
        cls,
        weights: str | Path | None,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int | None = None,
        blend: bool = True,
        runtime: str = "auto",
    ) -> Runner:
        """The one way commands load a model to run: ``weights`` a registered name or a path (None:
        the shipped default) on ``runtime`` (see ``pick_runtime``) and the device ``--device`` names;
        batch size 8 on a GPU and 1 on a CPU (where batching was no faster and a batch of 4 tiles
        cost 140 MiB), unless given."""
        if pick_runtime(runtime, weights, device, precision) == "onnx":
            from pconv_cli.runtime.onnx_backend import OnnxBackend

            backend: Backend = OnnxBackend.open(weights, device, precision)
        else:
            from pconv_cli.runtime.torch_backend import TorchBackend

            backend = TorchBackend.open(weights, device, precision)
        if batch_size is None:
            batch_size = 1 if backend.device == "cpu" else 8
        return cls(backend, batch_size, blend)

    @property
    def scale(self) -> int:
        """The model's working scale S (the side it was trained at)."""
        return int(self.backend.config["image_size"])

    @property
    def multiple(self) -> int:
        """Sides the network takes are multiples of this (2**levels)."""
        return 2 ** int(self.backend.config["levels"])

    def __call__(self, images: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
        if len(images) != len(holes):
            raise ValueError(f"expected as many hole maps as images, got {len(holes)} and {len(images)}")
        results: list[np.ndarray | None] = [None] * len(images)
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
                out = _forward(self.backend, x, valid)[:, :, :h, :w].transpose(0, 2, 3, 1)
                if not np.isfinite(out).all():  # a broken model: no garbage under an output's name
                    raise PconvError("the model's output is not finite (NaN or infinity); are the weights broken?")
                for i, raw in zip(chunk, out):
                    results[i] = self._finish(images[i], raw, holes[i])
        return results  # type: ignore[return-value]

    def _finish(self, image: np.ndarray, raw: np.ndarray, hole: np.ndarray) -> np.ndarray:
        comp = composite(image, np.ascontiguousarray(raw, np.float32), hole)
        return np.clip(blend_fill(image, comp, hole), 0.0, 1.0) if self.blend else comp
