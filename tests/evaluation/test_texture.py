import doctest
import math

import cv2
import numpy as np
import pytest

from pconv_cli.evaluation import texture
from pconv_cli.evaluation.texture import PatchStore, laplacian_pyramid, pair_seed, sample_patches, sliced_wasserstein


def _fill(truth, hole, inside):
    return np.where(hole[..., None], inside, truth)


def _swd(fill, truth, hole):
    seed = pair_seed("photo.png", "mask.png")
    return sliced_wasserstein(sample_patches(fill, hole, seed), sample_patches(truth, hole, seed))


def test_identical_images_are_at_distance_zero_and_reruns_agree(scene):
    truth, hole = scene()
    assert _swd(truth, truth, hole) == 0.0
    noisy = _fill(truth, hole, np.clip(truth + np.random.default_rng(2).normal(0, 4, truth.shape), 0, 255))
    assert _swd(noisy.astype(np.uint8), truth, hole) == _swd(noisy.astype(np.uint8), truth, hole) > 0


def test_a_blurred_fill_is_farther_than_a_sharp_one(scene):
    truth, hole = scene()
    sharp = _fill(truth, hole, np.clip(truth.astype(int) + 3, 0, 255)).astype(np.uint8)
    blurred = _fill(truth, hole, cv2.GaussianBlur(truth, (0, 0), 2.0))
    assert _swd(blurred, truth, hole) > 2 * _swd(sharp, truth, hole)


def test_a_shuffled_texture_is_farther_than_the_truth(scene):
    truth, hole = scene()
    pixels = truth[hole]
    shuffled = truth.copy()
    shuffled[hole] = pixels[np.random.default_rng(3).permutation(len(pixels))]  # same colours, no texture
    sharp = _fill(truth, hole, np.clip(truth.astype(int) + 3, 0, 255)).astype(np.uint8)
    assert _swd(shuffled, truth, hole) > 2 * _swd(sharp, truth, hole)


def test_pyramid_levels_and_patch_positions(scene):
    truth, hole = scene(40)
    levels = laplacian_pyramid(truth)
    assert [level.shape for level in levels] == [(40, 40, 3), (20, 20, 3), (10, 10, 3)]
    up = cv2.pyrUp(levels[2], dstsize=(20, 20))
    np.testing.assert_allclose(cv2.pyrUp(levels[1] + up, dstsize=(40, 40)) + levels[0], truth, atol=1e-3)
    seed = pair_seed("a", "b")
    patches = sample_patches(truth, hole, seed)
    assert [p.shape[1] for p in patches] == [147] * 3 and len(patches[0]) == texture.PATCHES_PER_LEVEL
    assert all(np.array_equal(a, b) for a, b in zip(patches, sample_patches(truth, hole, seed)))
    assert pair_seed("a", "b") != pair_seed("b", "a")
    tiny = np.zeros((8, 8), bool)
    tiny[3:5, 3:5] = True
    assert [len(p) for p in sample_patches(np.zeros((8, 8, 3), np.uint8), tiny, seed)] == [4, 0, 0]


def test_checks_and_empty_levels():
    with pytest.raises(ValueError, match="same shapes per level"):
        sliced_wasserstein([np.zeros((3, 147))], [np.zeros((4, 147))])
    with pytest.raises(ValueError, match="bool hole map"):
        sample_patches(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), 0)
    empty = [np.zeros((0, 147))] * 3
    assert math.isnan(sliced_wasserstein(empty, empty))


def test_the_store_pools_a_bins_pairs_and_misses_nothing_silently(scene, tmp_path):
    truth, hole = scene()
    blurred = _fill(truth, hole, cv2.GaussianBlur(truth, (0, 0), 2.0))
    store = PatchStore(tmp_path / "patches")
    rows = []
    for image in ("a.png", "b.png"):
        key = (image, "m.png")
        seed = pair_seed(*key)
        store.save(key, None, sample_patches(truth, hole, seed))
        store.save(key, "telea", sample_patches(blurred, hole, seed))
        rows.append({"image": image, "mask": "m.png", "method": "telea"})
    pooled = store.pooled_distance(rows)
    assert pooled > 0 and pooled == PatchStore(tmp_path / "patches").pooled_distance(rows)
    assert math.isnan(store.pooled_distance([*rows, {"image": "c.png", "mask": "m.png", "method": "telea"}]))
    assert math.isnan(store.pooled_distance([]))


def test_the_docstring_examples_run():
    assert doctest.testmod(texture, raise_on_error=False).failed == 0
