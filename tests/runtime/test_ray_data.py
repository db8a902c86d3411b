"""The Ray Data recipe (runtime/ray_data.py): the callable class on its own, then the whole pipeline in
Ray's local mode against `pconv inpaint` on the same folder. The pipeline's tests need the `ray` extra
(`make test` installs it) and are skipped only where it is missing."""

import doctest
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pconv_cli.cli import app
from pconv_cli.imaging import inputs
from pconv_cli.imaging.inputs import Masking, Outputs
from pconv_cli.runtime import ray_data
from pconv_cli.runtime.ray_data import PLAN_KEYS, InpaintBatch, inpaint_folder, plan_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """images/ with two photos (one in a subfolder), a file that is no image and a photo without
    a mask; masks/ beside it, matched by relative path and stem."""
    root = tmp_path_factory.mktemp("dataset")
    for rel, name in (("chelsea.png", "chelsea"), ("sub/rocket.png", "rocket"), ("lonely.png", "watermark")):
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / "images" / f"{name}.png", root / "images" / rel)
        if rel != "lonely.png":
            (root / "masks" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(EXAMPLES / "masks" / f"{name}.png", root / "masks" / rel)
    (root / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing after the signature")
    shutil.copy(EXAMPLES / "masks" / "coffee.png", root / "masks" / "broken.png")
    return root


def _by_input(records: list[dict], root: Path) -> dict[str, dict]:
    """Records by input path relative to ``root``, without what differs between two runs (times,
    the output folder; groups are JSON text in a Dataset's column)."""
    return {
        Path(r["input"]).relative_to(root).as_posix(): {
            k: json.loads(v) if k == "groups" and isinstance(v, str) else v
            for k, v in r.items()
            if k not in ("seconds", "elapsed", "output")
        }
        for r in records
    }


def _batch(folder: Path, out: Path, fmt: str | None = None) -> dict[str, np.ndarray]:
    """The planned rows of images/ into ``out`` as one NumPy batch, as map_batches hands them over."""
    found = inputs.discover([str(folder / "images")])
    rows = plan_rows(inputs.plan_jobs(found, Outputs(str(out), fmt), None, True))
    return {key: np.array([row[key] for row in rows], dtype=object) for key in PLAN_KEYS}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_callable_fails_a_bad_row_alone_and_writes_the_others(folder, tmp_path):
    batch = _batch(folder, tmp_path / "out")
    fill = InpaintBatch(device="cpu", masking=Masking(folder / "masks"))
    result = fill(batch)
    status = {Path(i).name: s for i, s in zip(result["input"], result["status"])}
    assert status == {"chelsea.png": "ok", "rocket.png": "ok", "broken.png": "failed", "lonely.png": "failed"}
    ok = result["status"] == "ok"
    assert (result["seconds"][ok] > 0).all() and (result["elapsed"][ok] >= result["seconds"][ok]).all()
    errors = dict(zip(result["input"], result["error"]))
    assert "cannot read image" in errors[str(folder / "images" / "broken.png")]
    assert "no mask for lonely.png" in errors[str(folder / "images" / "lonely.png")]
    assert sorted(_files(tmp_path / "out")) == ["chelsea.png", "sub/rocket.png"]
    with pytest.raises(ValueError, match="missing todo"):
        fill({key: batch[key] for key in PLAN_KEYS if key != "todo"})


def test_the_callable_encodes_with_the_quality_of_pconv_inpaint(folder, tmp_path):
    args = ["inpaint", str(folder / "images"), "--mask", str(folder / "masks"), "-o", str(tmp_path / "cli")]
    cli = CliRunner().invoke(app, [*args, "--format", "jpg", "--quality", "60", "--device", "cpu", "--quiet"])
    assert cli.exit_code == 1, cli.output  # the two bad inputs
    InpaintBatch(device="cpu", masking=Masking(folder / "masks"), quality=60)(_batch(folder, tmp_path / "ray", "JPEG"))
    written = _files(tmp_path / "ray")
    assert sorted(written) == ["chelsea.jpg", "sub/rocket.jpg"]
    assert written == _files(tmp_path / "cli")  # not the default quality's bytes (95): the same encoder, at 60
    with pytest.raises(ValueError, match="expected a quality from 1 to 100, got 0"):
        InpaintBatch(device="cpu", quality=0)


def test_bad_arguments_are_refused_before_anything_runs(folder, tmp_path):
    with pytest.raises(ValueError, match="got both"):
        inpaint_folder(folder / "images", tmp_path, overwrite=True, skip_existing=True)
    with pytest.raises(ValueError, match="expected fmt None or one of png"):
        inpaint_folder(folder / "images", tmp_path, fmt="gif")
    with pytest.raises(ValueError, match="not PNG, which is lossless"):
        inpaint_folder(folder / "images", tmp_path, fmt="png", quality=80)
    with pytest.raises(ValueError, match="got 101"):
        inpaint_folder(folder / "images", tmp_path, quality=101)
    with pytest.raises(ValueError, match="stdin"):
        inpaint_folder("-", tmp_path)
    pytest.importorskip("ray")  # found only once Ray Data is imported
    with pytest.raises(ValueError, match="found none"):
        inpaint_folder(tmp_path, tmp_path / "out")


@pytest.fixture(scope="module")
def ray_local():
    """One small local Ray instance for the module (its start-up is most of these tests' time)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_is_imported_only_when_a_pipeline_is_built(monkeypatch, tmp_path):
    probe = "import sys, pconv_cli.runtime.ray_data; print('ray' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env).stdout == "False\n"
    monkeypatch.setitem(sys.modules, "ray", None)  # as where the extra is not installed
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(ImportError, match=r"pip install 'pconv-cli\[ray\]'"):
        inpaint_folder(tmp_path, tmp_path / "out")


@pytest.fixture(scope="module")
def by_the_cli(folder, tmp_path_factory) -> tuple[list[dict], Path]:
    """`pconv inpaint images/ --mask masks/ -o OUT --json`: its records and OUT (run before Ray starts,
    whose threads may print)."""
    out = tmp_path_factory.mktemp("cli")
    args = ["inpaint", str(folder / "images"), "--mask", str(folder / "masks"), "-o", str(out)]
    cli = CliRunner().invoke(app, [*args, "--device", "cpu", "--json", "--quiet"])
    assert cli.exit_code == 1, cli.output  # the two bad inputs
    return [json.loads(line) for line in cli.stdout.splitlines()], out


@pytest.mark.slow  # Ray's start-up and a worker's
def test_the_pipeline_writes_what_pconv_inpaint_writes_and_resumes(by_the_cli, ray_local, folder, tmp_path):
    images, masks = folder / "images", folder / "masks"
    expected, cli_out = by_the_cli

    records = inpaint_folder(images, tmp_path / "ray", masks, device="cpu", rows_per_batch=2).take_all()

    assert _by_input(records, images) == _by_input(expected, images)
    assert {r["status"] for r in records} == {"ok", "failed"}
    # PNG is lossless and both runs encode the same fill the same way: the very same bytes.
    written = _files(tmp_path / "ray")
    assert sorted(written) == ["chelsea.png", "sub/rocket.png"]
    assert written == _files(cli_out)

    # A rerun resumes: what was written is skipped and left alone, the bad inputs fail again.
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("*.png")}
    again = inpaint_folder(images, tmp_path / "ray", masks, device="cpu", skip_existing=True).take_all()
    status = {Path(r["input"]).name: r["status"] for r in again}
    assert status == {"chelsea.png": "skipped", "rocket.png": "skipped", "broken.png": "failed", "lonely.png": "failed"}
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_the_docstring_examples_run():
    assert doctest.testmod(ray_data, raise_on_error=False).failed == 0
