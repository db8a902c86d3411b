"""`pconv weights list` (named so beside tests/model/test_weights.py: test folders share one namespace)."""

from typer.testing import CliRunner

from pconv_cli.cli import app


def test_weights_list():
    result = CliRunner().invoke(app, ["weights", "list"])
    assert result.exit_code == 0
    assert "vgg16-caffe-pool3\tvgg\tok\t-\t" in result.stdout
    line = next(row for row in result.stdout.splitlines() if row.startswith("pconv-small256-v5\t"))
    name, kind, state, default, files, scale, licence, _ = line.split("\t")
    assert (kind, state, default, scale) == ("model", "ok", "default", "256")
    assert files == "pconv-small256-v5.safetensors,pconv-small256-v5.onnx" and "non-commercial" in licence
