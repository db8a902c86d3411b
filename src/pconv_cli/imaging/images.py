"""Reading images and masks: decoding with alpha, 16-bit depth, ICC and EXIF orientation; hole
maps from a mask file, an alpha channel or a colour; listing image files. Writing: ``encode``.

Pixels stay in their file's integer type (uint8 or uint16) so the valid pixels of an
output can be the input's exact values; conversion to float happens per work tile.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pconv_cli.errors import PconvError, TooManyPixels, one_line
from pconv_cli.imaging.defaults import DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLD

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Rec. 601 grey from RGB
_MODE_HINTS = {"P": "palette", "PA": "palette with alpha", "LA": "grey with alpha", "CMYK": "CMYK", "1": "1-bit"}
_MODE_HINTS.update(dict.fromkeys(("I;16", "I;16B", "I;16L"), "16-bit grey"), I="32-bit grey", F="32-bit float grey")
_EXIF_ORIENTATION = 0x0112
# What decoders raise on damaged files (Pillow lets struct, EOF, type and system errors through in places).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, TypeError, SystemError, struct.error, cv2.error)


@dataclass
class Picture:
    """A decoded image. pixels: H×W×C uint8/uint16 with C = 1 (grey), 3 (RGB) or 4 (RGBA)."""

    pixels: np.ndarray
    format: str  # PIL format name of the source, e.g. "PNG"
    icc: bytes | None = None
    exif: bytes | None = None  # with the orientation reset, since it is applied to pixels
    data: bytes | None = None  # the source file's bytes (an image with no hole is copied as is)

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] == 4

    @property
    def max_value(self) -> int:
        return 65535 if self.pixels.dtype == np.uint16 else 255

    def rgb(self, y0: int = 0, y1: int | None = None, x0: int = 0, x1: int | None = None) -> np.ndarray:
        """The RGB of a region in the file's integers, h×w×3 (grey is repeated, alpha left out)."""
        px = self.pixels[y0:y1, x0:x1]
        return np.repeat(px, 3, axis=2) if px.shape[2] == 1 else px[..., :3]

    def rgb_float(self, y0: int = 0, y1: int | None = None, x0: int = 0, x1: int | None = None) -> np.ndarray:
        """The RGB of a region as h×w×3 float32 in [0, 1]."""
        return self.rgb(y0, y1, x0, x1).astype(np.float32) / self.max_value


def _read_bytes(source: str | Path | bytes, what: str) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        data, name = source, "<stdin>"
    else:
        name = str(source)
        try:
            # A FIFO with no writer would block the open forever; devices and sockets are no image files.
            mode = os.stat(source).st_mode
            if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
                raise PconvError(
                    f"cannot read {what} {name}: not a regular file (a pipe or device); "
                    "give - as the input and send the bytes to stdin"
                )
            data = Path(source).read_bytes()
        except IsADirectoryError:
            raise PconvError(f"cannot read {what} {name}: is a folder") from None
        except OSError as exc:
            raise PconvError(f"cannot read {what} {name}: {exc.strerror or exc}") from exc
    if not data:
        raise PconvError(f"cannot read {what} {name}: empty file (0 bytes)")
    return data, name


def own_pixel_limit() -> None:
    """Switch off Pillow's process-wide bomb guard (``Image.MAX_IMAGE_PIXELS``), whose fixed limit
    would refuse a raised --max-pixels: for pconv's own processes only (the CLI, the server), never
    on import, since a host program keeps its guard. Each read checks its own ``max_pixels``."""
    Image.MAX_IMAGE_PIXELS = None


def _open(data: bytes, name: str, what: str, max_pixels: int) -> Image.Image:
    # open() reads only the header; the size check below is pconv's own bomb check. Between
    # Pillow's limit and twice it Pillow only warns: max_pixels decides, so that warning is quiet.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:  # over twice Pillow's limit: refused before pconv could look
        refused = 2 * Image.MAX_IMAGE_PIXELS
        if max_pixels <= refused:
            raise TooManyPixels(
                f"{what} {name} has over {refused} pixels, over --max-pixels {max_pixels} (raise the limit)"
            ) from None
        raise PconvError(
            f"cannot read {what} {name}: over twice Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels "
            "(PIL.Image.MAX_IMAGE_PIXELS, which the program running pconv sets)"
        ) from None
    except UnidentifiedImageError:
        raise PconvError(f"cannot read {what} {name}: not an image, or a format Pillow does not know") from None
    except _DECODE_ERRORS as exc:
        raise PconvError(one_line(f"cannot read {what} {name}", exc)) from exc
    w, h = img.size
    if w * h > max_pixels:
        raise TooManyPixels(
            f"{what} {name} is {w}×{h} = {w * h} pixels, over --max-pixels {max_pixels} (raise the limit)"
        )
    try:
        frames = _full_frames(img)
    except _DECODE_ERRORS as exc:  # a damaged TIFF page directory
        img.close()
        raise PconvError(one_line(f"cannot read {what} {name}", exc)) from exc
    if frames > 1:  # APNG, animated WebP/GIF, multi-page TIFF: writing one frame back would lose the rest
        img.close()
        raise PconvError(f"{what} {name} has {frames} frames (animated or multi-page); save the one to use on its own")
    return img


def _full_frames(img: Image.Image) -> int:
    """How many full images a file holds: a camera JPEG's extra MPO images (previews, depth or gain
    maps) and a TIFF's reduced-resolution pages (thumbnails) do not count."""
    frames = getattr(img, "n_frames", 1)
    if frames == 1 or img.format == "MPO":
        return 1
    if img.format == "TIFF":
        full = 0
        for i in range(frames):
            img.seek(i)
            full += not int(img.tag_v2.get(254, 0)) & 1  # NewSubfileType bit 0: a reduced-resolution image
        img.seek(0)
        return full
    return frames


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1–8) to an H×W×C array, as ImageOps.exif_transpose does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](array)) if orientation in ops else array


def _sixteen_bit(img: Image.Image, data: bytes) -> bool:
    if img.format == "PNG":
        return len(data) > 24 and data[24] == 16  # IHDR bit depth
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, (8,))  # BitsPerSample
        return (bits[0] if isinstance(bits, tuple) else bits) == 16
    return False


# PIL modes whose pixels become L, RGB or RGBA without loss (and 16-bit grey, kept as it is);
# 32-bit integer (I) and float (F) images have no such form.
LOSSLESS_MODES = {"L": "L", "RGB": "RGB", "RGBA": "RGBA", "LA": "RGBA", "P": "RGBA", "PA": "RGBA", "1": "L",
                  "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}  # fmt: skip


def pil_pixels(img: Image.Image) -> np.ndarray:
    """The pixels of a PIL image of a lossless mode as H×W (grey) or H×W×3/4 uint8, or H×W uint16
    for 16-bit grey; ValueError naming the modes for any other.

    Example:
        >>> pil_pixels(Image.new("P", (4, 2))).shape
        (2, 4, 3)
    """
    if img.mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)  # native byte order, whatever the file's
    if img.mode not in LOSSLESS_MODES:
        raise ValueError(f"expected a PIL image of mode {', '.join(LOSSLESS_MODES)} or I;16, got mode {img.mode}")
    mode = "RGB" if img.mode == "P" and "transparency" not in img.info else LOSSLESS_MODES[img.mode]
    return np.asarray(img.convert(mode) if mode != img.mode else img)


def read_image(source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS, convert: bool = False) -> Picture:
    """Decode an image file (or its bytes) into a Picture; PconvError with one line if it cannot be used.

    Accepted modes: RGB, RGBA, L (8-bit), 16-bit grey and 16-bit RGB/RGBA PNG; with ``convert`` also
    those that ``pil_pixels`` converts (palette, grey with alpha, 1-bit, CMYK, …), for callers that
    write a new file anyway. EXIF orientation is applied.
    """
    data, name = _read_bytes(source, "image")
    img = _open(data, name, "image", max_pixels)
    with img:
        # 16-bit grey is kept as it is (pil_pixels), so it needs no convert: its valid pixels come back exact.
        convertible = (convert and img.mode in LOSSLESS_MODES) or img.mode.startswith("I;16")
        if img.mode not in ("RGB", "RGBA", "L") and not convertible:
            hint = _MODE_HINTS.get(img.mode, img.mode)
            hint = f" ({hint})" if hint != img.mode else ""
            raise PconvError(f"image {name}: unsupported mode {img.mode}{hint}; convert it to RGB or RGBA first")
        try:
            exif = img.getexif()
            orientation = int(exif.get(_EXIF_ORIENTATION, 1) or 1)
            if _EXIF_ORIENTATION in exif:
                exif[_EXIF_ORIENTATION] = 1
            # Pillow reads 16-bit RGB PNGs and TIFFs as 8-bit; OpenCV keeps the depth.
            if img.mode not in ("RGB", "RGBA", "L"):
                pixels = pil_pixels(img)
            elif img.mode != "L" and _sixteen_bit(img, data):
                pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
                if pixels is None:
                    raise OSError("image file is truncated or corrupt")
                pixels = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
            else:
                pixels = np.asarray(img)
            fmt, icc = img.format or "PNG", img.info.get("icc_profile") or None
            exif_bytes = exif.tobytes() if len(exif) else None
        except _DECODE_ERRORS as exc:
            raise PconvError(one_line(f"cannot read image {name}", exc)) from exc
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return Picture(_orient(pixels, orientation), fmt, icc, exif_bytes, data)


def read_mask(
    source: str | Path | bytes,
    size: tuple[int, int] | None = None,
    invert: bool = False,
    threshold: int = DEFAULT_THRESHOLD,
    resize: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Holes of a mask file as an H×W bool array (True = hole) for an image of ``size`` (H, W).

    White (grey level > threshold) is hole unless ``invert``. Any mode is accepted; EXIF
    orientation is applied; another size is an error unless ``resize``; ``size=None``
    keeps the file's size. PconvError (one line) when unreadable.
    """
    data, name = _read_bytes(source, "mask")
    img = _open(data, name, "mask", max_pixels)
    with img:
        try:
            orientation = int(img.getexif().get(_EXIF_ORIENTATION, 1) or 1)
            grey = grey_of(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                alpha = np.asarray(img.convert("RGBA"))[..., 3]
                if alpha.min() < 255 and grey.min() == grey.max():
                    raise PconvError(
                        f"mask {name} draws its holes only in transparency, which masks do not use "
                        "(white = hole); flatten it onto black, or pass the image with that alpha and no --mask"
                    )
        except _DECODE_ERRORS as exc:
            raise PconvError(one_line(f"cannot read mask {name}", exc)) from exc
    grey = _orient(grey[..., None], orientation)[..., 0]
    if size is not None and grey.shape != tuple(size):
        if not resize:
            raise PconvError(
                f"mask {name} is {grey.shape[1]}×{grey.shape[0]} but its image is {size[1]}×{size[0]} "
                "(pass --resize-mask to scale it)"
            )
        grey = cv2.resize(grey, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    holes = grey > threshold
    return ~holes if invert else holes


def grey_of(img: Image.Image) -> np.ndarray:
    """The 8-bit grey levels of a mask image of any mode, H×W uint8 (16-bit and 32-bit greys scaled down).

    A label map of only 0 and 1, as segmentation tools save masks, becomes 0 and 255: read as
    levels it would hold no hole at any threshold.
    """
    if img.mode.startswith("I;16") or img.mode == "I":
        levels = np.asarray(img.convert("I"))
        if levels.min() >= 0 and levels.max() == 1:
            return levels.astype(np.uint8) * np.uint8(255)
        return (levels.astype(np.float32) / 257.0).clip(0, 255).astype(np.uint8)
    grey = np.asarray(img.convert("L"))
    return grey * np.uint8(255) if grey.max() == 1 else grey


def alpha_holes(picture: Picture, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Holes from the alpha channel: pixels at most ``threshold`` (8-bit scale) opaque."""
    alpha = picture.pixels[..., 3]
    return alpha <= threshold * (picture.max_value // 255)


def color_holes(picture: Picture, color: tuple[int, int, int], tolerance: int) -> np.ndarray:
    """Holes as pixels within ``tolerance`` (8-bit scale, per channel) of an RGB ``color``."""
    scale = picture.max_value // 255
    holes = np.ones(picture.size, dtype=bool)
    for c, value in enumerate(color):
        channel = picture.pixels[..., min(c, picture.pixels.shape[2] - 1)].astype(np.int32)
        holes &= np.abs(channel - value * scale) <= tolerance * scale
    return holes


def parse_color(text: str) -> tuple[int, int, int]:
    """'00ff00' or '#00ff00' -> (0, 255, 0); ValueError otherwise."""
    digits = text.strip().removeprefix("#")
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"expected a colour as RRGGBB hex, got {text!r}")
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def list_images(folder: str | Path, leave_out: str | Path | None = None) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted), by suffix; none under ``leave_out``, a command's
    output folder inside this one (its pictures are no input of the next run)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    out = Path(leave_out).resolve() if leave_out is not None else None
    if out is None or Path(folder).resolve() not in out.parents:
        return files
    return [p for p in files if out not in p.resolve().parents]


def other_files(inputs: list[str]) -> str:
    """What the input folders hold instead of images, as the end of "no input images found" ('' if nothing).

    Example:
        >>> other_files(["no/such/folder"])
        ''
    """
    kinds = Counter(
        file.suffix.lower() or file.name
        for folder in map(Path, inputs)
        if folder.is_dir()
        for file in folder.rglob("*")
        if file.is_file() and file.suffix.lower() not in IMAGE_SUFFIXES
    )
    if not kinds:
        return ""
    listed = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common(3)) + (", …" if len(kinds) > 3 else "")
    return f" (the folders hold other files: {listed}; pconv reads {', '.join(IMAGE_SUFFIXES)})"


def read_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file as a writable H×W×3 uint8 RGB array, EXIF orientation applied; PconvError if unreadable."""
    data, name = _read_bytes(path, "image")
    with _open(data, name, "image", max_pixels) as img:
        try:
            return np.array(ImageOps.exif_transpose(img).convert("RGB"))
        except _DECODE_ERRORS as exc:
            raise PconvError(one_line(f"cannot read image {name}", exc)) from exc
