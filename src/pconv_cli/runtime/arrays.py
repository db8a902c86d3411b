"""The API's conversions: NumPy arrays and PIL images to a ``Picture`` and hole map, and the filled
pixels back to the caller's own type (``Inpainter.__call__``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pconv_cli.imaging.images import LUMA, Picture, grey_of, pil_pixels

FLOAT_LEVELS = 65535  # float images are filled as 16-bit integers; valid pixels are copied as they were


def picture_of(image: Any, max_pixels: int) -> Picture:
    """A Picture of an array or PIL image (the pixels are not copied where they need no conversion)."""
    if not isinstance(image, np.ndarray):
        image = _array_of_pil(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or 0 in image.shape:
        raise ValueError(f"expected an H×W, H×W×3 or H×W×4 image, got shape {image.shape}")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise ValueError(f"expected at most {max_pixels} pixels (max_pixels), got {image.shape[1]}×{image.shape[0]}")
    image = image.astype(image.dtype.newbyteorder("="), copy=False)  # big-endian (a FITS or raw file's): native
    if image.dtype.kind == "f":
        if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
            raise ValueError("expected a float image with finite values in [0, 1]")
        image = np.rint(image.astype(np.float32) * FLOAT_LEVELS).astype(np.uint16)
    elif image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a uint8, uint16 or float image, got {image.dtype}")
    return Picture(np.ascontiguousarray(image), "PNG")


def _array_of_pil(image: Any) -> np.ndarray:
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a NumPy array or a PIL image, got {type(image).__name__}")
    return pil_pixels(image)


def holes_of(mask: Any, size: tuple[int, int], threshold: int, invert: bool) -> np.ndarray:
    """An H×W bool hole map of a mask array or PIL image (True or white = hole).

    The grey level is compared with ``threshold`` on the mask's own scale: 0–255 for 8-bit and
    other integers, 0–65535 for uint16, 0–1 for floats; an integer mask of only 0 and 1 is binary.
    """
    if not isinstance(mask, np.ndarray):
        from PIL import Image

        if not isinstance(mask, Image.Image):
            raise ValueError(f"expected the mask as a NumPy array or a PIL image, got {type(mask).__name__}")
        mask = grey_of(mask)
    mask = mask.astype(mask.dtype.newbyteorder("="), copy=False)  # big-endian uint16 is uint16 too
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim == 3 and mask.shape[2] in (3, 4) and mask.dtype != bool:  # an RGB mask: its grey level
        grey = mask[..., :3].astype(np.float32) @ LUMA
    elif mask.ndim == 3 and mask.shape[2] in (3, 4):
        grey = mask[..., :3].any(axis=2)
    else:
        grey = mask
    if grey.shape != tuple(size):
        raise ValueError(f"expected a mask of the image's size {size[0]}×{size[1]} (H×W), got shape {mask.shape}")
    if mask.dtype == bool:
        holes = grey
    elif mask.dtype.kind == "f":
        if np.isnan(grey).any():
            raise ValueError("expected a mask without NaN")
        holes = grey > threshold / 255
    elif mask.dtype.kind in "ui":
        binary = mask.min() >= 0 and mask.max() <= 1
        holes = grey > (0 if binary else threshold * (257 if mask.dtype == np.uint16 else 1))
    else:
        raise ValueError(f"expected a bool, integer or float mask, got {mask.dtype}")
    return np.ascontiguousarray(~holes if invert else holes)


def check_keywords(dilate: Any, threshold: Any, max_pixels: Any) -> None:
    for name, value, low, high in (("dilate", dilate, 0, None), ("threshold", threshold, 0, 254),
                                   ("max_pixels", max_pixels, 1, None)):  # fmt: skip
        integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not integer or value < low or (high is not None and value > high):
            span = f"{low}–{high}" if high is not None else f">= {low}"
            raise ValueError(f"expected {name} an integer {span}, got {value!r}")


def like(original: Any, pixels: np.ndarray, holes: np.ndarray) -> Any:
    """The filled ``pixels`` (Picture layout and integers) in the form of ``original``."""
    array = original if isinstance(original, np.ndarray) else None
    if array is not None and array.dtype.kind == "f":
        out = array.copy()  # valid pixels stay exactly as given; holes get the 16-bit fill
        filled = pixels[holes].astype(np.float32) / FLOAT_LEVELS
        if out.ndim == 2:
            out[holes] = filled[:, 0]
        else:
            out[holes, :3] = filled[:, :3]  # an alpha channel is kept as it was
        return out
    if array is not None:  # an image without holes comes back as a copy too
        return (pixels.copy() if np.shares_memory(pixels, array) else pixels).reshape(array.shape)
    from PIL import Image

    result = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)  # L, I;16, RGB or RGBA
    if "icc_profile" in original.info:
        result.info["icc_profile"] = original.info["icc_profile"]
    return result
