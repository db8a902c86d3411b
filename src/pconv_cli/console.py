"""The progress bar every command draws on stderr: one look, shown only on a terminal; and the stderr
console of a training run."""

from __future__ import annotations


def progress_bar(console, rate: str | None = None, info: bool = False, transient: bool = False):
    """A rich Progress: description, bar, done/total, then ``rate`` per second of the given unit
    (e.g. "img/s") and a free ``info`` field (``task.fields['info']``) when asked, and the time left.

    Disabled when ``console`` is not a terminal, so logs and pipes get no bar lines.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:.2f} {rate}" if task.speed else f"… {rate}")

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if rate:
        columns.append(Rate())
    if info:
        columns.append(TextColumn("{task.fields[info]}"))
    columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=transient, disable=not console.is_terminal)


def lasting_stderr_console():
    """A rich Console on stderr that goes quiet when stderr's reader goes away (``pconv train … 2>&1 |
    head``) instead of exiting as rich does: a training run keeps going and saving its checkpoints."""
    import os
    import sys

    from rich.console import Console

    class Lasting(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stderr.fileno())  # what is still buffered, and later warnings, go nowhere
            os.close(devnull)

    return Lasting(stderr=True, soft_wrap=True)  # one message, one line: a log is read with grep
