"""Mask sets: masks drawn into hole-ratio bins and border modes by a pool of workers, written with
their manifest.csv (`pconv make-masks`), and the hole-ratio statistics of a mask folder.

Mask i of a run is drawn from the stream (seed, i) alone, so the files do not depend on the
number of workers or the order they finish in; PNGs come from the reproducible encoder in
`png.py`, so the same arguments give byte-identical files on any machine.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pconv_cli.choices import Border, MaskStyle
from pconv_cli.errors import PconvError, UsageError
from pconv_cli.files import atomic_write, writable_folder
from pconv_cli.imaging.maskgen import count_window, generate, seeded_draw
from pconv_cli.imaging.masks import (
    BINS,
    BORDER_MODES,
    PAPER_RANGE,
    bin_index,
    bin_label,
    border_mode,
    hole_ratio,
    margin_for,
)
from pconv_cli.imaging.png import encode_gray
from pconv_cli.signals import ignore_stop_signals

MANIFEST = "manifest.csv"
COLUMNS = ("file", "hole_ratio", "bin", "border", "generator", "seed", "index")


@dataclass(frozen=True)
class Group:
    """Masks sharing a hole-ratio range and a border mode; ``prefix`` starts their file names."""

    low: float
    high: float
    border: str  # a Border value ("margin" or "none"): it goes into file names and the manifest
    prefix: str
    count: int


def _percent(value: float) -> str:
    return f"{value * 100:05.2f}".rstrip("0").rstrip(".")


def plan(count: int, ratio: tuple[float, float] | None, paper_bins: bool, border: Border | str) -> list[Group]:
    """Split ``count`` masks into groups: the six paper bins (equal shares, the first groups take
    the remainder) or one ratio range, times the border modes. Names sort group by group."""
    if count < 1:
        raise UsageError(f"--count must be at least 1, got {count}")
    borders = BORDER_MODES if border == Border.both else (Border(border).value,)
    if paper_bins:
        ranges = [(low, high, f"b{i}_{_percent(low)}-{_percent(high)}") for i, (low, high) in enumerate(BINS)]
    else:
        low, high = ratio or PAPER_RANGE
        ranges = [(low, high, f"r{_percent(low)}-{_percent(high)}")]
    keys = [(low, high, f"{name}_{mode}", mode) for low, high, name in ranges for mode in borders]
    share, extra = divmod(count, len(keys))
    return [Group(low, high, mode, prefix, share + (i < extra)) for i, (low, high, prefix, mode) in enumerate(keys)]


def check_feasible(groups: list[Group], size: tuple[int, int]) -> None:
    """UsageError if some group's ratio range cannot be met at this size and border mode."""
    height, width = size
    total = height * width
    for group in groups:
        cmin, cmax = count_window(group.low, group.high, total)
        margin = margin_for(size) if group.border == Border.margin else 0
        room = max(height - 2 * margin, 0) * max(width - 2 * margin, 0)
        if cmin > cmax:
            raise UsageError(
                f"no {width}×{height} mask has a hole ratio in ({group.low}, {group.high}]: the range is narrower "
                "than one pixel"
            )
        if cmin > room:
            raise UsageError(
                f"a {width}×{height} mask with a {margin}-px clear border cannot have a hole ratio above "
                f"{room / total:.3f}, but the range ({group.low}, {group.high}] needs more"
            )


@dataclass(frozen=True)
class Task:
    index: int
    group: Group
    name: str


def _tasks(groups: list[Group]) -> list[Task]:
    tasks, index = [], 0
    digits = max(6, len(str(sum(g.count for g in groups) - 1)))
    for group in groups:
        for _ in range(group.count):
            tasks.append(Task(index, group, f"{group.prefix}_{index:0{digits}d}.png"))
            index += 1
    return tasks


@dataclass(frozen=True)
class Job:
    """What every worker needs besides the task (picklable)."""

    out_dir: Path
    size: tuple[int, int]
    style: MaskStyle | str
    seed: int


def _render(job: Job, task: Task) -> dict[str, str]:
    """Draw, encode and write one mask; its manifest row."""
    group = task.group
    margin = margin_for(job.size) if group.border == Border.margin else 0
    try:
        hole, generator = generate(
            job.style, job.size, (group.low, group.high), margin, seeded_draw(job.seed, task.index)
        )
    except ValueError as exc:  # a range the generator cannot reach at this size
        raise UsageError(f"{task.name}: {exc}") from None
    data = encode_gray(hole.astype(np.uint8) * np.uint8(255))
    atomic_write(job.out_dir / task.name, lambda tmp: Path(tmp).write_bytes(data))
    ratio = hole_ratio(hole)
    return {
        "file": task.name,
        "hole_ratio": f"{ratio:.6f}",
        "bin": bin_label(group.low, group.high),
        "border": group.border,
        "generator": generator,
        "seed": str(job.seed),
        "index": str(task.index),
    }


def _render_chunk(job: Job, tasks: list[Task]) -> list[dict[str, str]]:
    return [_render(job, task) for task in tasks]


def prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Create the output folder; UsageError if it is not writable or holds files (unless overwrite).
    Overwriting replaces an earlier mask set: the masks its manifest lists are removed, other files stay."""
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise UsageError(f"output folder {out_dir} is not empty; pass --overwrite to write into it anyway")
    writable_folder(out_dir, "output folder")
    if overwrite:  # kept, they would be masks the new manifest does not list, yet training and eval read
        for name in _listed_masks(out_dir):
            (out_dir / name).unlink(missing_ok=True)


def _listed_masks(out_dir: Path) -> list[str]:
    """The mask files an earlier manifest.csv in ``out_dir`` lists: plain PNG names in the folder only."""
    try:
        with open(out_dir / MANIFEST, newline="", encoding="utf-8") as f:
            names = [row.get("file") or "" for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error):  # none, or not ours: nothing is removed
        return []
    return [n for n in names if Path(n).name == n and n.endswith(".png") and (out_dir / n).is_file()]


def write_manifest(out_dir: Path, rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    atomic_write(out_dir / MANIFEST, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def make_masks(
    out_dir: Path,
    size: tuple[int, int],
    groups: list[Group],
    style: MaskStyle | str = MaskStyle.mixed,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, str]]:
    """Write every group's masks and manifest.csv into ``out_dir`` (prepared by the caller);
    returns the manifest rows in file order. ``progress(n)`` is called as masks finish.

    Interrupted (KeyboardInterrupt, which SIGTERM raises too), it stops the workers, writes
    the manifest of the masks finished so far and raises Interrupted with their count.
    """
    job = Job(out_dir, size, style, seed)
    tasks = _tasks(groups)
    rows: list[dict[str, str]] = []
    pool, futures, taken = None, [], 0
    try:
        if workers <= 1:
            for task in tasks:
                rows.append(_render(job, task))
                if progress:
                    progress(1)
        else:
            # Chunks of a few masks keep inter-process traffic low and every worker busy to the end.
            chunk = max(1, min(32, math.ceil(len(tasks) / (workers * 8))))
            pool = ProcessPoolExecutor(max_workers=workers, initializer=ignore_stop_signals)
            futures = [pool.submit(_render_chunk, job, tasks[i : i + chunk]) for i in range(0, len(tasks), chunk)]
            for future in futures:
                done = future.result()
                rows.extend(done)
                taken += 1
                if progress:
                    progress(len(done))
    except KeyboardInterrupt:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # chunks already running finish: list their masks too
            for future in futures[taken:]:
                if future.done() and not future.cancelled() and future.exception() is None:
                    rows.extend(future.result())
        rows.sort(key=lambda row: int(row["index"]))
        write_manifest(out_dir, rows)
        raise Interrupted(len(rows), len(tasks)) from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    rows.sort(key=lambda row: int(row["index"]))
    write_manifest(out_dir, rows)
    return rows


class Interrupted(KeyboardInterrupt):
    """make_masks stopped early; ``done`` of ``total`` masks are written and listed in the manifest."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(done, total)
        self.done, self.total = done, total


def contact_sheet(out_dir: Path, rows: list[dict[str, str]], path: Path, limit: int = 48, columns: int = 8) -> None:
    """A PNG grid of the first masks of every group (up to ``limit`` in all), 128 px a cell."""
    from PIL import Image

    groups: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        groups.setdefault((row["bin"], row["border"]), []).append(row["file"])
    per_group = max(1, limit // len(groups))
    files = [name for names in groups.values() for name in names[:per_group]][:limit]
    cell, gap = 128, 4
    lines = math.ceil(len(files) / columns)
    sheet = Image.new("L", (columns * (cell + gap) + gap, lines * (cell + gap) + gap), 96)
    for i, name in enumerate(files):
        with Image.open(out_dir / name) as img:
            img.thumbnail((cell, cell), Image.Resampling.BOX)
            x = gap + (i % columns) * (cell + gap) + (cell - img.width) // 2
            y = gap + (i // columns) * (cell + gap) + (cell - img.height) // 2
            sheet.paste(img, (x, y))
    atomic_write(path, lambda tmp: sheet.save(tmp, format="PNG", optimize=True))


@dataclass
class Stats:
    """Hole-ratio histogram of a mask folder: per paper bin (plus below and above), per border mode."""

    counts: dict[str, dict[str, int]]
    total: int
    unreadable: list[str]
    seconds: float


STATS_ROWS = ("≤0.01", *(bin_label(low, high) for low, high in BINS), ">0.60")


def folder_stats(folder: Path) -> Stats:
    """Read every mask under ``folder`` (white = hole) and count them per hole-ratio bin and border."""
    from pconv_cli.imaging.images import list_images, read_mask

    if not folder.is_dir():
        raise UsageError(f"--stats folder {folder} does not exist or is not a folder")
    start = time.perf_counter()
    counts = {row: dict.fromkeys(BORDER_MODES, 0) for row in STATS_ROWS}
    unreadable, total = [], 0
    for path in list_images(folder):
        try:
            hole = read_mask(path)
        except PconvError:
            unreadable.append(str(path))
            continue
        ratio = hole_ratio(hole)
        index = bin_index(ratio)
        row = STATS_ROWS[index + 1] if index is not None else (STATS_ROWS[0] if ratio <= BINS[0][0] else STATS_ROWS[-1])
        counts[row][border_mode(hole)] += 1
        total += 1
    if not total:
        raise UsageError(f"no readable mask images in {folder}")
    return Stats(counts, total, unreadable, time.perf_counter() - start)


def format_stats(stats: Stats) -> str:
    """The histogram as an aligned text table."""
    modes = "".join(f"{mode:>8}" for mode in BORDER_MODES)  # the values: margin, none
    lines = [f"{'hole ratio':<14}{'masks':>8}{modes}{'share':>8}"]
    for row, by_border in stats.counts.items():
        n = sum(by_border.values())
        counts = "".join(f"{by_border[mode]:>8}" for mode in BORDER_MODES)
        lines.append(f"{row:<14}{n:>8}{counts}{n / stats.total:>8.1%}")
    margin = sum(b[Border.margin] for b in stats.counts.values())
    lines.append(f"{'total':<14}{stats.total:>8}{margin:>8}{stats.total - margin:>8}{1:>8.1%}")
    return "\n".join(lines)
