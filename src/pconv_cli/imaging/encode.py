"""Encoding outputs: the formats pconv writes, their bit depths, and ICC profiles and EXIF kept.

8-bit PNGs go through pconv's own writer (``png.encode_png``), other 8-bit formats through Pillow;
16-bit pixels through OpenCV, which writes 16-bit PNG and TIFF but drops profiles and EXIF, so those
are put back into its bytes here.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from pconv_cli.errors import PconvError, one_line
from pconv_cli.imaging.defaults import DEFAULT_JPEG_QUALITY, QUALITY_FORMATS, SUFFIX_OF
from pconv_cli.imaging.png import chunk, encode_png

if TYPE_CHECKING:
    from pconv_cli.imaging.images import Picture

# Output formats by suffix (PIL format names).
PNG_LEVEL = 1  # zlib level 1, OpenCV's default: much faster than Pillow's 6 for a few more bytes


def _metadata_chunks(icc: bytes | None, exif: bytes | None) -> bytes:
    """The iCCP and eXIf chunks of a profile and EXIF (either may be None), to follow IHDR."""
    chunks = b""
    for kind, body in (
        (b"iCCP", icc and b"icc\x00\x00" + zlib.compress(icc)),
        (b"eXIf", exif and exif.removeprefix(b"Exif\x00\x00")),
    ):
        if body:
            chunks += chunk(kind, body)
    return chunks


def _png_with(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """Insert iCCP and eXIf chunks after IHDR (OpenCV writes 16-bit PNGs but drops profiles and EXIF)."""
    end_of_ihdr = 8 + 8 + 13 + 4
    return png[:end_of_ihdr] + _metadata_chunks(icc, exif) + png[end_of_ihdr:]


def _tiff_with_icc(tiff: bytes, icc: bytes) -> bytes:
    """Add an ICC profile tag (34675) to the first IFD of a classic TIFF (OpenCV writes 16-bit TIFFs
    but drops profiles): the profile and a copy of the IFD with the tag go at the end, and the
    header points to that copy; every other offset stays valid."""
    order = "<" if tiff[:2] == b"II" else ">"
    if struct.unpack(order + "H", tiff[2:4])[0] != 42:  # BigTIFF, which OpenCV writes only past 4 GiB
        return tiff
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    count = struct.unpack(order + "H", tiff[ifd : ifd + 2])[0]
    entries = [tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i] for i in range(count)]
    next_ifd = tiff[ifd + 2 + 12 * count : ifd + 6 + 12 * count]
    out = bytearray(tiff) + b"\0" * (len(tiff) % 2)  # TIFF offsets are even
    if len(icc) <= 4:  # a value of up to 4 bytes is stored in the entry itself
        value = icc.ljust(4, b"\0")
    else:
        value = struct.pack(order + "I", len(out))
        out += icc + b"\0" * (len(icc) % 2)
    entries.append(struct.pack(order + "HHI", 34675, 7, len(icc)) + value)  # type 7: UNDEFINED bytes
    entries.sort(key=lambda entry: struct.unpack(order + "H", entry[:2])[0])  # tags in ascending order
    out[4:8] = struct.pack(order + "I", len(out))
    out += struct.pack(order + "H", len(entries)) + b"".join(entries) + next_ifd
    return bytes(out)


def check_depth(dtype: np.dtype, fmt: str) -> None:
    """PconvError when ``fmt`` cannot store pixels of ``dtype``: 16-bit needs PNG or TIFF."""
    if dtype == np.uint16 and fmt not in ("PNG", "TIFF"):
        raise PconvError(f"16-bit output needs PNG or TIFF, not {fmt} (pass --format png)")


def check_quality(quality: int | None, fmt: str) -> None:
    """ValueError unless ``quality`` is None or an integer from 1 to 100 for a format it applies to."""
    if quality is None:
        return
    if type(quality) is not int or not 1 <= quality <= 100:  # True is an int to Python, not a quality
        raise ValueError(f"expected a quality from 1 to 100, got {quality!r}")
    if fmt not in QUALITY_FORMATS:
        raise ValueError(f"quality applies to {' and '.join(QUALITY_FORMATS)}, not {fmt}, which is lossless")


def encode_image(picture: Picture, pixels: np.ndarray, fmt: str, quality: int | None = None) -> bytes:
    """Encode H×W×C ``pixels`` (the picture's layout) as ``fmt``, keeping ICC and EXIF where it can.

    ``quality`` (1–100, JPEG and WebP only): None writes JPEG at quality 95 and WebP lossless.
    PNG, TIFF, BMP and lossless WebP keep every pixel; JPEG and lossy WebP re-encode them all.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> from pconv_cli.imaging.images import read_image
        >>> png = io.BytesIO()
        >>> Image.new("RGB", (6, 4), (40, 90, 200)).save(png, "PNG")
        >>> picture = read_image(png.getvalue())
        >>> jpeg = encode_image(picture, picture.pixels, "JPEG", quality=80)
        >>> Image.open(io.BytesIO(jpeg)).format, read_image(jpeg).pixels.shape
        ('JPEG', (4, 6, 3))
    """
    channels = pixels.shape[2]
    check_depth(pixels.dtype, fmt)
    check_quality(quality, fmt)
    if pixels.dtype == np.uint16:
        code = {1: None, 3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}[channels]
        ok, buf = cv2.imencode(SUFFIX_OF[fmt], cv2.cvtColor(pixels, code) if code is not None else pixels[..., 0])
        if not ok:
            raise PconvError(f"OpenCV could not encode the 16-bit {fmt}")
        if fmt == "PNG":
            return _png_with(buf.tobytes(), picture.icc, picture.exif)
        return _tiff_with_icc(buf.tobytes(), picture.icc) if picture.icc else buf.tobytes()
    if channels == 4 and fmt in ("JPEG", "BMP"):
        # An opaque alpha (an RGBA export, or a cutout whose transparent holes were filled) loses nothing.
        if not (pixels[..., 3] == 255).all():  # 8-bit here: 16-bit went to PNG or TIFF above
            raise PconvError(f"{fmt} cannot store the alpha channel (pass --format png, webp or tiff)")
        pixels, channels = pixels[..., :3], 3
    if fmt == "PNG":  # pconv's own writer: Pillow's per-row filter search took as long as zlib
        return encode_png(pixels, PNG_LEVEL, _metadata_chunks(picture.icc, picture.exif))
    img = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, {1: "L", 3: "RGB", 4: "RGBA"}[channels])
    options: dict = {}
    if picture.icc and fmt in ("JPEG", "WEBP", "TIFF"):
        options["icc_profile"] = picture.icc
    if picture.exif and fmt in ("JPEG", "WEBP"):
        options["exif"] = picture.exif
    if fmt == "JPEG":  # 4:4:4: a fill's colour edges stay as sharp as its grey ones
        options.update(quality=quality or DEFAULT_JPEG_QUALITY, subsampling=0)
    elif fmt == "WEBP" and quality is None:  # exact: transparent pixels keep their colour too
        options.update(lossless=True, exact=True)
    elif fmt == "WEBP":
        options.update(quality=quality, exact=True)
    out = io.BytesIO()
    try:
        img.save(out, format=fmt, **options)
    except (ValueError, OSError, struct.error) as exc:  # e.g. EXIF over the 64 KiB a JPEG segment holds
        raise PconvError(one_line(f"cannot encode {fmt}", exc)) from exc
    return out.getvalue()
