import subprocess
import sys

import pytest

from pconv_cli import __version__


def run(*args):
    return subprocess.run([sys.executable, "-m", "pconv_cli", *args], capture_output=True, text=True)


def test_help_lists_commands_without_importing_torch():
    # `pconv --help` imports every command's module for its signature: none may load torch, or
    # NumPy, OpenCV and Pillow (a third of a second more before anything is shown).
    commands = ("inpaint", "serve", "weights", "make_masks", "train", "export", "evaluate")
    modules = ("cli", *(f"commands.{name}" for name in commands))
    probe = f"import sys, importlib; [importlib.import_module('pconv_cli.' + m) for m in {modules}]; "
    probe += "print(sorted({'torch', 'numpy', 'cv2', 'PIL'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"
    result = run("--help")
    assert result.returncode == 0
    for command in ("inpaint", "make-masks", "train", "eval"):
        assert command in result.stdout


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"pconv {__version__}"


@pytest.mark.slow
def test_usage_errors_are_one_line_with_exit_2():
    for args, message in (
        (["inpaint", "--bogus", "x.png"], "No such option: --bogus (see "),
        (["inpaint"], "Missing argument"),
        (["eval", "x", "--masks", "m", "--pairs-per-bin", "many"], "Invalid value for '--pairs-per-bin'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["inpaint", "x.png", "--runtime", "tflite"], "Invalid value for '--runtime'"),
    ):
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("pconv: error: ")
        assert message in result.stderr and "--help)" in result.stderr and "╭" not in result.stderr  # no box


def test_no_arguments_shows_the_help():
    result = run()
    assert result.returncode == 2 and "inpaint" in result.stdout and result.stderr == ""


def test_eval_help_says_it_runs_onnx_models_and_the_shipped_one_by_default():
    import os

    args = [sys.executable, "-m", "pconv_cli", "eval", "--help"]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "COLUMNS": "400"})
    weights = next(line for line in done.stdout.splitlines() if "--weights" in line)
    assert ".onnx" in weights and "(default: the shipped model)" in weights


@pytest.mark.slow
def test_shell_completion_offers_commands_options_and_choices():
    import os

    def complete(words: str, cword: int) -> list[str]:
        env = {**os.environ, "_PCONV_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        done = subprocess.run([sys.executable, "-m", "pconv_cli"], env=env, capture_output=True, text=True)
        return done.stdout.split()

    assert complete("pconv inp", 1) == ["inpaint"]
    assert complete("pconv inpaint x --run", 3) == ["--runtime"]
    assert complete("pconv inpaint x --strategy ", 4) == ["auto", "full", "tile", "crop", "refine"]


def _enum_options():
    """(command words, option, choice enum) of every enum option of every command, read off their signatures."""
    import enum
    import inspect
    import typing

    from pconv_cli.cli import app

    commands = [((c.name,), c.callback) for c in app.registered_commands]
    for group in app.registered_groups:
        commands += [((group.name, c.name), c.callback) for c in group.typer_instance.registered_commands]
    for words, callback in commands:
        for param in inspect.signature(callback, eval_str=True).parameters.values():
            kinds = [a for a in typing.get_args(param.annotation) if a is not type(None)] or [param.annotation]
            for kind in kinds:
                if isinstance(kind, type) and issubclass(kind, enum.Enum):
                    names = param.default.param_decls or ("--" + param.name.replace("_", "-"),)
                    yield words, names[0], kind


ENUM_OPTIONS = list(_enum_options())


def test_every_command_has_its_enum_options_found():
    found = {(" ".join(words), option) for words, option, _ in ENUM_OPTIONS}
    assert {("inpaint", "--strategy"), ("train", "--arch"), ("export", "--format"), ("make-masks", "--style")} <= found
    assert len(found) == 14  # with inpaint --texture


@pytest.mark.parametrize(("words", "option", "choice"), ENUM_OPTIONS, ids=lambda v: v if isinstance(v, str) else None)
def test_a_value_outside_an_options_choices_is_one_plain_line(words, option, choice, monkeypatch, capsys):
    import signal

    from pconv_cli.choices import values
    from pconv_cli.cli import main

    monkeypatch.setattr(signal, "signal", lambda *args: None)  # main's SIGTERM handler: not in pytest's process
    monkeypatch.setattr(sys, "argv", ["pconv", *words, option, "fast"])
    with pytest.raises(SystemExit) as exit_:
        main()
    command = " ".join(words)
    expected = (
        f"Invalid value for '{option}': 'fast' is not one of {', '.join(values(choice))} (see pconv {command} --help)"
    )
    assert (exit_.value.code, capsys.readouterr().err) == (2, f"pconv: error: {expected}\n")
