import csv
import io
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from pconv_cli.commands.evaluate import EvalOptions
from pconv_cli.errors import UsageError
from pconv_cli.evaluation import baselines as bl
from pconv_cli.evaluation import run as ev
from pconv_cli.evaluation.pairs import make_pairs, measure_mask
from pconv_cli.evaluation.publish import write_reports
from pconv_cli.evaluation.results import CSV_COLUMNS
from pconv_cli.model.weights import DEFAULT_MODEL

MASK = 160  # large enough for a 50-px clear border around a hole


def _rect_mask(top, left, h, w):
    m = np.zeros((MASK, MASK), np.uint8)
    m[top : top + h, left : left + w] = 255
    return m


# name -> (mask, expected bin index, expected border); names say nothing about the bin.
MASKS = {
    "a.png": (_rect_mask(60, 60, 40, 40), 0, "margin"),  # ratio 0.0625, 60 px from every edge
    "b.png": (_rect_mask(55, 62, 40, 40), 0, "margin"),
    "c.png": (_rect_mask(0, 0, 40, 40), 0, "none"),  # touches the corner
    "d.png": (_rect_mask(120, 100, 40, 40), 0, "none"),
    "e.png": (_rect_mask(50, 50, 60, 60), 1, "margin"),  # ratio 0.14, exactly 50 px clear
    "f.png": (_rect_mask(100, 0, 60, 60), 1, "none"),
    "g.png": (np.zeros((MASK, MASK), np.uint8), None, None),  # no hole: in no bin
    "h.png": (_rect_mask(0, 0, 150, 150), None, None),  # ratio 0.88: in no bin
}


def _write_images(folder: Path, count=5, shape=(40, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    for i in range(count):
        img = np.stack([x * 4 + i * 10, y * 5, (x + y) * 2 + 30 * i], -1) % 256
        Image.fromarray(img.astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def data(tmp_path):
    images = _write_images(tmp_path / "images")
    masks = tmp_path / "masks"
    masks.mkdir()
    for name, (m, _, _) in MASKS.items():
        Image.fromarray(m).save(masks / name)
    return images, masks


def _opts(data, tmp_path, **kw):
    images, masks = data
    base = EvalOptions(
        images=images, masks=masks, out=tmp_path / "out", baselines=["telea", "ns"], bins=[0, 1], pairs_per_bin=2
    )
    return replace(base, **kw)


def _quiet():
    return Console(file=io.StringIO(), width=200)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pconv_cli", "eval", *map(str, args)], capture_output=True, text=True)


def test_masks_are_measured_not_named(data):
    _, masks = data
    for name, (_, b, border) in MASKS.items():
        info = measure_mask(masks / name, name)
        if b is None:
            assert info is None
        else:
            assert (info.bin, info.border) == (b, border), name


def _infos(masks):
    return [i for n in sorted(MASKS) if (i := measure_mask(masks / n, n)) is not None]


def test_pairing_is_seeded_balanced_and_per_cell(data):
    images, masks = data
    imgs = [(p, p.name) for p in sorted(images.iterdir())]
    infos = _infos(masks)
    pairs = make_pairs(imgs, infos, [0, 1], ["margin", "none"], 3, seed=7)
    again = make_pairs(list(reversed(imgs)), list(reversed(infos)), [0, 1], ["margin", "none"], 3, seed=7)
    assert [(p.key, p.index) for p in pairs] == [(p.key, p.index) for p in again]
    other = make_pairs(imgs, infos, [0, 1], ["margin", "none"], 3, seed=8)
    assert [p.key for p in pairs] != [p.key for p in other]
    cells = {}
    for p in pairs:
        cells.setdefault((p.mask.bin, p.mask.border), []).append(p)
    assert {k: len(v) for k, v in cells.items()} == {(0, "margin"): 3, (0, "none"): 3, (1, "margin"): 3, (1, "none"): 3}
    assert len({p.key for p in pairs}) == len(pairs)  # a pair never repeats
    # masks are used without repetition while they last
    assert len({p.mask.name for p in cells[(0, "margin")][:2]}) == 2
    # a cell's pairs do not depend on the other cells being evaluated
    alone = make_pairs(imgs, infos, [1], ["none"], 3, seed=7)
    assert [p.key for p in alone] == [p.key for p in cells[(1, "none")]]
    # round-robin order: the first pairs of every cell come first
    assert [p.index for p in pairs[:4]] == [0, 0, 0, 0]
    # a cell with one mask and 5 images holds at most 5 distinct pairs
    assert len(make_pairs(imgs, infos, [1], ["none"], 50, seed=7)) == 5


def telea_rows(result):
    return [r for r in result.rows if r["method"] == "telea"]


@pytest.mark.slow
def test_cli_run_writes_every_output_and_json(data, tmp_path):
    images, masks = data
    out = tmp_path / "out"
    result = _cli(images, "--masks", masks, "--baselines", "telea,ns", "-k", "2", "--bins", "1,2", "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # without --weights the shipped default model runs beside the baselines
    assert [m["name"] for m in summary["methods"]] == [DEFAULT_MODEL, "telea", "ns"] and summary["pairs"] == 8
    assert {(c["bin"], c["border"]) for c in summary["aggregate"]} == {
        ("(0.01,0.10]", "margin"),
        ("(0.01,0.10]", "none"),
        ("(0.10,0.20]", "margin"),
        ("(0.10,0.20]", "none"),
    }
    assert all(c["n"] == 2 for c in summary["aggregate"])
    # what eyes judge, per bin: perceptual (per pair, averaged), texture (patches pooled), detail (median)
    assert all(c["perceptual"] > 0 and c["texture"] > 0 for c in summary["aggregate"])
    with open(out / "bins.csv") as f:
        cells = list(csv.DictReader(f))
    assert len(cells) == 12 and {"perceptual", "texture", "detail"} <= set(cells[0])
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24  # 8 pairs × (model, telea, ns)
    assert set(CSV_COLUMNS) <= set(rows[0])
    by_method = {m: {(r["image"], r["mask"]) for r in rows if r["method"] == m} for m in ("telea", "ns")}
    assert by_method["telea"] == by_method["ns"]  # every method sees the same pairs
    assert all(r["image"].startswith("img") and r["mask"].endswith(".png") for r in rows)  # relative names
    assert json.loads((out / "results.json").read_text())["per_pair"][0]["method"] in (DEFAULT_MODEL, "telea", "ns")
    md = (out / "results.md").read_text()
    assert "| Telea |" in md and "**" in md
    assert Image.open(out / "comparison.png").size[0] > 4 * 192
    assert "Telea" in result.stderr and "PSNR" in result.stderr and "Traceback" not in result.stderr
    # only hole pixels changed in the saved composites
    sample = next((out / "samples").iterdir())
    truth = np.asarray(Image.open(sample / "_truth.png"))
    masked = np.asarray(Image.open(sample / "_input.png"))
    comp = np.asarray(Image.open(sample / "telea.png"))
    valid = (masked != 255).any(-1)
    assert np.array_equal(comp[valid], truth[valid]) and not np.array_equal(comp, truth)


@pytest.mark.slow
def test_resume_runs_only_what_is_missing(data, tmp_path, monkeypatch):
    calls = []

    def counting(image, hole):
        calls.append(1)
        return bl.telea(image, hole)

    monkeypatch.setitem(bl.BASELINES, "telea", bl.Baseline("telea", "Telea", counting))
    first = ev.run_eval(_opts(data, tmp_path, baselines=["telea"], pairs_per_bin=1), _quiet())
    assert len(calls) == 4 and len(telea_rows(first)) == 4
    calls.clear()
    second = ev.run_eval(_opts(data, tmp_path, baselines=["telea", "ns"], pairs_per_bin=2, resume=True), _quiet())
    assert len(calls) == 4  # the 4 new pairs only; ns runs on all 8
    assert len(second.rows) == 24  # 8 pairs × (default model, telea, ns)
    with open(tmp_path / "out" / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 24
    calls.clear()
    third = ev.run_eval(_opts(data, tmp_path, baselines=["telea", "ns"], pairs_per_bin=2, resume=True), _quiet())
    assert calls == [] and len(third.rows) == 24
    calls.clear()
    ev.run_eval(_opts(data, tmp_path, baselines=["telea"], pairs_per_bin=1, overwrite=True), _quiet())  # start over
    assert len(calls) == 4


@pytest.mark.slow
def test_resumed_reports_cover_every_method_in_the_file(data, tmp_path):
    out = tmp_path / "out"
    first = _opts(data, tmp_path, baselines=["telea"], bins=[0], pairs_per_bin=1, figure_pairs=1)
    write_reports(ev.run_eval(first, _quiet()), first, _quiet())
    second = replace(first, baselines=["ns"], resume=True)
    console = Console(record=True, width=300)
    summary = write_reports(ev.run_eval(second, console), second, console)
    everything = [DEFAULT_MODEL, "telea", "ns"]  # the earlier run's telea as well as this run's methods
    assert [m["name"] for m in summary["methods"]] == everything and summary["pairs"] == 2
    assert {c["method"] for c in summary["aggregate"]} == set(everything) == set(summary["overall"])
    assert all(math.isfinite(c["texture"]) for c in summary["aggregate"])  # the earlier run's patches pooled too
    saved = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in saved["methods"]] == everything
    with open(out / "results.csv") as f:
        assert sorted((r["method"], r["image"], r["mask"]) for r in csv.DictReader(f)) == sorted(
            (r["method"], r["image"], r["mask"]) for r in saved["per_pair"]
        )
    assert "| Telea |" in (out / "results.md").read_text() and "Telea" in console.export_text()
    assert Image.open(out / "comparison.png").size[0] > 5 * 192  # input | 3 methods | truth


@pytest.mark.slow
def test_earlier_results_are_kept_unless_resumed_or_overwritten(data, tmp_path):
    images, masks = data
    out = tmp_path / "out"
    flags = dict(images=images, masks=masks, out=out, pairs_per_bin=1)
    ev.run_eval(EvalOptions.from_flags("telea,ns", "1,2", "both", **flags), _quiet())
    kept = (out / "results.csv").read_text()
    r = _cli(images, "--masks", masks, "-k", "1", "--bins", "1,2", "--baselines", "telea", "-o", out)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"output folder {out} already holds results (results.csv)" in r.stderr
    assert "--resume" in r.stderr and "--overwrite" in r.stderr
    assert (out / "results.csv").read_text() == kept
    with pytest.raises(UsageError, match="--resume and --overwrite contradict each other"):
        EvalOptions.from_flags("telea", "1,2", "both", resume=True, overwrite=True, **flags)
    assert EvalOptions.from_flags("telea", "1,2", "both", resume=True, **flags).resume
    ev.run_eval(EvalOptions.from_flags("telea", "1,2", "both", overwrite=True, **flags), _quiet())
    with open(out / "results.csv") as f:
        assert {r["method"] for r in csv.DictReader(f)} == {DEFAULT_MODEL, "telea"}  # the ns rows are gone


def test_an_output_folder_inside_the_image_folder_adds_no_images(data, tmp_path):
    images, _ = data
    first = _opts(data, tmp_path, out=images / "eval", baselines=["telea"], bins=[0], pairs_per_bin=1)
    write_reports(ev.run_eval(first, _quiet()), first, _quiet())
    assert list((images / "eval").rglob("*.png"))  # samples and comparison.png
    again = ev.run_eval(replace(first, resume=True), _quiet())
    assert {p.image_name for p in again.pairs} <= {f"img{i}.png" for i in range(5)}
    assert again.aside == [] and len(again.rows) == 4  # every earlier row kept, none run again


def test_the_image_or_mask_folder_itself_is_no_output_folder(data, tmp_path):
    images, masks = data
    for folder, what in ((images, "IMAGES"), (masks, "--masks")):
        with pytest.raises(UsageError, match=f"is the {what} folder; write the results elsewhere"):
            _opts(data, tmp_path, out=folder / "." / "").check()


@pytest.mark.slow
def test_overwrite_leaves_no_picture_of_the_replaced_run(data, tmp_path):
    out = tmp_path / "out"
    first = _opts(data, tmp_path, bins=[0], pairs_per_bin=1, figure_pairs=1)
    write_reports(ev.run_eval(first, _quiet()), first, _quiet())
    assert list(out.glob("samples/*/ns.png"))
    again = replace(first, baselines=["telea"], overwrite=True, figure_pairs=0)
    ev.run_eval(again, _quiet())
    assert not list(out.glob("samples/*/*.png"))  # ns's, and the pairs no longer drawn
    assert not (out / "comparison.png").exists() and not (out / "results.json").exists()


@pytest.mark.slow
def test_resume_refuses_rows_measured_with_other_settings(data, tmp_path):
    images, masks = data
    out = tmp_path / "out"
    run = ("--baselines", "telea", "-k", "1", "--bins", "1", "-o", out)
    assert _cli(images, "--masks", masks, "--size", "64", *run).returncode == 0
    kept = (out / "results.csv").read_text()
    r = _cli(images, "--masks", masks, "--size", "128", "--seed", "3", *run, "--resume")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "--size 64 then, 128 now; --seed 0 then, 3 now" in r.stderr
    assert (out / "results.csv").read_text() == kept
    other = tmp_path / "other-masks"
    other.mkdir()
    for name in ("a.png", "c.png"):
        (other / name).write_bytes((masks / name).read_bytes())
    opts = _opts(data, tmp_path, baselines=["telea"], bins=[0], pairs_per_bin=1, size=64, resume=True)
    for changed, flag in ((dict(masks=other), "--masks"), (dict(invert_mask=True), "--invert-mask")):
        with pytest.raises(UsageError, match=f"other settings \\({flag} "):
            ev.run_eval(replace(opts, **changed), _quiet())
    ev.run_eval(replace(opts, bins=[0, 1], pairs_per_bin=2), _quiet())  # more pairs, measured the same way
    (out / "settings.json").unlink()  # a folder from before the record: resumed as before
    assert ev.run_eval(replace(opts, size=None), _quiet()).rows
    assert json.loads((out / "settings.json").read_text())["size"] is None


def test_the_same_weights_twice_are_refused(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.safetensors").write_bytes(b"")
    with pytest.raises(UsageError, match=f"--weights given twice: {tmp_path / 'm.safetensors'}$"):
        _opts(data, tmp_path, weights=[Path("m.safetensors"), tmp_path / "m.safetensors"]).check()
    _opts(data, tmp_path, weights=[Path("m.safetensors"), Path(DEFAULT_MODEL)]).check()


def test_raw_fills_are_their_own_method_so_resume_never_mixes_them(data, tmp_path):
    blended = ev.run_eval(_opts(data, tmp_path, baselines=[], bins=[0], pairs_per_bin=1), _quiet())
    raw = ev.run_eval(
        _opts(data, tmp_path, baselines=[], bins=[0], pairs_per_bin=1, blend=False, resume=True), _quiet()
    )
    assert {r["method"] for r in blended.rows} == {DEFAULT_MODEL}
    assert {r["method"] for r in raw.rows} == {f"{DEFAULT_MODEL}-noblend"}  # computed, not taken from the CSV
    by_method = {r["method"]: r for r in raw.rows} | {r["method"]: r for r in blended.rows}
    assert by_method[DEFAULT_MODEL]["rim"] != by_method[f"{DEFAULT_MODEL}-noblend"]["rim"]
    with open(tmp_path / "out" / "results.csv") as f:  # the first run's rows stay in the file
        assert {r["method"] for r in csv.DictReader(f)} == {DEFAULT_MODEL, f"{DEFAULT_MODEL}-noblend"}


def test_resume_recomputes_a_row_cut_short(data, tmp_path):
    opts = _opts(data, tmp_path, baselines=["telea"], pairs_per_bin=1)
    first = ev.run_eval(opts, _quiet())
    csv_path = tmp_path / "out" / "results.csv"
    text = csv_path.read_text()
    csv_path.write_text(text[: text.rstrip("\n").rfind(",")])  # the last row loses its last fields
    again = ev.run_eval(_opts(data, tmp_path, baselines=["telea"], pairs_per_bin=1, resume=True), _quiet())
    assert len(again.rows) == len(first.rows)


def test_resume_reads_a_results_file_from_before_the_detail_column(data, tmp_path):
    first = ev.run_eval(_opts(data, tmp_path, baselines=["telea"], pairs_per_bin=1), _quiet())
    assert not all(math.isnan(r["detail"]) for r in first.rows)
    csv_path = tmp_path / "out" / "results.csv"
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in CSV_COLUMNS if c != "detail"]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    again = ev.run_eval(_opts(data, tmp_path, baselines=["telea"], pairs_per_bin=1, resume=True), _quiet())
    assert len(again.rows) == len(first.rows)  # kept, not recomputed or dropped
    assert all(math.isnan(r["detail"]) for r in again.rows)


def test_resume_rejects_a_foreign_csv(data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="not a pconv eval results file"):
        ev.run_eval(_opts(data, tmp_path, resume=True), _quiet())


@pytest.mark.slow
def test_missing_baseline_package_is_skipped(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "patchmatch", None)
    monkeypatch.setitem(sys.modules, "patchmatch.patch_match", None)
    result = ev.run_eval(_opts(data, tmp_path, baselines=["telea", "patchmatch"]), _quiet())
    assert "patchmatch" in result.skipped and "not installed" in result.skipped["patchmatch"]
    assert {r["method"] for r in result.rows} == {DEFAULT_MODEL, "telea"} and not result.failures


@pytest.mark.slow
def test_messages_keep_brackets_and_name_only_what_was_written(data, tmp_path, monkeypatch):
    from rich.console import Console

    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.restoration", None)
    console = Console(record=True, width=300)
    opts = _opts(data, tmp_path, baselines=["biharmonic", "telea"], figure_pairs=0, bins=[0], pairs_per_bin=1)
    write_reports(ev.run_eval(opts, console), opts, console)
    text = console.export_text()
    assert "pip install 'pconv-cli[baselines]'" in text  # rich once ate "[baselines]" as markup
    assert "results.md" in text and "comparison.png" not in text and not (tmp_path / "out" / "comparison.png").exists()


def test_size_crops_images_and_resizes_masks(data, tmp_path):
    result = ev.run_eval(_opts(data, tmp_path, size=32, bins=[0], pairs_per_bin=1), _quiet())
    assert result.rows and all(r["height"] == 32 and r["width"] == 32 for r in result.rows)


@pytest.mark.slow
def test_model_runs_batched_and_only_changes_holes(data, tmp_path):
    from pconv_cli.model.unet import PConvConfig, PConvUNet
    from pconv_cli.model.weights import save_weights

    weights = tmp_path / "tiny.safetensors"
    save_weights(PConvUNet(PConvConfig.preset("tiny")).eval(), weights)
    opts = _opts(data, tmp_path, weights=[weights], baselines=[], device="cpu", batch_size=8, figure_pairs=1)
    result = ev.run_eval(opts, _quiet())
    assert [m.name for m in result.methods] == ["tiny"] and len(result.rows) == 8
    sample = next((tmp_path / "out" / "samples").iterdir())
    truth = np.asarray(Image.open(sample / "_truth.png"))
    valid = (np.asarray(Image.open(sample / "_input.png")) != 255).any(-1)
    assert np.array_equal(np.asarray(Image.open(sample / "tiny.png"))[valid], truth[valid])


@pytest.mark.slow
def test_bad_inputs_give_one_line_errors(data, tmp_path):
    images, masks = data
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _cli(images, "--masks", empty, "-b", "telea", "-o", tmp_path / "o1")
    assert r.returncode == 2 and "holds no image files" in r.stderr and "Traceback" not in r.stderr
    r = _cli(empty, "--masks", masks, "-b", "telea", "-o", tmp_path / "o2")
    assert r.returncode == 2 and "no image files" in r.stderr
    r = _cli(tmp_path / "nowhere", "--masks", masks, "-b", "telea", "-o", tmp_path / "o3")
    assert r.returncode == 2 and "not found" in r.stderr
    r = _cli(images, "--masks", masks, "-b", "telea", "--bins", "5,6", "-o", tmp_path / "o4")
    assert r.returncode == 2 and r.stderr.splitlines()[-1].startswith("pconv: error: none of the 8 masks")
    r = _cli(images, "--masks", masks, "-b", "magic", "-o", tmp_path / "o5")
    assert r.returncode == 2 and "unknown baseline" in r.stderr
    (tmp_path / "file").write_text("")
    r = _cli(images, "--masks", masks, "-b", "telea", "-k", "9", "-o", tmp_path / "file")
    assert r.returncode == 2 and "exists and is not a folder" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1  # the cells short of 9 pairs are noted only once nothing is refused
    r = _cli(images, "--masks", masks, "-b", "none", "-k", "9", "--device", "tpu", "-o", tmp_path / "o7")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown device 'tpu'" in r.stderr
    r = _cli(images, "--masks", masks, "-b", "telea", "--size", "100000", "-o", tmp_path / "o6")
    assert r.returncode == 2 and "--size must be 16..8192" in r.stderr  # once a 30 GB allocation


@pytest.mark.slow
def test_unreadable_files_fail_alone(data, tmp_path):
    images, masks = data
    (masks / "broken.png").write_bytes(b"not a png")
    (images / "img0.png").write_bytes(b"not a png either")
    out = tmp_path / "out"
    r = _cli(images, "--masks", masks, "-b", "telea", "--bins", "1", "-k", "5", "-o", out)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "cannot read mask" in r.stderr and "broken.png" in r.stderr
    assert "cannot read image" in r.stderr and "img0.png" in r.stderr
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["image"] != "img0.png" for r in rows)
