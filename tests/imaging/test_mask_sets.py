import csv
import hashlib

import pytest

from pconv_cli.imaging.mask_sets import make_masks, plan


def manifest(folder):
    with open(folder / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_bytes_whatever_the_workers(tmp_path):
    groups = plan(8, (0.2, 0.45), False, "none")
    for name, workers in (("a", 1), ("b", 2)):
        (tmp_path / name).mkdir()
        make_masks(tmp_path / name, (48, 40), groups, "mixed", 11, workers)
    (tmp_path / "c").mkdir()
    make_masks(tmp_path / "c", (48, 40), groups, "mixed", 12, 1)
    a, b, c = digests(tmp_path / "a"), digests(tmp_path / "b"), digests(tmp_path / "c")
    assert a == b and a.keys() == c.keys() and a != c
    assert all(0.2 < float(r["hole_ratio"]) <= 0.45 for r in manifest(tmp_path / "a"))


@pytest.mark.parametrize("style", ["strokes", "blobs", "scratches"])
def test_files_are_pinned_across_machines_and_versions(tmp_path, style):
    # Pure NumPy geometry, a stable random stream and our own deflate: these bytes must never change.
    # (`text` draws glyphs with Pillow's FreeType, so only its shape, not its bytes, is tested.)
    out = tmp_path / "m"
    out.mkdir()
    make_masks(out, (64, 64), plan(6, None, True, "none"), style, 0, 1)
    got = {k: v[:16] for k, v in digests(out).items()}
    assert got == PINNED[style]


PINNED = {
    "strokes": {
        "b0_01-10_none_000000.png": "0d2ab41c5a810c99",
        "b1_10-20_none_000001.png": "e4c155a0bcebcfe1",
        "b2_20-30_none_000002.png": "ee270da82323b1d0",
        "b3_30-40_none_000003.png": "8df1642d44b94f4b",
        "b4_40-50_none_000004.png": "7dfec5db1bbdf2c3",
        "b5_50-60_none_000005.png": "d0642b4b811a17d8",
        "manifest.csv": "6a886907da78f653",
    },
    "blobs": {
        "b0_01-10_none_000000.png": "06a449952aacb2eb",
        "b1_10-20_none_000001.png": "da99ac2a7a000130",
        "b2_20-30_none_000002.png": "01d0f8dc2b68be0b",
        "b3_30-40_none_000003.png": "542c714204468fdc",
        "b4_40-50_none_000004.png": "d8ed500f0c82c8fd",
        "b5_50-60_none_000005.png": "eff25e570a82b2ae",
        "manifest.csv": "fcb1e1f125769579",
    },
    "scratches": {
        "b0_01-10_none_000000.png": "53a6e8bb35dacf47",
        "b1_10-20_none_000001.png": "9b94ca3f7415d56d",
        "b2_20-30_none_000002.png": "08021012971211d0",
        "b3_30-40_none_000003.png": "699f8a55f54ca7d5",
        "b4_40-50_none_000004.png": "0475b6d2edbb4b92",
        "b5_50-60_none_000005.png": "4c871f8f5d0937a9",
        "manifest.csv": "7fa7e2bee39948e2",
    },
}
