import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.model.onnx_export import export_onnx
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.model.weights import DEFAULT_MODEL, REGISTRY, VGG_WEIGHTS, load_model, resolve_onnx, save_weights
from pconv_cli.runtime.inpainter import open_runner, run
from pconv_cli.runtime.onnx_backend import OnnxBackend
from pconv_cli.runtime.runner import Work

pytestmark = pytest.mark.slow  # training runs, exports and builds: `make test` runs them, `make test-fast` not

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """A random tiny model as safetensors (float32) and as exported ONNX (float32 weights)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("onnx")
    model = PConvUNet(PConvConfig.preset("tiny")).eval()
    for module in model.modules():  # BatchNorm statistics away from identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    save_weights(model, folder / "tiny.safetensors")
    return folder / "tiny.safetensors", export_onnx(folder / "tiny.safetensors", folder / "tiny.onnx", half=False)


def _parity(weights: Path | str, onnx: Path, shapes: list[tuple[int, int, int]]) -> float:
    """Largest |ONNX Runtime − PyTorch| of the raw network over random images in [0, 1] and masks."""
    model, backend = load_model(weights), OnnxBackend.open(onnx)
    gen = torch.Generator().manual_seed(1)
    worst = 0.0
    for n, h, w in shapes:
        image = torch.rand(n, 3, h, w, generator=gen)
        mask = (torch.rand(n, 1, h, w, generator=gen) > 0.4).float()
        with torch.inference_mode():
            expected = model(image * mask, mask).numpy()
        worst = max(worst, float(np.abs(backend.forward((image * mask).numpy(), mask.numpy()) - expected).max()))
    return worst


def test_exported_model_matches_pytorch_at_two_sizes_and_batches(tiny):
    weights, onnx = tiny
    assert _parity(weights, onnx, [(2, 64, 64), (1, 40, 96)]) <= 1e-3


def test_shipped_onnx_model_matches_the_shipped_weights():
    onnx = resolve_onnx(DEFAULT_MODEL)
    assert _parity(DEFAULT_MODEL, onnx, [(1, 256, 256), (2, 128, 384)]) <= 1e-3


def test_export_is_reproducible_and_carries_the_config(tiny, tmp_path):
    weights, onnx = tiny
    again = export_onnx(weights, tmp_path / "again.onnx", half=False)
    assert again.read_bytes() == onnx.read_bytes()
    backend = OnnxBackend.open(onnx)
    assert backend.config == PConvConfig.preset("tiny").to_dict() and backend.device == "cpu"
    half = export_onnx(weights, tmp_path / "half.onnx", half=True)
    import onnx as onnx_lib

    stored = {i.data_type for i in onnx_lib.load(str(half)).graph.initializer if len(i.dims)}
    assert stored == {onnx_lib.TensorProto.FLOAT16}  # weights stored at half size, cast at load
    rounded = load_model(weights).half().float()
    save_weights(rounded, tmp_path / "rounded.safetensors")
    assert _parity(tmp_path / "rounded.safetensors", half, [(1, 32, 48)]) <= 1e-3


def test_export_does_not_depend_on_where_the_source_lies(tiny):
    # torch's exporter records each node's stack trace (this checkout's path and line numbers):
    # a re-export elsewhere, or after an edit to unet.py, gave other bytes
    data = tiny[1].read_bytes()
    assert b"unet.py" not in data and str(ROOT).encode() not in data


def test_export_command_picks_the_format_from_the_name(tiny, tmp_path):
    from typer.testing import CliRunner

    from pconv_cli.cli import app

    weights, onnx = tiny
    result = CliRunner().invoke(app, ["export", str(weights), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0 and (tmp_path / "m.onnx").read_bytes() == onnx.read_bytes()
    result = CliRunner().invoke(app, ["export", str(weights), "-o", str(tmp_path / "m"), "--format", "onnx"])
    assert result.exit_code == 0 and (tmp_path / "m").read_bytes() == onnx.read_bytes()


def test_runner_fills_the_same_on_either_runtime(tiny):
    weights, onnx = tiny
    rng = np.random.default_rng(2)
    images = [rng.random((45, 70, 3), dtype=np.float32)]
    holes = [np.zeros((45, 70), bool)]
    holes[0][10:30, 15:50] = True
    by_torch = run(open_runner(weights, device="cpu", runtime="torch"), Work(images, holes))[0]
    by_onnx = run(open_runner(onnx, device="cpu", runtime="onnx"), Work(images, holes))[0]
    assert np.abs(by_torch - by_onnx).max() <= 1e-3


def test_what_the_onnx_runtime_refuses(tiny, tmp_path):
    weights, onnx = tiny
    with pytest.raises(UsageError, match=r"runs \.onnx models.*pconv export .* -o model\.onnx"):
        resolve_onnx(weights)
    with pytest.raises(UsageError, match="weights not found: .*none.onnx"):
        resolve_onnx(tmp_path / "none.onnx")
    with pytest.raises(UsageError, match="weights not found: pconv-nope"):
        resolve_onnx("pconv-nope")
    for folder in (tmp_path, Path(".")):
        with pytest.raises(UsageError, match="is a folder"):
            resolve_onnx(folder)
    with pytest.raises(UsageError, match="no ONNX form"):
        resolve_onnx(VGG_WEIGHTS)
    assert resolve_onnx(None).name == REGISTRY[DEFAULT_MODEL].onnx_file
    with pytest.raises(UsageError, match="fp32 only"):
        OnnxBackend.open(onnx, precision="bf16")
    with pytest.raises(UsageError, match="auto, cpu, cuda or cuda:N"):
        OnnxBackend.open(onnx, device="mps")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(PconvError, match="cannot load ONNX model") as info:
        OnnxBackend.open(tmp_path / "junk.onnx")
    assert "\n" not in str(info.value)


def _inpaint_cli(tmp_path: Path, name: str, *args: str, block_torch: bool) -> subprocess.CompletedProcess:
    """`pconv inpaint` on an example photo in a fresh interpreter; block_torch makes `import torch` fail."""
    block = "import sys; sys.modules['torch'] = sys.modules['torchvision'] = None; " if block_torch else ""
    code = block + "from pconv_cli.cli import main; main()"
    image, mask = ROOT / "examples/images" / f"{name}.png", ROOT / "examples/masks" / f"{name}.png"
    cmd = [sys.executable, "-c", code, "inpaint", str(image), "--mask", str(mask), "-q", *args]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_without_torch_inpaint_runs_on_onnx_within_one_level_of_torch(tmp_path):
    done = _inpaint_cli(tmp_path, "watermark", "-o", "onnx.png", block_torch=True)  # auto: onnx, as torch is absent
    assert done.returncode == 0, done.stderr
    done = _inpaint_cli(tmp_path, "watermark", "-o", "torch.png", "--runtime", "torch", block_torch=False)
    assert done.returncode == 0, done.stderr
    by_onnx, by_torch = (np.asarray(Image.open(tmp_path / f), dtype=int) for f in ("onnx.png", "torch.png"))
    original = np.asarray(Image.open(ROOT / "examples/images/watermark.png"), dtype=int)
    assert not np.array_equal(by_onnx, original)
    assert np.abs(by_onnx - by_torch).max() <= 1
    refused = _inpaint_cli(tmp_path, "watermark", "-o", "x.png", "--runtime", "torch", block_torch=True)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        "pconv: error: --runtime torch needs torch, which is not installed (pip install 'pconv-cli[torch]')"
    ]
    training = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['torch'] = None; from pconv_cli.cli import main; main()",
         "train", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert training.returncode == 2  # not available here, as --device cuda without CUDA
    needs = "pconv: error: this needs torch, which is not installed (pip install 'pconv-cli[torch]')"
    assert training.stderr.strip() == needs


def _with_metadata(onnx: Path, path: Path, **changes: str) -> Path:
    import onnx as onnx_lib

    proto = onnx_lib.load(str(onnx))
    for entry in proto.metadata_props:
        entry.value = changes.get(entry.key, entry.value)
    onnx_lib.save(proto, str(path))
    return path


@pytest.mark.parametrize(
    "config",
    ['{"levels": "x", "width": 8, "max_mult": 8, "in_channels": 3, "image_size": 64}',
     '{"levels": 60, "width": 8, "max_mult": 8, "in_channels": 3, "image_size": 64}',
     '{"levels": 3, "width": 8, "max_mult": 8, "in_channels": 3, "image_size": 60}',
     "[1, 2, 3]", "7"],
)  # fmt: skip
def test_an_onnx_model_with_a_bad_config_is_one_line(tiny, tmp_path, config):
    bad = _with_metadata(tiny[1], tmp_path / "bad.onnx", config=config)
    with pytest.raises(PconvError, match="cannot load ONNX model .*config") as info:
        OnnxBackend.open(bad)
    assert "\n" not in str(info.value)


def test_a_model_that_outputs_nan_fails_its_images_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from pconv_cli.cli import app

    model = PConvUNet(PConvConfig.preset("tiny"))
    with torch.no_grad():
        model.decoder[-1].conv.weight.fill_(float("nan"))
    save_weights(model, tmp_path / "nan.safetensors")
    export_onnx(tmp_path / "nan.safetensors", tmp_path / "nan.onnx", half=False)
    images = [str(ROOT / "examples/images" / f"{name}.png") for name in ("rocket", "coffee")]
    for weights in ("nan.safetensors", "nan.onnx"):
        out = tmp_path / weights.replace(".", "_")
        args = [
            "inpaint",
            *images,
            "--mask",
            str(ROOT / "examples/masks"),
            "-o",
            str(out),
            "-w",
            str(tmp_path / weights),
        ]
        result = CliRunner().invoke(app, [*args, "--quiet"])
        assert result.exit_code == 1, result.output
        assert result.stderr.count("the model's output is not finite") == 2  # each image failed, the batch went on
        assert not out.exists() or not any(out.iterdir())


def test_a_missing_export_extra_is_named(tiny, tmp_path):
    code = (
        "import sys; sys.modules['onnxscript'] = None\n"
        f"sys.argv = ['pconv', 'export', {str(tiny[0])!r}, '-o', {str(tmp_path / 'm.onnx')!r}]\n"
        "from pconv_cli.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "onnxscript" in result.stderr and "pip install 'pconv-cli[export]'" in result.stderr
