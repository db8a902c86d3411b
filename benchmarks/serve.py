"""(7) `pconv serve` under load on loopback: requests/s, latency, status codes and the server's
memory across rounds, with the shipped model on the CPU."""

from __future__ import annotations

import io
import re
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from .commands import _record, _skipped, pconv_command

_BOUNDARY = "pconv-bench-boundary"


def _body(side: int, seed: int) -> bytes:
    """A multipart request: a photo-like PNG of side×(3/4 side) and a mask with a 6 % blob."""
    rng = np.random.default_rng(seed)
    h = side * 3 // 4
    y, x = np.mgrid[0:h, 0:side]
    photo = np.clip(
        np.stack([x / side * 200, y / h * 180, (x + y) / (side + h) * 160], -1) + rng.normal(0, 6, (h, side, 3)) + 30,
        0,
        255,
    )
    mask = ((x - side / 2) ** 2 + (y - h / 2) ** 2 < 0.06 * side * h / np.pi) * 255
    parts = []
    for name, array in (("image", photo.astype(np.uint8)), ("mask", mask.astype(np.uint8))):
        png = io.BytesIO()
        Image.fromarray(array).save(png, "PNG")
        head = f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + png.getvalue() + b"\r\n")
    return b"".join(parts) + f"--{_BOUNDARY}--\r\n".encode()


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def _post(url: str, body: bytes) -> tuple[int, float]:
    request = urllib.request.Request(
        url, body, {"Content-Type": f"multipart/form-data; boundary={_BOUNDARY}"}, method="POST"
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0  # refused or reset: the worst outcome, counted apart
    return status, time.perf_counter() - start


def _round(url: str, body: bytes, requests: int, concurrency: int) -> dict:
    with ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        results = list(pool.map(lambda _: _post(url, body), range(requests)))
        wall = time.perf_counter() - start
    ok = sorted(t for s, t in results if s == 200)
    codes = {str(s): sum(1 for r, _ in results if r == s) for s in sorted({s for s, _ in results})}
    return {
        "answered/s": len(results) / wall,
        "filled/s": len(ok) / wall,
        "p50 s": statistics.median(ok) if ok else float("nan"),
        "p99 s": ok[min(len(ok) - 1, int(0.99 * len(ok)))] if ok else float("nan"),
        "errors": sum(1 for s, _ in results if s not in (200, 503)),
        "codes": codes,
    }


def run(quick: bool) -> list[dict]:
    """Two rounds of ``requests`` posts, ``concurrency`` at a time, against one server whose queue
    holds exactly ``concurrency``: every request should be filled, none refused (the 503 path is
    tested in tests/test_serve.py; clients here do not retry, so a smaller queue would only
    measure how fast 503s come back)."""
    requests, concurrency, side = (40, 8, 256) if quick else (200, 16, 512)
    case = f"{requests} requests, {concurrency} at a time, {side}×{side * 3 // 4} PNG, 6 % hole"
    try:
        import fastapi  # noqa: F401
    except ImportError:
        return [_skipped("serve", case, "the serve extra is not installed")]
    server = subprocess.Popen(
        pconv_command() + ["serve", "--port", "0", "--device", "cpu", "--queue", str(concurrency)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    banner: list[str] = []
    reader = threading.Thread(target=lambda: banner.append(server.stdout.readline()), daemon=True)
    reader.start()
    reader.join(120)
    try:
        found = re.search(r"at (http://\S+/) ", banner[0] if banner else "")
        if not found:
            why = server.stderr.read(400) if server.poll() is not None else "no banner in 120 s"
            return [_skipped("serve", case, f"the server did not start: {why}")]
        url = found.group(1) + "api/inpaint"
        body = _body(side, seed=1)
        _post(url, body)  # warm-up: the first fill builds the runtime's kernels
        rss = {"after warm-up": _rss_mib(server.pid)}
        first = _round(url, body, requests, concurrency)
        rss["after round 1"] = _rss_mib(server.pid)
        second = _round(url, body, requests, concurrency)
        rss["after round 2"] = _rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    notes = [f"round 1 codes {first['codes']}", f"round 2 codes {second['codes']}", f"--queue {concurrency}"]
    records = [
        _record(
            "serve", f"{case}: round {i}", "", {k: v for k, v in r.items() if k != "codes"}, {}, notes if i == 1 else []
        )
        for i, r in ((1, first), (2, second))
    ]
    rss["growth in round 2"] = rss["after round 2"] - rss["after round 1"]
    records.append(_record("serve", "server RSS", "MiB", rss, {}, []))
    return records
