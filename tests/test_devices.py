import pytest
import torch

from pconv_cli import devices
from pconv_cli.devices import pick_device, training_precision


def test_explicit_training_precision_is_kept():
    for precision in ("fp32", "bf16", "fp16"):
        assert training_precision(torch.device("cpu"), precision) == precision


@pytest.mark.parametrize("amx", [True, False])
def test_auto_on_cpu_takes_bf16_only_with_amx(monkeypatch, amx):
    monkeypatch.setattr(devices, "_cpu_has_amx", lambda: amx)
    assert training_precision(torch.device("cpu"), "auto") == ("bf16" if amx else "fp32")
    assert training_precision(torch.device("mps"), "auto") == "fp32"


def test_amx_is_read_from_the_cpu_flags():
    epyc = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n"
    xeon = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu avx512_bf16 amx_bf16 amx_tile amx_int8\n"
    assert not devices.amx_in_cpuinfo(epyc)  # bf16 dot products without tiles: measured 1.5x slower
    assert devices.amx_in_cpuinfo(xeon)
    assert not devices.amx_in_cpuinfo("model name\t: amx_bf16 lookalike\n")  # only the flags line counts
    devices._cpu_has_amx.cache_clear()
    assert isinstance(devices._cpu_has_amx(), bool) and devices._cpu_has_amx.cache_info().misses == 1


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
