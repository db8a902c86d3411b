"""The layers pconv is compared with, and a helper to build a PConvUNet from them.

``RefPartialConv2d`` is the paper's layer written the way NVIDIA's public
implementation computes it: the mask is materialised with one channel per input
channel and ``sum(M)`` is a convolution of that mask with an all-ones
C_out×C_in×k×k kernel, giving a C_out-channel mask for the next layer.
``PlainConv2d`` is an ordinary convolution of the same shape that ignores the
mask: the floor any partial convolution can only approach.
Both share PartialConv2d's parameter names (``conv.weight``, ``bias``), so
weights copy across and the networks compute on identical parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pconv_cli.model.layer import PartialConv2d
from pconv_cli.model.unet import PConvUNet

Tensors = torch.Tensor | Sequence[torch.Tensor]
KINDS = ("pconv", "reference", "plain")


def _cat(parts: Tensors) -> torch.Tensor:
    return parts if isinstance(parts, torch.Tensor) else torch.cat(list(parts), 1)


class _SameShape(nn.Module):
    """Convolution parameters laid out as in PartialConv2d."""

    def __init__(self, layer: PartialConv2d) -> None:
        super().__init__()
        self.conv = copy.deepcopy(layer.conv)
        self.bias = copy.deepcopy(layer.bias)


class RefPartialConv2d(_SameShape):
    """forward(x, mask) -> (out N×C_out×H'×W', mask N×C_out×H'×W'), NVIDIA-style multi-channel mask.

    x and mask may be sequences of parts (concatenated on channels); a part's
    1-channel mask is expanded to that part's channel count first.
    """

    def __init__(self, layer: PartialConv2d) -> None:
        super().__init__(layer)
        c = self.conv
        self.register_buffer("ones", torch.ones(c.out_channels, c.in_channels, *c.kernel_size), persistent=False)
        self.window = c.in_channels * c.kernel_size[0] * c.kernel_size[1]

    def forward(self, x: Tensors, mask: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
        xs = [x] if isinstance(x, torch.Tensor) else list(x)
        ms = [mask] if isinstance(mask, torch.Tensor) else list(mask)
        x = _cat(xs)
        mask = torch.cat([m.expand(-1, xi.shape[1], -1, -1) for xi, m in zip(xs, ms)], 1)
        with torch.no_grad():
            count = F.conv2d(mask, self.ones, None, self.conv.stride, self.conv.padding)
            new_mask = count.clamp(0.0, 1.0)
            ratio = self.window / (count + 1e-8) * new_mask
        out = self.conv(x * mask) * ratio
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out * new_mask, new_mask


class PlainConv2d(_SameShape):
    """forward(x, mask) -> (conv(x), a strided view of the first mask): no mask arithmetic at all.

    The returned mask only keeps the network's shapes consistent; it costs no compute.
    """

    def forward(self, x: Tensors, mask: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.conv(_cat(x))
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        m = mask if isinstance(mask, torch.Tensor) else mask[0]
        sh, sw = self.conv.stride
        return out, m[..., ::sh, ::sw]


class VariantBlock(nn.Module):
    """A PConvUNet block rebuilt around another layer: that layer, then the block's BatchNorm and activation.

    Unlike pconv's block it does nothing about the mask: the reference layer multiplies its own input by
    its mask (as NVIDIA's does) and the plain layer ignores it.
    """

    def __init__(self, block: nn.Module, layer_type: type[_SameShape]) -> None:
        super().__init__()
        self.conv = layer_type(block.conv)
        self.bn, self.act = copy.deepcopy(block.bn), copy.deepcopy(block.act)

    def forward(self, x: Tensors, mask: Tensors, masked: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = self.conv(x, mask)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x, mask


def swap_layers(model: PConvUNet, kind: str) -> PConvUNet:
    """A copy of ``model`` whose blocks use ``kind`` layers with the same weights.

    kind: 'pconv' (a plain copy), 'reference' (RefPartialConv2d) or 'plain' (PlainConv2d).
    """
    if kind not in KINDS:
        raise ValueError(f"expected kind in {KINDS}, got {kind!r}")
    model = copy.deepcopy(model)
    if kind != "pconv":
        layer_type = RefPartialConv2d if kind == "reference" else PlainConv2d
        for blocks in (model.encoder, model.decoder):
            for i, block in enumerate(blocks):
                blocks[i] = VariantBlock(block, layer_type)
    return model
