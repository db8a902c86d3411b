import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "pconv_cli", *args], capture_output=True, text=True)


def test_export_refuses_a_format_its_output_name_contradicts():
    result = run("export", "x.pt", "-o", "m.onnx", "--format", "safetensors")
    assert result.returncode == 2
    expected = "pconv: error: --format safetensors does not match the output m.onnx; name it *.safetensors\n"
    assert result.stderr == expected


@pytest.mark.slow
def test_export_never_replaces_a_source_and_asks_before_replacing_an_output(tmp_path):
    from pconv_cli.model.unet import PConvConfig, PConvUNet
    from pconv_cli.model.weights import save_weights

    source = tmp_path / "a.safetensors"
    save_weights(PConvUNet(PConvConfig.preset("tiny")), source)
    before = source.read_bytes()
    for args in (["-o", str(source)], ["-o", str(tmp_path / "sub" / ".." / "a.safetensors"), "--overwrite"]):
        result = run("export", source, *args)
        assert result.returncode == 2 and "would replace one of its own sources" in result.stderr
    assert source.read_bytes() == before
    assert run("export", source, "-o", tmp_path / "b.safetensors").returncode == 0
    again = run("export", source, "-o", tmp_path / "b.safetensors")
    assert again.returncode == 2 and again.stderr.endswith("exists (pass --overwrite to replace it)\n")
    assert run("export", source, "-o", tmp_path / "b.safetensors", "--overwrite").returncode == 0
    late = run("export", source, "-o", tmp_path / "missing" / "b.onnx")  # refused before the export's work
    assert (
        late.returncode == 2 and late.stderr == f"pconv: error: output folder does not exist: {tmp_path / 'missing'}\n"
    )
