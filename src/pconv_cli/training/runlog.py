"""The record a training run keeps in its folder: metrics.jsonl, the loss-curve PNG, TensorBoard,
sample images, and its messages and progress on stderr. Rank 0 alone keeps it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from pconv_cli.files import atomic_write


def _records(path: Path) -> list[dict]:
    """The records of a metrics.jsonl; a line cut short by a killed run is left out."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class RunLog:
    """metrics.jsonl, the loss-curve PNG, TensorBoard, sample images, stderr messages and progress;
    a no-op off rank 0 (``enabled`` False)."""

    def __init__(self, out: Path, start_step: int, enabled: bool) -> None:
        self.out, self.enabled = out, enabled
        self.history: list[dict] = []
        self.tb = None
        if not enabled:
            return
        self.existing = set(out.rglob("*"))  # what ``discard`` keeps: it was there before this run wrote
        (out / "samples").mkdir(parents=True, exist_ok=True)
        path = out / "metrics.jsonl"
        if path.exists():  # a resumed run drops what was logged after its checkpoint
            self.history = [r for r in _records(path) if r.get("step", 0) <= start_step]
            text = "".join(json.dumps(r) + "\n" for r in self.history)
            atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        self._file = open(path, "a")  # noqa: SIM115 - open for the whole run
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:  # tensorboard is optional
            pass
        from pconv_cli.console import lasting_stderr_console

        self.console = lasting_stderr_console()

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, markup=False, highlight=False)

    def metrics(self, record: dict) -> None:
        if not self.enabled:
            return
        record = {k: round(v, 6) if isinstance(v, float) else v for k, v in record.items()}
        self.history.append(record)
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self.tb is not None:
            for k, v in record.items():
                if k != "step":
                    self.tb.add_scalar(k if k.startswith("val") else f"train/{k}", v, record["step"])
        from pconv_cli.training.curves import draw_loss_curve

        png = draw_loss_curve(self.history)
        atomic_write(self.out / "loss_curve.png", lambda tmp: png.save(tmp, format="PNG"))

    def image(self, relative: str, array: np.ndarray) -> None:
        from PIL import Image

        atomic_write(self.out / relative, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))

    def progress(self, start: int, total: int):
        """Context giving update(step, record, log): a rich bar on a terminal, plain lines otherwise."""
        return _Progress(self, start, total)

    def close(self) -> None:
        if self.enabled:
            self._file.close()
            if self.tb is not None:
                self.tb.close()

    def discard(self) -> None:
        """Close the record and remove every file and folder this run added to the run folder, leaving
        what was there before it (a previous run's files, the user's)."""
        self.close()
        if not self.enabled:
            return
        for path in sorted(self.out.rglob("*"), key=lambda p: len(p.parts), reverse=True):  # contents first
            if path not in self.existing:
                path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()


class _Progress:
    def __init__(self, log: RunLog, start: int, total: int) -> None:
        self.log, self.start, self.total = log, start, total
        self.bar = None
        self.window: list[dict] = []
        self.t0 = time.perf_counter()

    def __enter__(self):
        if self.log.enabled and self.log.console.is_terminal:
            from pconv_cli.console import progress_bar

            self.bar = progress_bar(self.log.console, info=True)
            self.bar.start()
            self.task = self.bar.add_task("step", total=self.total, completed=self.start, info="")
        return self

    def __call__(self, step: int, record: dict, log: bool) -> None:
        self.window.append(record)
        if self.bar is not None:
            self.bar.update(self.task, completed=step, info=f"loss {record['loss']:.4f}  {record['img_s']:.1f} img/s")
        if not log:
            return
        mean = {k: sum(r[k] for r in self.window) / len(self.window) for k in record if k not in ("step", "lr")}
        mean |= {"step": step, "lr": record["lr"]}
        mean["skipped_images"] = sum(r.get("skipped_images", 0) for r in self.window)
        self.window = []
        self.log.metrics(mean)
        if self.bar is None:
            done = step - self.start
            rate = (time.perf_counter() - self.t0) / max(done, 1)
            eta = int(rate * (self.total - step))
            self.log.message(
                f"step {step}/{self.total}  loss {mean['loss']:.4f}  {mean['img_s']:.1f} img/s  "
                f"data wait {mean['data_wait']:.0%}  eta {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}"
            )

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
