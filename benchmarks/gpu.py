"""Inference throughput and peak memory of a model on a CUDA GPU, fp32 and bf16 (channels_last).

    python -m benchmarks.gpu WEIGHTS OUT.json

Three shapes of the same 4.2 Mpixel work (16×512², 4×1024², 1×2048²), median of 10 timed
forward passes (CUDA events) after 3 warm-ups, random images with a quarter of the pixels hole.
Runs on the device machine of a relay session (relay/README.md); results go to
benchmarks/results/<gpu>-<date>-gpu.md by hand, with the card and torch version it printed.
"""

import json
import sys

import torch

from pconv_cli.model.weights import load_model


def main(weights: str, out: str) -> None:
    model = load_model(weights).cuda().eval().to(memory_format=torch.channels_last)
    results = []
    for size, batch in ((512, 16), (1024, 4), (2048, 1)):
        for precision in ("fp32", "bf16"):
            x = torch.rand(batch, 3, size, size, device="cuda").to(memory_format=torch.channels_last)
            valid = (torch.rand(batch, 1, size, size, device="cuda") > 0.25).float()
            valid = valid.to(memory_format=torch.channels_last)
            autocast = torch.autocast("cuda", torch.bfloat16, enabled=precision == "bf16")
            torch.cuda.reset_peak_memory_stats()
            with torch.inference_mode(), autocast:
                for _ in range(3):
                    model(x * valid, valid)
                torch.cuda.synchronize()
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                times = []
                for _ in range(10):
                    start.record()
                    model(x * valid, valid)
                    end.record()
                    torch.cuda.synchronize()
                    times.append(start.elapsed_time(end))
            ms = sorted(times)[len(times) // 2]
            results.append(
                {
                    "size": size,
                    "batch": batch,
                    "precision": precision,
                    "ms_per_batch": round(ms, 2),
                    "img_s": round(batch * 1000 / ms, 1),
                    "mpix_s": round(batch * size * size / ms / 1000, 1),
                    "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                }
            )
            print(json.dumps(results[-1]))
    record = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}
    with open(out, "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
