"""`pconv serve`: its flags, its options and the server's start (the server itself is ``serve.app``)."""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import typer

from pconv_cli.choices import AUTO_DEVICE, Precision, Runtime
from pconv_cli.errors import UsageError
from pconv_cli.imaging.defaults import DEFAULT_MAX_PIXELS


@dataclass
class Options:
    """Everything `pconv serve` was asked; ``check`` refuses impossible values (UsageError)."""

    host: str = "127.0.0.1"
    port: int = 8080
    queue: int = 8
    max_upload_mb: float = 50.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    weights: Path | None = None
    runtime: Runtime = Runtime.auto
    device: str = AUTO_DEVICE
    precision: Precision = Precision.auto

    @classmethod
    def from_flags(cls, **flags) -> Options:
        options = cls(**flags)
        options.check()
        return options

    def check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port}: expected 0 (any free port) to 65535")
        if self.queue < 1:
            raise UsageError(f"--queue {self.queue}: expected at least 1")
        if not math.isfinite(self.max_upload_mb) or self.max_upload_mb < 0.001:
            raise UsageError(f"--max-upload-mb {self.max_upload_mb}: expected a size of at least 0.001 (1 KiB)")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def command(options: Options) -> int:
    """Run `pconv serve` until interrupted; returns the exit code."""
    import ipaddress
    import signal

    import uvicorn

    from pconv_cli.imaging.images import own_pixel_limit
    from pconv_cli.model.weights import DEFAULT_MODEL
    from pconv_cli.runtime.inpainter import Inpainter
    from pconv_cli.serve.app import create_app, listen

    own_pixel_limit()
    sock = listen(options.host, options.port)
    inpainter = Inpainter(options.weights, options.device, options.precision, runtime=options.runtime)
    name = options.weights.name if options.weights else DEFAULT_MODEL
    app = create_app(inpainter, options, name)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    backend = inpainter.runner.backend
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    # uvicorn stops gracefully on SIGINT and SIGTERM (a running request finishes) and then raises the
    # signal again for the handlers it found: these ask it to stop, also before it has started, so
    # a stop is an ordinary exit 0 whenever it comes.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, lambda *_: setattr(server, "should_exit", True))
    print(
        f"pconv: serving {name} ({backend.runtime} on {backend.device}) at http://{shown}:{port}/ (Ctrl-C stops)",
        flush=True,
    )
    if not ipaddress.ip_address(host).is_loopback:
        print("pconv: warning: other machines can reach this server, and it asks no one for a password", flush=True)
    server.run(sockets=[sock])
    print("pconv: server stopped", flush=True)
    return 0


def cli(
    host: str = typer.Option(Options.host, "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(Options.port, "--port", "-p", help="Port (0: any free one, printed)."),
    queue: int = typer.Option(
        Options.queue, "--queue", help="Requests waiting or running at most; more are answered 503."
    ),
    max_upload_mb: float = typer.Option(
        Options.max_upload_mb, "--max-upload-mb", help="Largest request body (413 beyond)."
    ),
    max_pixels: int = typer.Option(
        Options.max_pixels, "--max-pixels", min=1, help="Refuse images with more pixels (decompression bombs)."
    ),
    weights_file: Path | None = typer.Option(
        Options.weights,
        "--weights",
        "-w",
        help="A registered name, weights file, checkpoint or .onnx model (as inpaint).",
    ),
    runtime: Runtime = typer.Option(Options.runtime, "--runtime", help="torch or onnx; auto as for inpaint."),
    device: str = typer.Option(Options.device, "--device", help="auto, cpu, cuda, cuda:N or mps."),
    precision: Precision = typer.Option(Options.precision, "--precision", help="auto: bf16 on CUDA, fp32 elsewhere."),
) -> None:
    """Serve a page to paint masks and inpaint in the browser, and an HTTP API (needs pconv-cli\\[serve]).

    POST /api/inpaint: multipart image and mask (white = hole) in, the filled image out. GET /api/health: the model.

    Example: pconv serve --port 8080
    """
    # FastAPI is the serve extra: without it, that is the one error (cli.main), even beside a bad option.
    importlib.import_module("pconv_cli.serve.app")

    options = Options.from_flags(
        host=host, port=port, queue=queue, max_upload_mb=max_upload_mb, max_pixels=max_pixels,
        weights=weights_file, runtime=runtime, device=device, precision=precision,
    )  # fmt: skip
    raise typer.Exit(command(options))
