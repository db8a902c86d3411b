import errno
import os
import sys
from pathlib import Path

import pytest

from pconv_cli.errors import PconvError
from pconv_cli.files import atomic_write, release_stdout, write_stdout


def test_atomic_write_gives_files_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "out.bin", lambda tmp: open(tmp, "wb").write(b"x"))
    finally:
        os.umask(old)
    assert (tmp_path / "out.bin").read_bytes() == b"x"
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_takes_a_name_near_the_file_system_limit(tmp_path):
    target = tmp_path / ("é" * 60 + "x" * 126 + ".png")  # 250 bytes: legal, but not with a suffix added
    assert len(target.name.encode()) == 250
    atomic_write(target, lambda tmp: open(tmp, "wb").write(b"ok"))
    assert target.read_bytes() == b"ok" and [p.name for p in tmp_path.iterdir()] == [target.name]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names there are Unicode, not bytes")
def test_atomic_write_takes_a_name_that_is_no_valid_utf8(tmp_path):
    target = tmp_path / os.fsdecode(b"caf\xe9.png")  # Latin-1, as names from old archives are
    atomic_write(target, lambda tmp: open(tmp, "wb").write(b"ok"))  # was a UnicodeEncodeError traceback
    assert target.read_bytes() == b"ok" and os.listdir(os.fsencode(tmp_path)) == [b"caf\xe9.png"]


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("PytorchStreamWriter failed writing file data/0")],
)
def test_atomic_write_turns_a_full_disk_into_one_line_and_leaves_nothing(tmp_path, failure):
    def write(tmp):
        Path(tmp).write_bytes(b"half")
        raise failure

    with pytest.raises(PconvError, match=r"cannot write .*out\.bin: (No space left|PytorchStreamWriter)"):
        atomic_write(tmp_path / "out.bin", write)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PconvError, match="cannot write"):  # a folder that is not there: mkstemp fails
        atomic_write(tmp_path / "missing" / "out.bin", write)
    with pytest.raises(ValueError):  # anything else is not the disk's fault: it passes through
        atomic_write(tmp_path / "out.bin", lambda tmp: int("x"))
    assert list(tmp_path.iterdir()) == []


def _full_disk(monkeypatch, free: int) -> None:
    """shutil.disk_usage reports ``free`` bytes left, as on a full disk."""
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - free, free))


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        # torch.save's writer on a full disk: its errno is lost, the free space tells
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),
    ],
)
def test_a_full_disk_names_the_folder_and_the_space_needed_and_keeps_the_old_file(tmp_path, monkeypatch, failure):
    (tmp_path / "last.pt").write_bytes(b"the previous checkpoint")

    def write(tmp):
        Path(tmp).write_bytes(b"half")
        raise failure

    _full_disk(monkeypatch, free=3_000)
    with pytest.raises(PconvError) as info:
        atomic_write(tmp_path / "last.pt", write, size=120_000_000)
    assert str(info.value) == (
        f"cannot write {tmp_path / 'last.pt'}: No space left on device; {tmp_path} needs about 120 MB free "
        "for it, and has 3 kB (the previous last.pt is kept)"
    )
    assert info.value.exit_code == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"] and (tmp_path / "last.pt").read_bytes() == (
        b"the previous checkpoint"
    )


def test_a_writer_error_with_room_to_spare_is_not_called_a_full_disk(tmp_path, monkeypatch):
    def write(tmp):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598\nmore")

    _full_disk(monkeypatch, free=10**9)
    with pytest.raises(PconvError) as info:
        atomic_write(tmp_path / "new.pt", write, size=1_000)
    assert str(info.value) == f"cannot write {tmp_path / 'new.pt'}: [enforce fail at inline_container.cc:672] . " + (
        "unexpected pos 704 vs 598"
    )
    assert list(tmp_path.iterdir()) == []


class _Trickle:
    """A raw stdout that takes at most ``step`` bytes a call (as an unbuffered pipe may)."""

    def __init__(self, step: int) -> None:
        self.step, self.got, self.flushed = step, bytearray(), False

    def write(self, data) -> int:
        part = bytes(data[: self.step])
        self.got += part
        return len(part)

    def flush(self) -> None:
        self.flushed = True


def test_stdout_short_writes_are_completed_or_reported(monkeypatch):
    data = bytes(range(256)) * 40
    trickle = _Trickle(1000)
    monkeypatch.setattr(sys, "stdout", type("Out", (), {"buffer": trickle})())
    write_stdout(data)
    assert bytes(trickle.got) == data and trickle.flushed
    monkeypatch.setattr(sys, "stdout", type("Out", (), {"buffer": _Trickle(0)})())
    with pytest.raises(OSError, match="short write to stdout: 0 of 10240"):
        write_stdout(data)


def test_a_stdout_whose_reader_left_is_released_to_the_null_device(monkeypatch):
    read_end, write_end = os.pipe()
    out = open(write_end, "w", buffering=1 << 16)
    monkeypatch.setattr(sys, "stdout", out)
    os.close(read_end)  # the reader goes away
    out.write("x" * 100)
    with pytest.raises(BrokenPipeError):
        out.flush()
    release_stdout()
    print("after", file=out, flush=True)  # what is buffered and what follows now go nowhere, quietly
    out.close()
    monkeypatch.setattr(sys, "stdout", None)
    release_stdout()  # a closed stdout (>&-): nothing to release


def test_docstring_examples():
    import doctest

    from pconv_cli import files

    assert doctest.testmod(files, raise_on_error=False).failed == 0
