"""Side-by-side timing: cases run in rotating order, round after round, so machine noise hits all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each case: ``warmup`` untimed rounds, then ``repeats`` timed rounds.

    Each round runs every case once; the starting case rotates so that none is always first.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"expected repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - start)
    return times


def ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """median(time[numerator]) / median(time[denominator]): > 1 means the numerator case is slower."""
    return statistics.median(times[numerator]) / statistics.median(times[denominator])


def medians(times: dict[str, list[float]], scale: float = 1.0) -> dict[str, float]:
    """Median of each case's times, multiplied by ``scale`` (e.g. 1000 / batch for ms per image)."""
    return {name: statistics.median(ts) * scale for name, ts in times.items()}
