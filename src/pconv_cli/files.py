"""Output folders: made if missing and proven writable before any work starts."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UsageError


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
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to {what} {path}: {exc.strerror or exc}") from None
    return path
