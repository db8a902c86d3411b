import doctest
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from pconv_cli.errors import UsageError
from pconv_cli.imaging import masks
from pconv_cli.imaging.images import read_mask
from pconv_cli.imaging.maskgen import count_window, generate, seeded_draw
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
from pconv_cli.imaging.raster import ellipses, polyline


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


# --- generators and mask sources ---------------------------------------------------------


def _paint(piece, size):
    out = np.zeros(size, bool)
    for y, a, b in zip(*piece):
        out[y, a : b + 1] = True
    return out


def test_ellipse_and_brush_spans_match_the_pointwise_definition():
    size = (40, 50)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]].astype(float)
    c, s = 0.6, 0.8
    u, v = (xx - 20.3) * c + (yy - 18.7) * s, -(xx - 20.3) * s + (yy - 18.7) * c
    expected = (u / 15.0) ** 2 + (v / 6.5) ** 2 <= 1.0
    got = _paint(ellipses(*(np.array([v]) for v in (20.3, 18.7, 15.0, 6.5, c, s)), size), size)
    assert (got != expected).sum() <= 2  # only pixels on the boundary may round differently
    # a capsule is every point within r of the segment
    px, py = xx - 5.0, yy - 30.0
    dx, dy = 40.0, -22.0
    t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0, 1)
    expected = (px - t * dx) ** 2 + (py - t * dy) ** 2 <= 4.2**2
    got = _paint(polyline(np.array([5.0, 45.0]), np.array([30.0, 8.0]), 4.2, size), size)
    assert (got != expected).sum() <= 3 and got.sum() > 300


def test_count_window_agrees_with_every_ratio_formula():
    lo, hi = count_window(0.1, 0.2, 100)
    assert (lo, hi) == (11, 20)
    total = 512 * 512
    lo, hi = count_window(0.2, 0.3, total)
    for c in (lo, hi):
        assert bin_index(c / total) == 2 and bin_index(1 - (total - c) / total) == 2
    assert bin_index((lo - 1) / total) == 1 or bin_index(1 - (total - lo + 1) / total) == 1
    assert count_window(0.95, 1.0, 100) == (96, 99)  # never all hole: nothing would be left to fill from


@pytest.mark.parametrize("style", ["strokes", "blobs", "scratches", "text"])
@pytest.mark.parametrize("margin", [0, 12])
def test_generated_masks_land_in_every_bin(style, margin):
    size = (128, 96)
    for i, (low, high) in enumerate(BINS):
        hole, used = generate(style, size, (low, high), margin, seeded_draw(7, i))
        assert used == style and hole.shape == size and hole.dtype == bool
        assert low < hole.mean() <= high and bin_index(hole_ratio(hole)) == i
        if margin:
            inner = np.zeros(size, bool)
            inner[margin:-margin, margin:-margin] = True
            assert not hole[~inner].any()


def _inner_radius(hole: np.ndarray) -> np.ndarray:
    """Per hole pixel, its distance to the nearest valid pixel (half the local stroke width)."""
    import cv2

    return cv2.distanceTransform(np.pad(hole, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1][hole]


def test_thin_styles_are_thin():
    # Scratches are 1-6 px wide (wider only where two cross); words in a small bin are letter strokes,
    # not filled boxes. Blobs, for contrast, are neither. Pooled over six masks of each.
    def radii(style: str) -> np.ndarray:
        masks = [generate(style, (256, 256), (0.01, 0.1), 0, seeded_draw(1, i))[0] for i in range(6)]
        return np.concatenate([_inner_radius(m) for m in masks])

    assert np.percentile(radii("scratches"), 95) <= 3.5
    assert np.median(radii("text")) <= 2.5
    assert np.median(radii("blobs")) > 3.0


def test_mixed_draws_every_style():
    used = {generate("mixed", (64, 64), (0.05, 0.2), 0, seeded_draw(2, i))[1] for i in range(40)}
    assert used == {"strokes", "blobs", "scratches", "text"}


def test_generation_is_reproducible_by_seed_and_index():
    a, _ = generate("mixed", (64, 64), (0.2, 0.3), 0, seeded_draw(3, 5))
    b, _ = generate("mixed", (64, 64), (0.2, 0.3), 0, seeded_draw(3, 5))
    c, _ = generate("mixed", (64, 64), (0.2, 0.3), 0, seeded_draw(3, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_generate_rejects_impossible_ranges():
    with pytest.raises(ValueError, match="no 8×8 mask"):
        generate("blobs", (8, 8), (0.5, 0.51), 0, seeded_draw(0, 0))
    with pytest.raises(ValueError, match="margin"):
        generate("blobs", (20, 20), (0.5, 0.6), 6, seeded_draw(0, 0))
    with pytest.raises(ValueError, match="style"):
        generate("dots", (20, 20), (0.1, 0.2), 0, seeded_draw(0, 0))


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
