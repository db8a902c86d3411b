"""Throughput of a training run against the chip's limit: python relay/speed.py METRICS.jsonl WEIGHTS [PEAK_TFLOPS].

Counts the floating-point operations of one training step per image (U-Net forward and
backward, and the VGG-16 loss network over output, composite and truth when the run used
the perceptual and style terms) with torch's FLOP counter, takes the median img/s of the
run's logged steps (the first tenth left out as warm-up), and prints JSON: img/s, GFLOP per
image, achieved TFLOP/s and its share of PEAK_TFLOPS (default 790: a bf16 matrix product
measured on this workplace's H100 and H200). Peak GPU memory comes from the metrics.
"""

import json
import statistics
import sys

import torch
from torch.utils.flop_counter import FlopCounterMode

from pconv_cli.model.weights import load_model
from pconv_cli.training.loss import InpaintingLoss, LossWeights


def step_flops(weights: str, size: int, vgg: bool) -> float:
    model = load_model(weights).float().train()
    loss = InpaintingLoss(LossWeights() if vgg else LossWeights.parse("perceptual=0,style=0"))
    # Two images: BatchNorm in training mode refuses one at a 1×1 bottleneck (crops of 2**levels).
    image = torch.rand(2, 3, size, size)
    mask = (torch.rand(2, 1, size, size) > 0.3).float()
    with FlopCounterMode(display=False) as counter:
        total, _ = loss(model(image * mask, mask), image, mask)
        total.backward()
    return float(counter.get_total_flops()) / 2


def main(metrics: str, weights: str, peak: float = 790.0) -> dict:
    records = [json.loads(line) for line in open(metrics) if line.strip()]
    steps = [r for r in records if "img_s" in r]
    steps = steps[len(steps) // 10 :]
    if not steps:
        raise SystemExit(f"{metrics}: no logged training steps")
    vgg = any(r.get("perceptual", 0) > 0 for r in steps)
    size = load_model(weights).config.image_size
    img_s = statistics.median(r["img_s"] for r in steps)
    gflop = step_flops(weights, size, vgg) / 1e9
    tflops = img_s * gflop / 1e3
    return {
        "img_s": round(img_s, 1),
        "crop": size,
        "full_loss": vgg,
        "gflop_per_image": round(gflop, 1),
        "achieved_tflops": round(tflops, 1),
        "share_of_peak": round(tflops / peak, 4),
        "peak_gpu_mem_gib": max((r["gpu_mem_gib"] for r in steps if "gpu_mem_gib" in r), default=None),
        "steps": records[-1].get("step") if records else 0,
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3], *map(float, sys.argv[3:4]))))
