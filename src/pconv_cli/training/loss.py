"""The paper's composite loss (eq. 3-7)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pconv_cli.imaging.masks import dilate_holes
from pconv_cli.model.vgg import POOLS, VGG16Features

# The 0..255 Caffe input makes activations ~255× (Gram matrices ~255²×) larger than those
# of a VGG fed [0, 1]-range images, the scale at which the paper's loss weights (0.05,
# 120) were set: unscaled, the style term outweighs the L1 terms by ~10^5 and training
# becomes style-only. ReLU networks are positively homogeneous (up to their biases), so
# dividing the pooled features by 255 expresses them per unit of image intensity.
FEATURE_SCALE = 1.0 / 255.0


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms; the defaults are the paper's."""

    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style: float = 120.0
    tv: float = 0.1

    @classmethod
    def parse(cls, spec: str) -> LossWeights:
        """Paper weights with some replaced: ``"perceptual=0,style=0"`` (names as the fields)."""
        values = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in cls.__dataclass_fields__:
                names = ", ".join(cls.__dataclass_fields__)
                raise ValueError(f"expected NAME=VALUE with NAME one of {names}, got {item!r}")
            try:
                values[name] = float(value)
            except ValueError:
                raise ValueError(f"expected a number for {name}, got {value.strip()!r}") from None
            # nan fails both; inf would make every loss non-finite, every step skipped
            if not 0 <= values[name] < math.inf:
                raise ValueError(f"expected a finite weight >= 0 for {name}, got {value.strip()}")
        return cls(**values)

    @property
    def needs_vgg(self) -> bool:
        return self.perceptual > 0 or self.style > 0


def gram(features: torch.Tensor) -> torch.Tensor:
    """K_p Ψᵀ Ψ with K_p = 1/(C·H·W): N×C×H×W -> N×C×C (computed in float32).

    Example:
        >>> gram(torch.ones(1, 2, 1, 2))
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    if features.dim() != 4:
        raise ValueError(f"expected N×C×H×W features, got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    f = features.float().reshape(n, c, h * w)
    with torch.autocast(features.device.type, enabled=False):  # bf16 Gram sums lose too much
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def total_variation(comp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_tv over the 1-pixel dilated hole region P; a pair counts only if both pixels are in P.

    comp: N×C×H×W, mask: N×1×H×W (1 = valid). Normalised by N_Icomp = C·H·W, averaged over N.

    Example: one hole pixel in a 3×3 ramp; its dilation P is the whole image.
        >>> mask = torch.ones(1, 1, 3, 3)
        >>> mask[..., 1, 1] = 0
        >>> total_variation(torch.arange(9.0).view(1, 1, 3, 3), mask)  # (6 · 1 + 6 · 3) / 9
        tensor(2.6667)
    """
    if comp.dim() != 4 or mask.shape != (comp.shape[0], 1, *comp.shape[2:]):
        got = f"{tuple(comp.shape)} and {tuple(mask.shape)}"
        raise ValueError(f"expected comp N×C×H×W and mask N×1×H×W of its size, got {got}")
    region = 1.0 - dilate_holes(mask.float(), 1)
    pairs_h = region[..., :, 1:] * region[..., :, :-1]
    pairs_v = region[..., 1:, :] * region[..., :-1, :]
    dh = (comp[..., :, 1:] - comp[..., :, :-1]).abs() * pairs_h
    dv = (comp[..., 1:, :] - comp[..., :-1, :]).abs() * pairs_v
    return (dh.sum() + dv.sum()) / comp.numel()


class InpaintingLoss(nn.Module):
    """forward(output, target, mask) -> (total, terms).

    output, target: N×3×H×W in [0, 1]; mask: N×1×H×W, 1 = valid.
    terms: dict of the six unweighted terms valid, hole, perceptual, style_out,
    style_comp, tv (0-dim tensors); total is their weighted sum. When ``weights`` give
    perceptual and style 0, VGG is neither loaded nor run and those terms are 0.
    """

    def __init__(self, weights: LossWeights | None = None) -> None:
        super().__init__()
        self.weights = weights or LossWeights()
        # Without perceptual and style terms there is no VGG pass, the largest part of a step (design-notes).
        self.vgg = VGG16Features(POOLS, FEATURE_SCALE) if self.weights.needs_vgg else None

    def forward(
        self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if output.shape != target.shape or output.dim() != 4 or output.shape[1] != 3:
            raise ValueError(
                f"expected output and target N×3×H×W alike, got {tuple(output.shape)} and {tuple(target.shape)}"
            )
        if mask.shape != (output.shape[0], 1, *output.shape[2:]):
            raise ValueError(f"expected mask N×1×H×W matching {tuple(output.shape)}, got {tuple(mask.shape)}")
        output, target, mask = output.float(), target.float(), mask.float()
        comp = mask * target + (1.0 - mask) * output
        terms = {
            "valid": (mask * (output - target)).abs().mean(),
            "hole": ((1.0 - mask) * (output - target)).abs().mean(),
        }
        n = output.shape[0]
        feats = self.vgg(torch.cat([output, comp, target])) if self.vgg is not None else []
        perceptual = output.new_zeros(())
        style_out = output.new_zeros(())
        style_comp = output.new_zeros(())
        for f in feats:
            f_out, f_comp, f_gt = f.float().split(n)
            perceptual = perceptual + F.l1_loss(f_out, f_gt) + F.l1_loss(f_comp, f_gt)
            g_gt = gram(f_gt)
            # ‖K(ΨᵀΨ_out − ΨᵀΨ_gt)‖₁ / C² per image is the mean over the C×C entries.
            style_out = style_out + F.l1_loss(gram(f_out), g_gt)
            style_comp = style_comp + F.l1_loss(gram(f_comp), g_gt)
        terms |= {
            "perceptual": perceptual,
            "style_out": style_out,
            "style_comp": style_comp,
            "tv": total_variation(comp, mask),
        }
        w = self.weights
        total = (
            w.valid * terms["valid"]
            + w.hole * terms["hole"]
            + w.perceptual * terms["perceptual"]
            + w.style * (terms["style_out"] + terms["style_comp"])
            + w.tv * terms["tv"]
        )
        return total, terms
