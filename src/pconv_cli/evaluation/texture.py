"""The texture distance of `pconv eval`: a sliced Wasserstein distance (SWD, Karras et al. 2018)
between 7×7 patches of the fills and of the truths, inside the holes, on a Laplacian pyramid.

Per pair, ``sample_patches`` takes up to 400 patches per pyramid level at positions drawn from
the pair's own seed (the same positions for every method and for the truth); ``PatchStore``
keeps them beside results.csv, so that a bin's distance can pool the patches of all its pairs,
those of a resumed run included (docs/metrics.md).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pconv_cli.files import atomic_write

LEVELS = 3  # two band-pass levels and the low-pass residual
PATCH = 7
PATCHES_PER_LEVEL = 400
PROJECTIONS = 128
PROJECTION_SEED = 0


def laplacian_pyramid(image: np.ndarray, levels: int = LEVELS) -> list[np.ndarray]:
    """Laplacian pyramid of an H×W×C image (0..255) by cv2.pyrDown/pyrUp, float32.

    Level i < levels − 1 is the band G_i − pyrUp(G_{i+1}) at 1/2^i of the size; the last level
    is the low-pass residual G_{levels−1} itself.

    Example:
        >>> [level.shape for level in laplacian_pyramid(np.zeros((40, 48, 3), np.uint8))]
        [(40, 48, 3), (20, 24, 3), (10, 12, 3)]
    """
    if image.ndim != 3 or levels < 1:
        raise ValueError(f"expected an H×W×C image and levels >= 1, got shape {image.shape} and {levels}")
    gauss = [image.astype(np.float32)]
    for _ in range(levels - 1):
        smaller = cv2.pyrDown(gauss[-1])  # OpenCV drops a single channel's axis: put it back
        gauss.append(smaller.reshape(*smaller.shape[:2], image.shape[2]))
    bands = [
        g - cv2.pyrUp(smaller, dstsize=(g.shape[1], g.shape[0])).reshape(g.shape)
        for g, smaller in zip(gauss, gauss[1:])
    ]
    return [*bands, gauss[-1]]


def pair_seed(image_name: str, mask_name: str) -> int:
    """The seed of one image × mask pair's patch positions: its names, not its place in the run."""
    digest = hashlib.sha256(f"{image_name}\0{mask_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _centres(hole: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to PATCHES_PER_LEVEL hole positions of a level whose whole patch lies inside it, in raster order."""
    h, w = shape
    at = cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
    r = PATCH // 2
    inner = np.zeros_like(at)
    inner[r : h - r, r : w - r] = at[r : h - r, r : w - r]
    ys, xs = np.nonzero(inner)
    pick = np.sort(rng.choice(len(ys), size=min(PATCHES_PER_LEVEL, len(ys)), replace=False))
    return ys[pick], xs[pick]


def sample_patches(image: np.ndarray, hole: np.ndarray, seed: int) -> list[np.ndarray]:
    """Patches of ``image`` centred on hole pixels, per pyramid level: an n×(7·7·C) float32 array each.

    image: H×W×C, 0..255; hole: H×W bool, True = hole. The positions depend only on ``hole`` and
    ``seed``, so a fill and its truth give patches at the same places.
    """
    if hole.shape != image.shape[:2] or hole.dtype != bool:
        raise ValueError(f"expected an H×W bool hole map of shape {image.shape[:2]}, got {hole.dtype} {hole.shape}")
    rng = np.random.default_rng(seed)
    out = []
    r = PATCH // 2
    size = PATCH * PATCH * image.shape[2]
    for level in laplacian_pyramid(image):
        ys, xs = _centres(hole, level.shape[:2], rng)
        if not len(ys):  # a hole too small for this level, or a level smaller than a patch
            out.append(np.zeros((0, size), np.float32))
            continue
        windows = sliding_window_view(level, (PATCH, PATCH), axis=(0, 1))
        out.append(windows[ys - r, xs - r].reshape(len(ys), size))
    return out


def sliced_wasserstein(fills: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """SWD of fill patches against truth patches (same count per level), mean over levels.

    Each level is normalised by the truth patches' per-dimension mean and standard deviation (a
    dimension constant in the truth keeps its scale), projected on PROJECTIONS random unit
    directions drawn from PROJECTION_SEED, and scored as the mean absolute difference of the
    sorted projections. A level without patches is left out; NaN when every level is empty.

    Example: identical patches are at distance 0.
        >>> p = [np.arange(147.0 * 4).reshape(4, 147)] * 3
        >>> sliced_wasserstein(p, p)
        0.0
    """
    if len(fills) != len(truths) or any(f.shape != t.shape for f, t in zip(fills, truths)):
        got = [f.shape for f in fills], [t.shape for t in truths]
        raise ValueError(f"expected fill and truth patches of the same shapes per level, got {got[0]} and {got[1]}")
    rng = np.random.default_rng(PROJECTION_SEED)
    distances = []
    for fill, truth in zip(fills, truths):
        # Drawn for every level, empty or not: a level's directions never depend on another's patches.
        directions = rng.standard_normal((truth.shape[1], PROJECTIONS))
        directions /= np.linalg.norm(directions, axis=0)
        if not len(truth):
            continue
        truth, fill = truth.astype(np.float64), fill.astype(np.float64)
        mean, std = truth.mean(0), truth.std(0)
        std[std == 0] = 1.0
        a = np.sort((fill - mean) / std @ directions, axis=0)
        b = np.sort((truth - mean) / std @ directions, axis=0)
        distances.append(float(np.abs(a - b).mean()))
    return float(np.mean(distances)) if distances else math.nan


class PatchStore:
    """Sampled patches beside results.csv: ``folder/<digest>.npz`` per pair's truth and per fill.

    float16 keeps a default protocol run's patches to a few hundred kB per pair and method; the
    distance is always computed from the stored values, so a resumed run pools the same numbers.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: tuple[str, str], method: str | None) -> Path:
        """The file of ``method``'s fill of pair ``key`` (image, mask names), or of its truth (None)."""
        name = "\0".join([*key, method if method is not None else ""])
        return self.folder / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.npz"

    def save(self, key: tuple[str, str], method: str | None, levels: Sequence[np.ndarray]) -> None:
        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, *(level.astype(np.float16) for level in levels))

        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path(key, method), write)

    def load(self, key: tuple[str, str], method: str | None) -> list[np.ndarray] | None:
        """The stored levels, or None when this pair was measured before patches were kept."""
        try:
            with np.load(self.path(key, method)) as data:
                return [data[f"arr_{i}"] for i in range(len(data.files))]
        except (OSError, ValueError, KeyError):
            return None

    def pooled_distance(self, rows: Sequence[dict]) -> float:
        """The texture distance of one method over ``rows`` (its results), patches pooled over them;
        NaN when a row's patches are missing (a results file from before they were kept)."""
        fills: list[list[np.ndarray]] = [[] for _ in range(LEVELS)]
        truths: list[list[np.ndarray]] = [[] for _ in range(LEVELS)]
        for row in rows:
            key = (row["image"], row["mask"])
            fill, truth = self.load(key, row["method"]), self.load(key, None)
            if fill is None or truth is None:
                return math.nan
            for i in range(LEVELS):
                fills[i].append(fill[i])
                truths[i].append(truth[i])
        if not rows:
            return math.nan
        return sliced_wasserstein([np.concatenate(f) for f in fills], [np.concatenate(t) for t in truths])
