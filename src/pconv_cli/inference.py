"""Running a model on batches: padding, precision, compositing (DESIGN §2: only holes change), seam blending."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from .choices import Precision, values
from .devices import cuda_bf16_native
from .unet import PConvUNet

PRECISIONS = values(Precision)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """Low-precision dtype for autocast, or None for fp32. 'auto' is bf16 on CUDA, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"expected precision in {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and cuda_bf16_native(device) else "fp32"
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def composite(image: torch.Tensor, output: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """I_comp = M·I + (1−M)·clamp(I_out): N×C×H×W images, N×1×H×W mask (1 = valid)."""
    return torch.where(mask > 0.5, image, output.clamp(0.0, 1.0))


def blend_batch(image: torch.Tensor, comp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """blend.blend_fill on each image of a batch: N×C×H×W image and composite, N×1×H×W mask (1 = valid)."""
    from .blend import blend_fill

    images = image.float().permute(0, 2, 3, 1).cpu().numpy()
    comps = comp.float().permute(0, 2, 3, 1).cpu().numpy()
    holes = (mask[:, 0] <= 0.5).cpu().numpy()  # the complement of composite()'s valid test
    out = np.stack([blend_fill(i, c, h) for i, c, h in zip(images, comps, holes)])
    return torch.from_numpy(out).permute(0, 3, 1, 2).clamp_(0.0, 1.0).to(comp.device)


@torch.inference_mode()
def run_model(
    model: PConvUNet, image: torch.Tensor, mask: torch.Tensor, precision: str = "auto", blend: bool = True
) -> torch.Tensor:
    """Inpaint a batch on the model's device and return the composite on the input's device.

    image: N×3×H×W in [0, 1] (any H, W: padded to the model's multiple and cropped back);
    mask: N×1×H×W, 1 = valid. Low-precision output that is not finite is recomputed in fp32.
    blend: set the fill into the photo with blend.blend_fill (no dark rim, no step, no colour
    offset); False returns the network's own composite.
    """
    if image.dim() != 4 or mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != image.shape[0]:
        raise ValueError(f"expected image N×3×H×W and mask N×1×H×W, got {tuple(image.shape)} and {tuple(mask.shape)}")
    device = next(model.parameters()).device
    x, m = image.to(device, torch.float32), mask.to(device, torch.float32)
    dtype = autocast_dtype(device, precision)
    context = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
    with context:
        out = model.forward_any_size(x * m, m)
    if dtype is not None and not torch.isfinite(out).all():
        out = model.forward_any_size(x * m, m)
    result = composite(x, out.float(), m)
    if blend:
        result = blend_batch(x, result, m)
    return result.to(image.device)
