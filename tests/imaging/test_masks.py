import doctest
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from pconv_cli.choices import Border, MaskStyle
from pconv_cli.errors import UsageError
from pconv_cli.imaging import masks
from pconv_cli.imaging.images import read_mask
from pconv_cli.imaging.masks import (
    BINS,
    FolderMasks,
    GeneratedMasks,
    bin_index,
    bin_label,
    border_mode,
    dilate_holes,
    hole_ratio,
    margin_for,
)


def test_hole_ratio_counts_zeros_as_holes():
    mask = torch.ones(1, 1, 10, 10)
    mask[..., :3, :5] = 0
    assert hole_ratio(mask) == pytest.approx(0.15)
    assert hole_ratio(mask.numpy()[0, 0] < 0.5) == pytest.approx(0.15)  # NumPy: True = hole
    with pytest.raises(ValueError, match="non-empty"):
        hole_ratio(np.ones((0, 4), bool))
    with pytest.raises(ValueError, match="bool hole map"):
        hole_ratio(mask.numpy())


def test_bins_are_the_papers_and_half_open():
    assert BINS[0] == (0.01, 0.1) and BINS[-1] == (0.5, 0.6) and len(BINS) == 6
    assert bin_index(0.01) is None and bin_index(0.0100001) == 0
    assert bin_index(0.1) == 0 and bin_index(0.1000001) == 1
    assert bin_index(0.6) == 5 and bin_index(0.61) is None
    assert bin_label(*BINS[1]) == "(0.10,0.20]"


@pytest.mark.parametrize("pixels", [1, 3])
def test_dilate_grows_hole_by_n_pixels(pixels):
    mask = torch.ones(1, 1, 15, 15)
    mask[..., 7, 7] = 0
    grown = dilate_holes(mask, pixels)
    holes = (grown == 0).nonzero()[:, 2:]
    assert holes.min().item() == 7 - pixels and holes.max().item() == 7 + pixels
    assert int((grown == 0).sum()) == (2 * pixels + 1) ** 2
    assert torch.equal(dilate_holes(mask, 0), mask)
    with pytest.raises(ValueError, match="pixels >= 0"):
        dilate_holes(mask, -1)


# --- mask sources ---------------------------------------------------------------------------


def test_generated_source_samples_bool_masks_and_pickles():
    src = GeneratedMasks(style="mixed", ratio=None, border="both")
    src = pickle.loads(pickle.dumps(src))
    rng = np.random.default_rng(0)
    for _ in range(4):
        hole = src.sample(rng, (64, 80))
        assert hole.shape == (64, 80) and hole.dtype == bool and 0.01 < hole.mean() <= 0.6
    narrow = GeneratedMasks(style="blobs", ratio=(0.3, 0.4), border="margin")
    hole = narrow.sample(np.random.default_rng(1), (100, 100))
    m = margin_for((100, 100))
    assert 0.3 < hole.mean() <= 0.4 and not hole[:m].any() and not hole[:, -m:].any()
    assert margin_for((512, 512)) == 50 and margin_for((256, 1024)) == 25
    with pytest.raises(ValueError, match="ratio range"):
        GeneratedMasks(ratio=(0.5, 0.2))
    with pytest.raises(ValueError, match="border"):
        GeneratedMasks(border="edge")
    as_enums = GeneratedMasks(MaskStyle.blobs, (0.3, 0.4), Border.margin).sample(np.random.default_rng(1), (100, 100))
    assert np.array_equal(as_enums, hole)


def test_folder_source_reads_resizes_augments_and_pickles(tmp_path):
    hole = np.zeros((20, 30), np.uint8)
    hole[2:6, 3:12] = 255
    Image.fromarray(hole).save(tmp_path / "a.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert np.array_equal(read_mask(tmp_path / "a.png"), hole > 0)
    plain = pickle.loads(pickle.dumps(FolderMasks(tmp_path, augment=False)))
    assert len(plain) == 1
    assert np.array_equal(plain.sample(np.random.default_rng(0), (20, 30)), hole > 0)
    resized = plain.sample(np.random.default_rng(0), (40, 60))
    assert resized.shape == (40, 60) and resized.sum() == 4 * hole.astype(bool).sum()
    augmented = FolderMasks(tmp_path, augment=True)
    seen = set()
    for seed in range(12):
        out = augmented.sample(np.random.default_rng(seed), (30, 30))
        assert out.shape == (30, 30) and out.dtype == bool and out.sum() >= 4 * 9
        seen.add(out.tobytes())
    assert len(seen) > 2  # flips, rotations and dilation vary the result


def test_folder_source_refuses_a_folder_without_masks(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match="no readable mask"):
        FolderMasks(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        FolderMasks(tmp_path / "missing")


def test_read_mask_thresholds_8_and_16_bit_files(tmp_path):
    grey = np.array([[0, 127, 128, 255]], np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "rgb.png")
    for name in ("g.png", "g16.png", "rgb.png"):
        assert read_mask(tmp_path / name).tolist() == [[False, False, True, True]], name


def test_dilate_numpy_hole_map_matches_torch():
    holes = np.zeros((15, 17), bool)
    holes[7, 7] = holes[0, 16] = True
    valid = torch.from_numpy(~holes).float()[None, None]
    expected = dilate_holes(valid, 2)[0, 0].numpy() < 0.5
    assert np.array_equal(dilate_holes(holes, 2), expected)
    assert dilate_holes(holes, 2).sum() == 25 + 9  # a 5×5 square, and 3×3 of one cut by the corner
    assert dilate_holes(holes, 0) is holes
    assert dilate_holes(holes, 10**9).all()  # once a (2·10⁹+1)² kernel: now two passes no wider than the image
    with pytest.raises(ValueError, match="H×W bool hole map"):
        dilate_holes(np.ones((1, 2, 3), bool), 1)
    with pytest.raises(ValueError, match="H×W bool hole map"):
        dilate_holes(holes.astype(np.uint8), 1)


def test_border_mode_counts_the_scaled_margin():
    hole = np.zeros((512, 512), bool)
    hole[50:462, 50:462] = True
    assert border_mode(hole) == "margin"
    hole[49, 100] = True
    assert border_mode(hole) == "none"
    hole[49, 100] = False
    hole[100, 462] = True  # 49 px from the right edge
    assert border_mode(hole) == "none"
    small = np.zeros((256, 256), bool)
    small[25:231, 25:231] = True  # the margin scales to 25 px at 256
    assert border_mode(small) == "margin"


def test_resize_holes_is_nearest_and_keeps_bool():
    from pconv_cli.imaging.masks import resize_holes

    holes = np.zeros((4, 6), bool)
    holes[1, 2] = True
    big = resize_holes(holes, (8, 12))
    assert big.dtype == bool and big.shape == (8, 12) and big.sum() == 4 and big[2:4, 4:6].all()
    assert resize_holes(holes, (4, 6)) is holes
    with pytest.raises(ValueError, match="bool hole map"):
        resize_holes(holes.astype(np.uint8), (8, 12))


def test_the_docstring_examples_run():
    assert doctest.testmod(masks, raise_on_error=False).failed == 0
