"""The Python API: ``Inpainter`` loads a model once and fills holes in arrays or PIL images.

Every way pconv fills holes goes through ``Inpainter.fill`` (the CLI's `inpaint`, `pconv serve`
and calls from code), so they pick strategies, batch and report errors alike. Nothing here
imports torch: with only the ONNX runtime installed the API works as the CLI does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pconv_cli.errors import PconvError
from pconv_cli.imaging.images import DEFAULT_MAX_PIXELS, LUMA, Picture, grey_of, pil_pixels
from pconv_cli.imaging.masks import check_fillable, dilate_holes
from pconv_cli.runtime import strategies
from pconv_cli.runtime.runner import Runner

_FLOAT_LEVELS = 65535  # float images are filled as 16-bit integers; valid pixels are copied as they were


@dataclass
class Filled:
    """One image's fill: its pixels (the picture's layout and integers), the strategy it got, and
    for crop and refine one (x, y, w, h, fill) per group of nearby holes."""

    pixels: np.ndarray
    strategy: str | None  # None: no hole, the pixels are the input's
    groups: list | None = None


class Inpainter:
    """A model loaded once and called many times: ``inpainter(image, mask)``.

    Args:
        weights: a registered model name or a file (.safetensors, .pt, .onnx); None: the shipped default.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        precision: "auto", "fp32", "bf16" or "fp16".
        runtime: "auto", "torch" or "onnx" (auto: ONNX Runtime for the shipped model on a CPU).
        batch_size: images per network call (default 8 on a GPU, 1 on a CPU).
        blend: set each fill into its photo by a gradient-domain blend (no seam at the hole's edge).

    Example:
        >>> import numpy as np
        >>> from pconv_cli import Inpainter
        >>> inpainter = Inpainter(device="cpu")
        >>> image = np.full((64, 96, 3), 120, np.uint8)
        >>> mask = np.zeros((64, 96), bool)
        >>> mask[20:40, 30:60] = True  # True (or white) = hole
        >>> out = inpainter(image, mask)
        >>> out.shape, out.dtype, bool((out[~mask] == image[~mask]).all())
        ((64, 96, 3), dtype('uint8'), True)
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str = "auto",
        precision: str = "auto",
        *,
        runtime: str = "auto",
        batch_size: int | None = None,
        blend: bool = True,
    ) -> None:
        # True is an int to Python, not a batch size (as for the call's keywords)
        if batch_size is not None and (type(batch_size) is bool or not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"expected batch_size None or an integer >= 1, got {batch_size!r}")
        self.runner = Runner.open(weights, device, precision, batch_size, blend, runtime)
        self.weights = weights

    @property
    def config(self) -> dict:
        """The model's configuration (levels, width, image_size = its working scale, …)."""
        return dict(self.runner.backend.config)

    def __call__(
        self,
        image: Any,
        mask: Any,
        *,
        strategy: str = "auto",
        dilate: int = 0,
        invert_mask: bool = False,
        threshold: int = 127,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Any:
        """Fill the holes of ``image`` (or of each image of a list) and return the same type.

        Args:
            image: an H×W×3 (or H×W grey, H×W×4 RGBA) NumPy array of uint8, uint16 or float in
                [0, 1]; or a PIL image; or a list of these (batched where sizes agree).
            mask: holes, True or white = hole: an H×W bool array, an integer or float array (above
                ``threshold`` on the 8-bit scale is hole), or a PIL image; a list pairs with a list
                of images, a single mask serves every image of a list.
            strategy: "auto", "full", "tile", "crop" or "refine" (see ``pconv inpaint --help``).
            dilate: grow holes by this many pixels first.
            invert_mask: black = hole instead.
            threshold: grey level (0–255) above which a mask pixel is hole.
            max_pixels: refuse larger images (ValueError).

        Only hole pixels change; an alpha channel is kept as it was. A PIL image is taken as
        stored: its EXIF orientation is not applied (``PIL.ImageOps.exif_transpose`` does that).
        ValueError says what was got and what was expected (a mask that covers the whole image
        too: nothing is left to fill from); PconvError when the model fails (out of memory, say).
        """
        _check_keywords(dilate, threshold, max_pixels)
        single = not isinstance(image, (list, tuple))
        images = [image] if single else list(image)
        if isinstance(mask, (list, tuple)):
            if single or len(mask) != len(images):
                wanted = "one mask (not a list) for one image" if single else f"{len(images)} masks, one per image"
                raise ValueError(f"expected {wanted}, got a list of {len(mask)}")
            masks = list(mask)
        else:
            masks = [mask] * len(images)
        pictures, holes = [], []
        for img, msk in zip(images, masks):
            picture = _picture_of(img, max_pixels)
            hole = _holes_of(msk, picture.size, threshold, invert_mask)
            pictures.append(picture)
            holes.append(dilate_holes(hole, dilate) if dilate else hole)
        filled = self.fill(pictures, holes, strategy)
        results = [_like(img, f.pixels, hole) for img, f, hole in zip(images, filled, holes)]
        return results[0] if single else results

    def fill(self, pictures: Sequence[Picture], holes: Sequence[np.ndarray], strategy: str = "auto") -> list[Filled]:
        """Fill decoded pictures (H×W bool holes each); the one path of the CLI, the server and ``__call__``.

        Pictures that resolve to ``full`` run together, batched by size; the others one by one.
        A mask that covers its whole image raises MaskCoversImage (a ValueError and a PconvError);
        a failure raises PconvError with one line saying what to try.
        """
        if len(pictures) != len(holes):
            raise ValueError(f"expected one hole map per picture, got {len(holes)} for {len(pictures)}")
        for picture, hole in zip(pictures, holes):  # all checked before any work, so a list fails whole
            if hole.shape != picture.size or hole.dtype != bool:
                raise ValueError(f"expected an {picture.size} bool hole map, got {hole.dtype} of shape {hole.shape}")
            check_fillable(hole)
        results: list[Filled | None] = [None] * len(pictures)
        whole = []
        for i, (picture, hole) in enumerate(zip(pictures, holes)):
            if not hole.any():
                results[i] = Filled(picture.pixels, None)
                continue
            resolved = strategies.choose(picture.size, strategy, self.runner.scale)
            if resolved == "full":
                whole.append(i)
                continue
            pixels, groups = self._guarded(resolved, strategies.inpaint_one, picture, hole, resolved, self.runner)
            results[i] = Filled(pixels, resolved, groups)
        if whole:
            pixels = self._guarded(
                "full", strategies.fill_full, [pictures[i] for i in whole], [holes[i] for i in whole], self.runner
            )
            for i, px in zip(whole, pixels):
                results[i] = Filled(px, "full")
        return results  # type: ignore[return-value]

    def _guarded(self, strategy: str, fill, *args):
        """Run ``fill``, turning out-of-memory and OpenCV's limits into one-line PconvErrors."""
        try:
            return fill(*args)
        except self.runner.backend.memory_errors:
            hint = "try strategy tile" if strategy != "tile" else "try a smaller batch size or image"
            raise PconvError(f"out of memory with strategy {strategy}; {hint}") from None
        except cv2.error as exc:  # OpenCV's own out-of-memory and size limits on huge images
            raise PconvError(f"OpenCV failed with strategy {strategy}: {str(exc).strip().splitlines()[-1]}") from None


def _picture_of(image: Any, max_pixels: int) -> Picture:
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
        image = np.rint(image.astype(np.float32) * _FLOAT_LEVELS).astype(np.uint16)
    elif image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a uint8, uint16 or float image, got {image.dtype}")
    return Picture(np.ascontiguousarray(image), "PNG")


def _array_of_pil(image: Any) -> np.ndarray:
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a NumPy array or a PIL image, got {type(image).__name__}")
    return pil_pixels(image)


def _holes_of(mask: Any, size: tuple[int, int], threshold: int, invert: bool) -> np.ndarray:
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


def _check_keywords(dilate: Any, threshold: Any, max_pixels: Any) -> None:
    for name, value, low, high in (("dilate", dilate, 0, None), ("threshold", threshold, 0, 254),
                                   ("max_pixels", max_pixels, 1, None)):  # fmt: skip
        integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not integer or value < low or (high is not None and value > high):
            span = f"{low}–{high}" if high is not None else f">= {low}"
            raise ValueError(f"expected {name} an integer {span}, got {value!r}")


def _like(original: Any, pixels: np.ndarray, holes: np.ndarray) -> Any:
    """The filled ``pixels`` (Picture layout and integers) in the form of ``original``."""
    array = original if isinstance(original, np.ndarray) else None
    if array is not None and array.dtype.kind == "f":
        out = array.copy()  # valid pixels stay exactly as given; holes get the 16-bit fill
        filled = pixels[holes].astype(np.float32) / _FLOAT_LEVELS
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
