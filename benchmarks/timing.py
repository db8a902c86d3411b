"""Side-by-side timing: cases run in rotating order, round after round, so machine noise hits all alike."""

from __future__ import annotations

import statistics

from pconv_cli.timing import interleaved

__all__ = ["interleaved", "medians", "ratio"]


def ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """median(time[numerator]) / median(time[denominator]): > 1 means the numerator case is slower."""
    return statistics.median(times[numerator]) / statistics.median(times[denominator])


def medians(times: dict[str, list[float]], scale: float = 1.0) -> dict[str, float]:
    """Median of each case's times, multiplied by ``scale`` (e.g. 1000 / batch for ms per image)."""
    return {name: statistics.median(ts) * scale for name, ts in times.items()}
