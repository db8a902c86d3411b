"""The training loss curve as a PNG, drawn with Pillow (no plotting dependency)."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

_SIZE = (800, 450)
_MARGIN = (70, 20, 20, 40)  # left, top, right, bottom
_SERIES = (("loss", "train loss", (31, 119, 180)), ("val_loss", "validation loss", (214, 39, 40)))


def draw_loss_curve(history: list[dict]) -> Image.Image:
    """Train and validation loss against step (log-scale loss axis) from metrics records.

    history: dicts with "step" and "loss" (train) or "val_loss" (validation).
    """
    img = Image.new("RGB", _SIZE, "white")
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = _MARGIN
    x0, y0, x1, y1 = left, top, _SIZE[0] - right, _SIZE[1] - bottom
    draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    points = {
        key: [(r["step"], r[key]) for r in history if key in r and r[key] > 0 and math.isfinite(r[key])]
        for key, _, _ in _SERIES
    }
    values = [v for series in points.values() for _, v in series]
    steps = [s for series in points.values() for s, _ in series]
    if not values:
        draw.text((x0 + 10, y0 + 10), "no losses logged yet", fill=(0, 0, 0))
        return img
    smin, smax = min(steps), max(max(steps), min(steps) + 1)
    lmin, lmax = math.log10(min(values)), math.log10(max(values))
    if lmax - lmin < 1e-6:
        lmin, lmax = lmin - 0.5, lmax + 0.5

    def xy(step: float, value: float) -> tuple[float, float]:
        x = x0 + (step - smin) / (smax - smin) * (x1 - x0)
        y = y1 - (math.log10(value) - lmin) / (lmax - lmin) * (y1 - y0)
        return x, y

    for i in range(5):  # loss-axis ticks
        level = lmin + (lmax - lmin) * i / 4
        _, y = xy(smin, 10**level)
        draw.line((x0, y, x1, y), fill=(230, 230, 230))
        draw.text((5, y - 6), f"{10**level:.3g}", fill=(0, 0, 0))
    draw.text((x0, y1 + 8), f"step {smin}", fill=(0, 0, 0))
    draw.text((x1 - 80, y1 + 8), f"step {smax}", fill=(0, 0, 0))
    legend_y = y0 + 8
    for key, label, colour in _SERIES:
        series = points[key]
        if not series:
            continue
        coords = [xy(s, v) for s, v in series]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=2)
        for x, y in coords if len(coords) < 50 else coords[-1:]:
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        draw.text((x1 - 140, legend_y), f"-- {label}", fill=colour)
        legend_y += 14
    return img
