import csv
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pconv_cli.errors import UsageError
from pconv_cli.imaging.images import read_mask
from pconv_cli.imaging.mask_sets import folder_stats, format_stats, prepare_out_dir
from pconv_cli.imaging.masks import BINS, bin_index, bin_label, margin_for


def run(*args):
    return subprocess.run([sys.executable, "-m", "pconv_cli", "make-masks", *args], capture_output=True, text=True)


def manifest(folder):
    with open(folder / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_paper_bins_both_borders_every_mask_in_its_bin_and_the_manifest_matches(tmp_path):
    out = tmp_path / "masks"
    result = run(str(out), "--bins", "paper", "--border", "both", "--size", "64", "--count", "26", "-j", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and "wrote 26 masks" in result.stderr
    rows = manifest(out)
    files = sorted(p.name for p in out.glob("*.png"))
    assert [r["file"] for r in rows] == files and len(files) == 26  # names sort in manifest (bin) order
    per_group = {}
    m = margin_for((64, 64))
    for row in rows:
        hole = read_mask(out / row["file"])
        with Image.open(out / row["file"]) as img:
            assert img.mode == "L" and img.size == (64, 64) and set(np.unique(np.asarray(img))) <= {0, 255}
        ratio = hole.mean()
        assert row["hole_ratio"] == f"{ratio:.6f}"
        i = bin_index(ratio)
        assert i is not None and row["bin"] == bin_label(*BINS[i]) and row["file"].startswith(f"b{i}_")
        assert row["border"] in row["file"] and row["seed"] == "0"
        if row["border"] == "margin":
            assert not hole[:m].any() and not hole[-m:].any() and not hole[:, :m].any() and not hole[:, -m:].any()
        per_group[(row["bin"], row["border"])] = per_group.get((row["bin"], row["border"]), 0) + 1
    assert len(per_group) == 12 and sorted(per_group.values()) == [2] * 10 + [3] * 2
    assert {r["generator"] for r in rows} == {"strokes", "blobs", "scratches", "text"}  # mixed draws every style


@pytest.mark.slow
def test_size_w_h_and_wxh(tmp_path):
    for before, after, expected in (
        (["--size", "80", "48"], [], (80, 48)),
        ([], ["--size", "72", "40"], (72, 40)),
        (["--size", "40x56"], [], (40, 56)),
    ):
        out = tmp_path / f"{expected[0]}x{expected[1]}"
        result = run(*before, str(out), *after, "--count", "1", "--ratio", "0.1", "0.3", "-j", "1")
        assert result.returncode == 0, result.stderr
        (png,) = out.glob("*.png")
        assert png.name.startswith("r10-30_none_") and Image.open(png).size == expected


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ratio", "0.2", "1.5"], "0..1"),
        (["--ratio", "-0.1", "0.5"], "0..1"),
        (["--ratio", "0.5", "0.2"], "LOW must be below HIGH"),
        (["--count", "0"], "at least 1"),
        (["--bins", "nvidia"], "only 'paper'"),
        (["--bins", "paper", "--ratio", "0.1", "0.2"], "not both"),
        (["--style", "dots"], "--style"),
        (["--border", "wide"], "--border"),
        (["--size", "8"], "16..16384"),
        (["--size", "big"], "--size expects"),
        (["--ratio", "0.7", "0.9", "--border", "margin", "--size", "64"], "clear border"),
        (["--ratio", "0.3", "0.3001", "--size", "32"], "narrower than one pixel"),
        (["--preview", "no/such/dir/sheet.png"], "does not exist"),
        (["--seed", "-1"], "--seed must be 0 or more"),
        (["--preview", "{out}/sheet.png"], "--preview must lie outside OUT_DIR"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    result = run(str(tmp_path / "out"), *(a.format(out=tmp_path / "out") for a in args))
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_refuses_non_empty_or_unwritable_folders(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = run(str(tmp_path / "full"), "--count", "1", "--size", "32", "-j", "1")
    assert result.returncode == 2 and "--overwrite" in result.stderr
    result = run(str(tmp_path / "full"), "--count", "1", "--size", "32", "-j", "1", "--overwrite")
    assert result.returncode == 0 and (tmp_path / "full" / "keep.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    result = run(str(tmp_path / "file" / "sub"), "--count", "1")
    assert result.returncode == 2 and "cannot write" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(UsageError, match="not a folder"):
        prepare_out_dir(tmp_path / "file", overwrite=True)


def test_overwrite_replaces_the_earlier_mask_set_and_leaves_other_files(tmp_path):
    out = tmp_path / "masks"
    assert run(str(out), "--count", "3", "--size", "32", "-j", "1").returncode == 0
    (out / "mine.png").write_bytes(b"not a listed mask")
    result = run(str(out), "--count", "2", "--size", "32", "-j", "1", "--bins", "paper", "--overwrite")
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in out.glob("*.png"))
    assert files == sorted([r["file"] for r in manifest(out)] + ["mine.png"])  # no r01-60_ mask left unlisted
    assert (out / "mine.png").read_bytes() == b"not a listed mask"


def test_preview_is_a_contact_sheet(tmp_path):
    sheet = tmp_path / "sheet.png"
    result = run(str(tmp_path / "m"), "--count", "12", "--size", "32", "--preview", str(sheet), "-j", "1")
    assert result.returncode == 0, result.stderr
    with Image.open(sheet) as img:
        assert img.width > 8 * 32 and img.height > 2 * 32
        assert np.asarray(img).max() == 255  # holes show white


def _known_mask(path, size, holes, centred):
    """A mask with exactly ``holes`` white pixels, inside the central half if ``centred``."""
    img = np.zeros(size, np.uint8)
    region = img[size[0] // 4 : 3 * size[0] // 4, size[1] // 4 : 3 * size[1] // 4] if centred else img
    flat = np.zeros(region.size, np.uint8)
    flat[:holes] = 255
    region[...] = flat.reshape(region.shape)
    Image.fromarray(img).save(path)


def test_stats_counts_a_folder_of_known_masks(tmp_path):
    # 100×100 masks: ratio = holes / 10000; "centred" ones keep the scaled 10-px border clear.
    known = [(50, False), (500, True), (1500, True), (1500, False), (2000, False), (5500, False), (7000, False)]
    for i, (holes, centred) in enumerate(known):
        _known_mask(tmp_path / f"m{i}.png", (100, 100), holes, centred)
    (tmp_path / "sub").mkdir()
    _known_mask(tmp_path / "sub" / "deep.png", (100, 100), 2500, True)
    (tmp_path / "broken.png").write_bytes(b"nope")
    stats = folder_stats(tmp_path)
    assert stats.total == 8 and stats.unreadable == [str(tmp_path / "broken.png")]
    counts = {row: (c["margin"], c["none"]) for row, c in stats.counts.items()}
    assert counts == {
        "≤0.01": (0, 1),
        "(0.01,0.10]": (1, 0),
        "(0.10,0.20]": (1, 2),
        "(0.20,0.30]": (1, 0),
        "(0.30,0.40]": (0, 0),
        "(0.40,0.50]": (0, 0),
        "(0.50,0.60]": (0, 1),
        ">0.60": (0, 1),
    }
    result = run("--stats", str(tmp_path))
    assert result.returncode == 0 and result.stdout == format_stats(stats) + "\n"
    assert "(0.10,0.20]" in result.stdout and "broken.png" in result.stderr
    assert run("--stats", str(tmp_path / "sub" / "none")).returncode == 2
    assert run("--stats", str(tmp_path), str(tmp_path / "out")).returncode == 2


@pytest.mark.slow
@pytest.mark.parametrize("to_group", [False, True])
def test_sigterm_keeps_a_manifest_of_exactly_the_masks_written(tmp_path, to_group):
    import os
    import signal
    import time

    out = tmp_path / "masks"
    cmd = [sys.executable, "-m", "pconv_cli", "make-masks", str(out), "--count", "20000", "--size", "256", "-j", "2"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(list(out.glob("*.png"))) < 50 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if to_group:
        os.killpg(proc.pid, signal.SIGTERM)  # as `timeout` or a container stop does
    else:
        proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 130, err
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert 0 < len(pngs) < 20000 and [r["file"] for r in manifest(out)] == pngs
    assert f"{len(pngs)} of 20000 masks written" in err and "Traceback" not in err
    assert not list(out.glob(".*.tmp"))
