"""Device selection shared by every command (auto = CUDA, then MPS, then CPU), and the
training precision ``auto`` resolves to on it."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from .errors import UsageError


def pick_device(spec: str = "auto") -> torch.device:
    """torch.device for 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; UsageError when unavailable.

    A CUDA device always carries its index: ``torch.cuda.set_device`` refuses a bare 'cuda'
    (torch 2.11 on an H200 did, so ``pconv train --device cuda`` failed there).
    """
    spec = spec.strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps" if mps_ok else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"unknown device {spec!r}; expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: CUDA is not available on this machine (try --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    elif device.type == "mps" and not mps_ok:
        raise UsageError(f"--device {spec}: MPS is not available on this machine (try --device cpu)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unsupported device {spec!r}; expected auto, cpu, cuda, cuda:N or mps")
    return device


def describe(device: torch.device) -> str:
    """Human name for stderr, e.g. 'cuda:0 (NVIDIA H100)'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


def training_precision(device: torch.device, precision: str) -> str:
    """The precision a training run uses: ``precision`` itself, or for 'auto' bf16 where it is faster.

    CUDA: bf16 where the GPU supports it (tensor cores), else fp32. CPU: bf16 only with AMX
    (Intel since Sapphire Rapids), where it is faster. Without AMX bf16 autocast was measured
    1.5× (an AMD EPYC with AVX512-BF16) to 8× (one without) slower than fp32 for a training step.
    A timing probe decided this before session 18; on a CPU shared with other work it picked bf16
    in 2 of 5 tries. MPS: fp32.
    """
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if cuda_bf16_native(device) else "fp32"
    if device.type == "cpu":
        return "bf16" if _cpu_has_amx() else "fp32"
    return "fp32"


def cuda_bf16_native(device: torch.device) -> bool:
    """bf16 in the GPU's own tensor cores (compute capability 8.0, Ampere, and later), not emulated."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def amx_in_cpuinfo(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's text lists AMX's bf16 tiles (``amx_bf16``) among a CPU's flags.

    Example: ``amx_in_cpuinfo("flags\t: fpu avx512_bf16 amx_bf16 amx_tile")`` is True; with
    ``avx512_bf16`` alone (bf16 dot products, no tiles) it is False.
    """
    return any(line.startswith("flags") and "amx_bf16" in line.split() for line in cpuinfo.splitlines())


@functools.lru_cache(maxsize=1)
def _cpu_has_amx() -> bool:
    """AMX on this CPU (Linux; elsewhere no: macOS and Windows x86 CPUs run fp32)."""
    try:
        return amx_in_cpuinfo(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return False
