import numpy as np
import pytest

from pconv_cli.choices import MaskStyle
from pconv_cli.imaging.maskgen import count_window, generate, seeded_draw
from pconv_cli.imaging.masks import BINS, bin_index, hole_ratio


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


def test_enum_styles_draw_the_same_masks_and_name_them_plainly():
    for style in MaskStyle:
        hole, used = generate(style, (64, 64), (0.1, 0.2), 0, seeded_draw(4, 1))
        again, name = generate(style.value, (64, 64), (0.1, 0.2), 0, seeded_draw(4, 1))
        assert np.array_equal(hole, again) and used == name and type(used) is str
