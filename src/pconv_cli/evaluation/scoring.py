"""Scoring the composites of `pconv eval`: one results.csv row per pair and method, with the patches
the texture distance pools kept beside it.

A truth's VGG features and patches are made once for all the methods filling its pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pconv_cli.evaluation import perceptual, texture
from pconv_cli.evaluation.metrics import all_metrics
from pconv_cli.imaging.masks import BINS, bin_label, hole_ratio

if TYPE_CHECKING:
    from pconv_cli.evaluation.methods import Method
    from pconv_cli.evaluation.pairs import Pair

    # (pair, method, truth, hole, composite, seconds): one method's fill of one pair
    Filled = tuple[Pair, Method, np.ndarray, np.ndarray, np.ndarray, float]

PATCHES = "patches"  # the PatchStore's folder under the output folder


class Scorer:
    """Rows of composites; the perceptual distance is NaN where torch is missing (``skipped`` says why)."""

    def __init__(self, out: Path) -> None:
        self.store = texture.PatchStore(out / PATCHES)
        self.skipped = perceptual.unavailable_reason()
        self.judge = perceptual.PerceptualDistance() if self.skipped is None else None

    def rows(self, filled: Sequence[Filled], advance: Callable[[int], None]) -> list[dict]:
        """One row per composite, in the order given; ``advance(1)`` after each."""
        by_pair: dict[tuple[str, str], list[int]] = {}
        for i, (pair, *_) in enumerate(filled):
            by_pair.setdefault(pair.key, []).append(i)
        rows: list[dict] = [{} for _ in filled]
        for indices in by_pair.values():
            pair, _, gt, hole, _, _ = filled[indices[0]]
            seed = texture.pair_seed(*pair.key)
            self.store.save(pair.key, None, texture.sample_patches(gt, hole, seed))
            truth = self.judge.features(gt / 255.0) if self.judge is not None else None
            for i in indices:
                _, method, _, _, comp, seconds = filled[i]
                self.store.save(pair.key, method.name, texture.sample_patches(comp, hole, seed))
                rows[i] = _row(pair, method, gt, hole, comp, seconds)
                if truth is not None:
                    rows[i]["perceptual"] = self.judge.distance(self.judge.features(comp / 255.0), truth, hole)
                advance(1)
        return rows


def _row(pair: Pair, method: Method, gt: np.ndarray, hole: np.ndarray, comp: np.ndarray, seconds: float) -> dict:
    scores = all_metrics(comp.astype(np.float64) / 255.0, gt.astype(np.float64) / 255.0, hole)
    return {
        "image": pair.image_name,
        "mask": pair.mask.name,
        "method": method.name,
        "bin": bin_label(*BINS[pair.mask.bin]),
        "border": pair.mask.border,
        "hole_ratio": hole_ratio(hole),
        "height": gt.shape[0],
        "width": gt.shape[1],
        **scores,
        "perceptual": float("nan"),
        "seconds": seconds,
    }
