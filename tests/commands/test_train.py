from pathlib import Path

import pytest

from pconv_cli.choices import Arch, Precision
from pconv_cli.commands.train import NOT_RESUMED, TrainOptions
from pconv_cli.errors import UsageError


def test_from_flags_records_plain_values_and_the_flags_given():
    options = TrainOptions.from_flags(["steps"], data=[Path("a"), Path("b")], arch=Arch.tiny, steps=7)
    assert options.data == ["a", "b"] and options.arch == "tiny" and options.steps == 7
    assert options.given == frozenset({"steps"}) and "given" not in options.record()
    assert TrainOptions.from_flags(None, data=["a"], precision=Precision.bf16).precision == "bf16"


def test_a_resumed_run_takes_its_own_options_except_those_given_or_of_the_machine():
    saved = TrainOptions(data=["old"], arch="small", steps=9, lr=1e-3, device="cuda", workers=8).record()
    options = TrainOptions.from_flags(["steps"], data=["new"], steps=20, device="cpu")
    resumed = options.resumed(saved)
    assert (resumed.arch, resumed.lr, resumed.steps) == ("small", 1e-3, 20)
    assert (resumed.data, resumed.device, resumed.workers) == (["new"], "cpu", 4)
    assert {"data", "device", "workers"} <= set(NOT_RESUMED)
    assert TrainOptions(data=["x"]).resumed(saved) == TrainOptions(data=["x"])  # given None: every option typed


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(precision="fp8"), "--precision must be one of auto, fp32, bf16, fp16, got 'fp8'"),
        (dict(size=8192), "--size must be at most 4096, got 8192"),
        (dict(val="v"), "--val needs --val-masks DIR"),
        (dict(loss_weights="hole=x"), "--loss-weights: "),
    ],
)
def test_check_names_the_flag(change, message):
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        TrainOptions(data=["x"], **change).check()
