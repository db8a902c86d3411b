"""The wheel is the product: built from this checkout, installed elsewhere, it must work offline."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # training runs, exports and builds: `make test` runs them, `make test-fast` not

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("hatchling")


def test_wheel_installs_and_inpaints_offline_outside_the_checkout(tmp_path):
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), "-q"]
    subprocess.run(build, check=True, env=env, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("pconv_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {"pconv_cli/weights/pconv-small256-v5.safetensors", "pconv_cli/weights/pconv-small256-v5.onnx"}
    assert shipped | {"pconv_cli/serve/web/index.html"} <= set(names)  # the weights and `pconv serve`'s page
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel), "-q"], check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    work = tmp_path / "elsewhere"
    work.mkdir()
    run_env = {**env, "PYTHONPATH": str(site)}  # ahead of the checkout's editable install
    where = subprocess.run([sys.executable, "-c", "import pconv_cli; print(pconv_cli.__file__)"], cwd=work,
                           env=run_env, capture_output=True, text=True, check=True)  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(site)
    image, mask = ROOT / "examples/images/rocket.png", ROOT / "examples/masks/rocket.png"
    for runtime in ("torch", "onnx"):
        cmd = [sys.executable, "-m", "pconv_cli", "inpaint", str(image), "--mask", str(mask), "-o", f"{runtime}.png"]
        done = subprocess.run([*cmd, "--runtime", runtime, "-q"], cwd=work, env=run_env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (work / f"{runtime}.png").stat().st_size > 0
    page = (
        "import importlib.resources as r; print(len((r.files('pconv_cli.serve') / 'web' / 'index.html').read_bytes()))"
    )
    size = subprocess.run([sys.executable, "-c", page], cwd=work, env=run_env, capture_output=True, text=True)
    assert int(size.stdout) > 1000, size.stderr  # serve finds its page in the installed package
