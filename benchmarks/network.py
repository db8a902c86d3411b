"""(2) PConvUNet paper512 CPU inference at 512², fp32: pconv vs reference-(a) network vs plain-conv floor."""

from __future__ import annotations

import torch

from pconv_cli.unet import PConvConfig, PConvUNet

from .layers import blob_mask
from .reference import KINDS, swap_layers
from .timing import interleaved, medians, ratio


def run(repeats: dict[int, int], warmup: int = 1, preset: str = "paper512") -> list[dict]:
    """One record per batch size (repeats: batch -> timed rounds): ms/image of three networks sharing weights."""
    torch.manual_seed(0)
    base = PConvUNet(PConvConfig.preset(preset)).eval()
    side = base.config.image_size
    models = {kind: swap_layers(base, kind).eval() for kind in KINDS}
    gen = torch.Generator().manual_seed(0)
    records = []
    for batch, reps in repeats.items():
        mask = blob_mask(batch, side, gen)
        image = torch.rand(batch, 3, side, side, generator=gen) * mask

        def infer(model, image=image, mask=mask):
            def f():
                with torch.inference_mode():
                    model(image, mask)

            return f

        times = interleaved({kind: infer(m) for kind, m in models.items()}, reps, warmup)
        records.append(
            {
                "group": "network",
                "case": f"{preset} inference {side}² fp32 batch {batch}",
                "metric": "ms/image",
                "values": medians(times, 1000.0 / batch),
                "ratios": {
                    "reference/pconv": ratio(times, "reference", "pconv"),
                    "pconv/plain": ratio(times, "pconv", "plain"),
                },
                "repeats": reps,
                "notes": [],
            }
        )
    return records
