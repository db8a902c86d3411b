"""Installed size of what each runtime extra adds to pconv's own dependencies, from package metadata."""

from __future__ import annotations

import re
from importlib import metadata

RUNTIME_PACKAGES = {"torch": ["torch", "torchvision", "safetensors"], "onnx": ["onnxruntime"]}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def closure(names: list[str]) -> set[str]:
    """The installed distributions these need, their own requirements included (extras left out)."""
    seen: set[str] = set()
    todo = [n.lower() for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" not in req and "extra==" not in req:
                todo.append(_name(req))
    return seen


def size_mib(names: set[str]) -> float:
    """Bytes on disk of these distributions' files, in MiB."""
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = file.locate()
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def extra_size_mib(runtime: str) -> float:
    """What the runtime's packages and everything they pull in add beyond pconv's base dependencies."""
    base = closure([_name(r) for r in metadata.requires("pconv-cli") or [] if "extra ==" not in r])
    return size_mib(closure(RUNTIME_PACKAGES[runtime]) - base)
