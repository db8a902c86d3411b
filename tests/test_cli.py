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


def _main(monkeypatch, capsys, *args) -> tuple[int, str]:
    """`pconv ARGS` through cli.main in this process: its exit code and stderr."""
    import signal

    from pconv_cli.cli import main

    monkeypatch.setattr(signal, "signal", lambda *a: None)  # main's SIGTERM handler: not in pytest's process
    monkeypatch.setattr(sys, "argv", ["pconv", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


@pytest.fixture
def folders(tmp_path):
    """A photo, a mask of it (a 15 % hole, away from the border: a paper bin) and a model file's name."""
    import numpy as np
    from PIL import Image

    (tmp_path / "photos").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.full((128, 128, 3), 90, np.uint8)).save(tmp_path / "photos/p.png")
    hole = np.zeros((128, 128), np.uint8)
    hole[54:74, 40:89] = 255
    Image.fromarray(hole).save(tmp_path / "masks/m.png")
    (tmp_path / "m.safetensors").write_bytes(b"never read: the runtime is refused first")
    return tmp_path


# What each command is asked for that may not be here: "{model}" a torch-only model file.
NOT_HERE = {
    "inpaint": ["inpaint", "{photos}/p.png", "--mask", "{masks}/m.png", "-o", "{out}/o.png", "--runtime", "torch"],
    "eval": ["eval", "{photos}", "--masks", "{masks}", "-w", "{model}", "--baselines", "none", "-o", "{out}"],
    "serve": ["serve", "--runtime", "torch", "--port", "0"],
}


@pytest.mark.parametrize("command", NOT_HERE)
@pytest.mark.parametrize("missing", ["torch", "cuda"])
def test_what_is_not_available_here_exits_2_in_every_command(command, missing, folders, monkeypatch, capsys):
    # One rule: an extra that is not installed and a device that is not present are both found before
    # any work, and the command or the installation must change: exit 2, as bad usage.
    import importlib.util

    import torch

    names = {"photos": folders / "photos", "masks": folders / "masks", "model": folders / "m.safetensors"}
    args = [a.format(out=folders / "out", **names) for a in NOT_HERE[command]]
    if missing == "torch":
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
        expected = "needs torch, which is not installed (pip install 'pconv-cli[torch]')"
    else:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        args += ["--device", "cuda"]
        expected = "--device cuda: CUDA is not available on this machine (try --device cpu)"
    code, err = _main(monkeypatch, capsys, *args)
    assert (code, err.count("\n")) == (2, 1) and err.startswith("pconv: error: ") and expected in err, err
    assert not (folders / "out").exists()


@pytest.mark.parametrize("missing", ["torch", "cuda", "gpus"])
def test_train_refuses_what_is_not_available_here_with_2(missing, folders, monkeypatch, capsys):
    import torch

    from pconv_cli.commands import train

    args = ["train", folders / "photos", "-o", folders / "run", "--arch", "tiny", "--steps", "1"]
    if missing == "torch":  # its modules import torch first thing: that import fails as it would without it
        import importlib

        monkeypatch.setattr(train, "command", lambda options: importlib.import_module("torch"))
        monkeypatch.setitem(sys.modules, "torch", None)
        expected = "this needs torch, which is not installed (pip install 'pconv-cli[torch]')"
    elif missing == "cuda":
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        args += ["--device", "cuda"]
        expected = "--device cuda: CUDA is not available on this machine (try --device cpu)"
    else:  # one GPU, three asked for
        for name, value in (("is_available", True), ("device_count", 1), ("current_device", 0)):
            monkeypatch.setattr(torch.cuda, name, lambda value=value: value)
        args += ["--gpus", "3"]
        expected = "--gpus 3: only 1 CUDA device(s) present"
    code, err = _main(monkeypatch, capsys, *args)
    assert (code, err) == (2, f"pconv: error: {expected}\n")
    assert not (folders / "run").exists()


def _command_words(command, words=()):
    """The words of every command and group under ``command`` (the root first), as typed after `pconv`."""
    yield words
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_words(sub, (*words, name))


def test_help_shows_no_type_for_flags_and_each_value_for_lists():
    # Typer's rich help prints a parameter's annotation: `<bool>` beside flags, `<list[str]>` beside many values.
    import typer
    from typer.testing import CliRunner

    from pconv_cli.cli import app

    helps = {}
    for words in _command_words(typer.main.get_command(app)):
        result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (words, result.output)
        helps[" ".join(words)] = result.output
    assert {"", "inpaint", "weights", "weights list", "eval"} <= set(helps)
    for words, text in helps.items():
        assert "<bool>" not in text and "<list[" not in text, (words, text)

    def row(command: str, name: str) -> str:
        """The row of the option or argument ``name`` in a command's help (its first line)."""
        return next(line for line in helps[command].splitlines() if line.strip("│* ").startswith(f"{name} "))

    assert row("inpaint", "--json").split("--json")[1].split()[0] == "One"  # the help, no type column
    assert row("inpaint", "--help").split("--help")[1].split()[:2] == ["-h", "Show"]
    assert "<auto|full|tile|crop|refine>" in row("inpaint", "--strategy")  # choices and types stay
    assert "<path>" in row("inpaint", "--mask") and "<int range>" in row("inpaint", "--dilate")
    assert "IMAGE" in row("inpaint", "IMAGE") and "<str>..." in row("inpaint", "IMAGE")
    assert "<path>..." in row("train", "FOLDER") and "<path>..." in row("export", "WEIGHTS")
    assert "<path> " in row("eval", "--weights")  # repeated, one value each time
