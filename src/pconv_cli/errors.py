"""User-facing errors: the CLI prints their message on one line, never a traceback."""


class PconvError(Exception):
    """An input could not be processed (exit code 1 when others still succeed)."""

    exit_code = 1


class UsageError(PconvError):
    """Bad arguments or set-up (exit code 2)."""

    exit_code = 2


class Unavailable(UsageError):
    """What the command asks for is not available here: an optional extra that is not installed, or a
    device (CUDA, MPS) this machine lacks. Exit code 2, as bad usage: it is found before any work, and
    the command (another runtime or device) or the installation must change before it can run."""


class TooManyPixels(PconvError):
    """An image or mask over the pixel limit (--max-pixels): the server answers 413 for it."""


class MaskCoversImage(PconvError, ValueError):
    """A hole map with no valid pixel (the network would fill it black): one input's failure in the
    CLI, a ValueError to code (the API's bad input), 422 from the server."""


def one_line(prefix: str, exc: BaseException) -> str:
    """``prefix: `` and the first line of ``exc``'s message (its type's name when it has none).

    Library messages can run to many lines (Pillow's, torch's); a user-facing error is one.

    Example:
        >>> one_line("cannot read a.png", OSError("truncated\\nmore detail"))
        'cannot read a.png: truncated'
    """
    text = str(exc)
    return f"{prefix}: {text.splitlines()[0] if text else type(exc).__name__}"
