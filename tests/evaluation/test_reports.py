import json
import math

import numpy as np
import pytest
from PIL import Image

from pconv_cli.evaluation import reports as rep


def _row(
    image, method, l1, psnr, bin_="(0.01,0.10]", border="none", rim=(-1.0, -2.0, -3.0), detail=0.5, perceptual=0.2
):
    return {
        "image": image,
        "mask": "m.png",
        "method": method,
        "bin": bin_,
        "border": border,
        "l1": l1,
        "psnr": psnr,
        "ssim": 0.5,
        "hole_psnr": psnr - 10,
        "seam": 2.0,
        "rim": float(np.mean(rim)),
        "rim_r": rim[0],
        "rim_g": rim[1],
        "rim_b": rim[2],
        "detail": detail,
        "perceptual": perceptual,
        "seconds": 0.1,
    }


def test_aggregate_uses_only_pairs_every_method_finished():
    rows = [
        _row("a", "x", 1.0, 30.0),
        _row("a", "y", 3.0, 20.0),
        _row("b", "x", 2.0, 40.0),
        _row("b", "y", 5.0, 10.0),
        _row("c", "x", 100.0, 0.0),  # y failed on c: c must not count for x either
        _row("a", "x", 9.0, 9.0, bin_="(0.10,0.20]", border="margin"),
        _row("a", "y", 8.0, 8.0, bin_="(0.10,0.20]", border="margin"),
    ]
    rows[-2]["mask"] = rows[-1]["mask"] = "n.png"
    agg = rep.aggregate(rows, ["x", "y"])
    cells = {(c["method"], c["bin"], c["border"]): c for c in agg["cells"]}
    assert cells[("x", "(0.01,0.10]", "none")]["n"] == 2
    assert cells[("x", "(0.01,0.10]", "none")]["l1"] == pytest.approx(1.5)
    assert cells[("y", "(0.01,0.10]", "none")]["psnr"] == pytest.approx(15.0)
    assert agg["overall"]["x"]["n"] == 3 and agg["overall"]["x"]["l1"] == pytest.approx(4.0)


def test_tables_mark_the_best_value_per_column_and_keep_the_paper_layout():
    rows = [_row("a", "x", 1.0, 30.0), _row("a", "y", 3.0, 35.0)]
    agg = rep.aggregate(rows, ["x", "y"])
    md = rep.markdown_table(agg, {"x": "Model", "y": "Telea"}, "1 pair")
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| metric"))
    assert "(0.01,0.10] N" in header and "B |" not in header  # bins as columns, only those present
    l1_x = next(line for line in lines if line.startswith("| L1"))
    assert "**1.00**" in l1_x  # lower L1 is better
    psnr_y = lines[lines.index(next(line for line in lines if line.startswith("| PSNR"))) + 1]
    assert psnr_y.startswith("|  | Telea") and "**35.00**" in psnr_y  # higher PSNR is better
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(rep.rich_table(agg, {"x": "Model", "y": "Telea"}))
    text = console.export_text()
    assert "1.00*" in text and "35.00*" in text and "3.00*" not in text


def test_a_metric_this_run_could_not_measure_is_left_out_of_the_tables():
    rows = [_row("a", "x", 1.0, 30.0, perceptual=math.nan), _row("a", "y", 3.0, 35.0, perceptual=math.nan)]
    agg = rep.aggregate(rows, ["x", "y"])
    md = rep.markdown_table(agg, {"x": "Model", "y": "Telea"}, "1 pair")
    assert "perceptual distance" not in md and "| L1" in md
    rows[0]["perceptual"] = 0.3
    assert "perceptual distance" in rep.markdown_table(rep.aggregate(rows, ["x", "y"]), {"x": "M", "y": "T"}, "1")


def test_json_has_no_infinities(tmp_path):
    data = {"psnr": math.inf, "rows": [1.5, -math.inf, float("nan")], "n": 2}
    rep.write_json(tmp_path / "r.json", data)
    assert json.loads((tmp_path / "r.json").read_text()) == {"psnr": None, "rows": [1.5, None, None], "n": 2}


def test_comparison_picture_grid(tmp_path):
    samples = tmp_path / "samples"
    for tag in ("t1", "t2"):
        (samples / tag).mkdir(parents=True)
        for name in ("_input", "_truth", "telea"):
            Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(samples / tag / f"{name}.png")
    out = tmp_path / "cmp.png"
    rep.comparison_picture(out, samples, ["t1", "t2"], [("telea", "Telea"), ("ns", "NS")], ["bin 1", "bin 2"])
    img = np.asarray(Image.open(out))
    assert img.shape[0] > 2 * 192 and img.shape[1] > 4 * 192
    # the missing NS tile is plain grey, the Telea tile shows the sample
    box, pad, head, side = 192, 4, 24, 120
    ns_tile = img[head + 10, side + pad + 2 * (box + pad) + 96]
    telea_tile = img[head + 96, side + pad + 1 * (box + pad) + 96]
    assert tuple(ns_tile) == (128, 128, 128) and tuple(telea_tile) == (200, 200, 200)


def test_rim_bias_ranks_nearest_zero_and_shows_channels():
    rows = [_row("a", "x", 1.0, 30.0, rim=(-3.0, -3.0, -3.0)), _row("a", "y", 1.0, 30.0, rim=(2.0, 1.0, 0.0))]
    rows.append({**_row("b", "x", 1.0, 30.0), "rim": math.nan, "rim_r": math.nan})  # a pair with no rim
    rows.append(_row("b", "y", 1.0, 30.0, rim=(2.0, 1.0, 0.0)))
    agg = rep.aggregate(rows, ["x", "y"])
    assert agg["overall"]["x"]["rim"] == pytest.approx(-3.0)  # NaN left out, not propagated
    lines = rep.markdown_table(agg, {"x": "Model", "y": "Telea"}, "2 pairs").splitlines()
    rim = next(i for i, line in enumerate(lines) if line.startswith("| rim bias (×255)"))
    assert "-3.00 |" in lines[rim] and "**+1.00**" in lines[rim + 1]  # +1 is nearer 0 than -3
    assert "+2.0/+1.0/+0.0" in lines[rim + 3]  # R/G/B block: Telea's row


def test_detail_ratio_ranks_nearest_one():
    rows = [_row("a", "x", 1.0, 30.0, detail=0.5), _row("a", "y", 1.0, 30.0, detail=1.3)]
    agg = rep.aggregate(rows, ["x", "y"])
    lines = rep.markdown_table(agg, {"x": "Model", "y": "Telea"}, "1 pair").splitlines()
    detail = next(i for i, line in enumerate(lines) if line.startswith("| detail ratio (median) →1"))
    assert "0.50 |" in lines[detail] and "**1.30**" in lines[detail + 1]  # 1.3 is nearer 1 than 0.5


def test_detail_ratio_is_summarised_by_the_median_and_texture_by_the_given_pooling():
    rows = [_row(name, "x", 1.0, 30.0, detail=d) for name, d in (("a", 0.8), ("b", 0.9), ("c", 500.0))]
    seen = []
    agg = rep.aggregate(rows, ["x"], texture=lambda sel: seen.append(len(sel)) or 0.25)
    cell = agg["cells"][0]
    assert cell["detail"] == pytest.approx(0.9)  # a flat truth's 500 does not drag it away
    assert cell["perceptual"] == pytest.approx(0.2) and cell["texture"] == 0.25 == agg["overall"]["x"]["texture"]
    assert seen == [3, 3]  # the cell's rows, then the method's, pooled
    assert math.isnan(rep.aggregate(rows, ["x"])["cells"][0]["texture"])
    md = rep.markdown_table(agg, {"x": "Model"}, "3 pairs")
    assert "| perceptual distance ↓ | Model | **0.200** |" in md
    assert "| texture distance (SWD) ↓ | Model | **0.250** |" in md
