"""`make demo`, the README's first command: the light install (no torch) and the demo run without torch."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# A fresh interpreter in which `import torch` fails, as where only `.[onnx]` is installed.
NO_TORCH = "import sys; sys.modules['torch'] = sys.modules['torchvision'] = None; "


def _recipe(target: str) -> str:
    """The commands of a Makefile rule, as written."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return "\n".join(body)


def test_make_demo_installs_the_onnx_runtime_alone_and_runs_on_it():
    install = _recipe("$(DEMO_STAMP)")
    assert re.findall(r"pip install --quiet -e '\.\[([^]]*)\]'", install) == ["onnx"]
    assert "--runtime onnx" in _recipe("demo") and "$(DEMO_STAMP)" in next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("demo:")
    )


@pytest.mark.slow
def test_the_demo_and_its_sheet_run_without_torch(tmp_path):
    images, masks, out = ROOT / "examples/images", ROOT / "examples/masks", tmp_path / "output"
    inpaint = [sys.executable, "-c", NO_TORCH + "from pconv_cli.cli import main; main()", "inpaint", str(images)]
    done = subprocess.run(
        [*inpaint, "--mask", str(masks), "-o", str(out), "--runtime", "onnx", "-q"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    sheet = [
        sys.executable,
        "-c",
        NO_TORCH + "import runpy; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
    ]
    done = subprocess.run(
        [*sheet, str(ROOT / "examples/sheet.py"), str(images), str(masks), str(out), str(tmp_path / "sheet.png")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in images.glob("*.png"))
    assert sorted(p.name for p in out.iterdir()) == names
    with Image.open(tmp_path / "sheet.png") as sheet_png:
        assert sheet_png.height == 2 * 240 + 4  # masked inputs above, results below
    for name in names:  # the holes were filled, the rest kept
        before, after = (np.asarray(Image.open(d / name).convert("RGB")) for d in (images, out))
        hole = np.asarray(Image.open(masks / name).convert("L")) > 127
        assert np.array_equal(before[~hole], after[~hole]) and not np.array_equal(before[hole], after[hole])
