import doctest

import pytest
import torch
from torch import nn

from pconv_cli.model.vgg import VGG16Features
from pconv_cli.training import loss
from pconv_cli.training.loss import InpaintingLoss, LossWeights, gram, total_variation


class Identity(nn.Module):
    def forward(self, x):
        return [x, x[..., ::2, ::2]]


@pytest.fixture
def loss_fn():
    return InpaintingLoss()


@pytest.fixture
def identity_loss():
    """The loss with VGG replaced by features we can compute by hand."""
    loss = InpaintingLoss()
    loss.vgg = Identity()
    return loss


def test_gram_normalisation_by_hand():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    expected = torch.tensor([[1 * 1 + 2 * 2, 1 * 3 + 2 * 4], [3 * 1 + 4 * 2, 3 * 3 + 4 * 4]]) / (2 * 1 * 2)
    torch.testing.assert_close(gram(f)[0], expected)


def test_tv_counts_pairs_inside_dilated_hole_only():
    comp = torch.arange(25.0).view(1, 1, 5, 5) ** 2
    mask = torch.ones(1, 1, 5, 5)
    mask[..., 2, 2] = 0  # P is the 3×3 block rows 1..3, cols 1..3
    expected = 0.0
    for i in range(1, 4):
        for j in range(1, 3):
            expected += abs(comp[0, 0, i, j + 1] - comp[0, 0, i, j]) + abs(comp[0, 0, j + 1, i] - comp[0, 0, j, i])
    torch.testing.assert_close(total_variation(comp, mask), expected / 25)


def test_each_term_by_hand_with_identity_features(identity_loss):
    out, gt = torch.rand(2, 3, 6, 6), torch.rand(2, 3, 6, 6)
    mask = torch.ones(2, 1, 6, 6)
    mask[0, :, 1:4, 2:5] = 0
    mask[1, :, 3:, :2] = 0
    total, terms = identity_loss(out, gt, mask)
    m = mask.expand_as(out)
    n = out.numel()
    comp = torch.where(m > 0, gt, out)
    pixels = list(zip(out.flatten(), gt.flatten(), m.flatten()))
    torch.testing.assert_close(terms["valid"], sum(abs(o - g) for o, g, v in pixels if v) / n)
    torch.testing.assert_close(terms["hole"], sum(abs(o - g) for o, g, v in pixels if not v) / n)
    perc = style_out = style_comp = 0.0
    for fo, fc, fg in ((out, comp, gt), (out[..., ::2, ::2], comp[..., ::2, ::2], gt[..., ::2, ::2])):
        perc += (fo - fg).abs().mean() + (fc - fg).abs().mean()
        c = fo.shape[1]
        for b in range(2):
            go, gc, gg = (f[b].reshape(c, -1) @ f[b].reshape(c, -1).T / f[b].numel() for f in (fo, fc, fg))
            style_out += (go - gg).abs().sum() / c**2 / 2
            style_comp += (gc - gg).abs().sum() / c**2 / 2
    torch.testing.assert_close(terms["perceptual"], perc)
    torch.testing.assert_close(terms["style_out"], style_out)
    torch.testing.assert_close(terms["style_comp"], style_comp)
    torch.testing.assert_close(terms["tv"], total_variation(comp, mask))
    expected_total = (
        terms["valid"]
        + 6 * terms["hole"]
        + 0.05 * terms["perceptual"]
        + 120 * (terms["style_out"] + terms["style_comp"])
        + 0.1 * terms["tv"]
    )
    torch.testing.assert_close(total, expected_total)


def test_comp_uses_ground_truth_in_valid_region(identity_loss):
    gt = torch.rand(1, 3, 4, 4)
    mask = torch.ones(1, 1, 4, 4)
    mask[..., :2, :] = 0
    out = gt.clone()
    out[..., 2:, :] += 0.5  # wrong only where pixels are valid
    _, terms = identity_loss(out, gt, mask)
    assert terms["hole"] == 0 and terms["valid"] > 0
    assert terms["style_comp"] == 0  # comp equals gt exactly
    torch.testing.assert_close(terms["tv"], total_variation(gt, mask))
    assert terms["style_out"] > 0


def test_custom_weights():
    w = LossWeights(hole=1.0, style=0.0)
    assert (w.valid, w.hole, w.perceptual, w.style, w.tv) == (1.0, 1.0, 0.05, 0.0, 0.1)


def test_parse_replaces_named_weights_and_refuses_bad_ones():
    assert LossWeights.parse("") == LossWeights()
    assert LossWeights.parse(" style=0, hole = 3 ") == LossWeights(hole=3.0, style=0.0)
    for spec, message in [("styl=1", "NAME one of"), ("hole", "NAME=VALUE"), ("tv=x", "a number"), ("tv=-1", ">= 0")]:
        with pytest.raises(ValueError, match=message):
            LossWeights.parse(spec)
    for spec in ("hole=inf", "style=+Infinity", "tv=nan"):  # inf once skipped every step, exit 0
        with pytest.raises(ValueError, match="expected a finite weight >= 0"):
            LossWeights.parse(spec)


def test_pixel_only_weights_skip_vgg_and_keep_the_pixel_terms(loss_fn):
    pixel = InpaintingLoss(LossWeights.parse("perceptual=0,style=0"))
    assert pixel.vgg is None and loss_fn.weights.needs_vgg
    torch.manual_seed(0)
    out, gt = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.4).float()
    total, terms = pixel(out, gt, mask)
    _, full_terms = loss_fn(out, gt, mask)
    for name in ("valid", "hole", "tv"):
        torch.testing.assert_close(terms[name], full_terms[name])
    assert terms["perceptual"] == terms["style_out"] == terms["style_comp"] == 0
    torch.testing.assert_close(total, terms["valid"] + 6 * terms["hole"] + 0.1 * terms["tv"])


def test_vgg_is_frozen_and_gets_no_grad(loss_fn):
    out = torch.rand(1, 3, 32, 32, requires_grad=True)
    mask = torch.ones(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 0
    loss_fn.train()
    total, terms = loss_fn(out, torch.rand(1, 3, 32, 32), mask)
    total.backward()
    assert not loss_fn.vgg.training
    assert all(not p.requires_grad and p.grad is None for p in loss_fn.vgg.parameters())
    assert out.grad is not None and out.grad.abs().sum() > 0
    assert set(terms) == {"valid", "hole", "perceptual", "style_out", "style_comp", "tv"}


def test_vgg_weights_and_caffe_input_convention():
    vgg = VGG16Features(scale=loss.FEATURE_SCALE)
    assert vgg.features[0].weight[0, 0, 0, 0].item() == pytest.approx(0.42947057)
    assert vgg.features[14].bias[0].item() == pytest.approx(0.035415243)
    seen = {}
    vgg.features[0].register_forward_hook(lambda mod, inp, out: seen.update(x=inp[0]))
    mean_rgb = torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1) / 255
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    feats = vgg(torch.cat([mean_rgb.expand(1, 3, 8, 8), red]))
    assert seen["x"][0].abs().max() < 1e-4  # the mean colour maps to zero input
    assert seen["x"][1, 2].mean().item() == pytest.approx(255 - 123.68)  # red lands in channel 2 (BGR)
    assert [f.shape[1:] for f in feats] == [(64, 4, 4), (128, 2, 2), (256, 1, 1)]
    # pooled activations are reported per unit of image intensity (the raw ones are ~255× larger)
    raw_pool1 = vgg.features[:5](seen["x"])
    torch.testing.assert_close(feats[0], raw_pool1 / 255.0)


def test_gram_and_tv_refuse_tensors_of_other_shapes():
    with pytest.raises(ValueError, match=r"expected N×C×H×W features, got shape \(2, 3\)"):
        gram(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"got \(1, 3, 4, 4\) and \(1, 1, 4, 5\)"):
        total_variation(torch.ones(1, 3, 4, 4), torch.ones(1, 1, 4, 5))
    with pytest.raises(ValueError, match="mask N×1×H×W"):
        total_variation(torch.ones(1, 3, 4, 4), torch.ones(1, 3, 4, 4))


def test_the_docstring_examples_run():
    assert doctest.testmod(loss, raise_on_error=False).failed == 0
