import io
import zlib

import numpy as np
import pytest
from PIL import Image

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
