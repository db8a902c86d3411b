import signal

import pytest

from pconv_cli.errors import PconvError, Unavailable, UsageError
from pconv_cli.training.replicas import StopFlag, one_line


def test_an_error_from_another_process_comes_back_as_its_last_line():
    own = PconvError("already one line")
    assert one_line(own, "a training worker failed") is own
    trace = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
    usage = one_line(RuntimeError(trace + "pconv_cli.errors.UsageError: --size too big"), "a training worker failed")
    assert type(usage) is UsageError and str(usage) == "--size too big"
    absent = one_line(RuntimeError(trace + "pconv_cli.errors.Unavailable: --device cuda:3: only 2"), "a replica failed")
    assert type(absent) is Unavailable and absent.exit_code == 2  # as the same error in one process
    ours = one_line(RuntimeError(trace + "pconv_cli.errors.PconvError: cannot read x.png"), "loading failed")
    assert type(ours) is PconvError and str(ours) == "cannot read x.png"
    foreign = one_line(RuntimeError(trace + "ValueError: boom"), "loading training images failed")
    assert type(foreign) is PconvError and str(foreign) == "loading training images failed: ValueError: boom"
    assert str(one_line(RuntimeError(), "a training worker failed")) == "a training worker failed: RuntimeError"


def test_a_stop_signal_asks_for_a_stop_and_a_second_ctrl_c_stops_at_once():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with StopFlag() as stop:
        assert not stop.requested
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
