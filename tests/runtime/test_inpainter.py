import doctest
import importlib.util
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from pconv_cli.errors import UsageError
from pconv_cli.imaging.images import Picture, read_image
from pconv_cli.imaging.masks import dilate_holes
from pconv_cli.model.weights import REGISTRY
from pconv_cli.runtime import inpainter as api
from pconv_cli.runtime.inpainter import Inpainter
from pconv_cli.runtime.runner import Runner


@pytest.fixture(scope="module")
def inpainter() -> Inpainter:
    return Inpainter(device="cpu")  # the shipped model


def _photo(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 2.0, y * 3.0, (x + y) * 1.0], axis=-1) + rng.normal(0, 4, (h, w, 3))
    return np.clip(base + 40, 0, 255).astype(np.uint8)


def _mask(h: int = 64, w: int = 96) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[20:40, 30:60] = True
    return mask


def test_the_docstring_examples_run():
    assert doctest.testmod(api, raise_on_error=False).failed == 0


def test_a_uint8_array_changes_only_in_its_holes(inpainter):
    image, mask = _photo(), _mask()
    out = inpainter(image, mask)
    assert out.shape == image.shape and out.dtype == np.uint8 and out is not image
    assert np.array_equal(out[~mask], image[~mask])
    assert np.abs(out[mask].astype(int) - image[mask]).mean() > 1  # the hole was filled, not copied
    # a smooth gradient is continued, not painted black: the fill sits within the photo's range
    assert image.min() - 10 <= out[mask].mean() <= image.max() + 10


def test_the_cli_goes_through_the_same_fill(inpainter, tmp_path):
    image, mask = _photo(), _mask()
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "m.png")
    subprocess.run(
        [sys.executable, "-m", "pconv_cli", "inpaint", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"),
         "-o", str(tmp_path / "out.png"), "--device", "cpu", "-q"],
        check=True,
    )  # fmt: skip
    assert np.array_equal(read_image(tmp_path / "out.png").pixels, inpainter(image, mask))


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64])
def test_other_depths_keep_their_type_and_their_valid_pixels(inpainter, dtype):
    image8, mask = _photo(), _mask()
    if dtype == np.uint16:
        image = image8.astype(np.uint16) * 257
    else:
        image = (image8 / 255.0).astype(dtype)
    out = inpainter(image, mask)
    assert out.dtype == dtype and out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])  # exactly, floats too
    scale = 257 if dtype == np.uint16 else 1 / 255
    reference = inpainter(image8, mask)[mask].astype(np.float64) * scale
    assert np.abs(out[mask] - reference).max() <= 2 * scale  # the same fill, at its own depth


def test_grey_and_rgba_arrays(inpainter):
    image, mask = _photo(), _mask()
    grey = image[..., 1].copy()
    out = inpainter(grey, mask)
    assert out.shape == grey.shape and np.array_equal(out[~mask], grey[~mask])
    rgba = np.dstack([image, np.full(mask.shape, 200, np.uint8)])
    out = inpainter(rgba, mask)
    assert out.shape == rgba.shape and np.all(out[..., 3] == 200)  # alpha kept as it was
    assert np.array_equal(out[..., :3], inpainter(image, mask))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "I;16"])
def test_pil_images_come_back_as_pil_images_of_their_mode(inpainter, mode):
    photo, mask = _photo(), _mask()
    if mode == "I;16":
        image = Image.fromarray(photo[..., 0].astype(np.uint16) * 257)
    else:
        image = Image.fromarray(photo).convert(mode)
    out = inpainter(image, Image.fromarray(mask.astype(np.uint8) * 255))
    assert isinstance(out, Image.Image) and out.mode == mode and out.size == image.size
    before, after = np.asarray(image), np.asarray(out)
    assert np.array_equal(after[~mask], before[~mask]) and not np.array_equal(after[mask], before[mask])


@pytest.mark.parametrize(
    ("mode", "filled_as"),
    [("P", "RGB"), ("PA", "RGBA"), ("LA", "RGBA"), ("1", "L"), ("CMYK", "RGB"), ("YCbCr", "RGB"), ("HSV", "RGB")],
)
def test_pil_modes_filled_in_another_come_back_as_the_readme_says(inpainter, mode, filled_as):
    out = inpainter(Image.fromarray(_photo()).convert(mode), _mask())
    assert out.mode == filled_as


def test_mask_forms_agree(inpainter):
    image, mask = _photo(), _mask()
    expected = inpainter(image, mask)
    as_uint8 = mask.astype(np.uint8) * 255
    for form in (
        as_uint8,
        mask.astype(np.float32),
        np.dstack([as_uint8] * 3),
        Image.fromarray(as_uint8).convert("RGB"),
    ):
        assert np.array_equal(inpainter(image, form), expected)
    assert np.array_equal(inpainter(image, 255 - as_uint8, invert_mask=True), expected)
    assert np.array_equal(inpainter(image, mask.astype(np.int64)), expected)  # 0/1 integers are binary
    grey = np.full(mask.shape, 100, np.uint8)
    grey[mask] = 200
    assert np.array_equal(inpainter(image, np.dstack([grey] * 3)), expected)  # 100 < threshold 127 < 200
    assert np.array_equal(inpainter(image, np.dstack([grey] * 3).astype(np.uint16) * 257), expected)
    grown = inpainter(image, mask, dilate=3)
    assert np.array_equal(grown[~dilate_holes(mask, 3)], image[~dilate_holes(mask, 3)])
    assert not np.array_equal(grown[18, 30:60], image[18, 30:60])  # a row above the hole is now hole


def test_lists_are_batched_and_equal_single_calls(inpainter):
    images = [_photo(seed=s) for s in range(3)] + [_photo(48, 80, seed=3)]
    masks = [_mask()] * 3 + [_mask(48, 80)]
    outs = inpainter(images, masks)
    assert isinstance(outs, list) and len(outs) == 4
    for image, mask, out in zip(images, masks, outs):
        assert np.array_equal(out, inpainter(image, mask))
    same_mask = inpainter(images[:3], _mask())  # one mask serves every image
    assert all(np.array_equal(a, b) for a, b in zip(same_mask, outs[:3]))


def test_an_image_without_holes_comes_back_unchanged_as_a_copy(inpainter):
    image = _photo()
    out = inpainter(image, np.zeros(image.shape[:2], bool))
    assert np.array_equal(out, image) and not np.shares_memory(out, image)


@pytest.mark.parametrize(
    ("image", "mask", "words"),
    [
        (_photo(), _mask(32, 32), "expected a mask of the image's size 64×96"),
        (_photo().astype(np.int32), _mask(), "expected a uint8, uint16 or float image, got int32"),
        (_photo() / 100.0, _mask(), "finite values in [0, 1]"),
        (_photo()[..., :2], _mask(), "expected an H×W, H×W×3 or H×W×4 image, got shape (64, 96, 2)"),
        ("photo.png", _mask(), "expected a NumPy array or a PIL image, got str"),
        (_photo(), "mask.png", "expected the mask as a NumPy array or a PIL image, got str"),
        ([_photo(), _photo()], [_mask()], "expected 2 masks, one per image, got a list of 1"),
        (_photo(), [_mask()], "expected one mask (not a list) for one image, got a list of 1"),
        (_photo(), np.where(_mask(), np.nan, 0.0), "expected a mask without NaN"),
        (Image.new("F", (96, 64)), _mask(), "got mode F"),
        (Image.new("I", (96, 64)), _mask(), "got mode I"),
    ],
)
def test_bad_input_is_a_value_error_saying_what_was_expected(inpainter, image, mask, words):
    with pytest.raises(ValueError, match="expected") as info:
        inpainter(image, mask)
    assert words in str(info.value)


def test_a_mask_over_the_whole_image_is_refused_not_filled_black(inpainter, monkeypatch):
    image, everything = _photo(), np.ones((64, 96), bool)
    with pytest.raises(ValueError, match="the mask covers the whole image: there is nothing to fill the holes from"):
        inpainter(image, everything)
    with pytest.raises(ValueError, match="covers the whole image"):
        inpainter(Image.fromarray(image), Image.new("L", (96, 64), 255))
    with pytest.raises(ValueError, match="covers the whole image"):
        inpainter(image, _mask(), dilate=100)  # grown over everything
    monkeypatch.setattr(inpainter.runner.backend, "forward", lambda *a: pytest.fail("the model ran"))
    with pytest.raises(ValueError, match="covers the whole image"):  # a list is refused before any work
        inpainter([image, image], [_mask(), everything], strategy="crop")


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("dilate", -1), ("dilate", 2.5), ("dilate", True), ("threshold", 255), ("threshold", "127"), ("max_pixels", 0)],
)
def test_keywords_are_checked(inpainter, keyword, value):
    with pytest.raises(ValueError, match=f"expected {keyword} an integer"):
        inpainter(_photo(), _mask(), **{keyword: value})


def test_big_endian_uint16_images_and_masks_are_uint16(inpainter):
    image = (_photo().astype(np.uint16) * 257).astype(">u2")
    mask = _mask().astype(">u2") * 65535
    mask[0, 0] = 1000  # below the threshold on the 16-bit scale (127 * 257): no hole
    out = inpainter(image, mask)
    assert out.dtype == np.uint16 and np.array_equal(out[~_mask()], image[~_mask()])
    assert not np.array_equal(out[_mask()], image[_mask()])


def test_batch_size_is_checked_when_the_model_is_opened():
    with pytest.raises(ValueError, match="expected batch_size None or an integer >= 1, got 0"):
        Inpainter(device="cpu", batch_size=0)
    with pytest.raises(ValueError, match="expected batch_size None or an integer >= 1, got True"):
        Inpainter(device="cpu", batch_size=True)


@pytest.mark.parametrize("absent", [(), ("torch",), ("onnxruntime",)])
@pytest.mark.parametrize("runtime", ["auto", "torch", "onnx"])
def test_an_unknown_weights_name_is_not_found_whatever_is_installed(monkeypatch, absent, runtime):
    # Not "pconv-small256-v4 needs torch, which is not installed": no runtime would find it.
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a))
    names = ", ".join(sorted(REGISTRY))
    with pytest.raises(UsageError, match=rf"^weights not found: pconv-small256-v4 \(registered names: {names}\)$"):
        Inpainter(weights="pconv-small256-v4", runtime=runtime)


def test_sixteen_bit_pil_images_of_either_byte_order(inpainter):
    grey = (_photo()[..., 0].astype(np.uint16) * 257).astype(">u2")
    image = Image.frombytes("I;16B", (96, 64), grey.tobytes())
    out = inpainter(image, _mask())
    assert out.mode == "I;16" and np.array_equal(np.asarray(out)[~_mask()], grey.astype(np.uint16)[~_mask()])


def test_a_pixel_limit_per_call(inpainter):
    with pytest.raises(ValueError, match="at most 1000 pixels"):
        inpainter(_photo(), _mask(), max_pixels=1000)


def test_importing_and_using_pconv_leaves_pillow_guard_alone():
    code = (
        "import numpy as np; from PIL import Image; before = Image.MAX_IMAGE_PIXELS\n"
        "import pconv_cli, pconv_cli.imaging.images, pconv_cli.commands.inpaint, pconv_cli.cli\n"
        "from pconv_cli import Inpainter\n"
        "Inpainter(device='cpu')(np.zeros((32, 32, 3), np.uint8), np.eye(32, dtype=bool))\n"
        "import io; png = io.BytesIO(); Image.new('RGB', (8, 8)).save(png, 'PNG')\n"
        "pconv_cli.imaging.images.read_image(png.getvalue())  # the reading the CLI does\n"
        "assert Image.MAX_IMAGE_PIXELS == before, Image.MAX_IMAGE_PIXELS\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_import_is_light():
    code = "import sys, pconv_cli; assert 'cv2' not in sys.modules and 'torch' not in sys.modules; pconv_cli.Inpainter"
    subprocess.run([sys.executable, "-c", code], check=True)


class Fake:
    """A backend that outputs 0.5 everywhere and counts its batches; ``fail`` makes it run out of memory."""

    config = {"levels": 3, "width": 8, "image_size": 64}  # 2S = 128: images up to 128² are filled whole
    device = "cpu"
    memory_errors = (MemoryError,)

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.fail = False

    def forward(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray:
        if self.fail:
            raise MemoryError("out of memory")
        self.batches.append(image.shape[0])
        return np.full_like(image, 0.5)


def _pushed(h: int, w: int, holes: bool = True):
    picture = Picture(np.full((h, w, 3), 100, np.uint8), "PNG")
    return picture, np.eye(h, w, dtype=bool) if holes else np.zeros((h, w), bool)


def test_a_stream_batches_consecutive_equal_sizes_and_gives_each_image_its_own_result():
    backend = Fake()
    stream = api.Stream(Runner(backend, batch_size=2, blend=False))
    assert stream.push("a", *_pushed(8, 8)) == []  # waits for a batch mate
    done = stream.push("none", *_pushed(8, 8, holes=False))  # no hole: back at once, the batch still waiting
    assert [k for k, _ in done] == ["none"] and done[0][1].strategy is None and backend.batches == []
    assert stream.push("b", *_pushed(8, 8)) == []
    done = stream.push("c", *_pushed(8, 16))  # another size: a and b go first, together
    assert [k for k, _ in done] == ["a", "b"] and backend.batches == [2]
    assert all(f.strategy == "full" and f.error is None and f.seconds > 0 for _, f in done)
    assert np.all(done[0][1].pixels[np.eye(8, dtype=bool)] == 128)  # the fill, in the picture's integers
    done = stream.push("d", *_pushed(300, 300))  # auto: refine, alone, after the waiting c
    assert [(k, f.strategy) for k, f in done] == [("c", "full"), ("d", "refine")] and done[1][1].groups
    assert stream.close() == []
    backend.fail = True
    stream.push("e", *_pushed(8, 8))
    ((key, failed),) = stream.close()  # a failure is the image's result; the stream goes on
    assert key == "e" and failed.pixels is None and failed.strategy == "full"
    assert str(failed.error) == "out of memory with strategy full; try strategy tile"


def test_fill_many_yields_each_key_with_its_fill(inpainter):
    items = [(i, Picture(_photo(seed=i), "PNG"), _mask()) for i in range(3)]
    results = list(inpainter.fill_many(items, "full"))
    assert [k for k, _ in results] == [0, 1, 2] and all(f.strategy == "full" for _, f in results)
    for (_, picture, hole), (_, filled) in zip(items, results):
        assert np.array_equal(filled.pixels, inpainter.fill([picture], [hole])[0].pixels)


def test_texture_auto_gives_detailed_surroundings_the_photos_grain_and_none_keeps_the_smooth_fill():
    rng = np.random.default_rng(0)
    grain = cv2.GaussianBlur(rng.normal(0, 30, (96, 128)).astype(np.float32), (0, 0), 1.0)
    photo = np.clip(120 + grain[..., None] + np.zeros(3), 0, 255).astype(np.uint8)
    hole = np.zeros((96, 128), bool)
    hole[30:66, 40:90] = True
    inpainter = Inpainter(device="cpu")
    smooth = inpainter(photo, hole, texture="none")
    textured = inpainter(photo, hole, texture="auto")
    assert np.array_equal(textured[~hole], photo[~hole])
    # The photo's grain at texture.CONTRAST of its contrast, well above the smooth fill's remnant.
    assert textured[hole].astype(float).std() > 0.5 * photo[~hole].astype(float).std()
    assert textured[hole].astype(float).std() > 1.5 * smooth[hole].astype(float).std()
    filled = inpainter.fill([Picture(photo, "png")], [hole])[0]
    assert filled.textures == [(40, 30, 50, 36, "photo")]
    assert inpainter.fill([Picture(photo, "png")], [hole], texture="none")[0].textures is None
    with pytest.raises(ValueError, match="expected texture in"):
        inpainter(photo, hole, texture="grain")


def test_texture_hybrid_without_patchmatch_is_one_line(monkeypatch):
    from pconv_cli.errors import PconvError
    from pconv_cli.runtime import patchmatch

    monkeypatch.setattr(
        patchmatch, "unavailable_reason", lambda: "PyPatchMatch is not installed (pip install pypatchmatch)"
    )
    photo, hole = np.full((32, 32, 3), 120, np.uint8), np.zeros((32, 32), bool)
    hole[8:16, 8:16] = True
    with pytest.raises(PconvError, match="texture 'hybrid' cannot run: PyPatchMatch is not installed"):
        Inpainter(device="cpu")(photo, hole, texture="hybrid")
    assert Inpainter(device="cpu")(photo, hole, texture="auto").shape == photo.shape


def test_an_opencv_failure_in_the_texture_stage_is_one_line(monkeypatch):
    from pconv_cli.errors import PconvError
    from pconv_cli.runtime import finishing

    def broken(*args):
        raise cv2.error("OpenCV(4.x) resize.cpp:1: error: (-215:Assertion failed) too large")

    monkeypatch.setattr(finishing, "add_texture", broken)
    grain = cv2.GaussianBlur(np.random.default_rng(0).normal(0, 30, (64, 96)).astype(np.float32), (0, 0), 1.0)
    photo = np.clip(120 + grain[..., None] + np.zeros(3), 0, 255).astype(np.uint8)
    hole = np.zeros((64, 96), bool)
    hole[20:44, 30:70] = True
    with pytest.raises(PconvError, match="OpenCV failed adding the photo's texture: .*too large; try --texture none"):
        Inpainter(device="cpu")(photo, hole)
