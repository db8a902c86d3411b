import doctest

import numpy as np
import pytest
import torch

from pconv_cli.imaging.images import Picture
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.runtime import strategies
from pconv_cli.runtime.inpainter import execute
from pconv_cli.runtime.runner import Runner
from pconv_cli.runtime.strategies import (
    _relevel,
    choose,
    fill_crops,
    fill_full,
    fill_refine,
    fill_tiles,
    inpaint_one,
)
from pconv_cli.runtime.torch_backend import TorchBackend

SCALE = 64  # the tiny preset's working scale


class MeanModel(PConvUNet):
    """Outputs, per image, the mean of its valid pixels (a constant when the image is constant)."""

    def __init__(self) -> None:
        super().__init__(PConvConfig.preset("tiny"))
        self.calls: list[tuple[int, ...]] = []

    def forward(self, image, mask):
        self.calls.append(tuple(image.shape))
        mean = (image * mask).sum(dim=(2, 3), keepdim=True) / mask.sum(dim=(2, 3), keepdim=True).clamp(min=1)
        return mean.expand_as(image).clone()


def _picture(pixels: np.ndarray) -> Picture:
    return Picture(pixels, "PNG")


def done(plan_of, *args, **kwargs):
    """What a strategy's plan returns, carried out on the Runner among its arguments."""
    return execute(plan_of(*args, **kwargs), next(a for a in args if isinstance(a, Runner)))


def test_choose_follows_size():
    assert choose((100, 100), "auto", SCALE) == "full"
    assert choose((2 * SCALE, 2 * SCALE + 1), "auto", SCALE) == "refine"  # refine then decides per group of holes
    assert choose((300, 400), "tile", SCALE) == "tile"
    with pytest.raises(ValueError, match="strategy"):
        choose((1, 1), "best", SCALE)


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535)])
def test_full_writes_only_holes_bit_exactly(dtype, top):
    pixels = np.random.default_rng(0).integers(0, top + 1, (30, 40, 4), dtype=dtype)
    holes = np.zeros((30, 40), bool)
    holes[5:15, 10:30] = True
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    out = done(fill_full, [_picture(pixels)], [holes], Runner(TorchBackend(model, "fp32")))[0]
    assert out.dtype == dtype
    assert np.array_equal(out[~holes], pixels[~holes])
    assert np.array_equal(out[..., 3], pixels[..., 3])  # alpha is never touched here
    assert not np.array_equal(out[holes], pixels[holes])


def test_tiles_blend_without_seams():
    # A horizontal ramp image with a long thin hole: tiles see different means, so unblended
    # tiles would jump by tens of levels where they meet; blended, neighbours differ by little.
    width = 600
    ramp = np.tile(np.linspace(0, 255, width, dtype=np.float32), (200, 1)).round().astype(np.uint8)
    pixels = np.repeat(ramp[..., None], 3, axis=2)
    holes = np.zeros((200, width), bool)
    holes[99:102, 5:-5] = True
    out = done(
        fill_tiles, _picture(pixels), holes, Runner(TorchBackend(MeanModel().eval(), "fp32"), batch_size=4), 2 * SCALE
    )
    assert np.array_equal(out[~holes], pixels[~holes])
    fill = out[100, 5:-5, 0].astype(int)
    assert np.abs(np.diff(fill)).max() <= 3
    assert fill[-1] - fill[0] > 150  # the fill follows the image, it is not one constant


def test_tiles_cover_every_hole_with_constant_model():
    pixels = np.full((300, 333, 3), 90, np.uint8)
    holes = np.random.default_rng(1).random((300, 333)) < 0.02
    out = done(fill_tiles, _picture(pixels), holes, Runner(TorchBackend(MeanModel().eval(), "fp32")), 2 * SCALE)
    assert np.array_equal(out, pixels)  # the mean of a constant image is that constant everywhere


def test_crops_fill_large_and_small_holes_without_halo():
    pixels = np.full((900, 700, 3), 200, np.uint8)
    holes = np.zeros((900, 700), bool)
    holes[100:700, 100:600] = True  # downscaled window
    holes[800:810, 20:30] = True  # native window
    picture = _picture(pixels)
    model = MeanModel().eval()
    run = Runner(TorchBackend(model, "fp32"))
    out, groups = done(fill_crops, picture, holes, run, SCALE)
    assert np.array_equal(out, pixels)  # constant stays constant: no edge mixing artefact
    assert [g[4] for g in groups] == ["coarse", "coarse"]
    # The small hole's window reaches the model at 2S a side, native. The large one, shrunk from the whole
    # image to 2S, would hold hole pixels deeper than S/4 there, so it is shrunk on to S.
    assert sorted(max(shape[2:]) for shape in model.calls) == [SCALE, 2 * SCALE]
    assert done(inpaint_one, picture, holes, "crop", run)[0].shape == pixels.shape


def test_a_shrunk_window_of_a_stroke_stays_at_2s():
    # A 40-px band across a 900x700 photo: its window (the whole photo) shrunk to 2S leaves the band
    # about 6 px wide, no pixel deeper than S/4, so it is not shrunk further as a blob would be.
    pixels = np.full((900, 700, 3), 90, np.uint8)
    holes = np.zeros((900, 700), bool)
    holes[430:470, 20:680] = True
    model = MeanModel().eval()
    out, _ = done(fill_crops, _picture(pixels), holes, Runner(TorchBackend(model, "fp32")), SCALE)
    assert np.array_equal(out, pixels)
    assert [max(shape[2:]) for shape in model.calls] == [2 * SCALE]


def test_crops_keep_thin_holes_as_holes_when_shrinking():
    # A 1-px line of red "watermark" beside a large hole: its window is shrunk 4x, where the line covers
    # a quarter of each small pixel. Were such a pixel taken as photo, the red would come back in the fill.
    pixels = np.full((600, 600, 3), 128, np.uint8)
    holes = np.zeros((600, 600), bool)
    holes[200:400, 200:400] = True
    holes[201, 60:200] = True  # joins the big hole's group
    pixels[201, 60:200] = (255, 0, 0)
    out, _ = done(fill_crops, _picture(pixels), holes, Runner(TorchBackend(MeanModel().eval(), "fp32")), SCALE)
    line = out[201, 60:200].astype(int)
    assert np.abs(line - 128).max() <= 2, line[:5]


def test_crops_paste_each_group_once_and_only_holes():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (500, 500, 3), dtype=np.uint8)
    holes = np.zeros((500, 500), bool)
    holes[50:60, 50:60] = holes[300:450, 200:480] = True
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    out, _ = done(fill_crops, _picture(pixels), holes, Runner(TorchBackend(model, "fp32"), batch_size=2), SCALE)
    assert np.array_equal(out[~holes], pixels[~holes])
    assert (out[holes] != pixels[holes]).any(axis=-1).mean() > 0.9
    with pytest.raises(ValueError, match="resolved strategy"):
        done(inpaint_one, _picture(pixels), holes, "auto", Runner(TorchBackend(model)))


def test_grey_picture_gets_grey_fill():
    pixels = np.full((20, 20, 1), 50, np.uint8)
    holes = np.zeros((20, 20), bool)
    holes[5:10, 5:10] = True
    torch.manual_seed(0)
    out = done(fill_full, [_picture(pixels)], [holes], Runner(TorchBackend(MeanModel().eval(), "fp32")))[0]
    assert out.shape == (20, 20, 1) and np.array_equal(out, pixels)


class CheckerModel(PConvUNet):
    """Outputs a one-pixel checkerboard of 0.2 and 0.8 at whatever resolution it is run."""

    def __init__(self) -> None:
        super().__init__(PConvConfig.preset("tiny"))

    def forward(self, image, mask):
        h, w = image.shape[-2:]
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        return (0.2 + 0.6 * ((yy + xx) % 2)).to(image).expand_as(image).clone()


def test_refine_fills_the_band_natively_and_the_depth_coarsely():
    pixels = np.full((600, 600, 3), 128, np.uint8)
    holes = np.zeros((600, 600), bool)
    holes[100:500, 100:500] = True  # deep: coarse window shrunk 6x, then a native band
    holes[550:553, 20:580] = True  # thin: native only
    run = Runner(TorchBackend(CheckerModel().eval(), "fp32"), blend=False)
    out, groups = done(fill_refine, _picture(pixels), holes, run, SCALE)
    assert groups == [(100, 100, 400, 400, "coarse+native"), (20, 550, 560, 3, "native")]
    assert np.array_equal(out[~holes], pixels[~holes])
    checker = {51, 204}  # 0.2 and 0.8 in 8 bits: the model's own pixels, not enlarged
    reach = SCALE // 8
    band = out[100 : 100 + reach, 100:500].astype(int)
    assert np.median(np.abs(np.diff(band, axis=1))) > 100  # the band at native resolution: the checker's contrast
    assert set(np.unique(out[550:553, 20:580])) <= checker  # native only: the model's own pixels
    core = out[100 + reach + 4 : 500 - reach - 4, 100 + reach + 4 : 500 - reach - 4]
    assert not set(np.unique(core)) <= checker  # deeper: the coarse fill, enlarged (interpolated)


@pytest.mark.slow
def test_refine_of_thin_holes_is_tile_and_leaves_a_constant_photo_constant():
    pixels = np.full((300, 333, 3), 90, np.uint8)
    holes = np.random.default_rng(1).random((300, 333)) < 0.02
    holes[100:200, 100:250] = True
    run = Runner(TorchBackend(MeanModel().eval(), "fp32"))
    out, groups = done(inpaint_one, _picture(pixels), holes, "refine", run)
    assert np.array_equal(out, pixels)
    assert "coarse+native" in {g[4] for g in groups}
    thin = np.random.default_rng(1).random((300, 333)) < 0.02
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    rgb = np.random.default_rng(3).integers(0, 256, (300, 333, 3), dtype=np.uint8)
    raw = Runner(TorchBackend(model, "fp32"), blend=False)
    refined, groups = done(fill_refine, _picture(rgb), thin, raw, SCALE)
    assert {g[4] for g in groups} == {"native"}
    assert np.array_equal(refined, done(fill_tiles, _picture(rgb), thin, raw, SCALE, overlap=SCALE // 8))
    # blended once per group instead of per tile: the same equations, so close to the per-tile result
    per_group, _ = done(fill_refine, _picture(rgb), thin, Runner(TorchBackend(model, "fp32")), SCALE)
    per_tile = done(fill_tiles, _picture(rgb), thin, Runner(TorchBackend(model, "fp32")), SCALE, overlap=SCALE // 8)
    assert not np.array_equal(per_group, refined)
    assert np.abs(per_group.astype(int) - per_tile).mean() < 1.0


def test_relevel_takes_the_guides_level_and_keeps_the_fills_detail():
    where = np.zeros((64, 64), bool)
    where[:, 16:48] = True  # a band 32 px wide
    checker = (np.indices((64, 64)).sum(0) % 2 * 0.2)[..., None].repeat(3, 2).astype(np.float32)
    fill = 0.35 + checker  # a fill 0.05 too dark on average (0.45 for 0.5), with fine detail
    guide = np.full((64, 64, 3), 0.5, np.float32)
    out = _relevel(fill, guide, where, sigma=4)
    middle = out[:, 28:36]
    assert abs(middle.mean() - 0.5) < 0.005  # the guide's level in the band's middle
    assert np.allclose(np.abs(np.diff(middle, axis=1)), 0.2, atol=0.01)  # the checker kept
    assert np.array_equal(out[:, :16], fill[:, :16])  # only the band changes
    assert np.abs(out[:, 16] - fill[:, 16]).max() < 0.05 / 3  # faded in from its edge


def test_the_docstring_examples_run():
    assert doctest.testmod(strategies, raise_on_error=False).failed == 0


def test_a_window_whose_photo_vanishes_when_shrunk_is_filled_from_the_photo():
    # 95 % speckled holes: every small pixel of the shrunk window holds a hole pixel, so the any-rule left
    # the network no photo and it filled the whole window black.
    pixels = np.full((600, 900, 3), 150, np.uint8)
    holes = np.random.default_rng(3).random((600, 900)) < 0.95
    out, groups = done(fill_crops, _picture(pixels), holes, Runner(TorchBackend(MeanModel().eval(), "fp32")), SCALE)
    assert [g[4] for g in groups] == ["coarse"]
    assert np.array_equal(out, pixels)
