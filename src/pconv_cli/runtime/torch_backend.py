"""Running a PyTorch model: the precision of a run, and the torch backend of ``runner.Runner``."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from pconv_cli.choices import Precision, Runtime, values
from pconv_cli.model.unet import PConvUNet
from pconv_cli.runtime.devices import cuda_bf16_native

PRECISIONS = values(Precision)


def resolved_precision(device: torch.device, precision: Precision | str) -> Precision:
    """The precision a run on ``device`` computes in: 'auto' is bf16 on CUDA, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"expected precision in {PRECISIONS}, got {precision!r}")
    if precision == Precision.auto:
        return Precision.bf16 if device.type == "cuda" and cuda_bf16_native(device) else Precision.fp32
    return Precision(precision)


def autocast_dtype(device: torch.device, precision: Precision | str) -> torch.dtype | None:
    """Low-precision dtype for autocast, or None for fp32. 'auto' is bf16 on CUDA, fp32 elsewhere."""
    precision = resolved_precision(device, precision)
    return {Precision.fp32: None, Precision.bf16: torch.bfloat16, Precision.fp16: torch.float16}[precision]


@dataclass
class TorchBackend:
    """A PConvUNet run by PyTorch on its device (a ``runner.Backend``), under autocast when the
    precision asks for it; low-precision output that is not finite is recomputed in fp32."""

    model: PConvUNet
    precision: Precision | str = Precision.auto
    runtime = Runtime.torch.value  # plain text: messages and the health JSON print it
    config: dict = field(init=False)  # the model's PConvConfig as a dict, read at every batch

    def __post_init__(self) -> None:
        self.config = self.model.config.to_dict()

    @classmethod
    def open(cls, model: PConvUNet, device: torch.device, precision: Precision | str = Precision.auto) -> TorchBackend:
        """A loaded ``model`` moved onto ``device`` (``devices.pick_device``'s). CUDA is initialised here
        (it starts lazily), outside anyone's timings."""
        backend = cls(model.to(device), precision)
        autocast_dtype(device, precision)  # refuses an unknown precision before any work
        if device.type == "cuda":
            side = model.config.multiple
            backend.forward(np.zeros((1, 3, side, side), np.float32), np.ones((1, 1, side, side), np.float32))
        return backend

    @property
    def device(self) -> str:
        from pconv_cli.runtime.devices import describe

        return describe(next(self.model.parameters()).device)

    @property
    def precision_used(self) -> str:
        return resolved_precision(next(self.model.parameters()).device, self.precision).value

    @property
    def memory_errors(self) -> tuple[type[BaseException], ...]:
        return (MemoryError, torch.cuda.OutOfMemoryError)

    @torch.inference_mode()
    def forward(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The network's raw output for N×3×H×W images (holes zeroed) and N×1×H×W masks (1 = valid)."""
        device = next(self.model.parameters()).device
        # channels_last: the CPU convolutions run faster in it (docs/design-notes.md, runtime)
        x = torch.from_numpy(image).to(device).contiguous(memory_format=torch.channels_last)
        m = torch.from_numpy(valid).to(device)
        dtype = autocast_dtype(device, self.precision)
        context = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
        with context:
            out = self.model(x, m)
        if dtype is not None and not torch.isfinite(out).all():
            out = self.model(x, m)
        return out.float().cpu().numpy()
