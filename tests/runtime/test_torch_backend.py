import doctest

import numpy as np
import pytest
import torch

from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.runtime import torch_backend as inference
from pconv_cli.runtime.torch_backend import TorchBackend, autocast_dtype


def test_torch_backend_runs_the_bare_network_in_channels_last():
    torch.manual_seed(0)
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    image = torch.rand(2, 3, 16, 24)
    mask = (torch.rand(2, 1, 16, 24) > 0.3).float()
    out = TorchBackend(model, "fp32").forward((image * mask).numpy(), mask.numpy())
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (2, 3, 16, 24)
    with torch.inference_mode():
        expected = model(image * mask, mask)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-5)


def test_torch_backend_recomputes_non_finite_low_precision_output_in_fp32():
    class Overflow(PConvUNet):
        def forward(self, image, mask):
            out = super().forward(image, mask)
            return out * float("inf") if torch.is_autocast_enabled("cpu") else out

    model = Overflow(PConvConfig.preset("tiny")).eval()
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    out = TorchBackend(model, "bf16").forward(x, np.ones((1, 1, 8, 8), np.float32))
    assert np.isfinite(out).all()


def test_precision_choice():
    assert autocast_dtype(torch.device("cpu"), "auto") is None
    assert autocast_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        autocast_dtype(torch.device("cpu"), "int8")


def test_a_backend_says_the_precision_it_computes_in(device):
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    auto = "bf16" if device.type == "cuda" and inference.cuda_bf16_native(device) else "fp32"
    assert TorchBackend.open(model, device, "auto").precision_used == auto  # what auto resolved to
    assert TorchBackend.open(model, device, "fp32").precision_used == "fp32"
    assert TorchBackend.open(model, device, "bf16").precision_used == "bf16"


def test_the_docstring_examples_run():
    assert doctest.testmod(inference, raise_on_error=False).failed == 0
