import io
import zlib

import numpy as np
import pytest
from PIL import Image

from pconv_cli.imaging import png
from pconv_cli.imaging.png import deflate_runs, encode_gray


@pytest.mark.parametrize(
    "data",
    [
        np.array([7], np.uint8),
        np.zeros(5000, np.uint8),
        np.arange(300, dtype=np.uint8),
        np.repeat(np.arange(40, dtype=np.uint8) * 6, np.arange(40) * 13 + 1),  # runs of 1..508 bytes
    ],
)
def test_deflate_stream_inflates_to_the_data(data):
    assert zlib.decompress(deflate_runs(data), -15) == data.tobytes()


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (33, 70)])
def test_png_decodes_to_the_pixels(shape):
    image = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    image[: shape[0] // 2] = 255
    with Image.open(io.BytesIO(encode_gray(image))) as img:
        assert img.mode == "L" and np.array_equal(np.asarray(img), image)


def test_png_bytes_depend_only_on_pixels():
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 5:50] = 255
    assert encode_gray(mask) == encode_gray(mask.copy())
    assert encode_gray(mask) != encode_gray(mask.T.copy())
    with pytest.raises(ValueError, match="H×W uint8"):
        encode_gray(mask.astype(np.float32))


def _idat_rows(data: bytes, row_bytes: int) -> np.ndarray:
    """The inflated, still filtered rows of a PNG's IDAT chunks (one filter byte, then the row)."""
    stream, at = b"", 8
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        if data[at + 4 : at + 8] == b"IDAT":
            stream += data[at + 8 : at + 8 + length]
        at += 12 + length
    return np.frombuffer(zlib.decompress(stream), np.uint8).reshape(-1, row_bytes + 1)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_fast_png_decodes_to_the_pixels_across_strips(monkeypatch, channels):
    monkeypatch.setattr(png, "_STRIP_BYTES", 100)  # 33 px rows of up to 132 bytes: one row a strip, and more
    y, x = np.mgrid[0:29, 0:33]
    image = np.stack([x * 7, y * 5, x * y, 255 - x][:channels], -1).astype(np.uint8)
    data = png.encode_png(image, 1, png.chunk(b"tEXt", b"k\x00v"))
    decoded = np.asarray(Image.open(io.BytesIO(data)))
    assert np.array_equal(decoded.reshape(image.shape), image)
    Image.open(io.BytesIO(data)).verify()  # every chunk's CRC
    assert data.index(b"tEXt") < data.index(b"IDAT")
    # Every row filtered by Up (2): a vectorised filter, where Pillow tried five per row.
    assert (_idat_rows(data, 33 * channels)[:, 0] == 2).all()


def test_fast_png_refuses_what_it_cannot_write():
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.uint16)):
        with pytest.raises(ValueError, match="H×W×C uint8 image with C 1, 3 or 4"):
            png.encode_png(bad)
    with pytest.raises(ValueError, match="zlib level from 0 to 9, got 10"):
        png.encode_png(np.zeros((4, 4, 3), np.uint8), 10)
