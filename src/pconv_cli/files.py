"""Writing files: output folders made and proven writable before any work starts, and every file
written atomically (a temporary name beside it, then a rename), so no partial file ever has a final name;
whole writes to stdout."""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from pconv_cli.errors import PconvError, UsageError, one_line


def writable_folder(path: Path, what: str) -> Path:
    """Create ``path`` (and its parents) if needed and check that files can be written in it.

    UsageError, on one line, when it names a file, lies under a file, or cannot be written
    (permissions, a read-only file system). ``what`` names it in the message.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".pconv-write-test-{os.getpid()}"
        try:
            probe.write_bytes(b"")
        finally:  # also when the write failed after creating it
            probe.unlink(missing_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to {what} {path}: {exc.strerror or exc}") from None
    return path


def atomic_write(path: Path, write, size: int | None = None) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    The file gets the permissions a plain open() would give (mkstemp's are owner-only).
    A full disk, a read-only file system and the like raise PconvError naming ``path``; no
    temporary file is left behind, and a file already at ``path`` is kept as it was. ``size``,
    about how many bytes the file takes, is the free space a full disk's message asks for.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> atomic_write(folder / "a.txt", lambda tmp: Path(tmp).write_text("done"))
        >>> [p.name for p in folder.iterdir()], (folder / "a.txt").read_text()
        (['a.txt'], 'done')
    """
    path = Path(path)
    # The name is cut so that the temporary's stays within 255 bytes when the final name is close to it.
    # (os.fsencode: a name that is no valid UTF-8, as from an old archive, still has its bytes.)
    stem = os.fsencode(path.name)[:200].decode(errors="ignore")
    # Measured before: after a failed write the space may not be back yet (torch's writer still holds
    # its file open while its error is raised).
    free = _free_space(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise PconvError(_cannot_write(path, exc, size, free)) from exc
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) or (isinstance(exc, RuntimeError) and _TORCH_WRITER.search(str(exc))):
            raise PconvError(_cannot_write(path, exc, size, free)) from exc
        raise


# torch.save's own writer (PyTorchStreamWriter, in inline_container.cc) raises RuntimeError, not OSError:
# on a full disk "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598".
_TORCH_WRITER = re.compile(r"PytorchStreamWriter|inline_container\.cc")
_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # a quota is a full disk to its user


def _free_space(folder: Path) -> int | None:
    """The bytes free for files in ``folder``; None where that cannot be known (a missing folder)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _cannot_write(path: Path, exc: BaseException, size: int | None, free: int | None) -> str:
    """One line for a failed write of ``path``; for a full disk (an OSError that says so, or torch's
    writer, which hides its errno, given less room than ``size``), the folder, the space it needs and
    the ``free`` space it had."""
    head = f"cannot write {path}"
    if isinstance(exc, OSError):
        no_space = exc.errno in _NO_SPACE
    else:
        no_space = size is not None and free is not None and free < size
    if not no_space:
        return f"{head}: {exc.strerror or exc}" if isinstance(exc, OSError) else one_line(head, exc)
    needs = f"needs about {_amount(size)} free for it, and has" if size else "has"
    kept = f" (the previous {path.name} is kept)" if path.exists() else ""
    return f"{head}: {os.strerror(errno.ENOSPC)}; {path.parent} {needs} {_amount(free)}{kept}"


def _amount(size: int | None) -> str:
    """A byte count for people, in decimal units: '950 bytes', '3 kB', '12.3 MB', '512 MB'."""
    if size is None:
        return "an unknown amount"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            value = size / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"  # never '1e+03'
    return f"{size} bytes"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """``atomic_write`` of ``data``."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_stdout(data: bytes) -> None:
    """All of ``data`` to stdout. An unbuffered stdout (PYTHONUNBUFFERED=1) is a raw stream whose
    write may take only part of it; a reader that went away raises OSError (BrokenPipeError)."""
    if sys.stdout is None:  # started with it closed (>&-)
        raise OSError(errno.EBADF, "stdout is closed")
    out = sys.stdout.buffer
    view = memoryview(data)
    while view:
        written = out.write(view)
        if not written:  # None (would block) or 0: the rest would never arrive
            raise OSError(f"short write to stdout: {len(data) - len(view)} of {len(data)} bytes")
        view = view[written:]
    out.flush()


def release_stdout() -> None:
    """Point stdout at the null device once its reader has gone (BrokenPipeError): what is still
    buffered, and whatever is printed later, then goes nowhere instead of failing again, at exit
    too, where Python would print "Exception ignored ... BrokenPipeError" (its docs' recipe)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # None, or a stream on no file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links too); False when either cannot be read."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_new_file(output: Path, sources: list[Path], overwrite: bool) -> None:
    """Refuse, before any work, an output that is a folder, lies in a missing folder, would replace
    one of its own sources, or exists without ``overwrite`` (UsageError)."""
    if output.is_dir():
        raise UsageError(f"-o {output} is a folder; name the file to write")
    if any(same_file(output, Path(s)) for s in sources):
        raise UsageError(f"-o {output} would replace one of its own sources; choose another name")
    if not output.parent.is_dir():
        raise UsageError(f"output folder does not exist: {output.parent}")
    if (output.exists() or output.is_symlink()) and not overwrite:
        raise UsageError(f"{output} exists (pass --overwrite to replace it)")
