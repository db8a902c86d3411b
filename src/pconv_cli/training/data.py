"""Training and validation data: random crops of photos paired with hole masks.

Every sample is a pure function of (seed, global sample position), so a run that
resumes at step S reads exactly the samples it would have read without stopping,
whatever the number of DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from pconv_cli.choices import Border, MaskStyle
from pconv_cli.errors import PconvError, UsageError
from pconv_cli.imaging.images import list_images, read_rgb


def find_images(
    folders: Sequence[str | Path], what: str = "training", out: Path | None = None
) -> tuple[list[Path], list[Path]]:
    """Readable image files under ``folders`` (recursive; none under the run folder ``out``) and the
    unreadable ones skipped.

    A file is listed once per folder naming it, so a folder named twice is sampled twice as
    often. Only the header is checked here (cheap); files that fail to decode later are
    skipped when sampled. UsageError when a folder is missing or nothing is readable.
    """
    files: list[Path] = []
    for folder in folders:
        if not Path(folder).is_dir():
            found = "is a file; expected a folder of images" if Path(folder).is_file() else "not found"
            raise UsageError(f"{what} folder {folder}: {found}")
        files += list_images(folder, out)
    if not files:
        raise UsageError(f"no images (JPEG/PNG/WebP) found in {what} folder(s) {', '.join(map(str, folders))}")
    good, bad = [], []
    for path in files:
        try:
            with Image.open(path) as img:
                img.size  # noqa: B018 - opening parses the header; that is the check
            good.append(path)
        except (OSError, ValueError, Image.DecompressionBombError):
            bad.append(path)
    if not good:
        raise UsageError(f"none of the {len(files)} files in {what} folder(s) is a readable image")
    return good, bad


def decodable(files: Sequence[Path], what: str = "validation") -> tuple[list[Path], list[Path]]:
    """The files that decode whole and those that do not: for a fixed set read at every validation,
    found once at start-up rather than crashing the run mid-way. UsageError when none decodes."""
    good, bad = [], []
    for path in files:
        try:
            read_rgb(path)
            good.append(path)
        except PconvError:
            bad.append(path)
    if files and not good:
        raise UsageError(f"none of the {len(files)} {what} images decodes")
    return good, bad


def mask_source(masks: str | Path | None, augment: bool = True):
    """The make-masks generator (masks=None) or a folder of mask files; both have .sample(rng, (h, w))."""
    from pconv_cli.imaging.masks import FolderMasks, GeneratedMasks

    if masks is None:
        return GeneratedMasks(style=MaskStyle.mixed, ratio=None, border=Border.none)
    return FolderMasks(masks, augment=augment)  # UsageError when it holds no readable mask


def _at_least(image: np.ndarray, size: int) -> np.ndarray:
    """An H×W×3 image upscaled (bicubic, aspect kept) so that its shorter side is at least ``size``."""
    h, w = image.shape[:2]
    if min(h, w) >= size:
        return image
    scale = size / min(h, w)
    h, w = max(size, round(h * scale)), max(size, round(w * scale))
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC)


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator, flip: bool = True) -> np.ndarray:
    """A size×size crop of an H×W×3 image at a random place, upscaled first when a side is shorter; random h-flip."""
    image = _at_least(image, size)
    h, w = image.shape[:2]
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    crop = image[top : top + size, left : left + size]
    if flip and rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.array(crop, order="C")  # a writable copy: torch refuses read-only arrays


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central size×size crop of an H×W×3 image (upscaled first when a side is shorter)."""
    image = _at_least(image, size)
    h, w = image.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return np.array(image[top : top + size, left : left + size], order="C")


def _sample(image: np.ndarray, hole: np.ndarray) -> dict[str, torch.Tensor]:
    if hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(f"expected a bool hole mask of shape {image.shape[:2]}, got {hole.dtype} {hole.shape}")
    return {
        "image": torch.from_numpy(image).permute(2, 0, 1),  # 3×H×W uint8
        "mask": torch.from_numpy(~hole).unsqueeze(0),  # 1×H×W bool, True = valid
    }


class _Images(Dataset):
    """Image files cut to ``size``×``size`` and paired with masks from ``masks``, seeded by ``seed``."""

    def __init__(self, files: Sequence[Path], size: int, masks, seed: int) -> None:
        if not files:
            raise ValueError(f"expected at least one image file for {type(self).__name__}, got none")
        self.files = list(files)
        self.size = size
        self.masks = masks
        self.seed = seed


class TrainSet(_Images):
    """Item k is global sample position k (it never wraps): a random crop + flip + mask.

    Position k reads image perm_e[k mod N] of the epoch e = k // N, perm_e being a
    permutation seeded by (seed, e); crop, flip and mask draw from a generator seeded
    by (seed, k). DDP ranks read disjoint positions (k·world + rank), so they see
    different images and different random draws.
    """

    def __init__(self, files: Sequence[Path], size: int, masks, seed: int) -> None:
        super().__init__(files, size, masks, seed)
        self._perm: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:  # positions are unbounded; the sampler chooses which to read
        return 2**62

    def _file(self, position: int) -> Path:
        epoch, index = divmod(position, len(self.files))
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, epoch, 1]).permutation(len(self.files)))
        return self.files[self._perm[1][index]]

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, position, 2])
        skipped = 0
        path = self._file(position)
        while True:
            try:
                image = read_rgb(path)
                break
            except PconvError:  # a file that failed to decode: count it and read another one
                skipped += 1
                if skipped >= 100:
                    raise PconvError(f"100 training images in a row failed to decode, the last {path}") from None
                path = self.files[int(rng.integers(len(self.files)))]
        crop = random_crop(image, self.size, rng)
        sample = _sample(crop, self.masks.sample(rng, (self.size, self.size)))
        sample["skipped"] = torch.tensor(skipped)
        return sample


class ValSet(_Images):
    """Fixed validation pairs: centre crop of image i with a mask chosen and placed by a generator seeded (seed, i)."""

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, i, 3])
        image = center_crop(read_rgb(self.files[i]), self.size)
        return _sample(image, self.masks.sample(rng, (self.size, self.size)))


class Positions(torch.utils.data.Sampler):
    """Sampler yielding positions start·world + rank, (start+1)·world + rank, … for ``count`` samples."""

    def __init__(self, start: int, count: int, rank: int = 0, world: int = 1) -> None:
        self.start, self.count, self.rank, self.world = start, count, rank, world

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        for k in range(self.start, self.start + self.count):
            yield k * self.world + self.rank


def to_device(
    batch: dict[str, torch.Tensor], device: torch.device, memory_format: torch.memory_format = torch.contiguous_format
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images and bool masks of a batch -> float image N×3×H×W in [0, 1], mask N×1×H×W (1 = valid)."""
    image = batch["image"].to(device, non_blocking=True).float().div_(255.0)
    mask = batch["mask"].to(device, non_blocking=True).float()
    return image.contiguous(memory_format=memory_format), mask.contiguous(memory_format=memory_format)
