"""The `pconv` command line: the app, each command registered from its module in `commands`, and
`main`, which turns every error into one line and an exit code.

Nothing here imports torch at module level, so `pconv --help` stays instant; each command imports
its core when it runs.
"""

from __future__ import annotations

import re
import sys
from functools import partial

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from pconv_cli import __version__
from pconv_cli.commands import evaluate, export, inpaint, make_masks, serve, train, weights
from pconv_cli.errors import PconvError, Unavailable


def _type_column(param: TyperArgument | TyperOption, ctx: typer.Context) -> str | None:
    """What `--help` shows in a parameter's type column: nothing for a flag, and for a list its items'
    type, with "..." where one argument takes many words: `<path>...`, not Typer's `<list[Path]>`."""
    if isinstance(param, TyperOption) and param.is_flag:
        return None
    shown = type(param).display_type_rich(param, ctx)
    if shown is None or not shown.startswith("<list["):
        return shown
    items = shown[len("<list[") : -len("]>")]
    items = items if param.type_descriptor.is_choice else items.lower()  # `<path>`, as Typer shows one Path
    return f"<{items}>" + ("..." if isinstance(param, TyperArgument) else "")  # an option repeats instead


def _typed(params: list) -> list:
    """``params``, each to show `_type_column` in the help in place of Typer's annotation."""
    for param in params:
        if isinstance(param, (TyperArgument, TyperOption)):
            param.display_type_rich = partial(_type_column, param)
    return params


class _Group(TyperGroup):
    """A group whose help, and each command's it hands on, has a plain type column (`_type_column`):
    Typer 0.29's rich help prints the annotation there, `<bool>` beside every flag, and has no setting."""

    def get_params(self, ctx: typer.Context) -> list:
        return _typed(super().get_params(ctx))

    def get_command(self, ctx: typer.Context, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, _Group):  # a group types its own
            _typed(command.get_params(ctx))  # with --help, which Click adds on first use
        return command


app = typer.Typer(
    cls=_Group,
    name="pconv",
    help="Image inpainting with partial convolutions (Liu et al., ECCV 2018).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"pconv {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Fill holes in images with a partial-convolution U-Net."""


# Registered in this order, which `pconv --help` lists (the weights group last, as Typer puts groups).
app.command("inpaint")(inpaint.cli)
app.command("serve")(serve.cli)
app.add_typer(weights.app, name="weights", cls=_Group)
app.command("make-masks")(make_masks.cli)
app.command("train")(train.cli)
app.command("export")(export.cli)
app.command("eval")(evaluate.cli)


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (kill, timeout, a container stopping) ends like Ctrl-C: 130, no temp files


# The extra (pyproject.toml) that installs each optional module, as "extra: modules" lines: the
# extras' names are no choices of an option, though two are spelled as runtimes are.
_EXTRAS = """
torch: torch torchvision safetensors
onnx: onnxruntime
export: onnx onnxscript
serve: fastapi starlette uvicorn multipart python_multipart
"""
EXTRA_OF = {
    module: extra.strip()
    for extra, _, modules in (line.partition(":") for line in _EXTRAS.strip().splitlines())
    for module in modules.split()
}


# Typer's (pydantic's) words for a value outside an enum option's choices, each choice quoted:
# "Invalid value for '--strategy': Value error, 'fast' is not one of 'auto', 'full', …."
_NOT_A_CHOICE = re.compile(r"(Invalid value for .+?: )Value error, (.+ is not one of )('.*')\.")


def _plain(message: str) -> str:
    """Typer's usage message, a value outside an option's choices said plainly: "Invalid value for
    '--strategy': 'fast' is not one of auto, full, tile, crop, refine"."""
    found = _NOT_A_CHOICE.fullmatch(message)
    if found is None:
        return message
    head, value, choices = found.groups()
    return head + value + ", ".join(re.findall(r"'([^']*)'", choices))


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)  # `pconv train` installs its own: it saves last.pt first
    try:
        # Not standalone: Typer's own usage errors come here and get the same one line as ours.
        code = app(standalone_mode=False, prog_name="pconv")  # also under python -m: usage and completion
    except PconvError as exc:
        print(f"pconv: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:  # an optional extra (pyproject.toml) is not installed
        extra = EXTRA_OF.get((exc.name or "").partition(".")[0])
        if extra is None:
            raise
        print(f"pconv: error: this needs {exc.name}, which is not installed (pip install 'pconv-cli[{extra}]')",
              file=sys.stderr)  # fmt: skip
        sys.exit(Unavailable.exit_code)
    except OSError as exc:  # the system refused something no command checks for: still one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pconv: error: {exc.strerror or exc}{where}", file=sys.stderr)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        print("pconv: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # a bad or missing option or argument
        message = _plain(exc.format_message())
        if message:  # empty: no arguments at all, and the help has been shown
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            print(f"pconv: error: {message}{hint}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
