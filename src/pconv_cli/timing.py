"""Side-by-side timing: cases run in rotating order, round after round, so machine noise hits all alike.
Used by the bf16 probe of `pconv train --precision auto` (devices) and by every benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable


def interleaved(
    cases: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per call of each case: ``warmup`` untimed rounds, then ``repeats`` timed rounds.

    Each round runs every case once; the starting case rotates so that none is always first.
    Timed in blocks instead, a process that starts or stops in between decides the comparison.

    Example: ``interleaved({"a": f, "b": g}, repeats=5)["a"]`` holds five timings of ``f``.
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
            start = clock()
            cases[name]()
            times[name].append(clock() - start)
    return times
