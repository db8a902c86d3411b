"""`pconv weights list` (named so beside tests/model/test_weights.py: test folders share one namespace)."""

import json
import re
import shutil

from typer.testing import CliRunner

from pconv_cli.cli import app
from pconv_cli.model import weights


def _list(*flags: str) -> str:
    result = CliRunner().invoke(app, ["weights", "list", *flags])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_table_has_a_header_and_tells_the_model_from_the_loss_network():
    header, model, vgg, blank, *described = _list().splitlines()
    assert header.split() == ["NAME", "KIND", "DEFAULT", "STATE", "SIZE", "SCALE", "LICENCE"]
    size = (weights.weights_dir() / "pconv-small256-v5.safetensors").stat().st_size
    licence = weights.REGISTRY["pconv-small256-v5"].licence
    cells = re.split(r"  +", model)  # columns are two spaces apart or more; no cell holds two
    assert cells == ["pconv-small256-v5", "inpainting model", "yes", "ok", f"{size / 1e6:.1f} MB", "256 px", licence]
    cells = re.split(r"  +", vgg)
    assert cells[:4] == ["vgg16-caffe-pool3", "loss network (train, eval)", "-", "ok"] and cells[5] == "-"
    assert cells[6].startswith("CC BY 4.0")
    for name in ("KIND", "SIZE", "LICENCE"):  # each column starts where its header does
        assert model[header.index(name) - 1] == " " and model[header.index(name)] != " "
    assert blank == "" and described[0].startswith("pconv-small256-v5: small preset")
    assert "pconv-small256-v5.onnx (" in described[0] and "vgg16_caffe_pool3.safetensors (" in described[1]


def test_json_lines_parse_with_each_files_size_and_state():
    records = [json.loads(line) for line in _list("--json").splitlines()]
    assert [r["name"] for r in records] == ["pconv-small256-v5", "vgg16-caffe-pool3"]  # models first
    model, vgg = records
    assert (model["kind"], model["default"], model["state"], model["scale"]) == ("model", True, "ok", 256)
    assert (vgg["kind"], vgg["default"], vgg["scale"]) == ("vgg", False, None)
    assert [f["file"] for f in model["files"]] == ["pconv-small256-v5.safetensors", "pconv-small256-v5.onnx"]
    for file in model["files"] + vgg["files"]:
        assert (file["bytes"], file["state"]) == ((weights.weights_dir() / file["file"]).stat().st_size, "ok")
    assert "non-commercial" in model["licence"] and model["description"] and model["recipe"] == "MODEL_CARD.md"


def test_a_missing_or_corrupt_file_is_named_in_both_forms(tmp_path, monkeypatch):
    shutil.copy(weights.weights_dir() / "vgg16_caffe_pool3.safetensors", tmp_path)
    (tmp_path / "pconv-small256-v5.safetensors").write_bytes(b"not the registered bytes")
    monkeypatch.setattr(weights, "weights_dir", lambda: tmp_path)
    model, vgg = (json.loads(line) for line in _list("--json").splitlines())
    assert [(f["state"], f["bytes"]) for f in model["files"]] == [("corrupt", 24), ("missing", None)]
    assert (model["state"], vgg["state"]) == ("corrupt", "ok")
    rows = _list().splitlines()
    assert re.split(r"  +", rows[1])[3:5] == ["corrupt", "0.0 MB"] and re.split(r"  +", rows[2])[3] == "ok"
    assert "pconv-small256-v5.onnx (missing)" in "\n".join(rows[3:])
