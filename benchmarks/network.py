"""(2) PConvUNet paper512 CPU inference at 512², fp32: pconv vs reference-(a) network vs plain-conv floor;
and the seam blending that follows every forward pass, against the shipped preset's forward."""

from __future__ import annotations

import torch

from pconv_cli.model.unet import PConvConfig, PConvUNet

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


def blend_cost(repeats: int, warmup: int = 1, side: int = 512) -> list[dict]:
    """ms per image of seam blending and of a `small` forward pass at side², for irregular masks of 10-50 % holes."""
    import numpy as np

    from pconv_cli.imaging.maskgen import generate, seeded_draw
    from pconv_cli.runtime.blend import blend_fill

    torch.manual_seed(0)
    model = PConvUNet(PConvConfig.preset("small")).eval()
    records = []
    for low, high in ((0.1, 0.2), (0.4, 0.5)):
        hole, _ = generate("mixed", (side, side), (low, high), 0, seeded_draw(0, int(low * 10)))
        rng = np.random.default_rng(0)
        photo = rng.random((side, side, 3), dtype=np.float32)
        fill = rng.random((side, side, 3), dtype=np.float32)
        mask = torch.from_numpy(~hole)[None, None].float()
        image = torch.from_numpy(photo).permute(2, 0, 1)[None] * mask

        def forward(image=image, mask=mask):
            with torch.inference_mode():
                model(image, mask)

        cases = {
            "blend": lambda hole=hole, photo=photo, fill=fill: blend_fill(photo, fill, hole),
            "small forward": forward,
        }
        times = interleaved(cases, repeats, warmup)
        records.append(
            {
                "group": "network",
                "case": f"seam blending at {side}², holes ({low}, {high}], vs a small forward pass",
                "metric": "ms/image",
                "values": medians(times, 1000.0),
                "ratios": {"blend/forward": ratio(times, "blend", "small forward")},
                "repeats": repeats,
                "notes": ["random photo and fill: the slowest case for the solver (no smooth structure to keep)"],
            }
        )
    return records
