import pytest
import torch

from pconv_cli.runtime import devices
from pconv_cli.runtime.devices import pick_device, training_precision


def test_explicit_training_precision_is_kept():
    for precision in ("fp32", "bf16", "fp16"):
        assert training_precision(torch.device("cpu"), precision) == precision


@pytest.mark.parametrize("faster", [True, False])
def test_auto_on_cpu_takes_bf16_only_where_the_probe_finds_it_faster(monkeypatch, faster):
    monkeypatch.setattr(devices, "_cpu_bf16_faster", lambda: faster)
    assert training_precision(torch.device("cpu"), "auto") == ("bf16" if faster else "fp32")
    assert training_precision(torch.device("mps"), "auto") == "fp32"


@pytest.mark.slow
def test_the_cpu_probe_runs_and_is_cached():
    devices._cpu_bf16_faster.cache_clear()
    first = devices._cpu_bf16_faster()
    assert isinstance(first, bool) and devices._cpu_bf16_faster() is first
    assert devices._cpu_bf16_faster.cache_info().hits == 1


def test_pick_device_cpu():
    assert pick_device("cpu").type == "cpu" and pick_device(" CPU ").type == "cpu"


@pytest.mark.parametrize("spec", ["auto", "cuda", "cuda:1"])
def test_a_cuda_device_carries_its_index(monkeypatch, spec):
    # torch.cuda.set_device refuses a bare 'cuda' (seen with torch 2.11 on an H200).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    device = pick_device(spec)
    assert device.type == "cuda" and device.index == (1 if spec == "cuda:1" else 0)
