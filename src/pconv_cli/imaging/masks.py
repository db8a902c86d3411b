"""Hole masks: ratios, the paper's hole-ratio bins, dilation, and mask sources for training.

Internal masks are float tensors with 1 = valid and 0 = hole (docs/architecture.md); the sources
return bool arrays with True = hole. torch is imported only where a function needs it,
so mask generation (and its worker processes) start without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pconv_cli.choices import Border
from pconv_cli.errors import MaskCoversImage, PconvError, UsageError

if TYPE_CHECKING:
    import torch

# Paper Table 1: hole-ratio bins (low, high], plus whether holes keep a 50-px border margin.
BINS: tuple[tuple[float, float], ...] = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
BORDER_MODES = (Border.margin.value, Border.none.value)  # a mask's own modes ("both" is a choice of two)
BORDER_MARGIN = 50
PAPER_RANGE = (BINS[0][0], BINS[-1][1])  # every paper bin together: (0.01, 0.6]


def hole_ratio(mask: torch.Tensor | np.ndarray) -> float:
    """Fraction of hole pixels of one mask, any shape: a NumPy bool array with True = hole, or a
    tensor with 1 = valid (the project's two conventions)."""
    total = mask.size if isinstance(mask, np.ndarray) else mask.numel()
    if total == 0:
        raise ValueError("expected a non-empty mask, got an empty one")
    if isinstance(mask, np.ndarray):
        if mask.dtype != bool:
            raise ValueError(f"expected a bool hole map (True = hole), got {mask.dtype}")
        return float(np.count_nonzero(mask)) / total
    return 1.0 - float((mask > 0.5).sum()) / total


def check_fillable(holes: np.ndarray) -> None:
    """Refuse a hole map (True = hole) that leaves no pixel of the photo: the one check of the CLI,
    the API and the server, made after any dilation."""
    if holes.all():
        raise MaskCoversImage("the mask covers the whole image: there is nothing to fill the holes from")


def bin_label(low: float, high: float) -> str:
    """Display name of a bin, e.g. '(0.10,0.20]'."""
    return f"({low:.2f},{high:.2f}]"


def bin_index(ratio: float) -> int | None:
    """Index into BINS of the bin holding ``ratio``, or None outside every bin."""
    for i, (low, high) in enumerate(BINS):
        if low < ratio <= high:
            return i
    return None


def dilate_holes(mask: torch.Tensor | np.ndarray, pixels: int) -> torch.Tensor | np.ndarray:
    """Grow holes by ``pixels`` (square neighbourhood).

    mask: an H×W bool NumPy hole map (True = hole; done in uint8 with OpenCV, a row then a
    column pass, so a huge image's mask needs no float copy and any ``pixels`` a kernel no wider
    than the image), or an N×1×H×W tensor with 1 = valid. Returns the same kind.
    """
    if pixels < 0:
        raise ValueError(f"expected pixels >= 0, got {pixels}")
    if isinstance(mask, np.ndarray):
        if mask.ndim != 2 or mask.dtype != bool:
            raise ValueError(f"expected an H×W bool hole map, got {mask.dtype} of shape {mask.shape}")
        if pixels == 0:
            return mask
        import cv2

        # A square is a row times a column; beyond the image's size every radius gives the same result.
        k = 2 * min(pixels, max(mask.shape)) + 1
        holes = cv2.dilate(mask.view(np.uint8), np.ones((1, k), np.uint8))
        return cv2.dilate(holes, np.ones((k, 1), np.uint8)).view(bool)
    if mask.dim() != 4:
        raise ValueError(f"expected an N×1×H×W mask, got shape {tuple(mask.shape)}")
    if pixels == 0:
        return mask
    import torch.nn.functional as F

    k = 2 * pixels + 1
    holes = F.max_pool2d(1.0 - mask.float(), k, stride=1, padding=pixels)
    return (1.0 - holes).to(mask.dtype)


def resize_holes(holes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An H×W bool hole map resized to ``size`` (h, w) by nearest neighbour, so it stays a hole map.

    Example:
        >>> resize_holes(np.eye(2, dtype=bool), (4, 4)).sum()
        np.int64(8)
    """
    if holes.dtype != bool or holes.ndim != 2:
        raise ValueError(f"expected an H×W bool hole map, got {holes.dtype} {holes.shape}")
    if holes.shape == tuple(size):
        return holes
    import cv2

    return cv2.resize(holes.view(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST) > 0


def deeper_than(holes: np.ndarray, r: int) -> np.ndarray:
    """The hole pixels more than ``r`` px (chessboard distance) from every valid pixel of an H×W
    bool hole map; r = 0 gives the holes themselves."""
    if r < 0:
        raise ValueError(f"expected r >= 0, got {r}")
    import cv2

    return cv2.erode(holes.view(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).view(bool)


def margin_for(size: tuple[int, int]) -> int:
    """The clear border in pixels: BORDER_MARGIN at 512 px, scaled with the shorter side."""
    return round(BORDER_MARGIN * min(size) / 512)


def border_mode(hole: np.ndarray) -> str:
    """'margin' when no hole pixel of the H×W hole map lies within margin_for(its size) of an edge, else 'none'."""
    m = margin_for(hole.shape)
    inner = hole[m : hole.shape[0] - m, m : hole.shape[1] - m]
    return "margin" if m and np.count_nonzero(inner) == np.count_nonzero(hole) else "none"


class GeneratedMasks:
    """Endless random masks from the maskgen styles (strokes, blobs, scratches, text, mixed; picklable).

    ratio: (low, high) hole-ratio range, or None for the paper's overall (0.01, 0.6];
    border: "none", "margin" (no hole near the border) or "both" (either, at random).
    """

    def __init__(self, style: str = "mixed", ratio: tuple[float, float] | None = None, border: str = "none") -> None:
        from pconv_cli.imaging.maskgen import STYLES

        if style not in STYLES:
            raise ValueError(f"expected style in {STYLES}, got {style!r}")
        if border not in (*BORDER_MODES, "both"):
            raise ValueError(f"expected border in {(*BORDER_MODES, 'both')}, got {border!r}")
        low, high = PAPER_RANGE if ratio is None else (float(ratio[0]), float(ratio[1]))
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"expected a ratio range 0 <= low < high <= 1, got ({low}, {high})")
        self.style, self.ratio, self.border = style, (low, high), border

    def sample(self, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
        """One (h, w) bool mask, True = hole, drawn from ``rng``."""
        from pconv_cli.imaging.maskgen import Draw, generate

        draw = Draw(rng.bit_generator)
        border = self.border
        if border == "both":
            border = BORDER_MODES[draw.integer(0, 1)]
        margin = margin_for(size) if border == "margin" else 0
        return generate(self.style, (int(size[0]), int(size[1])), self.ratio, margin, draw)[0]


class FolderMasks:
    """Masks read from a folder (white = hole), optionally augmented as the paper does for
    training: random flips, 90° rotations and a small dilation (0–2 px at 512). Picklable.

    Files whose size differs from the requested one are resized (nearest).
    """

    def __init__(self, folder: str | Path, augment: bool = True) -> None:
        from PIL import Image

        from pconv_cli.imaging.images import list_images

        folder = Path(folder)
        if not folder.is_dir():
            raise UsageError(f"mask folder {folder} does not exist or is not a folder")
        files = []
        for path in list_images(folder):
            try:
                with Image.open(path):
                    files.append(path)
            except (OSError, ValueError):
                continue
        if not files:
            raise UsageError(f"no readable mask images in {folder}")
        self.files: list[Path] = files
        self.augment = augment

    def __len__(self) -> int:
        return len(self.files)

    def sample(self, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
        """One (h, w) bool mask, True = hole: a random file, augmented if asked."""
        from pconv_cli.imaging.images import read_mask

        h, w = int(size[0]), int(size[1])
        for _ in range(10):
            try:
                hole = read_mask(self.files[int(rng.integers(len(self.files)))])
                break
            except PconvError:  # a file broke since the folder was listed: pick another
                continue
        else:
            raise UsageError(f"mask files in {self.files[0].parent} stopped being readable")
        if self.augment:
            if rng.random() < 0.5:
                hole = hole[:, ::-1]
            if rng.random() < 0.5:
                hole = hole[::-1, :]
            hole = np.rot90(hole, int(rng.integers(4)))
        hole = resize_holes(np.ascontiguousarray(hole), (h, w))
        if self.augment:
            hole = dilate_holes(hole, int(rng.integers(0, max(1, round(2 * min(h, w) / 512)) + 1)))
        return np.ascontiguousarray(hole)
