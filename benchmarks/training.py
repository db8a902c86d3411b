"""(5) CPU training throughput with the full InpaintingLoss: pconv vs the same loop with reference-(a) layers;
and the CPU relay's step (pixel terms) in fp32 against bf16 autocast, with what `--precision auto` picks."""

from __future__ import annotations

import torch

from pconv_cli.choices import Precision
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.runtime.devices import training_precision
from pconv_cli.training.loss import InpaintingLoss, LossWeights

from .layers import blob_mask
from .reference import KINDS, swap_layers
from .timing import interleaved, medians, ratio


def run(repeats: int, warmup: int = 1, preset: str = "paper256", batch: int = 8) -> list[dict]:
    """images/s of an Adam step (forward, loss, backward, update) for pconv, reference-(a) and plain-conv networks.

    Two records: with the full InpaintingLoss, and with an L1 loss only, which shows the networks' own share
    (the VGG-16 passes of the full loss are the same work for every network).
    """
    torch.manual_seed(0)
    base = PConvUNet(PConvConfig.preset(preset))
    side = base.config.image_size
    criterion = InpaintingLoss()
    gen = torch.Generator().manual_seed(0)
    mask = blob_mask(batch, side, gen)
    target = torch.rand(batch, 3, side, side, generator=gen)

    def full_loss(out: torch.Tensor) -> torch.Tensor:
        return criterion(out, target, mask)[0]

    def l1_loss(out: torch.Tensor) -> torch.Tensor:
        return (out - target).abs().mean()

    def loop(model: PConvUNet, loss_fn):
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)

        def step() -> None:
            loss = loss_fn(model(target * mask, mask))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    records = []
    for name, loss_fn in (("full loss", full_loss), ("L1 loss only", l1_loss)):
        cases = {kind: loop(swap_layers(base, kind), loss_fn) for kind in KINDS}
        times = interleaved(cases, repeats, warmup)
        records.append(
            {
                "group": "training",
                "case": f"{preset} training step {side}² batch {batch}, {name}, Adam",
                "metric": "images/s",
                "values": {kind: batch / t for kind, t in medians(times).items()},
                "ratios": {
                    "reference/pconv": ratio(times, "reference", "pconv"),
                    "pconv/plain": ratio(times, "pconv", "plain"),
                    "reference/plain": ratio(times, "reference", "plain"),
                },
                "repeats": repeats,
                "notes": [],
            }
        )
    return records


def precision(repeats: int, warmup: int = 1, preset: str = "small", batch: int = 8) -> dict:
    """images/s of the CPU relay's Adam step (pixel terms) in fp32 and under bf16 autocast, each in the
    memory format training gives it (contiguous for fp32, channels_last for bf16), and the precision
    `pconv train --precision auto` picks on this machine (its probe runs first, on an idle CPU)."""
    picked = training_precision(torch.device("cpu"), Precision.auto)
    torch.manual_seed(0)
    base = PConvUNet(PConvConfig.preset(preset))
    side = base.config.image_size
    criterion = InpaintingLoss(LossWeights.parse("perceptual=0,style=0"))
    gen = torch.Generator().manual_seed(0)
    mask = blob_mask(batch, side, gen)
    target = torch.rand(batch, 3, side, side, generator=gen)

    def loop(dtype: torch.dtype | None):
        fmt = torch.channels_last if dtype is not None else torch.contiguous_format
        model = PConvUNet(base.config).to(memory_format=fmt).train()
        model.load_state_dict(base.state_dict())
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)
        x, m, t = (a.contiguous(memory_format=fmt) for a in (target * mask, mask, target))

        def step() -> None:
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                out = model(x, m)
            loss = criterion(out.float(), t, m)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    times = interleaved({"fp32": loop(None), "bf16": loop(torch.bfloat16)}, repeats, warmup)
    return {
        "group": "training",
        "case": f"{preset} training step {side}² batch {batch}, pixel terms (the CPU relay's), Adam",
        "metric": "images/s",
        "values": {name: batch / t for name, t in medians(times).items()},
        "ratios": {"fp32/bf16": ratio(times, "fp32", "bf16")},
        "repeats": repeats,
        "notes": [f"--precision auto picks {picked.value} here"],
    }
