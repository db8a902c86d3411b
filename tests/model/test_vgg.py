import doctest

import pytest
import torch

from pconv_cli.model import vgg as vgg_module
from pconv_cli.model.vgg import POOLS, RELUS, TAPS, VGG16Features


def test_taps_are_the_named_activations_of_one_network():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 12)
    both = VGG16Features(("relu3_3", "pool1", "relu1_2"), scale=0.5)
    caffe = x.flip(1) * 255.0 - both.mean
    got = both(x)
    for tensor, name in zip(got, ("relu3_3", "pool1", "relu1_2")):
        assert torch.equal(tensor, both.features[: TAPS[name] + 1](caffe.clone()) * 0.5), name
    assert [tuple(f.shape[1:]) for f in VGG16Features(RELUS)(x)] == [(64, 16, 12), (128, 8, 6), (256, 4, 3)]
    assert [tuple(f.shape[1:]) for f in VGG16Features(POOLS)(x)] == [(64, 8, 6), (128, 4, 3), (256, 2, 1)]


def test_the_loss_reads_the_pools_per_unit_of_intensity():
    from pconv_cli.training.loss import FEATURE_SCALE, InpaintingLoss

    vgg = InpaintingLoss().vgg
    x = torch.rand(1, 3, 8, 8)
    raw = VGG16Features(POOLS)(x)
    for scaled, plain in zip(vgg(x), raw):
        assert torch.equal(scaled, plain * FEATURE_SCALE)


def test_unknown_taps_are_refused():
    with pytest.raises(ValueError, match=r"expected taps among relu1_2.*got \['conv9'\]"):
        VGG16Features(("conv9",))
    with pytest.raises(ValueError, match=r"got \[\]"):
        VGG16Features(())


def test_the_docstring_examples_run():
    assert doctest.testmod(vgg_module, raise_on_error=False).failed == 0
