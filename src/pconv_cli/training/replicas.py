"""The processes of a training run: one per replica (this process, processes spawned on this machine,
or one of a torchrun job), their DDP process group, how a signal stops them, and how an error from
another process (a replica, a loader worker) comes back as one line."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist

from pconv_cli import errors
from pconv_cli.errors import PconvError
from pconv_cli.files import atomic_write


def under_torchrun() -> bool:
    """True in a process torchrun started: its rendezvous variables are all set."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(work: Callable[[int, object, str], dict], payload: object, world: int, out: Path) -> dict:
    """Run ``work(local_rank, payload, init_method)`` in ``world`` new processes; rank 0's result.

    That result comes back through ``out``/.summary.json (deleted once read).
    """
    import torch.multiprocessing as mp

    init = f"tcp://127.0.0.1:{_free_port()}"
    # Ctrl-C reaches every worker (same process group), which stop together at a step
    # boundary; the parent just waits. SIGTERM reaches the parent only: pass it on.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.getsignal(signal.SIGTERM)
    try:
        args = (work, payload, init, out)
        ctx = mp.start_processes(_spawned, args=args, nprocs=world, join=False, start_method="spawn")
        signal.signal(signal.SIGTERM, lambda *_: [os.kill(p.pid, signal.SIGTERM) for p in ctx.processes])
        while not ctx.join():
            pass
    except mp.ProcessRaisedException as exc:
        raise one_line(exc, "a training worker failed") from None
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    summary_path = out / ".summary.json"
    summary = json.loads(summary_path.read_text())
    summary_path.unlink()
    return summary


def _spawned(local: int, work: Callable[[int, object, str], dict], payload: object, init: str, out: Path) -> None:
    summary = work(local, payload, init)
    if local == 0:
        atomic_write(out / ".summary.json", lambda tmp: Path(tmp).write_text(json.dumps(summary)))
    # Leave without interpreter finalisation: a gloo thread still joinable in a native static
    # destructor aborted a finished replica now and then ("terminate called without an active
    # exception", SIGABRT), failing a run whose work was all saved.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@contextmanager
def process_group(device: torch.device, rank: int, world: int, init: str | None) -> Iterator[None]:
    """This replica in the run's DDP process group for the ``with`` body; nothing for one replica."""
    if world == 1:
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=init, rank=rank, world_size=world)
    try:
        yield
        # Leave together: gloo can abort a peer whose partner tears down mid-exchange.
        gc.collect()  # the trainer's DDP reducer holds the process group: free it first
        dist.barrier()
    finally:
        dist.destroy_process_group()


def one_line(exc: BaseException, what: str) -> PconvError:
    """An error from another process (a DDP replica, a loader worker), whose message carries its whole
    traceback, as the one-line error it ends with: pconv's own as it was, anything else after ``what``."""
    if isinstance(exc, PconvError) and "\n" not in str(exc).strip():
        return exc  # raised in this process: already one line
    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    kind, _, message = last.partition(": ")
    if kind.startswith("pconv_cli."):  # its class, so that the exit code is the one it has in one process
        found = getattr(errors, kind.rpartition(".")[2], None)
        return (found if isinstance(found, type) and issubclass(found, PconvError) else PconvError)(message)
    return PconvError(f"{what}: {last}")


class StopFlag:
    """SIGINT/SIGTERM ask the loop to stop at the next step boundary; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
