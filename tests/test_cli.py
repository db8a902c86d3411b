import subprocess
import sys

from pconv_cli import __version__


def run(*args):
    return subprocess.run([sys.executable, "-m", "pconv_cli", *args], capture_output=True, text=True)


def test_help_lists_commands_without_importing_torch():
    probe = "import sys; from pconv_cli.cli import app; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"
    result = run("--help")
    assert result.returncode == 0
    for command in ("inpaint", "make-masks", "train", "eval"):
        assert command in result.stdout


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"pconv {__version__}"
