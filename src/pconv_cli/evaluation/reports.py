"""Reports of `pconv eval`: aggregation, the Table-1 layout (terminal and Markdown), JSON, comparison picture."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pconv_cli.choices import Border
from pconv_cli.files import atomic_write
from pconv_cli.imaging.masks import BINS, BORDER_MODES, bin_label

# Row blocks of the table: metric, heading, which value is best ("low", "high", "zero" = nearest 0,
# "one" = nearest 1, None = unranked).
BLOCKS = (
    ("l1", "L1 (%)", "low"),
    ("psnr", "PSNR (dB)", "high"),
    ("ssim", "SSIM", "high"),
    ("hole_psnr", "hole PSNR (dB)", "high"),
    ("seam", "seam excess (×255)", "low"),
    ("rim", "rim bias (×255)", "zero"),
    ("rim_rgb", "rim bias R/G/B", None),
    ("detail", "detail ratio (median)", "one"),
    ("perceptual", "perceptual distance", "low"),
    ("texture", "texture distance (SWD)", "low"),
    ("seconds", "s / image", "low"),
)
# Per-pair values, summarised into each cell; rim_rgb shows rim_r/g/b together. The texture
# distance has no per-pair value: it pools a cell's patches (texture.PatchStore).
PER_PAIR = (
    "l1", "psnr", "ssim", "hole_psnr", "seam", "rim", "rim_r", "rim_g", "rim_b", "detail", "perceptual", "seconds"
)  # fmt: skip
# Summarised by the median, not the mean: a flat truth makes a pair's detail ratio explode.
MEDIAN = ("detail",)
METRIC_FORMATS = {
    "l1": "{:.2f}",
    "psnr": "{:.2f}",
    "ssim": "{:.3f}",
    "hole_psnr": "{:.2f}",
    "seam": "{:+.2f}",
    "rim": "{:+.2f}",
    "detail": "{:.2f}",
    "perceptual": "{:.3f}",
    "texture": "{:.3f}",
    "seconds": "{:.3f}",
}
GOAL_ARROWS = {"low": "↓", "high": "↑", "zero": "→0", "one": "→1", None: ""}
# The paper's column marks, in its column order: N = no border, B = 50-px border.
BORDER_SHORT = {Border.none.value: "N", Border.margin.value: "B"}


def common_rows(rows: Sequence[dict], methods: Sequence[str]) -> list[dict]:
    """Rows of the pairs that every method completed, so each method is averaged over the same pairs."""
    have: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        have.setdefault((r["image"], r["mask"]), set()).add(r["method"])
    keep = {k for k, ms in have.items() if set(methods) <= ms}
    return [r for r in rows if (r["image"], r["mask"]) in keep and r["method"] in methods]


def _summary(rows: Sequence[dict]) -> dict:
    """Means (medians for MEDIAN) of PER_PAIR over rows, leaving out NaN (a pair whose hole has
    no edge has no rim or seam)."""

    def summary(key: str) -> float:
        values = np.array([r[key] for r in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        if not len(values):
            return math.nan
        return float(np.median(values) if key in MEDIAN else values.mean())

    return {"n": len(rows), **{k: summary(k) for k in PER_PAIR}}


def _best(values: Sequence[float], goal: str | None) -> float | None:
    comparable = [v for v in values if not math.isnan(v)]
    if not comparable or goal is None:
        return None
    nearest = {"zero": 0.0, "one": 1.0}
    if goal in nearest:
        return min(comparable, key=lambda v: abs(v - nearest[goal]))
    return {"low": min, "high": max}[goal](comparable)


def _text(cell: dict, metric: str) -> str:
    if metric == "rim_rgb":
        return "/".join(f"{cell[k]:+.1f}" for k in ("rim_r", "rim_g", "rim_b"))
    return METRIC_FORMATS[metric].format(cell[metric])


def aggregate(
    rows: Sequence[dict], methods: Sequence[str], texture: Callable[[list[dict]], float] | None = None
) -> dict:
    """Summaries per (method, bin, border) cell and per method overall, over the common pairs.

    ``texture`` gives the texture distance of one method's rows (NaN without it).
    """
    rows = common_rows(rows, methods)

    def cell(sel: list[dict]) -> dict:
        return {**_summary(sel), "texture": texture(sel) if texture is not None else math.nan}

    cells = []
    for method in methods:
        for low, high in BINS:
            label = bin_label(low, high)
            for border in BORDER_MODES:
                sel = [r for r in rows if r["method"] == method and r["bin"] == label and r["border"] == border]
                if sel:
                    cells.append({"method": method, "bin": label, "border": border, **cell(sel)})
    overall = {m: cell(sel) for m in methods if (sel := [r for r in rows if r["method"] == m])}
    return {"cells": cells, "overall": overall}


def write_cells_csv(path: Path, agg: dict) -> None:
    """The aggregate's cells as CSV: one row per method, bin and border mode."""
    columns = ("method", "bin", "border", "n", *PER_PAIR, "texture")

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(agg["cells"])

    atomic_write(path, write)


def _columns(cells: Sequence[dict]) -> list[tuple[str, str]]:
    present = {(c["bin"], c["border"]) for c in cells}
    order = [(bin_label(*b), border) for b in BINS for border in BORDER_SHORT]
    return [col for col in order if col in present]


def _grid(agg: dict, labels: dict[str, str]):
    """Rows of (block heading | None, method label, [(text, is_best)...]) and the column keys."""
    cells = {(c["method"], c["bin"], c["border"]): c for c in agg["cells"]}
    columns = _columns(agg["cells"])
    out = []
    for metric, heading, goal in BLOCKS:
        if metric in PER_PAIR and all(finite_or_none(c[metric]) is None for c in agg["cells"]):
            continue  # not measured in this run (the perceptual distance without torch): a note says why
        best = {}
        for col in columns:
            present = [cells[(m, *col)] for m in labels if (m, *col) in cells]
            best[col] = _best([c[metric] for c in present], goal) if goal else None
        for i, (method, label) in enumerate(labels.items()):
            entries = []
            for col in columns:
                cell = cells.get((method, *col))
                if cell is None:
                    entries.append(("–", False))
                    continue
                entries.append((_text(cell, metric), goal is not None and cell[metric] == best[col]))
            out.append((f"{heading} {GOAL_ARROWS[goal]}".rstrip() if i == 0 else None, label, entries))
    return out, columns


def _short(bin_text: str) -> str:
    """'(0.01,0.10]' -> '0.01-0.1' for narrow headers."""
    low, high = (float(v) for v in bin_text.strip("(]").split(","))
    return f"{low:g}-{high:g}"


def rich_table(agg: dict, labels: dict[str, str]):
    """The paper's Table 1 layout: bins as columns (N/B per border mode), methods as rows per metric."""
    from rich import box
    from rich.table import Table

    grid, columns = _grid(agg, labels)
    table = Table(title="pconv eval: mean per bin (best per column *)", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("", no_wrap=True)
    for b, border in columns:
        table.add_column(f"{_short(b)}\n{BORDER_SHORT[border]}", justify="right", no_wrap=True)
    for heading, label, entries in grid:
        if heading is not None:
            if table.rows:
                table.add_section()
            table.add_row(f"[bold]{heading}[/]", *[""] * len(columns))
        cells = [f"[bold green]{t}*[/]" if best else t for t, best in entries]
        table.add_row(f" {label}", *cells)
    return table


def markdown_table(agg: dict, labels: dict[str, str], pairs_note: str) -> str:
    """The same table as Markdown (best value per column in bold)."""
    grid, columns = _grid(agg, labels)
    head = ["metric", "method", *(f"{b} {BORDER_SHORT[border]}" for b, border in columns)]
    lines = [
        "# pconv eval",
        "",
        pairs_note,
        "",
        "N = holes may touch the border, B = 50-px clear border (paper Table 1). Best per column in bold.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * 2 + "---:|" * len(columns),
    ]
    for heading, label, entries in grid:
        cells = [f"**{t}**" if best else t for t, best in entries]
        lines.append("| " + " | ".join([heading or "", label, *cells]) + " |")
    return "\n".join(lines) + "\n"


def finite_or_none(obj):
    """Replace inf/NaN floats (e.g. the PSNR of an exact reconstruction) with None for strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_none(v) for v in obj]
    return obj


def write_text(path: Path, text: str) -> None:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    atomic_write(path, write)


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(finite_or_none(data), indent=1) + "\n")


def _fit(image: Image.Image, box: int) -> Image.Image:
    """``image`` scaled to fit a box×box tile, centred on grey."""
    scale = box / max(image.size)
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
    tile = Image.new("RGB", (box, box), (128, 128, 128))
    tile.paste(small, ((box - small.width) // 2, (box - small.height) // 2))
    return tile


def comparison_picture(
    path: Path, samples: Path, tags: Sequence[str], methods: Sequence[tuple[str, str]], row_labels: Sequence[str]
) -> None:
    """A PNG grid: one row per pair, columns masked input | each method | ground truth.

    ``samples/<tag>/`` holds _input.png, _truth.png and <method>.png; a missing file leaves its tile grey.
    """
    box, pad, head, side = 192, 4, 24, 120
    cols = [("_input", "input"), *methods, ("_truth", "ground truth")]
    width = side + len(cols) * (box + pad) + pad
    height = head + len(tags) * (box + pad) + pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for j, (_, label) in enumerate(cols):
        draw.text((side + pad + j * (box + pad), 6), label, fill=(0, 0, 0), font=font)
    for i, (tag, row_label) in enumerate(zip(tags, row_labels)):
        y = head + i * (box + pad)
        draw.text((6, y + box // 2 - 12), row_label, fill=(0, 0, 0), font=font)
        for j, (name, _) in enumerate(cols):
            file = samples / tag / f"{name}.png"
            if file.is_file():
                with Image.open(file) as img:
                    canvas.paste(_fit(img.convert("RGB"), box), (side + pad + j * (box + pad), y))
            else:
                draw.rectangle(
                    [side + pad + j * (box + pad), y, side + j * (box + pad) + box, y + box], fill=(128,) * 3
                )
    atomic_write(path, lambda tmp: canvas.save(tmp, format="PNG"))
