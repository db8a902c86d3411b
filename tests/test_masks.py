import numpy as np
import pytest
import torch

from pconv_cli.masks import BINS, bin_index, bin_label, dilate_holes, hole_ratio


def test_hole_ratio_counts_zeros_as_holes():
    mask = torch.ones(1, 1, 10, 10)
    mask[..., :3, :5] = 0
    assert hole_ratio(mask) == pytest.approx(0.15)
    assert hole_ratio(mask.numpy()) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="non-empty"):
        hole_ratio(np.ones((0, 4)))


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


def test_dilate_numpy_matches_torch():
    mask = np.ones((15, 17), bool)
    mask[7, 7] = mask[0, 16] = False
    expected = dilate_holes(torch.from_numpy(mask).float()[None, None], 2)[0, 0].numpy() > 0.5
    assert np.array_equal(dilate_holes(mask, 2), expected)
    assert np.array_equal(dilate_holes(mask.astype(np.uint8), 2), expected.astype(np.uint8))
    assert dilate_holes(mask, 0) is mask
    with pytest.raises(ValueError, match="H×W"):
        dilate_holes(np.ones((1, 2, 3)), 1)
