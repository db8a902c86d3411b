"""(1) One partial convolution at paper512's shapes: pconv vs reference (a), torch-pconv (b), nn.Conv2d (c)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pconv_cli.model.layer import PartialConv2d

from .reference import PlainConv2d, RefPartialConv2d
from .timing import interleaved, medians, ratio

# name, channels of the input parts, C_out, kernel, stride, input side (paper512 at 512², batch 1)
SHAPES = (
    ("PConv1 encoder 3→64 k7 s2 @512", (3,), 64, 7, 2, 512),
    ("PConv2 encoder 64→128 k5 s2 @256", (64,), 128, 5, 2, 256),
    ("PConv4 encoder 256→512 k3 s2 @64", (256,), 512, 3, 2, 64),
    ("PConv13 decoder 512+256→256 k3 @64", (512, 256), 256, 3, 1, 64),
    ("PConv15 decoder 128+64→64 k3 @256", (128, 64), 64, 3, 1, 256),
    ("PConv16 decoder 64+3→3 k3 @512", (64, 3), 3, 3, 1, 512),
)


def blob_mask(n: int, side: int, generator: torch.Generator) -> torch.Tensor:
    """N×1×side×side mask (1 = valid) with blocky holes covering about a third of the area."""
    coarse = torch.rand(n, 1, max(side // 16, 1), max(side // 16, 1), generator=generator)
    return (F.interpolate(coarse, size=(side, side)) > 0.33).float()


def torch_pconv_layer(layer: PartialConv2d) -> tuple[Callable | None, str]:
    """The torch-pconv package's layer with ``layer``'s weights, or None and why it is unavailable."""
    try:
        from torch_pconv import PConv2d
    except ImportError as exc:
        return None, f"skipped: torch-pconv not installed (pip install -e '.[bench]'): {exc}"
    c = layer.conv
    other = PConv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, bias=True)
    with torch.no_grad():
        other.regular_conv.weight.copy_(c.weight)
        other.bias.copy_(layer.bias.view_as(other.bias))
    return other, ""


def _shape_records(
    name: str, parts: tuple[int, ...], cout: int, k: int, stride: int, side: int, repeats: int, warmup: int
) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    layer = PartialConv2d(sum(parts), cout, k, stride, k // 2)
    variants: dict[str, torch.nn.Module] = {"pconv": layer, "reference": RefPartialConv2d(layer)}
    other, why = torch_pconv_layer(layer)
    if other is not None:
        variants["torch-pconv"] = other
    variants["plain"] = PlainConv2d(layer)
    xs = [torch.randn(1, c, side, side, generator=gen) for c in parts]
    ms = [blob_mask(1, side, gen) for _ in parts]
    grad = torch.randn(layer(xs, ms)[0].shape, generator=gen)

    def call(kind: str, mod: torch.nn.Module, inputs: list[torch.Tensor]) -> torch.Tensor:
        if kind == "torch-pconv":  # one N×H×W mask for the whole input: all it accepts
            return mod(torch.cat(inputs, 1) if len(inputs) > 1 else inputs[0], ms[0][:, 0])[0]
        return mod(inputs if len(inputs) > 1 else inputs[0], ms if len(ms) > 1 else ms[0])[0]

    def forward(kind: str, mod: torch.nn.Module) -> Callable[[], None]:
        def f() -> None:
            with torch.no_grad():
                call(kind, mod, xs)

        return f

    def backward(kind: str, mod: torch.nn.Module) -> Callable[[], None]:
        leaves = [x.clone().requires_grad_() for x in xs]

        def f() -> None:
            mod.zero_grad(set_to_none=True)
            for leaf in leaves:
                leaf.grad = None
            call(kind, mod, leaves).backward(grad)

        return f

    notes = [why] if why else []
    if len(parts) > 1 and other is not None:
        notes.append("torch-pconv is given one mask for the concatenated input (it takes no per-part masks)")
    records = []
    for mode, make in (("forward", forward), ("forward+backward", backward)):
        times = interleaved({kind: make(kind, mod) for kind, mod in variants.items()}, repeats, warmup)
        records.append(
            {
                "group": "layer",
                "case": f"{name} {mode}",
                "metric": "ms",
                "values": medians(times, 1000.0),
                "ratios": {
                    f"{kind}/pconv": ratio(times, kind, "pconv") for kind in variants if kind not in ("pconv", "plain")
                }
                | {"pconv/plain": ratio(times, "pconv", "plain")},
                "repeats": repeats,
                "notes": notes,
            }
        )
    return records


def run(repeats: int, warmup: int = 1) -> list[dict]:
    """Forward and forward+backward records for every shape in SHAPES (batch 1, fp32)."""
    return [r for shape in SHAPES for r in _shape_records(*shape, repeats=repeats, warmup=warmup)]
