import doctest
import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from pconv_cli.errors import PconvError
from pconv_cli.imaging import images
from pconv_cli.imaging.encode import encode_image
from pconv_cli.imaging.images import (
    alpha_holes,
    color_holes,
    parse_color,
    read_image,
    read_mask,
)

rng = np.random.default_rng(0)


def _png(array, mode=None, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, format="PNG", **options) if mode else Image.fromarray(array).save(
        out, format="PNG", **options
    )
    return out.getvalue()


def test_reads_rgb_rgba_grey_exactly():
    for shape in ((5, 7, 3), (5, 7, 4), (5, 7)):
        array = rng.integers(0, 256, shape, dtype=np.uint8)
        picture = read_image(_png(array))
        assert picture.pixels.dtype == np.uint8 and picture.format == "PNG"
        assert np.array_equal(picture.pixels.reshape(array.shape), array)
    assert read_image(_png(array)).rgb_float().shape == (5, 7, 3)


def test_exif_orientation_applied_and_reset():
    array = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    picture = read_image(_png(array, exif=exif.tobytes()))
    assert np.array_equal(picture.pixels, np.rot90(array, -1))
    written = Image.open(io.BytesIO(encode_image(picture, picture.pixels, "PNG")))
    assert written.getexif().get(0x0112) == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation):
    array = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _png(array, exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    assert np.array_equal(read_image(data).pixels, expected)
    mask = np.zeros((3, 5), np.uint8)
    mask[0, 0] = 255
    holes = read_mask(_png(mask, exif=exif.tobytes()), expected.shape[:2])
    assert np.array_equal(
        holes, np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(_png(mask, exif=exif.tobytes()))))) > 127
    )


def test_mask_threshold_invert_size_and_resize():
    grey = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    assert read_mask(_png(grey), (1, 4)).tolist() == [[False, False, True, True]]
    assert read_mask(_png(grey), (1, 4), invert=True).tolist() == [[True, True, False, False]]
    assert read_mask(_png(grey), (1, 4), threshold=10).tolist() == [[False, True, True, True]]
    rgb = np.stack([grey] * 3, axis=-1)
    assert read_mask(_png(rgb), (1, 4)).tolist() == [[False, False, True, True]]
    with pytest.raises(PconvError, match="--resize-mask"):
        read_mask(_png(grey), (2, 8))
    assert read_mask(_png(grey), (2, 8), resize=True).shape == (2, 8)


def test_a_label_map_of_zeros_and_ones_is_a_mask_of_its_ones():
    labels = np.array([[0, 1, 1, 0]], dtype=np.uint8)
    assert read_mask(_png(labels), (1, 4)).tolist() == [[False, True, True, False]]
    assert read_mask(_png(labels.astype(np.uint16)), (1, 4)).tolist() == [[False, True, True, False]]
    assert read_mask(_png(labels), (1, 4), invert=True).tolist() == [[True, False, False, True]]
    # Only a map of 0 and 1 is read so: a dim grey mask stays under the threshold.
    assert not read_mask(_png(np.array([[0, 1, 2, 0]], dtype=np.uint8)), (1, 4)).any()


def test_alpha_and_colour_holes():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = [[0, 127], [128, 255]]
    rgba[0, 0, :3] = (0, 250, 10)
    rgba[1, 1, :3] = (0, 200, 0)
    picture = read_image(_png(rgba))
    assert alpha_holes(picture).tolist() == [[True, True], [False, False]]
    assert color_holes(picture, (0, 255, 0), 0).tolist() == [[False, False], [False, False]]
    assert color_holes(picture, (0, 255, 0), 10).tolist() == [[True, False], [False, False]]
    assert color_holes(picture, (0, 255, 0), 55).tolist() == [[True, False], [False, True]]
    assert parse_color("#00FF80") == (0, 255, 128)
    with pytest.raises(ValueError, match="RRGGBB"):
        parse_color("green")


def _bomb_png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = b""
    for kind, body in ((b"IHDR", header), (b"IDAT", zlib.compress(b"\x00" * 1000)), (b"IEND", b"")):
        chunks += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return b"\x89PNG\r\n\x1a\n" + chunks


def _bad_files() -> dict[str, bytes]:
    rgb = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    good = _png(rgb)
    out = {}
    for name, mode in (("palette", "P"), ("cmyk", "CMYK"), ("la", "LA")):
        buf = io.BytesIO()
        Image.fromarray(rgb).convert(mode).save(buf, format="TIFF" if mode == "CMYK" else "PNG")
        out[name] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 65536, (4, 4), dtype=np.int32)).save(buf, format="TIFF")
    out["i32"] = buf.getvalue()
    out.update(empty=b"", text=b"hello, not a picture", truncated=good[: len(good) // 2], bomb=_bomb_png(40000, 40000))
    return out


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", "empty file"),
        ("text", "not an image"),
        ("truncated", "truncated"),
        ("palette", "unsupported mode P"),
        ("cmyk", "unsupported mode CMYK"),
        ("la", "unsupported mode LA"),
        ("i32", "unsupported mode I \\(32-bit grey\\)"),
        ("bomb", "max-pixels"),
    ],
)
def test_bad_images_give_one_line_errors(tmp_path, case, message):
    path = tmp_path / f"{case}.png"
    path.write_bytes(_bad_files()[case])
    with pytest.raises(PconvError, match=message) as info:
        read_image(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_pixel_limit_and_folder(tmp_path):
    data = _png(np.zeros((20, 20, 3), np.uint8))
    assert read_image(data, max_pixels=400).size == (20, 20)
    with pytest.raises(PconvError, match="over --max-pixels 399"):
        read_image(data, max_pixels=399)
    with pytest.raises(PconvError, match="is a folder"):
        read_image(tmp_path)


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    with pytest.raises(PconvError, match="not a regular file .*give - as the input"):
        read_image(fifo)


def test_animated_and_multi_page_files_are_refused_not_cut_to_one_frame():
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (0, 255)]
    for fmt in ("PNG", "TIFF"):
        out = io.BytesIO()
        frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:])
        with pytest.raises(PconvError, match="has 2 frames"):
            read_image(out.getvalue())
        with pytest.raises(PconvError, match="has 2 frames"):
            read_mask(out.getvalue())


def test_a_camera_jpeg_with_extra_mpo_images_reads_its_main_image():
    main, preview = np.full((16, 16, 3), 200, np.uint8), np.zeros((16, 16, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(main).save(out, format="MPO", save_all=True, append_images=[Image.fromarray(preview)])
    picture = read_image(out.getvalue())
    assert picture.format == "MPO" and np.abs(picture.pixels.astype(int) - 200).max() <= 2


def test_a_mask_drawn_only_in_transparency_gets_a_hint():
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[2:4, 2:4, 3] = 0  # the "holes": transparent, colour everywhere black
    with pytest.raises(PconvError, match="only in transparency"):
        read_mask(_png(rgba))
    rgba[2:4, 2:4, :3] = 255  # white holes that are also transparent: the grey levels say it
    assert read_mask(_png(rgba)).sum() == 4


def test_pillow_guard_is_a_host_programs_and_pconv_names_it(tmp_path, monkeypatch):
    from pconv_cli.imaging.images import own_pixel_limit

    path = tmp_path / "a.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a host program's own guard: 2000 refused
    with pytest.raises(PconvError, match="over --max-pixels 1500"):
        read_image(path, max_pixels=1500)
    with pytest.raises(PconvError, match="over twice Pillow's limit of 1000 pixels"):
        read_image(path, max_pixels=10**6)
    own_pixel_limit()  # what pconv's own processes do
    assert read_image(path, max_pixels=10**6).size == (100, 100)


def test_convert_reads_the_modes_the_cli_refuses(tmp_path):
    path = tmp_path / "p.png"
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("P").save(path)
    with pytest.raises(PconvError, match="unsupported mode P \\(palette\\)"):
        read_image(path)
    picture = read_image(path, convert=True)
    assert picture.pixels.shape == (6, 8, 3)
    assert np.array_equal(picture.pixels, np.asarray(Image.open(path).convert("RGB")))


def test_the_docstring_examples_run():
    assert doctest.testmod(images, raise_on_error=False).failed == 0
