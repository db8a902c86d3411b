import numpy as np
import pytest
import torch

from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.runtime.inpainter import run
from pconv_cli.runtime.runner import Runner, Work
from pconv_cli.runtime.torch_backend import TorchBackend

# The paper's appendix table: (kernel, C_out, batch norm) for PConv1..16 of the 512 network.
PAPER512_TABLE = (
    [(7, 64, False), (5, 128, True), (5, 256, True)]
    + [(3, 512, True)] * 5
    + [(3, 512, True)] * 4
    + [(3, 256, True), (3, 128, True), (3, 64, True), (3, 3, False)]
)


def table_parameter_count():
    enc_out = [c for _, c, _ in PAPER512_TABLE[:8]]
    skips = [3] + enc_out[:-1]  # PConv16 sees the input image, PConv15 PConv1, ...
    total, cin = 0, 3
    for i, (k, cout, bn) in enumerate(PAPER512_TABLE):
        if i >= 8:
            cin = cin + skips[15 - i]
        total += cin * cout * k * k + (2 * cout if bn else cout)  # BN: gamma and beta; otherwise a bias
        cin = cout
    return total


def hole_mask(n, h, w, box):
    mask = torch.ones(n, 1, h, w)
    y0, y1, x0, x1 = box
    mask[..., y0:y1, x0:x1] = 0
    return mask


def test_paper512_parameter_count_matches_table():
    model = PConvUNet(PConvConfig.preset("paper512"))
    count = sum(p.numel() for p in model.parameters())
    print(f"paper512 parameters: {count:,}")
    assert count == table_parameter_count() == 32_859_796


def test_paper512_layers_follow_table():
    model = PConvUNet(PConvConfig.preset("paper512"))
    blocks = list(model.encoder) + list(model.decoder)
    assert len(blocks) == 16
    for i, (block, (k, cout, bn)) in enumerate(zip(blocks, PAPER512_TABLE)):
        assert block.conv.weight.shape[0] == cout and block.conv.weight.shape[-1] == k, i
        assert (block.bn is not None) == bn, i
        assert block.conv.conv.stride == ((2, 2) if i < 8 else (1, 1))
        expected = torch.nn.ReLU if i < 8 else torch.nn.LeakyReLU if i < 15 else type(None)
        assert isinstance(block.act, expected), i
    assert blocks[8].conv.weight.shape[1] == 1024 and blocks[15].conv.weight.shape[1] == 67


def test_paper256_has_seven_levels():
    cfg = PConvConfig.preset("paper256")
    assert (cfg.levels, cfg.width, cfg.multiple) == (7, 64, 128)
    assert len(PConvUNet(cfg).decoder) == 7


@pytest.mark.slow
@pytest.mark.parametrize("preset,size", [("paper512", (512, 512)), ("small", (200, 330))])
def test_output_independent_of_hole_content(preset, size):
    model = PConvUNet(PConvConfig.preset(preset)).eval()
    h, w = size
    gt = torch.rand(1, 3, h, w)
    mask = hole_mask(1, h, w, (h // 4, h // 2, w // 3, w // 2))
    mask[..., h - 20 :, : w // 5] = 0  # a hole touching the border too
    fills = [gt, torch.zeros_like(gt), torch.rand_like(gt) * 10]
    images = torch.cat([mask * gt + (1 - mask) * f for f in fills])
    # The Runner pads any size to the network's multiple (padding as hole); the hole content is put back
    # into its batch (the Runner zeroes it), so that the network itself is what must ignore it.
    runner = Runner(TorchBackend(model, "fp32"), batch_size=3)
    holes = [(mask[0, 0] == 0).numpy()] * 3
    (batch,) = runner.batches(Work([image.permute(1, 2, 0).numpy() for image in images], holes))
    x = torch.from_numpy(batch.image).clone()
    x[:, :, :h, :w] = images
    with torch.no_grad():
        out = model(x, torch.from_numpy(batch.valid))[..., :h, :w]
    assert out.shape == (3, 3, h, w)
    torch.testing.assert_close(out[0], out[1], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out[0], out[2], atol=1e-4, rtol=1e-4)


def test_holes_shrink_level_by_level_and_huge_hole_is_finite():
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    mask = hole_mask(1, 64, 64, (4, 60, 4, 60))  # larger than the 3-level receptive field
    x, m = torch.rand(1, 3, 64, 64), mask
    ratios = []
    with torch.no_grad():
        for block in model.encoder:
            x, m = block(x, m)
            ratios.append(1 - m.mean().item())
        out = model(torch.rand(1, 3, 64, 64), mask)
    initial = 1 - mask.mean().item()
    assert initial > ratios[0] > ratios[1] > ratios[2]
    assert torch.isfinite(out).all()


def test_the_runner_pads_to_the_multiple_as_hole_and_crops_back():
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    runner = Runner(TorchBackend(model, "fp32"), batch_size=2, blend=False)
    images = [np.random.default_rng(i).random((70, 45, 3), dtype=np.float32) for i in range(2)]
    holes = [np.zeros((70, 45), bool)] * 2
    (batch,) = runner.batches(Work(images, holes))
    pm = batch.valid
    assert batch.image.shape[-2:] == (72, 48) and batch.size == (70, 45)
    assert np.all(pm[..., 70:, :] == 0) and np.all(pm[..., :, 45:] == 0) and np.all(pm[..., :70, :45] == 1)
    assert [out.shape for out in run(runner, Work(images, holes))] == [(70, 45, 3)] * 2
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.rand(2, 3, 70, 45), torch.ones(2, 1, 70, 45))


def test_freeze_encoder_bn_keeps_running_stats_and_affine():
    model = PConvUNet(PConvConfig.preset("tiny"))
    model.freeze_encoder_bn()
    model.train()
    encoder_bns = [b.bn for b in model.encoder if b.bn is not None]
    decoder_bns = [b.bn for b in model.decoder if b.bn is not None]
    before = [bn.running_mean.clone() for bn in encoder_bns + decoder_bns]
    model(torch.rand(2, 3, 64, 64), hole_mask(2, 64, 64, (10, 30, 10, 30))).sum().backward()
    assert all(not bn.training for bn in encoder_bns) and all(bn.training for bn in decoder_bns)
    assert all(p.grad is None and not p.requires_grad for bn in encoder_bns for p in bn.parameters())
    after = [bn.running_mean for bn in encoder_bns + decoder_bns]
    n = len(encoder_bns)
    assert all(torch.equal(a, b) for a, b in zip(before[:n], after[:n]))
    assert not any(torch.equal(a, b) for a, b in zip(before[n:], after[n:]))


def test_config_presets_and_round_trip():
    for name in PConvConfig.PRESETS:
        cfg = PConvConfig.preset(name)
        assert PConvConfig.from_dict(cfg.to_dict()) == cfg
    assert PConvConfig.preset("small").width == 32 and PConvConfig.preset("small").levels == 7
    with pytest.raises(ValueError, match="unknown architecture preset"):
        PConvConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown config keys"):
        PConvConfig.from_dict({"levels": 3, "depth": 2})
    with pytest.raises(ValueError, match="multiple of"):
        PConvConfig(levels=3, image_size=100)


@pytest.mark.parametrize("grad", [False, True])
def test_blocks_hand_on_features_zero_in_holes(grad):
    model = PConvUNet(PConvConfig.preset("tiny")).train(grad)
    x, m = torch.rand(2, 3, 64, 64), hole_mask(2, 64, 64, (4, 60, 4, 60))
    with torch.set_grad_enabled(grad):
        for block in model.encoder:
            x, m = block(x, m)
            assert (m == 0).any() and torch.all(x[(m == 0).expand_as(x)] == 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_network_runs_on_every_device_under_each_precision(device, dtype):
    model = PConvUNet(PConvConfig.preset("tiny")).eval().to(device)
    image = torch.rand(2, 3, 32, 40, device=device)
    mask = hole_mask(2, 32, 40, (8, 20, 10, 30)).to(device)
    with torch.inference_mode():
        reference = model(image * mask, mask)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = model(image * mask, mask)
    assert out.device.type == device.type and out.shape == image.shape and torch.isfinite(out).all()
    tolerance = 0 if dtype == torch.float32 else 0.1  # bf16 keeps about 3 significant digits
    assert (out.float() - reference).abs().max() <= tolerance


@pytest.mark.slow
def test_network_compiles_as_one_graph():
    # fullgraph: a graph break anywhere in the layer or the U-Net fails; aot_eager needs no C compiler.
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    image, mask = torch.rand(1, 3, 32, 32), hole_mask(1, 32, 32, (4, 20, 6, 18))
    with torch.inference_mode():
        torch.testing.assert_close(compiled(image * mask, mask), model(image * mask, mask))
