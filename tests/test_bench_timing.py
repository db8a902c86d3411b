import pytest

from benchmarks.timing import interleaved, medians, ratio


def test_interleaved_rotates_order_and_counts_calls():
    calls = []
    times = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}


def test_ratio_and_medians():
    times = {"slow": [2.0, 4.0, 9.0], "fast": [1.0, 1.0, 3.0]}
    assert ratio(times, "slow", "fast") == 4.0
    assert medians(times, 1000) == {"slow": 4000.0, "fast": 1000.0}
    with pytest.raises(ValueError, match="repeats"):
        interleaved({"a": lambda: None}, repeats=0)
