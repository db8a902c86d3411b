import pytest

from benchmarks.timing import interleaved, medians, ratio


def test_ratio_and_medians():
    times = {"slow": [2.0, 4.0, 9.0], "fast": [1.0, 1.0, 3.0]}
    assert ratio(times, "slow", "fast") == 4.0
    assert medians(times, 1000) == {"slow": 4000.0, "fast": 1000.0}
    with pytest.raises(ValueError, match="repeats"):
        interleaved({"a": lambda: None}, repeats=0)
