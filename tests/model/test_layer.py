import doctest
import itertools

import pytest
import torch
import torch.nn.functional as F

from pconv_cli.model import layer
from pconv_cli.model.layer import PartialConv2d, valid_count


def naive_pconv(x, mask, weight, bias, stride, padding):
    """Paper eq. 1-2 window by window, with a materialised C_in-channel mask, in float64."""
    x, mask, weight = x.double(), mask.double().expand_as(x), weight.double()
    n, cin, h, w = x.shape
    cout, _, kh, kw = weight.shape
    xp = F.pad(x, (padding,) * 4)
    mp = F.pad(mask, (padding,) * 4)  # zero padding counts as hole
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    out = torch.zeros(n, cout, ho, wo, dtype=torch.float64)
    new_mask = torch.zeros(n, 1, ho, wo, dtype=torch.float64)
    for b, i, j in itertools.product(range(n), range(ho), range(wo)):
        X = xp[b, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
        M = mp[b, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
        sum_m = M.sum()
        if sum_m > 0:
            for o in range(cout):
                out[b, o, i, j] = (weight[o] * X * M).sum() * (cin * kh * kw) / sum_m + (
                    bias[o] if bias is not None else 0
                )
            new_mask[b, 0, i, j] = 1
    return out, new_mask


def random_mask(shape, p_hole):
    m = (torch.rand(shape) > p_hole).float()
    m[..., :5, :5] = 0  # a corner block: windows with no valid input at all
    return m


@pytest.mark.parametrize("kernel,stride", [(3, 1), (3, 2), (5, 1), (5, 2), (7, 1), (7, 2)])
@pytest.mark.parametrize("multichannel", [False, True])
def test_matches_naive_reference(kernel, stride, multichannel):
    cin, cout = 4, 5
    layer = PartialConv2d(cin, cout, kernel, stride, kernel // 2)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(2, cin, 11, 10)
    mask = random_mask((2, cin if multichannel else 1, 11, 10), 0.6)
    out, new_mask = layer(x, mask)
    ref, ref_mask = naive_pconv(x, mask, layer.weight, layer.bias, stride, kernel // 2)
    assert new_mask.shape == (2, 1, *ref.shape[2:])
    assert torch.equal(new_mask, ref_mask.float())
    assert (ref_mask == 0).any() and (ref_mask == 1).any()
    assert (out - ref).abs().max() <= 1e-5
    assert torch.all(out[new_mask.expand_as(out) == 0] == 0)


@pytest.mark.parametrize("multichannel", [False, True])
def test_two_part_input_matches_concatenated_reference(multichannel):
    c1, c2 = 3, 2
    layer = PartialConv2d(c1 + c2, 4, 3, 1, 1)
    torch.nn.init.normal_(layer.bias)
    x1, x2 = torch.randn(2, c1, 8, 9), torch.randn(2, c2, 8, 9)
    m1 = random_mask((2, c1 if multichannel else 1, 8, 9), 0.5)
    m2 = random_mask((2, c2 if multichannel else 1, 8, 9), 0.3)
    out, new_mask = layer((x1, x2), (m1, m2))
    full_mask = torch.cat([m1.expand_as(x1), m2.expand_as(x2)], 1)
    ref, ref_mask = naive_pconv(torch.cat([x1, x2], 1), full_mask, layer.weight, layer.bias, 1, 1)
    assert torch.equal(new_mask, ref_mask.float())
    assert (out - ref).abs().max() <= 1e-5


def test_all_valid_without_border_equals_conv2d():
    layer = PartialConv2d(6, 7, 3, 1, padding=0)
    torch.nn.init.normal_(layer.bias)
    conv = torch.nn.Conv2d(6, 7, 3, 1, 0)
    conv.weight.data.copy_(layer.weight.data)
    conv.bias.data.copy_(layer.bias.data)
    x = torch.randn(2, 6, 12, 12)
    out, new_mask = layer(x, torch.ones(2, 1, 12, 12))
    assert torch.all(new_mask == 1)
    torch.testing.assert_close(out, conv(x), atol=1e-5, rtol=1e-5)


def test_border_renormalised_like_a_hole():
    layer = PartialConv2d(1, 1, 3, 1, 1, bias=False)
    layer.weight.data.fill_(1.0)
    out, _ = layer(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4))
    # every window's valid sum, rescaled to the full window, is 9 at corners and edges alike
    assert torch.allclose(out, torch.full_like(out, 9.0))


def test_output_ignores_hole_content_and_grads_skip_holes():
    layer = PartialConv2d(3, 4, 5, 2, 2)
    x = torch.randn(1, 3, 16, 16, requires_grad=True)
    mask = random_mask((1, 1, 16, 16), 0.5)
    out, _ = layer(x, mask)
    out2, _ = layer(x.detach() + 100 * (1 - mask), mask)
    torch.testing.assert_close(out, out2)
    out.sum().backward()
    assert torch.all(x.grad[(mask == 0).expand_as(x)] == 0)


def test_autocast_keeps_counts_and_output_float32():
    layer = PartialConv2d(8, 8, 3, 1, 1)
    x = torch.randn(1, 8, 16, 16)
    mask = random_mask((1, 1, 16, 16), 0.9)
    ref, ref_mask = layer(x, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, new_mask = layer(x, mask)
    assert out.dtype == torch.float32 and new_mask.dtype == torch.float32
    assert torch.equal(new_mask, ref_mask)
    assert (out - ref).abs().max() < 0.1 * ref.abs().max()


def test_rejects_mismatched_inputs():
    layer = PartialConv2d(3, 4, 3)
    with pytest.raises(ValueError, match="mask"):
        layer(torch.randn(1, 3, 8, 8), torch.ones(1, 2, 8, 8))
    with pytest.raises(ValueError, match="input channels"):
        layer(torch.randn(1, 2, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match="one mask per input part"):
        layer((torch.randn(1, 2, 8, 8), torch.randn(1, 1, 8, 8)), (torch.ones(1, 1, 8, 8),))


def test_masked_flag_gives_the_same_result_without_the_multiply():
    layer = PartialConv2d(5, 4, 3, 1, 1)
    torch.nn.init.normal_(layer.bias)
    x = (torch.randn(1, 3, 9, 9), torch.randn(1, 2, 9, 9))
    m = (random_mask((1, 1, 9, 9), 0.4), random_mask((1, 1, 9, 9), 0.6))
    out, new_mask = layer(x, m)
    pre = [xi * mi for xi, mi in zip(x, m)]
    out2, new_mask2 = layer(pre, m, masked=True)
    assert torch.equal(out, out2) and torch.equal(new_mask, new_mask2)
    wrong, _ = layer(x, m, masked=True)  # the flag really skips the multiply: unmasked input leaks in
    assert not torch.allclose(wrong, out)


@pytest.mark.parametrize("parts", [1, 2])
def test_gradcheck_in_float64(device, parts):
    # The renormalisation is piecewise constant in the mask, so gradients flow to x, weight and bias only.
    layer = PartialConv2d(3 * parts, 2, 3, 2, 1).double().to(device)
    torch.nn.init.normal_(layer.bias)
    xs = [torch.randn(1, 3, 7, 6, dtype=torch.float64, device=device, requires_grad=True) for _ in range(parts)]
    masks = [random_mask((1, 1, 7, 6), 0.5).double().to(device) for _ in range(parts)]

    def f(weight, bias, *xs):
        params = {"conv.weight": weight, "bias": bias}
        return torch.func.functional_call(layer, params, (list(xs), masks))[0]

    inputs = (layer.conv.weight.detach().clone().requires_grad_(), layer.bias.detach().clone().requires_grad_(), *xs)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reference_holds_on_every_device_and_dtype(device, dtype):
    layer = PartialConv2d(4, 3, 5, 2, 2).to(device, dtype)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(2, 4, 13, 9, dtype=dtype)
    mask = random_mask((2, 1, 13, 9), 0.5)
    out, new_mask = layer(x.to(device), mask.to(device, dtype))
    ref, ref_mask = naive_pconv(x, mask, layer.weight.cpu(), layer.bias.cpu(), 2, 2)
    assert out.device.type == device.type and torch.equal(new_mask.cpu(), ref_mask.float())
    assert (out.cpu().double() - ref).abs().max() <= (1e-5 if dtype == torch.float32 else 1e-12)


def test_valid_count_wants_one_channel_count_per_part():
    with pytest.raises(ValueError, match="got 2 for 1 parts"):
        valid_count(torch.ones(1, 1, 3, 3), [2, 3], (3, 3), (1, 1), (1, 1))


def test_the_docstring_examples_run():
    assert doctest.testmod(layer, raise_on_error=False).failed == 0
