import errno
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from pconv_cli.cli import app
from pconv_cli.errors import PconvError
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.model.weights import REGISTRY, save_weights
from pconv_cli.runtime.inpainter import Inpainter
from pconv_cli.runtime.torch_backend import TorchBackend

rng = np.random.default_rng(0)


def approx(value: float):
    return pytest.approx(value, abs=1e-6)  # records round ratios to 6 decimals


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_weights(PConvUNet(PConvConfig.preset("tiny")).eval(), path)
    return path


class Result:
    def __init__(self, code: int, stdout: bytes, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.decode().splitlines()]


def pconv(*args, stdin: bytes | None = None) -> Result:
    """Run the CLI in-process, mapping errors to exit codes as cli.main() does."""
    result = CliRunner().invoke(app, [str(a) for a in args], input=stdin)
    if isinstance(result.exception, PconvError):
        return Result(result.exception.exit_code, result.stdout_bytes, str(result.exception))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout_bytes, result.stderr)


def save(path: Path, array: np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.dtype == np.uint16:
        cv2.imwrite(str(path), array[..., ::-1])
    else:
        Image.fromarray(array).save(path, **options)
    return path


def photo(h: int = 48, w: int = 64, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    return rng.integers(0, top + 1, (h, w, channels), dtype=dtype)


def hole_mask(h: int = 48, w: int = 64, box=(10, 30, 20, 40)) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[box[0] : box[1], box[2] : box[3]] = 255
    return mask


def load(path: Path) -> np.ndarray:
    if path.suffix == ".png":
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        return array[..., ::-1] if array.ndim == 3 and array.shape[2] == 3 else array
    return np.asarray(Image.open(path))


def test_numpy_blas_runs_on_one_thread_unless_the_user_says(tmp_path, monkeypatch):
    # OpenBLAS reads the variable when NumPy loads, which the command's modules put off until it runs
    # (tests/test_cli.py); on a busy 2-core machine its threads made the texture stage's 75×75 eigh 0.27 s
    # instead of 4 ms.
    args = ["inpaint", str(tmp_path / "a.png"), "-o", str(tmp_path / "out.png"), "--quality", "50"]
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert "lossless" in str(CliRunner().invoke(app, args).exception)  # refused at once, yet set before
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    CliRunner().invoke(app, args)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"


@pytest.mark.parametrize("channels, dtype", [(3, np.uint8), (3, np.uint16)])
def test_valid_pixels_bit_identical(tmp_path, model_file, channels, dtype):
    image = photo(channels=channels, dtype=dtype)
    save(tmp_path / "p.png", image)
    save(tmp_path / "m.png", hole_mask())
    result = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file, "--json")
    assert result.code == 0, result.stderr
    record = result.records()[0]
    assert record["status"] == "ok" and record["output"] == str(tmp_path / "p_inpainted.png")
    assert record["hole_ratio"] == approx(400 / (48 * 64)) and record["strategy"] == "full"
    out = load(tmp_path / "p_inpainted.png")
    assert out.dtype == dtype and out.shape == image.shape
    holes = hole_mask() > 0
    assert np.array_equal(out[~holes], image[~holes])
    assert not np.array_equal(out[holes], image[holes])


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_is_filled_as_16_bit_grey(tmp_path, model_file, suffix):
    grey = rng.integers(0, 65536, (48, 64), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / f"g{suffix}")  # mode I;16 (it was refused as unsupported)
    save(tmp_path / "m.png", hole_mask())
    result = pconv("inpaint", tmp_path / f"g{suffix}", "--mask", tmp_path / "m.png", "-w", model_file)
    assert result.code == 0, result.stderr
    out = cv2.imread(str(tmp_path / f"g_inpainted{suffix}"), cv2.IMREAD_UNCHANGED)
    holes = hole_mask() > 0
    assert out.dtype == np.uint16 and out.shape == grey.shape
    assert np.array_equal(out[~holes], grey[~holes]) and not np.array_equal(out[holes], grey[holes])


def test_rgba_with_mask_file_keeps_alpha_and_grey_stays_grey(tmp_path, model_file):
    rgba, grey = photo(channels=4), photo(channels=1)[..., 0]
    save(tmp_path / "a.png", rgba)
    save(tmp_path / "g.png", grey)
    save(tmp_path / "m.png", hole_mask())
    args = ["--mask", tmp_path / "m.png", "-w", model_file]
    assert pconv("inpaint", tmp_path / "a.png", tmp_path / "g.png", *args).code == 0
    out = np.asarray(Image.open(tmp_path / "a_inpainted.png"))
    holes = hole_mask() > 0
    assert np.array_equal(out[..., 3], rgba[..., 3]) and np.array_equal(out[~holes], rgba[~holes])
    grey_out = Image.open(tmp_path / "g_inpainted.png")
    assert grey_out.mode == "L" and np.array_equal(np.asarray(grey_out)[~holes], grey[~holes])


def test_alpha_is_the_default_mask_and_holes_become_opaque(tmp_path, model_file):
    rgba = photo(channels=4)
    rgba[..., 3] = 255
    rgba[5:15, 5:25, 3] = 0
    save(tmp_path / "cut.png", rgba)
    result = pconv("inpaint", tmp_path / "cut.png", "-w", model_file, "--json")
    assert result.code == 0 and result.records()[0]["mask"] == "alpha"
    out = np.asarray(Image.open(tmp_path / "cut_inpainted.png"))
    holes = rgba[..., 3] == 0
    assert (out[..., 3] == 255).all() and np.array_equal(out[~holes], rgba[~holes])


def test_colour_key_with_tolerance(tmp_path, model_file):
    image = photo()
    image[..., 1] //= 2  # no photo pixel comes near the key by chance
    image[:10, :10] = (0, 255, 0)
    image[10:20, :10] = (20, 235, 20)
    save(tmp_path / "k.png", image)
    strict = pconv("inpaint", tmp_path / "k.png", "--mask-color", "00ff00", "-w", model_file, "--json")
    assert strict.records()[0]["hole_ratio"] == approx(100 / (48 * 64))
    loose = pconv("inpaint", tmp_path / "k.png", "--mask-color", "#00FF00", "--color-tolerance", "20", "-w", model_file)
    assert loose.code == 2 or loose.code == 1  # the first run's output exists
    loose = pconv(
        "inpaint",
        tmp_path / "k.png",
        "--mask-color",
        "00ff00",
        "--color-tolerance",
        "20",
        "--overwrite",
        "-w",
        model_file,
        "--json",
    )
    assert loose.code == 0 and loose.records()[0]["hole_ratio"] == approx(200 / (48 * 64))
    out = load(tmp_path / "k_inpainted.png")
    assert np.array_equal(out[20:], image[20:])
    assert pconv("inpaint", tmp_path / "k.png", "--mask-color", "green", "-w", model_file).code == 2


def test_folder_recursive_with_mask_folder_by_relative_path_and_stem(tmp_path, model_file):
    images, masks = tmp_path / "photos", tmp_path / "masks"
    a, b = photo(), photo()
    save(images / "a.png", a)
    save(images / "trip" / "b.png", b)
    save(masks / "a.jpg", hole_mask(), quality=90)  # any extension, JPEG noise thresholded
    save(masks / "trip" / "b.bmp", hole_mask(box=(0, 5, 0, 5)))
    out_dir = tmp_path / "out"
    result = pconv("inpaint", images, "--mask", masks, "-o", out_dir, "-w", model_file, "--json")
    assert result.code == 0, result.stderr
    by_input = {Path(r["input"]).name: r for r in result.records()}
    assert by_input["a.png"]["mask"] == str(masks / "a.jpg")
    assert by_input["b.png"]["mask"] == str(masks / "trip" / "b.bmp")
    assert by_input["a.png"]["hole_ratio"] == approx(400 / (48 * 64))
    assert np.array_equal(load(out_dir / "trip" / "b.png")[5:], b[5:])
    assert (out_dir / "a.png").is_file()
    single = pconv("inpaint", images / "trip", "--mask", masks / "trip", "-o", tmp_path / "one", "-w", model_file)
    assert single.code == 0 and (tmp_path / "one" / "b.png").is_file()  # a folder input makes -o a folder
    # Beside the inputs, then again: earlier outputs are not taken for inputs.
    assert pconv("inpaint", images, "--mask", masks, "-w", model_file).code == 0
    again = pconv("inpaint", images, "--mask", masks, "-w", model_file, "--skip-existing", "--json")
    assert sorted(r["status"] for r in again.records()) == ["skipped", "skipped"]
    save(images / "c.png", photo())
    missing = pconv("inpaint", images, "--mask", masks, "-w", model_file, "--skip-existing", "--json")
    record = [r for r in missing.records() if r["input"].endswith("c.png")][0]
    assert missing.code == 1 and record["status"] == "failed" and "no mask for c.png" in record["error"]


def test_glob_and_stdin_stdout(tmp_path, model_file):
    image = photo()
    save(tmp_path / "x1.png", image)
    save(tmp_path / "x2.png", image)
    save(tmp_path / "m.png", hole_mask())
    result = pconv("inpaint", str(tmp_path / "x*.png"), "--mask", tmp_path / "m.png", "-w", model_file, "--json")
    assert result.code == 0 and len(result.records()) == 2
    data = (tmp_path / "x1.png").read_bytes()
    piped = pconv("inpaint", "-", "--mask", tmp_path / "m.png", "-w", model_file, "-q", stdin=data)
    assert piped.code == 0 and piped.stdout.startswith(b"\x89PNG")
    assert piped.stdout == (tmp_path / "x1_inpainted.png").read_bytes()
    to_file = pconv(
        "inpaint", "-", "--mask", tmp_path / "m.png", "-w", model_file, "-o", tmp_path / "s.png", stdin=data
    )
    assert to_file.code == 0 and np.array_equal(load(tmp_path / "s.png"), load(tmp_path / "x1_inpainted.png"))
    assert pconv("inpaint", "-", "--mask", tmp_path / "m.png", "-w", model_file, stdin=b"").code == 1


def test_stdin_is_read_once_and_its_image_on_stdout_is_never_mixed_with_json(tmp_path, model_file):
    save(tmp_path / "m.png", hole_mask())
    data = save(tmp_path / "p.png", photo()).read_bytes()
    args = ["--mask", tmp_path / "m.png", "-w", model_file]
    twice = pconv("inpaint", "-", "-", *args, stdin=data)
    assert twice.code == 2 and twice.stdout == b""
    assert twice.stderr == "- (stdin) is given more than once; it holds one image"
    for output in ([], ["-o", "-"]):
        mixed = pconv("inpaint", "-", *args, *output, "--json", stdin=data)
        assert mixed.code == 2 and mixed.stdout == b"" and "where --json writes too" in mixed.stderr
    to_file = pconv("inpaint", "-", *args, "-o", tmp_path / "s.png", "--json", stdin=data)
    assert to_file.code == 0 and to_file.records()[0]["output"] == str(tmp_path / "s.png")


@pytest.mark.slow
def test_a_closed_stdin_or_stdout_is_one_line(tmp_path, model_file):
    save(tmp_path / "m.png", hole_mask())
    save(tmp_path / "p.png", photo())
    args = ["--mask", tmp_path / "m.png", "-w", model_file, "-q"]
    for fd, command in ((0, ["-", *args, "-o", tmp_path / "s.png"]), (1, [tmp_path / "p.png", *args, "-o", "-"])):
        closed = subprocess.run(  # as from `pconv … <&-` or `>&-`: Python starts with sys.stdin or sys.stdout None
            [sys.executable, "-m", "pconv_cli", "inpaint", *map(str, command)],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda fd=fd: os.close(fd),
        )
        assert closed.returncode == 1 and "Traceback" not in closed.stderr
        assert closed.stderr.startswith("pconv: error: ") and len(closed.stderr.splitlines()) == 1


def test_an_image_is_not_written_to_a_terminal(tmp_path, model_file):
    import pty

    save(tmp_path / "m.png", hole_mask())
    save(tmp_path / "p.png", photo())
    leader, follower = pty.openpty()
    try:
        for command in ([tmp_path / "p.png", "-o", "-"], ["-"]):
            stdin = (tmp_path / "p.png").open("rb")
            with stdin:
                run = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pconv_cli",
                        "inpaint",
                        *map(str, command),
                        "--mask",
                        str(tmp_path / "m.png"),
                    ],
                    stdin=stdin,
                    stdout=follower,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            assert run.returncode == 2 and "stdout, which is a terminal" in run.stderr
            assert len(run.stderr.splitlines()) == 1
            os.set_blocking(leader, False)
            with pytest.raises(BlockingIOError):  # nothing reached the terminal
                os.read(leader, 1024)
    finally:
        os.close(leader)
        os.close(follower)


def test_a_folder_without_images_says_what_it_holds(tmp_path, model_file):
    for name in ("a.gif", "b.gif", "notes.txt"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"x")
    result = pconv("inpaint", tmp_path / "in", "--mask", tmp_path / "in" / "a.gif", "-w", model_file)
    assert result.code == 2
    assert "no input images found (the folders hold other files: 2 .gif, 1 .txt; pconv reads .png" in result.stderr


def test_stdin_is_not_a_mask(tmp_path, model_file):
    save(tmp_path / "p.png", photo())
    result = pconv("inpaint", tmp_path / "p.png", "--mask", "-", "-w", model_file)
    assert result.code == 2 and "--mask -: stdin holds only the image (-)" in result.stderr


def test_a_mask_folder_inside_the_input_folder_holds_no_inputs(tmp_path, model_file):
    save(tmp_path / "ph" / "a.png", photo())
    save(tmp_path / "ph" / "masks" / "a.png", hole_mask())
    result = pconv("inpaint", tmp_path / "ph", "--mask", tmp_path / "ph" / "masks", "-w", model_file, "--json")
    assert result.code == 0 and [(r["input"], r["status"]) for r in result.records()] == [
        (str(tmp_path / "ph" / "a.png"), "ok")
    ]
    assert not (tmp_path / "ph" / "masks" / "a_inpainted.png").exists()


def test_overwrite_skip_and_refusing_to_replace_an_input(tmp_path, model_file, monkeypatch):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    args = ["--mask", tmp_path / "m.png", "-w", model_file, "--json"]
    assert pconv("inpaint", tmp_path / "p.png", *args).code == 0
    first = (tmp_path / "p_inpainted.png").read_bytes()
    (tmp_path / "p_inpainted.png").write_bytes(b"old")
    exists = pconv("inpaint", tmp_path / "p.png", *args)
    assert exists.code == 1 and "--overwrite" in exists.records()[0]["error"]
    assert (tmp_path / "p_inpainted.png").read_bytes() == b"old"
    assert pconv("inpaint", tmp_path / "p.png", *args, "--skip-existing").records()[0]["status"] == "skipped"
    assert (tmp_path / "p_inpainted.png").read_bytes() == b"old"
    assert pconv("inpaint", tmp_path / "p.png", *args, "--overwrite").code == 0
    assert (tmp_path / "p_inpainted.png").read_bytes() == first
    assert pconv("inpaint", tmp_path / "p.png", *args, "--overwrite", "--skip-existing").code == 2
    monkeypatch.chdir(tmp_path)  # "" (an unset variable) named the current folder: every image in it
    for empty in (["", *args], [tmp_path / "p.png", *args, "-o", ""]):
        unset = pconv("inpaint", *empty, "--overwrite")
        assert unset.code == 2 and "empty name" in unset.stderr
    before = (tmp_path / "p.png").read_bytes()
    for target in (tmp_path / "p.png", tmp_path / "m.png", tmp_path):
        refused = pconv("inpaint", tmp_path / "p.png", *args, "--overwrite", "-o", target)
        assert refused.code == 1 and "would replace an input" in refused.records()[0]["error"]
    assert (tmp_path / "p.png").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_no_hole_copies_and_all_hole_fails(tmp_path, model_file):
    save(tmp_path / "p.png", photo(), optimize=True)
    save(tmp_path / "none.png", np.zeros((48, 64), np.uint8))
    save(tmp_path / "all.png", np.full((48, 64), 255, np.uint8))
    none = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "none.png", "-w", model_file, "--json")
    assert none.code == 0 and none.records()[0]["status"] == "unchanged" and "copied unchanged" in none.stderr
    assert (tmp_path / "p_inpainted.png").read_bytes() == (tmp_path / "p.png").read_bytes()
    full = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "all.png", "-w", model_file, "-o", "x.png")
    assert full.code == 1 and "covers the whole image" in full.stderr


def test_mask_options_invert_dilate_threshold_resize(tmp_path, model_file):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", 255 - hole_mask())
    save(tmp_path / "soft.png", (hole_mask() > 0).astype(np.uint8) * 100)
    save(tmp_path / "half.png", hole_mask(24, 32, (5, 15, 10, 20)))
    base = ["inpaint", tmp_path / "p.png", "-w", model_file, "--json", "--overwrite", "--mask"]
    assert pconv(*base, tmp_path / "m.png", "--invert-mask").records()[0]["hole_ratio"] == approx(400 / 3072)
    dilated = pconv(*base, tmp_path / "m.png", "--invert-mask", "--dilate", "2").records()[0]
    assert dilated["hole_ratio"] == approx(24 * 24 / 3072)
    assert pconv(*base, tmp_path / "soft.png").records()[0]["status"] == "unchanged"
    assert pconv(*base, tmp_path / "soft.png", "--threshold", "99").records()[0]["hole_ratio"] > 0
    wrong = pconv(*base, tmp_path / "half.png")
    assert wrong.code == 1 and "--resize-mask" in wrong.records()[0]["error"]
    resized = pconv(*base, tmp_path / "half.png", "--resize-mask").records()[0]
    assert resized["status"] == "ok" and resized["hole_ratio"] == pytest.approx(400 / 3072, abs=0.02)


def test_formats_and_output_file(tmp_path, model_file):
    save(tmp_path / "p.jpg", photo(), quality=95)
    save(tmp_path / "m.png", hole_mask())
    args = ["--mask", tmp_path / "m.png", "-w", model_file]
    assert pconv("inpaint", tmp_path / "p.jpg", *args).code == 0
    assert Image.open(tmp_path / "p_inpainted.jpg").format == "JPEG"
    assert pconv("inpaint", tmp_path / "p.jpg", *args, "--format", "png").code == 0
    assert Image.open(tmp_path / "p_inpainted.png").format == "PNG"
    assert pconv("inpaint", tmp_path / "p.jpg", *args, "-o", tmp_path / "n" / "x.webp").code == 0
    assert Image.open(tmp_path / "n" / "x.webp").format == "WEBP"
    (tmp_path / "q.jpg").write_bytes((tmp_path / "p.jpg").read_bytes())
    assert pconv("inpaint", tmp_path / "p.jpg", tmp_path / "q.jpg", *args, "-o", tmp_path / "one.png").code == 2
    # The same file twice is one input: it may go to one output file.
    assert pconv("inpaint", tmp_path / "p.jpg", tmp_path / "p.jpg", *args, "-o", tmp_path / "one.png").code == 0
    assert pconv("inpaint", tmp_path / "p.jpg", *args, "--format", "gif").code == 2
    assert pconv("inpaint", tmp_path / "p.jpg", *args, "-o", tmp_path / "x.xyz").code == 2
    mismatch = pconv("inpaint", tmp_path / "p.jpg", *args, "-o", tmp_path / "y.png", "--format", "jpg")
    assert mismatch.code == 2 and "does not match" in mismatch.stderr and not (tmp_path / "y.png").exists()
    assert pconv("inpaint", tmp_path / "p.jpg", *args, "-o", tmp_path / "y.jpeg", "--format", "jpg").code == 0
    rgba = tmp_path / "t.png"
    save(rgba, photo(channels=4))
    no_alpha = pconv("inpaint", rgba, *args, "--format", "jpg", "--json")
    assert no_alpha.code == 1 and "alpha" in no_alpha.records()[0]["error"]
    cutout = photo(channels=4)
    cutout[..., 3] = 255
    cutout[10:20, 20:30, 3] = 0  # transparent holes, filled opaque: a JPEG loses nothing
    save(tmp_path / "cut.png", cutout)
    assert pconv("inpaint", tmp_path / "cut.png", "-w", model_file, "-o", tmp_path / "cut.jpg").code == 0
    assert Image.open(tmp_path / "cut.jpg").mode == "RGB"


def test_quality_sets_jpeg_and_webp_compression_and_lossless_outputs_refuse_it(tmp_path, model_file):
    image = save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    args = ["inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file]
    valid = hole_mask() == 0

    def valid_error(name: str, *flags) -> float:
        assert pconv(*args, "-o", tmp_path / name, *flags).code == 0
        return float(np.abs(load(tmp_path / name)[valid].astype(int) - load(image)[valid]).mean())

    assert valid_error("p.tif") == valid_error("p.webp") == valid_error("same.png") == 0  # lossless: bit-identical
    assert 0 < valid_error("q100.jpg", "--quality", "100") < valid_error("q50.jpg", "--quality", "50")
    assert 0 < valid_error("lossy.webp", "--quality", "90")
    for flags in (["-o", tmp_path / "x.png"], ["--format", "tif"], ["-o", "-"]):
        refused = pconv(*args, *flags, "--quality", "80")
        assert refused.code == 2 and refused.stderr.count("\n") == 0, refused.stderr
        assert refused.stderr.startswith("--quality sets the compression of JPEG and WebP outputs; ")
    beside = pconv(*args, "--quality", "80")  # p_inpainted.png, named after its input: said to ignore it
    assert beside.code == 0 and "--quality is ignored: every output here is PNG, TIFF or BMP" in beside.stderr
    for bad in ("0", "101", "x"):
        out_of_range = pconv(*args, "-o", tmp_path / "bad.jpg", "--quality", bad)
        assert out_of_range.code == 2 and "--quality" in out_of_range.stderr and not (tmp_path / "bad.jpg").exists()


def test_shards_of_a_folder_fill_each_image_once_and_a_rerun_skips_them(tmp_path, model_file):
    names = [f"p{i}.png" for i in range(7)]
    for name in names:
        save(tmp_path / "in" / name, photo())
    save(tmp_path / "m.png", hole_mask())
    args = ["inpaint", tmp_path / "in", "--mask", tmp_path / "m.png", "-w", model_file, "-o", tmp_path / "out"]
    filled: list[str] = []
    for k in range(1, 13):  # more workers than images: some shards hold none, and that is no failure
        done = pconv(*args, "--json", "--shard", f"{k}/12")
        records = done.records()
        assert done.code == 0 and all(r["status"] == "ok" for r in records)
        assert f"pconv: shard {k}/12, {len(records)} of 7 inputs: {len(records)} inpainted" in done.stderr
        filled += [Path(r["input"]).name for r in records]
    assert sorted(filled) == names  # each image by exactly one shard
    again = pconv(*args, "--json", "--shard", "5/12", "--skip-existing").records()
    assert [Path(r["input"]).name for r in again] == [Path(r["input"]).name for r in again if r["status"] == "skipped"]
    pair = [tmp_path / "in" / n for n in names[:2]]
    two = pconv(
        "inpaint", *pair, "--mask", tmp_path / "m.png", "-w", model_file, "-o", tmp_path / "pair", "--shard", "1/2"
    )
    assert two.code == 0 and (tmp_path / "pair" / "p1.png").is_file()  # -o names a folder for two files, in each shard


@pytest.mark.parametrize("spec", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", "1.5/3", "2/3/4", ""])
def test_a_bad_shard_is_refused_in_one_line(tmp_path, model_file, spec):
    save(tmp_path / "p.png", photo())
    refused = pconv("inpaint", tmp_path / "p.png", "--mask-color", "00ff00", "-w", model_file, "--shard", spec)
    expected = f"--shard {spec!r}: expected K/N, whole numbers with 1 <= K <= N (worker K of N, e.g. 1/4)"
    assert (refused.code, refused.stderr) == (2, expected)
    stdin = pconv("inpaint", "-", "--mask-color", "00ff00", "-w", model_file, "--shard", "1/2", stdin=b"")
    assert (stdin.code, stdin.stderr) == (2, "--shard splits files among workers; - (stdin) is one image, for one")


def test_an_unknown_output_format_names_the_formats_there_are(tmp_path, model_file):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    args = ["inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file]
    gif = tmp_path / "out.gif"
    by_suffix = pconv(*args, "-o", gif)
    expected = f"cannot tell the output format of {gif}; pass --format png, jpg, webp, tif or bmp"
    assert (by_suffix.code, by_suffix.stderr) == (2, expected) and not gif.exists()
    by_flag = pconv(*args, "--format", "gif")
    assert (by_flag.code, by_flag.stderr) == (2, "--format 'gif': expected png, jpg, webp, tif or bmp")


def test_bad_inputs_each_fail_alone_and_the_batch_goes_on(tmp_path, model_file):
    good = photo()
    save(tmp_path / "good é x.png", good)
    save(tmp_path / "m.png", hole_mask())
    data = (tmp_path / "good é x.png").read_bytes()
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    for name, mode in (("pal.png", "P"), ("la.png", "LA"), ("cmyk.tif", "CMYK")):
        Image.fromarray(good).convert(mode).save(tmp_path / name)
    Image.fromarray(rng.integers(0, 65535, (48, 64), dtype=np.int32)).save(tmp_path / "i32.tif")  # mode I
    names = ["zero.png", "text.png", "trunc.png", "pal.png", "la.png", "cmyk.tif", "i32.tif", "missing.png"]
    inputs = [tmp_path / n for n in names] + [tmp_path / "good é x.png"]
    result = pconv("inpaint", *inputs, "--mask", tmp_path / "m.png", "-w", model_file, "--json")
    assert result.code == 1
    status = {Path(r["input"]).name: r["status"] for r in result.records()}
    assert status.pop("good é x.png") == "ok" and set(status.values()) == {"failed"} and len(status) == len(names)
    errors = [line for line in result.stderr.splitlines() if line.startswith("pconv: error:")]
    assert len(errors) == len(names) and "Traceback" not in result.stderr
    summary = result.stderr.splitlines()[-1]
    assert "1 inpainted" in summary and f"{len(names)} failed" in summary and "trunc.png" in summary
    assert (tmp_path / "good é x_inpainted.png").is_file()
    bomb = pconv(
        "inpaint",
        tmp_path / "good é x.png",
        "--mask",
        tmp_path / "m.png",
        "-w",
        model_file,
        "--max-pixels",
        "100",
        "--overwrite",
    )
    assert bomb.code == 1 and "--max-pixels" in bomb.stderr


def test_unreadable_input_and_unwritable_output(tmp_path, model_file, monkeypatch):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    (tmp_path / "file").write_text("a file, not a folder")
    with monkeypatch.context() as patch:  # an output folder that cannot be written is known before any fill
        patch.setattr(Inpainter, "fill", lambda *args: pytest.fail("filled an image whose output cannot be written"))
        for out in (tmp_path / "file" / "o.png", f"{tmp_path / 'file' / 'sub'}/"):
            blocked = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file, "-o", out)
            assert blocked.code == 1 and "cannot write" in blocked.stderr
        save(tmp_path / "p16.png", photo(dtype=np.uint16))  # a 16-bit photo asked for as JPEG: refused before its fill
        deep = pconv(
            "inpaint", tmp_path / "p16.png", "--mask", tmp_path / "m.png", "-w", model_file, "-o", tmp_path / "x.jpg"
        )
        assert deep.code == 1 and "16-bit output needs PNG or TIFF, not JPEG" in deep.stderr
    # An image that fails to decode leaves no empty output folder behind.
    (tmp_path / "in" / "deep").mkdir(parents=True)
    (tmp_path / "in" / "deep" / "bad.png").write_bytes(b"not a png")
    bad = pconv("inpaint", tmp_path / "in", "--mask", tmp_path / "m.png", "-w", model_file, "-o", tmp_path / "out")
    assert bad.code == 1 and not (tmp_path / "out").exists()
    real = Path.read_bytes

    def deny(self):
        if self.name == "p.png":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    denied = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file, "--json")
    assert denied.code == 1 and "Permission denied" in denied.records()[0]["error"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the permissions say")
def test_permissions_really_enforced(tmp_path, model_file):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    ro = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file, "-o", tmp_path / "ro")
    assert ro.code == 1
    (tmp_path / "p.png").chmod(0)
    assert pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file).code == 1


@pytest.mark.slow
def test_checkpoint_weights_and_strategies_on_a_wide_image(tmp_path):
    model = PConvUNet(PConvConfig.preset("tiny"))
    torch.save({"config": model.config.to_dict(), "model": model.state_dict()}, tmp_path / "c.pt")
    image = photo(120, 900)
    mask = np.zeros((120, 900), np.uint8)
    mask[60:62, 10:890] = 255
    mask[20:90, 700:800] = 255
    save(tmp_path / "w.png", image)
    save(tmp_path / "m.png", mask)
    for strategy in ("auto", "full", "crop", "tile", "refine"):
        out = tmp_path / f"{strategy}.png"
        result = pconv(
            "inpaint",
            tmp_path / "w.png",
            "--mask",
            tmp_path / "m.png",
            "-w",
            tmp_path / "c.pt",
            "--strategy",
            strategy,
            "-o",
            out,
            "--json",
            "--batch-size",
            "3",
        )
        assert result.code == 0, result.stderr
        record = result.records()[0]
        assert record["strategy"] == ("refine" if strategy == "auto" else strategy)
        assert np.array_equal(load(out)[mask == 0], image[mask == 0])
        if record["strategy"] == "refine":  # the line crosses the block: one group, deep enough for coarse
            assert record["groups"] == [{"box": [10, 20, 880, 70], "fill": "coarse+native"}]
        else:
            assert (record["groups"] is None) == (strategy != "crop")


@pytest.mark.slow
def test_large_image_is_refined_not_fed_whole(tmp_path, model_file):
    # 6000×4000 with a few holes: auto works near them only, so it runs in seconds.
    h, w = 4000, 6000
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = (np.arange(w) * 255 // w).astype(np.uint8)
    image[..., 1] = (np.arange(h) * 255 // h).astype(np.uint8)[:, None]
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (1500, 1000), 300, 255, -1)
    cv2.line(mask, (100, 3500), (5900, 3000), 255, 9)
    save(tmp_path / "big.png", image, compress_level=1)
    save(tmp_path / "m.png", mask)
    result = pconv("inpaint", tmp_path / "big.png", "--mask", tmp_path / "m.png", "-w", model_file, "--json")
    assert result.code == 0 and result.records()[0]["strategy"] == "refine"
    assert [g["fill"] for g in result.records()[0]["groups"]] == ["coarse+native", "native"]
    out = load(tmp_path / "big_inpainted.png")
    assert out.shape == image.shape and np.array_equal(out[mask == 0], image[mask == 0])


@pytest.mark.slow
def test_json_quiet_and_messages(tmp_path, model_file):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    loud = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file)
    assert loud.stdout == b"" and "torch on cpu" in loud.stderr and "1 inpainted" in loud.stderr
    save(tmp_path / "q.png", photo())
    args = [tmp_path / "p.png", tmp_path / "q.png", "--mask", tmp_path / "m.png", "-w", model_file, "-o", "-"]
    two = subprocess.run(
        [sys.executable, "-m", "pconv_cli", "inpaint", *map(str, args)], capture_output=True, text=True
    )
    assert two.returncode == 2  # and one line: the model's banner waits until the outputs are planned
    assert two.stderr == "pconv: error: -o - writes one image to stdout, but several inputs were given\n"
    quiet = pconv(
        "inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file, "-q", "--json", "--overwrite"
    )
    assert quiet.stderr == ""
    record = quiet.records()[0]
    assert set(record) == {
        "input",
        "mask",
        "output",
        "width",
        "height",
        "hole_ratio",
        "strategy",
        "groups",
        "texture",
        "seconds",
        "elapsed",
        "status",
        "error",
    }
    assert (record["width"], record["height"]) == (64, 48) and record["seconds"] >= 0
    assert (
        pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file, "-o", "-", "--json").code
        == 2
    )


def test_seconds_are_each_images_own_work_and_elapsed_the_runs_wall_time(tmp_path, model_file, monkeypatch):
    forward = TorchBackend.forward

    def slow(self, image, valid):  # each image's fill takes 1 s (and some noise on a busy machine)
        time.sleep(1.0)
        return forward(self, image, valid)

    monkeypatch.setattr(TorchBackend, "forward", slow)
    for i in range(3):
        save(tmp_path / "in" / f"p{i}.png", photo())
    save(tmp_path / "m.png", hole_mask())
    args = ["--mask", tmp_path / "m.png", "-w", model_file, "-o", tmp_path / "out", "--batch-size", "1", "--json"]
    done = pconv("inpaint", tmp_path / "in", *args)
    records = done.records()
    # Decoding runs ahead: the third image was decoded while the first was filled, but its seconds
    # are its own fill, decoding and writing, not the two fills it waited behind.
    assert [r["status"] for r in records] == ["ok"] * 3
    assert all(1.0 <= r["seconds"] < 1.8 for r in records), [(r["seconds"], r["elapsed"]) for r in records]
    elapsed = [r["elapsed"] for r in records]
    # No wait counted twice: the seconds add up to the wall time, give or take the decoding that ran
    # ahead during other fills and the records' rounding to 0.1 ms (one CI run: 3.037 against 3.0369).
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 3.0 and sum(r["seconds"] for r in records) <= elapsed[-1] + 0.1
    wall = re.search(r"3 inpainted, 0 unchanged, 0 skipped, 0 failed in (\d+\.\d) s$", done.stderr.strip())
    assert wall is not None and abs(float(wall.group(1)) - elapsed[-1]) <= 0.1, done.stderr
    skipped = pconv("inpaint", tmp_path / "in", *args, "--skip-existing").records()
    assert [(r["status"], r["seconds"]) for r in skipped] == [("skipped", 0.0)] * 3  # no work done


@pytest.mark.parametrize(("runtime", "weights"), [("torch", "model_file"), ("onnx", None)])
def test_the_banner_says_the_precision_resolved_not_auto(tmp_path, model_file, runtime, weights):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    chosen = ["-w", model_file] if weights else []
    done = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "--runtime", runtime, *chosen,
                 "--device", "cpu", "--precision", "auto")  # fmt: skip
    assert done.code == 0 and f"pconv: {runtime} on cpu, precision fp32, batch 1; model " in done.stderr


def test_usage_errors(tmp_path, model_file):
    save(tmp_path / "p.png", photo())
    nothing = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png")
    assert nothing.code == 2
    assert pconv("inpaint", tmp_path / "p.png", "--mask", "x.png", "--mask-color", "00ff00", "-w", model_file).code == 2
    assert pconv("inpaint", tmp_path / "p.png", "--strategy", "magic", "-w", model_file).code == 2
    for holes in (["--mask-color", "00ff00"], []):  # nothing for --invert-mask to flip
        flipped = pconv("inpaint", tmp_path / "p.png", *holes, "--invert-mask", "-w", model_file)
        assert flipped.code == 2 and "--invert-mask" in flipped.stderr
    assert pconv("inpaint", tmp_path / "p.png", "--precision", "int8", "-w", model_file).code == 2
    onnx = pconv("inpaint", tmp_path / "p.png", "--mask-color", "00ff00", "--runtime", "onnx", "--precision", "bf16")
    # the flag value, not the enum member (Precision.bf16)
    assert (onnx.code, onnx.stderr) == (2, "--precision bf16: the onnx runtime computes in fp32 only")
    assert pconv("inpaint", tmp_path / "empty_dir_missing", "-w", tmp_path / "nope.safetensors").code == 2
    if not torch.cuda.is_available():
        cuda = pconv("inpaint", tmp_path / "p.png", "--mask-color", "00ff00", "-w", model_file, "--device", "cuda")
        assert cuda.code == 2 and "CUDA is not available" in cuda.stderr


def test_an_unknown_weights_name_is_not_found_without_torch(tmp_path, monkeypatch):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    args = ["inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-o", tmp_path / "out.png"]
    unknown = pconv(*args, "-w", "pconv-small256-v4")  # auto picks onnx for registered names; this is none
    names = ", ".join(sorted(REGISTRY))
    assert (unknown.code, unknown.stderr) == (2, f"weights not found: pconv-small256-v4 (registered names: {names})")
    missing_file = tmp_path / "no.onnx"
    missing = pconv(*args, "-w", missing_file)  # as a missing file was already
    assert (missing.code, missing.stderr) == (2, f"weights not found: {missing_file} (registered names: {names})")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.slow
def test_exit_codes_and_one_line_errors_from_the_real_entry_point(tmp_path, model_file):
    save(tmp_path / "p.png", photo())
    (tmp_path / "bad.png").write_bytes(b"junk")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "pconv_cli", "inpaint", *map(str, args)], capture_output=True, text=True, env=env
        )

    no_weights = run(tmp_path / "p.png", "--mask-color", "00ff00", "-w", tmp_path / "missing.safetensors")
    assert no_weights.returncode == 2 and "not found" in no_weights.stderr
    assert no_weights.stderr.count("\n") == 1 and "Traceback" not in no_weights.stderr
    mixed = run(tmp_path / "p.png", tmp_path / "bad.png", "--mask-color", "00ff00", "-w", model_file)
    assert mixed.returncode == 1 and "Traceback" not in mixed.stderr and mixed.stdout == ""


def _pipe_quirks(err: str) -> list[str]:
    """What a closed pipe must not make pconv say on stderr."""
    words = ("Traceback", "Exception ignored", "BrokenPipeError", "Broken pipe", "cannot write -", "error")
    return [word for word in words if word in err]


@pytest.mark.slow
@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_reader_that_stops_early_ends_the_run_quietly_with_0(tmp_path, model_file, unbuffered):
    # `pconv inpaint … -o - | head -c 100`: the reader took what it wanted, as with `cat`; 0, not
    # 141, so that `set -o pipefail` takes the pipeline's status from the reader.
    save(tmp_path / "p.png", photo(200, 200))
    save(tmp_path / "m.png", hole_mask(200, 200))
    env = dict(os.environ, PYTHONUNBUFFERED=unbuffered)  # a raw stdout, or a buffered one failing at exit
    cmd = [sys.executable, "-m", "pconv_cli", "inpaint", str(tmp_path / "p.png"), "-m", str(tmp_path / "m.png")]
    proc = subprocess.Popen(
        [*cmd, "-w", str(model_file), "-o", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    first = proc.stdout.read(100)
    proc.stdout.close()  # the reader goes away after 100 bytes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and first.startswith(b"\x89PNG")
    assert _pipe_quirks(err) == [] and "failed" not in err, err  # no summary either: nothing went wrong


@pytest.mark.slow
def test_json_lines_to_a_reader_that_goes_away_still_write_every_image(tmp_path, model_file):
    # `pconv inpaint photos/ -o done/ --json | head -1`: the records' reader left; the images are the work.
    for i in range(8):
        save(tmp_path / "in" / f"p{i}.png", photo(200, 200))
    save(tmp_path / "m.png", hole_mask(200, 200))
    cmd = [sys.executable, "-m", "pconv_cli", "inpaint", str(tmp_path / "in"), "-m", str(tmp_path / "m.png")]
    proc = subprocess.Popen(
        [*cmd, "-w", str(model_file), "-o", str(tmp_path / "out"), "--json", "--batch-size", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and first["status"] == "ok"
    assert _pipe_quirks(err) == [] and "8 inpainted" in err, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"p{i}.png" for i in range(8)]


@pytest.mark.slow
def test_sigterm_ends_like_ctrl_c_and_leaves_no_temp_file(tmp_path, model_file):
    import signal
    import time

    images, out = tmp_path / "in", tmp_path / "out"
    for i in range(40):
        save(images / f"p{i:02d}.png", photo(160, 160))
    save(tmp_path / "m.png", hole_mask(160, 160))
    cmd = [sys.executable, "-m", "pconv_cli", "inpaint", str(images), "-m", str(tmp_path / "m.png"), "-o", str(out)]
    proc = subprocess.Popen([*cmd, "-w", str(model_file), "--batch-size", "1"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (out.is_dir() and any(out.glob("*.png"))) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not list(out.glob(".*.tmp")) and len(list(out.glob("*.png"))) < 40


def test_a_mask_folder_that_is_the_input_folder_is_refused_per_image(tmp_path, model_file):
    save(tmp_path / "a.png", photo())
    save(tmp_path / "b.png", photo())
    result = pconv("inpaint", tmp_path, "--mask", tmp_path, "-w", model_file, "-o", tmp_path / "out", "--json")
    assert result.code == 1
    assert [r["status"] for r in result.records()] == ["failed", "failed"]
    assert all("is the image itself" in r["error"] for r in result.records())


def test_a_write_cut_short_leaves_no_file_under_the_final_name(tmp_path, model_file, monkeypatch):
    save(tmp_path / "p.png", photo())
    save(tmp_path / "m.png", hole_mask())
    real = Path.write_bytes

    def half_then_full_disk(self, data):
        real(self, data[: len(data) // 2])
        if not data:  # the output folder's probe: an empty file takes no space
            return
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_full_disk)
    result = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-w", model_file, "--json")
    monkeypatch.undo()
    assert result.code == 1
    record = result.records()[0]
    assert record["status"] == "failed" and "No space left on device" in record["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png", "p.png"]  # no output, no temporary


def test_a_speck_below_the_records_rounding_is_still_filled(tmp_path, model_file):
    image = photo(1500, 1500)
    mask = np.zeros((1500, 1500), np.uint8)
    mask[700, 700] = 255  # 1 pixel in 2.25 M: the record's 6-decimal ratio reads 0.0
    save(tmp_path / "big.png", image, compress_level=1)
    save(tmp_path / "m.png", mask)
    result = pconv("inpaint", tmp_path / "big.png", "--mask", tmp_path / "m.png", "-w", model_file, "--json")
    record = result.records()[0]
    assert result.code == 0 and record["status"] == "ok" and record["hole_ratio"] == 0.0
    out = load(tmp_path / "big_inpainted.png")
    assert np.array_equal(out[mask == 0], image[mask == 0])


def test_texture_is_a_flag_and_the_record_says_what_each_group_got(tmp_path):
    rng = np.random.default_rng(0)
    grain = cv2.GaussianBlur(rng.normal(0, 30, (96, 256)).astype(np.float32), (0, 0), 1.0)
    image = np.full((96, 256, 3), 120, np.float32)
    image[:, :128] += grain[:, :128, None]  # grain on the left, flat on the right
    save(tmp_path / "p.png", np.clip(image, 0, 255).astype(np.uint8))
    mask = np.zeros((96, 256), np.uint8)
    mask[30:66, 30:90] = mask[30:66, 170:230] = 255
    save(tmp_path / "m.png", mask)
    auto = pconv("inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-o", tmp_path / "a.png", "--json")
    assert auto.code == 0, auto.stderr
    got = [(g["box"], g["got"]) for g in auto.records()[0]["texture"]]
    assert got == [([30, 30, 60, 36], "photo"), ([170, 30, 60, 36], "smooth")]
    none = pconv(
        "inpaint",
        tmp_path / "p.png",
        "--mask",
        tmp_path / "m.png",
        "-o",
        tmp_path / "n.png",
        "--json",
        "--texture",
        "none",
    )
    assert none.code == 0 and none.records()[0]["texture"] is None
    a, n = load(tmp_path / "a.png"), load(tmp_path / "n.png")
    assert np.array_equal(a[:, 128:], n[:, 128:]) and not np.array_equal(a[:, :128], n[:, :128])
    args = ["inpaint", tmp_path / "p.png", "--mask", tmp_path / "m.png", "-o", tmp_path / "pm.png", "--json"]
    pm = pconv(*args, "--texture", "hybrid")
    assert pm.code == 0, pm.stderr
    assert [g["got"] for g in pm.records()[0]["texture"]] == ["hybrid", "hybrid"]
    p = load(tmp_path / "pm.png")
    assert np.array_equal(p[mask == 0], a[mask == 0]) and not np.array_equal(p[:, :128], a[:, :128])
