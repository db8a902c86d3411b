"""Groups of nearby holes: hole pixels closer than S/8 join one group, which crop and refine fill
as one (a window, a fill kind, one record in ``groups``)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def reach(scale: int) -> int:
    """How far (px) a hole pixel may lie from the photo and still be filled at native resolution."""
    return max(1, scale // 8)


@dataclass(frozen=True)
class Groups:
    """Groups of nearby holes, labelled on a grid of ``cell``×``cell`` px (``grid``: 0 = no group,
    label i for group i), with each group's box (x, y, w, h) around its hole pixels at index i − 1.
    The grid is what keeps an 8000² image's grouping within a few MiB."""

    grid: np.ndarray
    cell: int
    boxes: list[tuple[int, int, int, int]]

    def member(self, label: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The pixels of a region whose cell belongs to group ``label`` (bool, region-sized)."""
        rows = np.arange(y0, y1) // self.cell
        cols = np.arange(x0, x1) // self.cell
        near = self.grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] == label
        return near[(rows - rows[0])[:, None], (cols - cols[0])[None, :]]

    def labels_of(self, pixels: np.ndarray) -> list[int]:
        """The labels of the groups holding any of these pixels (H×W bool), ascending."""
        f = self.cell
        hits = {int(v) for v in np.unique(self.grid[any_per_cell(pixels, f)])}
        return sorted(hits - {0})


def any_per_cell(a: np.ndarray, f: int) -> np.ndarray:
    """Whether each f×f cell of an H×W bool array holds a True, strip by strip (no full-size temporary)."""
    h, w = a.shape
    out = np.zeros((-(-h // f), -(-w // f)), bool)
    row = np.zeros(out.shape[1] * f, bool)
    for i in range(out.shape[0]):
        row[:w] = a[i * f : (i + 1) * f].any(axis=0)
        out[i] = row.reshape(-1, f).any(axis=1)
    return out


def group_holes(holes: np.ndarray, scale: int) -> Groups:
    """Join hole pixels closer than about S/8 into groups (8-connected, on a grid of S/32-px cells)."""
    gap = reach(scale)
    cell = max(1, gap // 4)
    grid = any_per_cell(holes, cell).view(np.uint8)
    span = -(-gap // (2 * cell))  # both sides grow: cells within 2·span cells join
    grouped = cv2.dilate(grid, np.ones((2 * span + 1, 2 * span + 1), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8, ltype=cv2.CV_32S)
    labels[grid == 0] = 0  # a group's cells are its hole cells; the joining margin is no one's
    groups = Groups(labels, cell, [])
    height, width = holes.shape
    for label in range(1, count):  # the box of the group's hole pixels
        x, y, w, h = (int(v) * cell for v in stats[label, :4])
        y1, x1 = min(y + h, height), min(x + w, width)
        inside = groups.member(label, y, y1, x, x1) & holes[y:y1, x:x1]
        ys, xs = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        groups.boxes.append((x + int(xs[0]), y + int(ys[0]), int(xs[-1] - xs[0]) + 1, int(ys[-1] - ys[0]) + 1))
    return groups
