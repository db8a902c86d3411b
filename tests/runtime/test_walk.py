"""The walk of `pconv inpaint photo --mask m -o out.png`: which pconv_cli modules call which.

Every call into a pconv_cli module is recorded with its stack of pconv_cli modules (outermost
first, consecutive frames of one module as one, other frames left out). Control must flow one
way, never back into a module that called out (a strategy calling back into the command, a
helper calling a caller's lambda), and the layers stay few.
"""

import sys
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from pconv_cli.cli import app
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.model.weights import save_weights

DEEPEST = 6


def _module(frame) -> str | None:
    name = frame.f_globals.get("__name__", "")
    # A module's own top-level code runs on import: loading code, not the walk's control flow.
    return name if name.startswith("pconv_cli") and frame.f_code.co_name != "<module>" else None


def walk(args: list[str]) -> tuple[int, set[tuple[str, ...]]]:
    """Run the CLI in process under a profiler (every thread); the exit code and the stacks seen."""
    stacks: set[tuple[str, ...]] = set()

    def profile(frame, event, arg):
        if event != "call" or _module(frame) is None:
            return
        stack: list[str] = []
        while frame is not None:
            module = _module(frame)
            if module is not None and (not stack or stack[-1] != module):
                stack.append(module)
            frame = frame.f_back
        stacks.add(tuple(reversed(stack)))

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, stacks


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("walk")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)).save(folder / "photo.png")
    mask = np.zeros((300, 420), np.uint8)
    mask[40:200, 60:300] = 255  # deep: refine's coarse window and native band
    mask[250:253, 5:400] = 255  # thin: native tiles
    Image.fromarray(mask).save(folder / "m.png")
    torch.manual_seed(0)
    save_weights(PConvUNet(PConvConfig.preset("tiny")).eval(), folder / "tiny.safetensors")
    return folder


@pytest.mark.parametrize(
    "runtime", [["--runtime", "torch", "-w", "tiny.safetensors"], ["--runtime", "onnx"]], ids=["torch", "onnx"]
)
def test_control_flows_one_way_through_few_layers(photo, runtime):
    args = ["inpaint", str(photo / "photo.png"), "--mask", str(photo / "m.png"), "--device", "cpu"]
    args += [
        "-o",
        str(photo / f"out-{runtime[1]}.png"),
        *[str(photo / a) if a.endswith(".safetensors") else a for a in runtime],
    ]
    code, stacks = walk(args)
    assert code == 0
    back = sorted(s for s in stacks if len(set(s)) != len(s))
    assert not back, f"control came back into a module that called out: {' > '.join(back[0])}"
    deepest = max(stacks, key=len)
    assert len(deepest) <= DEEPEST, " > ".join(deepest)
    modules = {m for s in stacks for m in s}
    assert "pconv_cli.runtime.strategies" in modules and f"pconv_cli.runtime.{runtime[1]}_backend" in modules
