"""(5) CPU training throughput with the full InpaintingLoss: pconv vs the same loop with reference-(a) layers."""

from __future__ import annotations

import torch

from pconv_cli.loss import InpaintingLoss
from pconv_cli.unet import PConvConfig, PConvUNet

from .layers import blob_mask
from .reference import swap_layers
from .timing import interleaved, medians, ratio


def run(repeats: int, warmup: int = 1, preset: str = "paper256", batch: int = 8) -> list[dict]:
    """One record: images/s of an Adam step (forward, loss, backward, update) for both networks."""
    torch.manual_seed(0)
    base = PConvUNet(PConvConfig.preset(preset))
    side = base.config.image_size
    criterion = InpaintingLoss()
    gen = torch.Generator().manual_seed(0)
    mask = blob_mask(batch, side, gen)
    target = torch.rand(batch, 3, side, side, generator=gen)

    def loop(model):
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)

        def step():
            out = model(target * mask, mask)
            loss, _ = criterion(out, target, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    times = interleaved({kind: loop(swap_layers(base, kind)) for kind in ("pconv", "reference")}, repeats, warmup)
    return [
        {
            "group": "training",
            "case": f"{preset} training step {side}² batch {batch}, full loss, Adam",
            "metric": "images/s",
            "values": {kind: batch / t for kind, t in medians(times).items()},
            "ratios": {"reference/pconv": ratio(times, "reference", "pconv")},
            "repeats": repeats,
            "notes": [],
        }
    ]
