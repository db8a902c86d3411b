import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from pconv_cli.errors import PconvError
from pconv_cli.imaging.encode import encode_image
from pconv_cli.imaging.images import read_image

rng = np.random.default_rng(0)


def _png(array, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", **options)
    return out.getvalue()


def test_16_bit_png_keeps_depth_and_icc_round_trip(tmp_path):
    array = rng.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), array[..., ::-1])
    picture = read_image(tmp_path / "d.png")
    assert picture.pixels.dtype == np.uint16 and np.array_equal(picture.pixels, array) and picture.max_value == 65535
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture.icc = icc
    exif = Image.Exif()
    exif[0x010F] = "pconv test camera"  # Make: OpenCV's 16-bit PNG writer dropped EXIF, which the README says is kept
    picture.exif = exif.tobytes()
    encoded = encode_image(picture, picture.pixels, "PNG")
    again = read_image(encoded)
    assert again.icc == icc and np.array_equal(again.pixels, array)
    assert Image.open(io.BytesIO(encoded)).getexif()[0x010F] == "pconv test camera"
    with pytest.raises(PconvError, match="16-bit output needs PNG"):
        encode_image(picture, picture.pixels, "JPEG")
    cv2.imwrite(str(tmp_path / "d.tif"), array[..., ::-1])
    tiff = read_image(tmp_path / "d.tif")
    assert tiff.format == "TIFF" and np.array_equal(tiff.pixels, array)
    assert np.array_equal(read_image(encode_image(tiff, tiff.pixels, "TIFF")).pixels, array)
    tiff.icc = icc  # OpenCV's 16-bit TIFF had no profile: colours were read as sRGB
    again = read_image(encode_image(tiff, tiff.pixels, "TIFF"))
    assert again.icc == icc and np.array_equal(again.pixels, array)


def test_icc_kept_for_8_bit_and_alpha_refused_by_jpeg():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    array = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    picture = read_image(_png(array, icc_profile=icc))
    assert picture.icc == icc
    assert read_image(encode_image(picture, picture.pixels, "WEBP")).icc == icc
    with pytest.raises(PconvError, match="alpha"):
        encode_image(picture, picture.pixels, "JPEG")
    array[..., 3] = 255  # all opaque: JPEG and BMP drop the alpha, losing nothing
    for fmt in ("JPEG", "BMP"):
        assert read_image(encode_image(picture, array, fmt)).pixels.shape == (4, 4, 3)


def test_metadata_an_encoder_cannot_store_is_one_line():
    array = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010E] = "x" * 70_000  # an ImageDescription over the 64 KiB of a JPEG's EXIF segment
    picture = read_image(_png(array, exif=exif))
    with pytest.raises(PconvError, match="cannot encode JPEG: EXIF data is too long"):  # was a ValueError
        encode_image(picture, picture.pixels, "JPEG")
    assert read_image(encode_image(picture, picture.pixels, "PNG")).exif == picture.exif


def test_png_is_written_fast_and_exact():
    array = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    data = encode_image(read_image(_png(array)), array, "PNG")
    idat = data.index(b"IDAT")
    assert data[idat + 4 : idat + 6] == b"\x78\x01"  # zlib header of level 1 (Pillow's default 6 gives 78 9c)
    assert np.array_equal(read_image(data).pixels, array)
    length = int.from_bytes(data[idat - 4 : idat], "big")
    rows = np.frombuffer(zlib.decompress(data[idat + 4 : idat + 4 + length]), np.uint8).reshape(40, 91)
    assert (rows[:, 0] == 2).all()  # every row Up-filtered by pconv's writer (Pillow searched five filters a row)


def test_quality_trades_jpeg_and_webp_fidelity_and_lossless_formats_refuse_it():
    y, x = np.mgrid[0:64, 0:96]
    array = np.clip(np.stack([x * 2, y * 3, x + y], -1) + rng.normal(0, 6, (64, 96, 3)), 0, 255).astype(np.uint8)
    picture = read_image(_png(array))

    def error(fmt: str, quality: int | None) -> float:
        decoded = np.asarray(Image.open(io.BytesIO(encode_image(picture, array, fmt, quality))))
        return float(np.abs(decoded.astype(int) - array).mean())

    assert 0 < error("JPEG", 100) < error("JPEG", 50)
    assert encode_image(picture, array, "JPEG") == encode_image(picture, array, "JPEG", 95)  # the default
    assert error("WEBP", None) == 0 < error("WEBP", 100) < error("WEBP", 50)  # lossless unless a quality is set
    for fmt in ("PNG", "TIFF", "BMP"):
        assert error(fmt, None) == 0
        with pytest.raises(ValueError, match=f"quality applies to JPEG and WEBP, not {fmt}"):
            encode_image(picture, array, fmt, 90)
    for bad in (0, 101, 50.5, True):
        with pytest.raises(ValueError, match=rf"expected a quality from 1 to 100, got {bad!r}"):
            encode_image(picture, array, "JPEG", bad)
