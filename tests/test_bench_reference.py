"""The benchmark's reference layers compute what PartialConv2d computes, so the timings compare like with like."""

import pytest
import torch

from benchmarks.reference import PlainConv2d, RefPartialConv2d, swap_layers
from pconv_cli.model.layer import PartialConv2d
from pconv_cli.model.unet import PConvConfig, PConvUNet


def random_mask(shape, p_hole):
    m = (torch.rand(shape) > p_hole).float()
    m[..., :4, :4] = 0  # windows with no valid input at all
    return m


@pytest.mark.parametrize("kernel,stride", [(3, 1), (5, 2), (7, 2)])
def test_reference_layer_matches_pconv(kernel, stride):
    layer = PartialConv2d(4, 6, kernel, stride, kernel // 2)
    torch.nn.init.normal_(layer.bias)
    ref = RefPartialConv2d(layer)
    x, mask = torch.randn(2, 4, 13, 12), random_mask((2, 1, 13, 12), 0.6)
    out, new_mask = layer(x, mask)
    ref_out, ref_mask = ref(x, mask)
    assert ref_mask.shape == (2, 6, *out.shape[2:])  # the materialised multi-channel mask
    assert torch.equal(ref_mask, new_mask.expand_as(ref_mask))
    assert (new_mask == 0).any()
    torch.testing.assert_close(ref_out, out, atol=1e-5, rtol=1e-5)


def test_reference_layer_matches_pconv_on_two_parts():
    layer = PartialConv2d(5, 3, 3, 1, 1)
    x = (torch.randn(1, 3, 9, 8), torch.randn(1, 2, 9, 8))
    mask = (random_mask((1, 1, 9, 8), 0.5), random_mask((1, 1, 9, 8), 0.2))
    out, new_mask = layer(x, mask)
    ref_out, ref_mask = RefPartialConv2d(layer)(x, mask)
    assert torch.equal(ref_mask[:, :1], new_mask)
    torch.testing.assert_close(ref_out, out, atol=1e-5, rtol=1e-5)


def test_reference_network_matches_pconv_network():
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    image = torch.rand(2, 3, 32, 40)
    mask = torch.ones(2, 1, 32, 40)
    mask[..., 8:20, 10:30] = 0
    reference = swap_layers(model, "reference").eval()
    assert any(isinstance(m, RefPartialConv2d) for m in reference.modules())
    with torch.no_grad():
        torch.testing.assert_close(reference(image * mask, mask), model(image * mask, mask), atol=1e-5, rtol=1e-4)


def test_plain_layer_is_conv2d_with_the_same_weights():
    layer = PartialConv2d(3, 4, 3, 2, 1)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(1, 3, 10, 10)
    out, m = PlainConv2d(layer)(x, torch.ones(1, 1, 10, 10))
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, layer.weight, layer.bias, 2, 1))
    assert m.shape[2:] == out.shape[2:]


def test_plain_network_runs_and_swap_rejects_unknown_kind():
    model = PConvUNet(PConvConfig.preset("tiny"))
    plain = swap_layers(model, "plain")
    assert not any(isinstance(m, PartialConv2d) for m in plain.modules())
    assert plain(torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="kind"):
        swap_layers(model, "nvidia")
