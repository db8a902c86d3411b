import subprocess
import sys


def test_a_worker_leaves_ctrl_c_and_sigterm_to_the_main_process():
    probe = (
        "import signal; from pconv_cli.signals import ignore_stop_signals; ignore_stop_signals(3); "
        "print(signal.getsignal(signal.SIGINT) is signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr
