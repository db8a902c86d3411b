import doctest
import importlib.util

import numpy as np
import pytest
import torch

from pconv_cli.errors import PconvError, Unavailable
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.model.weights import DEFAULT_MODEL, VGG_WEIGHTS
from pconv_cli.runtime import runner
from pconv_cli.runtime.blend import blend_fill
from pconv_cli.runtime.inpainter import open_runner, run
from pconv_cli.runtime.runner import Runner, Work, composite, pick_runtime
from pconv_cli.runtime.torch_backend import TorchBackend


class Recorder:
    """A backend that outputs 2.0 everywhere and keeps what it was given."""

    config = {"levels": 3, "width": 8, "image_size": 64}
    device = "cpu"
    memory_errors = (MemoryError,)

    def __init__(self) -> None:
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def forward(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray:
        self.calls.append((image.copy(), valid.copy()))
        return np.full_like(image, 2.0)


def test_composite_changes_only_holes_and_clips():
    image = np.random.default_rng(0).random((4, 5, 3), dtype=np.float32)
    output = np.full_like(image, -3.0)
    hole = np.zeros((4, 5), bool)
    hole[1:3, 2:4] = True
    valid = (~hole)[..., None].astype(np.float32)
    out = composite(image, output, valid)
    assert np.array_equal(out[~hole], image[~hole]) and np.all(out[hole] == 0.0)
    with pytest.raises(ValueError, match="a mask of as many dimensions, each the image's or 1; got"):
        composite(image, output, valid[:3])
    with pytest.raises(ValueError, match="a mask of as many dimensions"):
        composite(image, output, valid[..., 0])


def test_composite_of_tensors_is_the_same_arithmetic():  # the trainer's sample grids
    image, output = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 2.0)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert composite(image, output, mask)[0, 0].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match=r"or 1; got \(1, 3, 2, 2\), \(1, 3, 2, 2\) and \(1, 2, 2\)"):
        composite(image, output, mask[0])
    with pytest.raises(ValueError, match="image and output of one shape"):
        composite(image, output[..., :1], mask)


def test_runner_pads_to_the_multiple_as_hole_zeroes_holes_and_crops_back():
    backend = Recorder()
    image = np.random.default_rng(1).random((10, 13, 3), dtype=np.float32)
    hole = np.zeros((10, 13), bool)
    hole[2:5, 3:9] = True
    (out,) = run(Runner(backend, blend=False), Work([image], [hole]))
    x, valid = backend.calls[0]
    assert x.shape == (1, 3, 16, 16) and valid.shape == (1, 1, 16, 16)  # multiple 2**3
    assert not valid[0, 0, 10:].any() and not valid[0, 0, :, 13:].any()  # padding is hole
    assert np.array_equal(valid[0, 0, :10, :13], ~hole)
    inside = x[0, :, :10, :13]
    assert np.all(inside[:, hole] == 0) and np.array_equal(inside[:, ~hole], image[~hole].T)
    assert out.shape == image.shape and np.all(out[hole] == 1.0) and np.array_equal(out[~hole], image[~hole])


def test_runner_batches_equal_sizes_in_order():
    backend = Recorder()
    runner = Runner(backend, batch_size=3, blend=False)
    images = [np.full((8, 8, 3), i / 10, np.float32) for i in range(5)] + [np.zeros((8, 16, 3), np.float32)]
    holes = [np.eye(8, dtype=bool)] * 5 + [np.eye(8, 16, dtype=bool)]
    out = run(runner, Work(images, holes))
    assert [x.shape[0] for x, _ in backend.calls] == [3, 2, 1]
    for i in range(5):
        assert np.all(out[i][~holes[i]] == np.float32(i / 10)) and np.all(out[i][holes[i]] == 1.0)
    with pytest.raises(ValueError, match="as many hole maps"):
        run(runner, Work(images, holes[:2]))


def test_runner_blends_each_image_unless_asked_not_to():
    torch.manual_seed(0)
    backend = TorchBackend(PConvUNet(PConvConfig.preset("tiny")).eval(), "fp32")
    rng = np.random.default_rng(2)
    images = [rng.random((40, 48, 3), dtype=np.float32) for _ in range(2)]
    holes = [np.zeros((40, 48), bool) for _ in range(2)]
    holes[0][5:25, 10:30] = True
    holes[1][20:38, 2:12] = True
    raw = run(Runner(backend, batch_size=2, blend=False), Work(images, holes))
    blended = run(Runner(backend, batch_size=2), Work(images, holes))
    unblended = run(Runner(backend, batch_size=2), Work(images, holes, blend=False))  # the work's own choice
    assert all(np.array_equal(u, r) for u, r in zip(unblended, raw))
    for img, hole, r, b in zip(images, holes, raw, blended):
        np.testing.assert_allclose(b, np.clip(blend_fill(img, r, hole), 0, 1), atol=1e-6)
        assert not np.array_equal(b, r) and np.array_equal(b[~hole], img[~hole])


def test_runner_ignores_what_is_under_the_holes():
    runner = Runner(TorchBackend(PConvUNet(PConvConfig.preset("tiny")).eval(), "fp32"))
    rng = np.random.default_rng(3)
    image = rng.random((50, 70, 3), dtype=np.float32)
    hole = np.zeros((50, 70), bool)
    hole[10:30, 20:40] = True
    other = np.where(hole[..., None], rng.random(image.shape, dtype=np.float32), image)
    np.testing.assert_array_equal(run(runner, Work([image], [hole]))[0], run(runner, Work([other], [hole]))[0])


def test_open_runner_loads_a_model_by_path_or_name_onto_the_device(tmp_path):
    from pconv_cli.model.weights import save_weights

    save_weights(PConvUNet(PConvConfig.preset("tiny")), tmp_path / "t.safetensors")
    runner = open_runner(tmp_path / "t.safetensors", device="cpu", precision="fp32", blend=False, runtime="torch")
    assert runner.backend.device == "cpu" and runner.batch_size == 1 and not runner.blend  # 1 on a CPU unless given
    assert runner.scale == 64 and runner.multiple == 8 and not runner.backend.model.training
    assert open_runner(None, device="cpu", batch_size=2).backend.config == open_runner(DEFAULT_MODEL).backend.config


def test_auto_runtime_is_onnx_where_it_does_the_same_work(monkeypatch, tmp_path):
    import pconv_cli.runtime.runner as runner

    monkeypatch.setattr(runner, "accelerator_present", lambda: False)
    assert pick_runtime("auto") == "onnx"  # the shipped model on a CPU
    assert pick_runtime("auto", DEFAULT_MODEL, "cpu", "fp32") == "onnx"
    assert pick_runtime("auto", tmp_path / "m.onnx", "cuda") == "onnx"
    assert pick_runtime("auto", tmp_path / "m.safetensors") == "torch"  # torch reads it, ONNX cannot
    assert pick_runtime("auto", VGG_WEIGHTS) == "torch"  # registered without an ONNX form
    assert pick_runtime("auto", None, "cuda") == "torch"
    assert pick_runtime("auto", None, "auto", "bf16") == "torch"
    monkeypatch.setattr(runner, "accelerator_present", lambda: True)
    assert pick_runtime("auto") == "torch" and pick_runtime("auto", None, "cpu") == "onnx"
    assert pick_runtime("torch") == "torch" and pick_runtime("onnx", tmp_path / "m.safetensors") == "onnx"


def test_auto_runtime_takes_whichever_is_installed(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "torch" else real(name))
    assert pick_runtime("auto") == "onnx"
    with pytest.raises(PconvError, match=r"m.safetensors needs torch, which is not installed \(pip install"):
        pick_runtime("auto", tmp_path / "m.safetensors")  # only torch reads it: say so, not "export it"
    with pytest.raises(PconvError, match=r"^--runtime torch needs torch, .* 'pconv-cli\[torch\]'\)$") as info:
        pick_runtime("torch")
    assert type(info.value) is Unavailable and info.value.exit_code == 2  # as --device cuda without CUDA
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real(name))
    assert pick_runtime("auto") == "torch"
    with pytest.raises(PconvError, match=r"m.onnx needs onnxruntime, .*'pconv-cli\[onnx\]'"):
        pick_runtime("auto", tmp_path / "m.onnx")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PconvError, match="needs torch, which is not installed"):
        pick_runtime("auto")
    with pytest.raises(ValueError, match="runtime"):
        pick_runtime("tensorflow")


@pytest.mark.parametrize(
    ("raised", "becomes"),
    [
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4 GB"), MemoryError),
        (RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory"), MemoryError),
        (RuntimeError("an unrelated failure"), RuntimeError),
    ],
)
def test_an_allocators_failure_is_a_memory_error(raised, becomes):
    # torch on a CPU and ONNX Runtime say "out of memory" in RuntimeErrors of their own.
    backend = Recorder()
    backend.forward = lambda image, valid: (_ for _ in ()).throw(raised)
    with pytest.raises(becomes) as info:
        run(Runner(backend), Work([np.zeros((8, 8, 3), np.float32)], [np.eye(8, dtype=bool)]))
    assert info.type is becomes


def test_the_docstring_examples_run():
    assert doctest.testmod(runner, raise_on_error=False).failed == 0
