"""Image reading shared by the commands (EXIF orientation applied, one-line errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .errors import PconvError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as H×W×3 uint8 RGB, EXIF orientation applied; PconvError if unreadable."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PconvError(f"cannot read image {path}: {exc}".splitlines()[0]) from exc


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted), by suffix."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def to_tensor(array: np.ndarray):
    """H×W×C uint8 -> 1×C×H×W float32 tensor in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
