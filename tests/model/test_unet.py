import pytest
import torch

from pconv_cli.model.unet import PConvConfig, PConvUNet, pad_to_multiple

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


@pytest.mark.parametrize("preset,size", [("paper512", (512, 512)), ("small", (200, 330))])
def test_output_independent_of_hole_content(preset, size):
    model = PConvUNet(PConvConfig.preset(preset)).eval()
    h, w = size
    gt = torch.rand(1, 3, h, w)
    mask = hole_mask(1, h, w, (h // 4, h // 2, w // 3, w // 2))
    mask[..., h - 20 :, : w // 5] = 0  # a hole touching the border too
    fills = [gt, torch.zeros_like(gt), torch.rand_like(gt) * 10]
    images = torch.cat([mask * gt + (1 - mask) * f for f in fills])
    with torch.no_grad():
        out = model.forward_any_size(images, mask.expand(3, -1, -1, -1))
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


def test_pad_to_multiple_marks_padding_as_hole_and_crops_back():
    image, mask = torch.rand(2, 3, 70, 45), torch.ones(2, 1, 70, 45)
    pi, pm, size = pad_to_multiple(image, mask, 32)
    assert pi.shape[-2:] == (96, 64) and size == (70, 45)
    assert torch.all(pm[..., 70:, :] == 0) and torch.all(pm[..., :, 45:] == 0) and torch.all(pm[..., :70, :45] == 1)
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    assert model.forward_any_size(image, mask).shape == image.shape
    with pytest.raises(ValueError, match="multiples of 8"):
        model(image, mask)


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


def test_network_compiles_as_one_graph():
    # fullgraph: a graph break anywhere in the layer or the U-Net fails; aot_eager needs no C compiler.
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    image, mask = torch.rand(1, 3, 32, 32), hole_mask(1, 32, 32, (4, 20, 6, 18))
    with torch.inference_mode():
        torch.testing.assert_close(compiled(image * mask, mask), model(image * mask, mask))
