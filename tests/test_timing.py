from pconv_cli.timing import interleaved


def test_interleaved_rotates_order_and_counts_calls():
    calls = []
    times = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}


def test_interleaving_is_fair_to_cases_under_a_changing_load():
    # A clock where each call costs 1 (fast) or 2 (slow) units times a load that grows 10x a round:
    # timed in blocks, the case timed later would pay the heavier load and lose.
    now, load = [0.0], [1.0]

    def cost(units: float):
        def run() -> None:
            now[0] += units * load[0]

        return run

    def grow() -> None:
        load[0] *= 10.0

    times = interleaved({"slow": cost(2.0), "fast": cost(1.0), "grow": grow}, repeats=3, clock=lambda: now[0])
    assert all(f < s for f, s in zip(times["fast"], times["slow"]))  # every round, whatever its load
    assert times["fast"][0] == 10.0  # the warm-up round (load 1) is not timed
