"""Device selection shared by every command (DESIGN §2: auto = CUDA, then MPS, then CPU)."""

from __future__ import annotations

import torch

from .errors import UsageError


def pick_device(spec: str = "auto") -> torch.device:
    """torch.device for 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; UsageError when unavailable."""
    spec = spec.strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
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
