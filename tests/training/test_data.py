import numpy as np
import pytest
import torch
from PIL import Image

from pconv_cli.errors import UsageError
from pconv_cli.training import data


class RectMasks:
    """A mask source with the make-masks interface: one random rectangle hole."""

    def sample(self, rng, shape):
        h, w = shape
        hole = np.zeros((h, w), bool)
        top, left = rng.integers(0, h // 2), rng.integers(0, w // 2)
        hole[top : top + h // 3, left : left + w // 3] = True
        return hole


def write_images(folder, sizes, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"im{i}.png")


def test_find_images_is_recursive_and_skips_corrupt_files(tmp_path):
    write_images(tmp_path / "a", [(70, 80)])
    write_images(tmp_path / "b" / "deep", [(64, 64), (90, 64)])
    (tmp_path / "b" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "b" / "notes.txt").write_text("ignored")
    good, bad = data.find_images([tmp_path / "a", tmp_path / "b"])
    assert len(good) == 3 and [p.name for p in bad] == ["broken.jpg"]


def test_a_folder_named_twice_is_listed_twice(tmp_path):
    write_images(tmp_path / "big", [(64, 64)] * 3)
    write_images(tmp_path / "rare", [(64, 64)])
    good, _ = data.find_images([tmp_path / "big", tmp_path / "rare", tmp_path / "rare"])
    assert sorted(p.parent.name for p in good) == ["big"] * 3 + ["rare"] * 2


def test_find_images_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images"):
        data.find_images([tmp_path / "empty"])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(UsageError, match="readable"):
        data.find_images([tmp_path / "bad"])
    with pytest.raises(UsageError, match="not found"):
        data.find_images([tmp_path / "missing"])
    # One photo given where a folder is expected: said so, not "not found".
    with pytest.raises(UsageError, match="x.png: is a file; expected a folder"):
        data.find_images([tmp_path / "bad" / "x.png"])


def test_random_crop_upscales_small_images_and_flips():
    image = np.arange(40 * 30 * 3, dtype=np.uint8).reshape(40, 30, 3)
    crop = data.random_crop(image, 64, np.random.default_rng(0))
    assert crop.shape == (64, 64, 3) and crop.flags.c_contiguous
    big = np.random.default_rng(1).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    flips = 0
    for seed in range(20):
        crop = data.random_crop(big, 64, np.random.default_rng(seed), flip=False)
        assert any(np.array_equal(big[t : t + 64, s : s + 64], crop) for t in range(37) for s in range(57))
        flipped = data.random_crop(big, 64, np.random.default_rng(seed))
        flips += not np.array_equal(flipped, crop)
        if not np.array_equal(flipped, crop):
            np.testing.assert_array_equal(flipped, crop[:, ::-1])
    assert 0 < flips < 20


def test_train_set_is_a_pure_function_of_position(tmp_path):
    write_images(tmp_path, [(80, 80), (70, 90), (64, 64)])
    files, _ = data.find_images([tmp_path])
    a = data.TrainSet(files, 64, RectMasks(), seed=5)
    b = data.TrainSet(files, 64, RectMasks(), seed=5)
    for k in (7, 0, 3, 7):  # any order, any instance
        x, y = a[k], b[k]
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
    sample = a[0]
    assert sample["image"].shape == (3, 64, 64) and sample["image"].dtype == torch.uint8
    assert sample["mask"].shape == (1, 64, 64) and sample["mask"].dtype == torch.bool
    assert not torch.equal(a[0]["image"], data.TrainSet(files, 64, RectMasks(), seed=6)[0]["image"])
    # one epoch visits every file once
    seen = {a._file(k) for k in range(3)}
    assert seen == set(files)


def test_undecodable_file_is_skipped_and_counted(tmp_path):
    write_images(tmp_path, [(64, 64)])
    good = tmp_path / "im0.png"
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(good.read_bytes()[:60])  # header parses, pixels do not
    files, bad = data.find_images([tmp_path])
    assert truncated in files and not bad
    ds = data.TrainSet([truncated, good], 64, RectMasks(), seed=0)
    counts = [int(ds[k]["skipped"]) for k in range(4)]
    assert sum(counts) == 2 and all(c <= 1 for c in counts)


def test_positions_partition_ranks():
    ranks = [list(data.Positions(3, 5, rank, 2)) for rank in range(2)]
    assert ranks[0] == [6, 8, 10, 12, 14] and ranks[1] == [7, 9, 11, 13, 15]


def test_val_set_pairs_are_fixed(tmp_path):
    write_images(tmp_path, [(80, 100), (50, 50)])
    files, _ = data.find_images([tmp_path])
    ds = data.ValSet(files, 64, RectMasks(), seed=0)
    assert len(ds) == 2
    assert torch.equal(ds[1]["mask"], data.ValSet(files, 64, RectMasks(), seed=0)[1]["mask"])
    image, mask = data.to_device(torch.utils.data.default_collate([ds[0], ds[1]]), torch.device("cpu"))
    assert image.shape == (2, 3, 64, 64) and 0 <= image.min() and image.max() <= 1
    assert set(mask.unique().tolist()) == {0.0, 1.0}
