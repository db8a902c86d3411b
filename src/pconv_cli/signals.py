"""Stop signals in worker processes (torch-free: mask workers and DataLoader workers share it)."""

from __future__ import annotations

import signal


def ignore_stop_signals(*_: object) -> None:
    """Leave Ctrl-C and SIGTERM to the main process, which decides when and how to stop.

    Called in each new worker: a ``ProcessPoolExecutor`` initializer (no argument) or a
    DataLoader's ``worker_init_fn`` (the worker's id, ignored).
    """
    # Ctrl-C, `timeout` or `kill -- -PGID` reach the workers too, and a worker dying first would break
    # the pool or the loader before the main process has finished its chunk or saved its checkpoint.
    # Workers still exit when their pool or loader shuts down or the main process dies.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
