"""Device selection shared by every command (auto = CUDA, then MPS, then CPU), and the
training precision ``auto`` resolves to on it."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from pconv_cli.choices import AUTO_DEVICE, Precision
from pconv_cli.errors import Unavailable, UsageError
from pconv_cli.timing import interleaved


def pick_device(spec: str = AUTO_DEVICE) -> torch.device:
    """torch.device for 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; UsageError for another spec,
    Unavailable for a device this machine lacks.

    A CUDA device always carries its index: ``torch.cuda.set_device`` may refuse a bare 'cuda'
    (docs/design-notes.md).
    """
    spec = spec.strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if spec == AUTO_DEVICE:
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps" if mps_ok else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"unknown device {spec!r}; expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise Unavailable(f"--device {spec}: CUDA is not available on this machine (try --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise Unavailable(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    elif device.type == "mps" and not mps_ok:
        raise Unavailable(f"--device {spec}: MPS is not available on this machine (try --device cpu)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unsupported device {spec!r}; expected auto, cpu, cuda, cuda:N or mps")
    return device


def describe(device: torch.device) -> str:
    """Human name for stderr: 'cpu', 'mps' or 'cuda:N (the GPU's name)'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


def training_precision(device: torch.device, precision: Precision | str) -> Precision:
    """The precision a training run uses: ``precision`` itself, or for 'auto' bf16 where it is faster.

    CUDA: bf16 where the GPU supports it (tensor cores), else fp32. CPU: bf16 only when a short
    probe times a bf16 convolution step (channels_last, as training runs it) faster than fp32:
    CPUs with AMX or AVX512-BF16 can be, others emulate it far slower, and another process's load
    can turn the answer (the probe reads the load of the moment). MPS: fp32.
    """
    if precision != Precision.auto:
        return Precision(precision)
    if device.type == "cuda":
        return Precision.bf16 if cuda_bf16_native(device) else Precision.fp32
    if device.type == "cpu":
        return Precision.bf16 if _cpu_bf16_faster() else Precision.fp32
    return Precision.fp32


def cuda_bf16_native(device: torch.device) -> bool:
    """bf16 in the GPU's own tensor cores (compute capability 8.0, Ampere, and later), not emulated."""
    return torch.cuda.get_device_capability(device)[0] >= 8


@functools.lru_cache(maxsize=1)
def _cpu_bf16_faster() -> bool:
    """Time a 3×3 convolution's forward and backward in fp32 and under bf16 autocast (about half a
    second), interleaved: 128 channels at 32² is the probe whose ratio follows a whole training
    step's (docs/design-notes.md)."""
    conv = torch.nn.Conv2d(128, 128, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(8, 128, 32, 32).to(memory_format=torch.channels_last)

    def step(dtype: torch.dtype | None) -> Callable[[], None]:
        def run() -> None:
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                conv(x.requires_grad_()).float().square().mean().backward()

        return run

    times = interleaved({Precision.bf16: step(torch.bfloat16), Precision.fp32: step(None)}, repeats=5)
    return min(times[Precision.bf16]) < 0.9 * min(times[Precision.fp32])
