import numpy as np
import torch

from pconv_cli.blend import blend_fill
from pconv_cli.inference import autocast_dtype, composite, run_model
from pconv_cli.unet import PConvConfig, PConvUNet


def test_run_model_blends_each_image_unless_asked_not_to():
    torch.manual_seed(0)
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    image = torch.rand(2, 3, 40, 48)
    mask = torch.ones(2, 1, 40, 48)
    mask[0, :, 5:25, 10:30] = 0
    mask[1, :, 20:38, 2:12] = 0
    raw = run_model(model, image, mask, blend=False)
    with torch.inference_mode():
        out = model.forward_any_size(image * mask, mask)
    torch.testing.assert_close(raw, composite(image, out, mask))
    blended = run_model(model, image, mask)
    for i in range(2):
        img, comp = (t[i].permute(1, 2, 0).numpy() for t in (image, raw))
        expected = blend_fill(img, comp, mask[i, 0].numpy() < 0.5)
        np.testing.assert_allclose(blended[i].permute(1, 2, 0).numpy(), np.clip(expected, 0, 1), atol=1e-6)
    assert not torch.equal(blended, raw)


def test_run_model_changes_only_holes_and_ignores_hole_content():
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    image = torch.rand(2, 3, 50, 70)
    mask = torch.ones(2, 1, 50, 70)
    mask[..., 10:30, 20:40] = 0
    out = run_model(model, image, mask)
    assert out.shape == image.shape
    assert torch.equal(out[mask.expand_as(out) > 0], image[mask.expand_as(image) > 0])
    assert out.min() >= 0 and out.max() <= 1
    other = run_model(model, torch.where(mask > 0, image, torch.rand_like(image)), mask)
    torch.testing.assert_close(out, other)


def test_composite_and_precision_choice():
    image, output = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 2.0)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert composite(image, output, mask)[0, 0].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert autocast_dtype(torch.device("cpu"), "auto") is None
    assert autocast_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
