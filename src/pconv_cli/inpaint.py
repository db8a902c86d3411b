"""The `pconv inpaint` batch driver: inputs, masks, outputs, skip/overwrite rules, records.

Decoding runs in a thread pool ahead of the model; images that are inpainted whole and
share a size are batched together; each output is written atomically.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import strategies
from .errors import PconvError, UsageError
from .files import atomic_write
from .images import (
    DEFAULT_MAX_PIXELS,
    FORMATS,
    IMAGE_SUFFIXES,
    SUFFIX_OF,
    Picture,
    alpha_holes,
    color_holes,
    encode_image,
    list_images,
    read_image,
    read_mask,
)
from .masks import dilate_holes, hole_ratio
from .runner import Runner

OUTPUT_TAG = "_inpainted"
STDIO = "-"
RECORD_KEYS = (
    "input", "mask", "output", "width", "height", "hole_ratio", "strategy", "groups", "seconds", "status", "error",
)  # fmt: skip


@dataclass
class Options:
    """Everything `pconv inpaint` was asked, once parsed and validated by the CLI."""

    mask: Path | None = None
    mask_color: tuple[int, int, int] | None = None
    color_tolerance: int = 0
    invert_mask: bool = False
    threshold: int = 127
    dilate: int = 0
    resize_mask: bool = False
    output: str | None = None
    format: str | None = None  # PIL format name
    overwrite: bool = False
    skip_existing: bool = False
    strategy: str = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class Source:
    """One input: a file (``path``) or stdin (``path`` None); ``rel`` names it inside its folder."""

    path: Path | None
    rel: Path
    error: str | None = None

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else STDIO


@dataclass
class Job:
    """One source on its way: where it goes, what is known of it (``record``), its pixels while alive."""

    source: Source
    output: Path | str | None = None  # a path or STDIO; None when refused before decoding
    format: str = "PNG"  # PIL name of the output format
    record: dict = field(default_factory=dict)
    picture: Picture | None = None
    holes: np.ndarray | None = None
    mask_from_alpha: bool = False
    started: float = field(default_factory=time.perf_counter)


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def discover(inputs: list[str], options: Options) -> list[Source]:
    """Expand files, folders (recursive), globs and '-' into sources, in order; missing ones carry an error."""
    out_dir = Path(options.output).resolve() if options.output not in (None, STDIO) else None
    sources: list[Source] = []
    for text in inputs:
        if text == STDIO:
            sources.append(Source(None, Path("stdin.png")))
            continue
        path = Path(text)
        if path.is_dir():
            for file in list_images(path):
                # Earlier results of this command are not inputs on a second run.
                if file.stem.endswith(OUTPUT_TAG):
                    continue
                if out_dir is not None and out_dir in file.resolve().parents:
                    continue
                sources.append(Source(file, file.relative_to(path)))
        elif not path.exists() and _is_glob(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES]
            if not files:
                sources.append(Source(path, Path(path.name), f"no image matches the pattern {text}"))
            sources.extend(Source(m, Path(m.name)) for m in files)
        elif not path.exists():
            sources.append(Source(path, Path(path.name), f"{text}: no such file or folder"))
        else:
            sources.append(Source(path, Path(path.name)))
    return sources


def _output_format(path: Path | str, options: Options) -> str:
    if options.format:
        return options.format
    if path == STDIO:
        return "PNG"  # what a pipeline can count on
    fmt = FORMATS.get(Path(path).suffix.lower().lstrip("."))
    if fmt is None:
        raise UsageError(f"cannot tell the output format of {path}; pass --format")
    return fmt


def plan_output(source: Source, options: Options, output_is_dir: bool) -> Path | str:
    """Where a source's result goes: a path or STDIO."""
    if options.output == STDIO or (options.output is None and source.path is None):
        return STDIO
    suffix = source.rel.suffix if source.rel.suffix.lower() in IMAGE_SUFFIXES else ".png"
    if options.format:
        suffix = SUFFIX_OF[options.format]
    if options.output is None:
        return source.path.with_name(f"{source.path.stem}{OUTPUT_TAG}{suffix}")  # type: ignore[union-attr]
    if output_is_dir:
        return Path(options.output) / source.rel.with_suffix(suffix)
    return Path(options.output)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def find_mask(mask_dir: Path, rel: Path) -> Path:
    """The mask for ``rel`` in ``mask_dir``: same relative folder and stem (any image suffix), else same stem."""
    for folder in dict.fromkeys((mask_dir / rel.parent, mask_dir)):
        hits = sorted(
            p
            for p in folder.glob(glob.escape(rel.stem) + ".*")
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.stem == rel.stem
        )
        if len(hits) > 1:
            raise PconvError(f"several masks match {rel}: {', '.join(p.name for p in hits)}")
        if hits:
            return hits[0]
    raise PconvError(f"no mask for {rel} in {mask_dir} (looked for {rel.with_suffix('.*')})")


def load(job: Job, options: Options, stdin: bytes | None) -> Job:
    """Decode the image and its holes (runs in a worker thread); errors go into the record."""
    source = job.source
    job.started = time.perf_counter()
    try:
        picture = read_image(stdin if source.path is None else source.path, options.max_pixels)
        size = picture.size
        mask_name = None
        if options.mask is not None:
            mask_path = options.mask
            if options.mask.is_dir():
                if source.path is None:
                    raise PconvError("a mask folder cannot be matched to stdin; pass --mask FILE")
                mask_path = find_mask(options.mask, source.rel)
            if source.path is not None and Path(mask_path).resolve() == source.path.resolve():
                raise PconvError(f"the mask for {source.path} is the image itself (is --mask the input folder?)")
            mask_name = str(mask_path)
            holes = read_mask(
                mask_path, size, options.invert_mask, options.threshold, options.resize_mask, options.max_pixels
            )
        elif options.mask_color is not None:
            mask_name = "colour " + "".join(f"{c:02x}" for c in options.mask_color)
            holes = color_holes(picture, options.mask_color, options.color_tolerance)
        elif picture.has_alpha:
            mask_name, job.mask_from_alpha = "alpha", True
            holes = alpha_holes(picture, options.threshold)
        else:
            raise PconvError("no mask: the image has no alpha channel; pass --mask or --mask-color")
        if options.dilate:
            holes = dilate_holes(holes, options.dilate)
        holes = np.ascontiguousarray(holes)
        ratio = hole_ratio(holes)
        job.record.update(mask=mask_name, width=size[1], height=size[0], hole_ratio=round(ratio, 6))
        if ratio == 1.0:
            raise PconvError("the mask covers the whole image: there is nothing to fill the holes from")
        if ratio > 0.0:
            picture.data = None  # the file's bytes serve only an image left unchanged
        job.picture, job.holes = picture, holes
    except PconvError as exc:
        job.record.update(status="failed", error=str(exc))
    except Exception as exc:  # a decoder's surprise on a hostile file is still one input's failure
        job.record.update(
            status="failed", error=f"cannot read {source.name}: {type(exc).__name__}: {exc}".splitlines()[0]
        )
    return job


class Driver:
    """Plans outputs, then decodes, inpaints and writes each job, yielding one record per source."""

    def __init__(self, runner: Runner, options: Options) -> None:
        self.run, self.options = runner, options
        self.scale = runner.scale

    def plan(self, sources: list[Source], several: bool = False) -> list[Job]:
        """Outputs and the rules that need no decoding: missing inputs, existing outputs, replacing an input.

        ``several``: the inputs named a folder or a glob, so -o names a folder even for one image.
        """
        options = self.options
        output_is_dir = options.output not in (None, STDIO) and (
            Path(options.output).is_dir() or options.output.endswith(("/", os.sep)) or len(sources) > 1 or several
        )
        if (len(sources) > 1 or several) and options.output == STDIO:
            raise UsageError("-o - writes one image to stdout, but several inputs were given")
        if (
            output_is_dir
            and Path(options.output).suffix.lower() in IMAGE_SUFFIXES
            and not Path(options.output).is_dir()
        ):
            raise UsageError(f"-o {options.output} names a file, but several inputs were given; pass a folder")
        inputs = [s.path for s in sources if s.path is not None and s.error is None]
        if options.mask is not None and options.mask.is_file():
            inputs.append(options.mask)
        planned: set[Path] = set()
        jobs = []
        for source in sources:
            job = Job(source, record={**dict.fromkeys(RECORD_KEYS), "input": source.name})
            jobs.append(job)
            error = source.error or self._refusal(source, job, output_is_dir, inputs, planned)
            if error:
                job.record.update(status="failed", error=error)
        return jobs

    def _refusal(self, source: Source, job: Job, output_is_dir: bool, inputs: list[Path], planned: set) -> str | None:
        """Set the job's output and format, or say why it must not run; an existing output may mean 'skipped'."""
        options = self.options
        output = plan_output(source, options, output_is_dir)
        job.record["output"] = str(output)
        job.format = _output_format(output, options)
        if output != STDIO:
            output = Path(output)
            if any(_same_file(output, p) for p in inputs):
                return f"the output {output} would replace an input; choose another -o"
            if output.resolve() in planned:
                return f"the output {output} is also the output of an earlier input"
            planned.add(output.resolve())
            if output.exists() or output.is_symlink():
                if options.skip_existing:
                    job.record["status"] = "skipped"
                    return None
                if not options.overwrite:
                    return f"{output} exists (pass --overwrite, or --skip-existing to resume)"
        job.output = output
        return None

    def loaded(self, jobs: list[Job], workers: int = 2) -> Iterator[Job]:
        """Jobs in order, decoded by a thread pool a few images ahead of the consumer."""
        stdin = None
        if any(j.source.path is None and j.output is not None for j in jobs):
            stdin = sys.stdin.buffer.read()
        ahead = max(2, self.run.batch_size + 1)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
            pending: list[tuple[Job, Future | None]] = []
            todo = iter(jobs)

            def submit() -> None:
                job = next(todo, None)
                if job is not None:
                    runnable = job.output is not None
                    pending.append((job, pool.submit(load, job, self.options, stdin) if runnable else None))

            for _ in range(ahead):
                submit()
            while pending:
                job, future = pending.pop(0)
                submit()
                yield future.result() if future is not None else job

    def process(self, jobs: list[Job]) -> Iterator[dict]:
        """Inpaint and write every job; yields each finished record (completion order)."""
        group: list[Job] = []
        for job in self.loaded(jobs):
            if job.picture is None:
                yield self.finish(job)
                continue
            if not job.holes.any():  # not the record's ratio: rounded, a speck on a huge photo reads 0
                yield self.write(job, None, "unchanged")
                continue
            strategy = strategies.choose(job.picture.size, self.options.strategy, self.scale)
            job.record["strategy"] = strategy
            if strategy == "full":
                if group and (group[0].picture.size != job.picture.size or len(group) >= self.run.batch_size):
                    yield from self.flush(group)
                    group = []
                group.append(job)
                continue
            yield from self.flush(group)
            group = []
            try:
                pixels, groups = strategies.inpaint_one(job.picture, job.holes, strategy, self.run)
                if groups is not None:  # which fill each group of nearby holes got
                    job.record["groups"] = [{"box": list(g[:4]), "fill": g[4]} for g in groups]
            except self.run.backend.memory_errors:
                yield self.fail(job, f"out of memory with --strategy {strategy}; try tile or a smaller --batch-size")
                continue
            except cv2.error as exc:  # OpenCV's own out-of-memory and size limits on huge images
                yield self.fail(job, f"OpenCV failed with --strategy {strategy}: {str(exc).strip().splitlines()[-1]}")
                continue
            yield self.write(job, pixels, "ok")
        yield from self.flush(group)

    def flush(self, group: list[Job]) -> Iterator[dict]:
        if not group:
            return
        try:
            results = strategies.fill_full([j.picture for j in group], [j.holes for j in group], self.run)
        except self.run.backend.memory_errors:
            for job in group:
                yield self.fail(job, "out of memory inpainting whole; try --strategy tile or a smaller --batch-size")
            return
        for job, pixels in zip(group, results):
            yield self.write(job, pixels, "ok")

    def fail(self, job: Job, error: str) -> dict:
        job.record.update(status="failed", error=error)
        return self.finish(job)

    def write(self, job: Job, pixels: np.ndarray | None, status: str) -> dict:
        """Encode and write atomically (``pixels`` None: the input unchanged)."""
        picture, fmt = job.picture, job.format
        try:
            if pixels is None and fmt == picture.format and job.output != STDIO:
                data = picture.data
            else:
                if pixels is None:
                    pixels = picture.pixels
                else:
                    if job.mask_from_alpha:
                        pixels[job.holes, 3] = picture.max_value  # filled holes become opaque
                    # The encoder copies the pixels: free the input's first (a large photo's peak memory).
                    picture.pixels = job.holes = None
                data = encode_image(picture, pixels, fmt)
            if job.output == STDIO:
                write_stdout(data)
            else:
                path = Path(job.output)
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
            job.record.update(status=status, error=None)
        except PconvError as exc:
            job.record.update(status="failed", error=str(exc))
        except OSError as exc:
            job.record.update(status="failed", error=f"cannot write {job.output}: {exc.strerror or exc}")
        return self.finish(job)

    def finish(self, job: Job) -> dict:
        job.picture = job.holes = None  # free the pixels before the next image
        job.record["seconds"] = round(time.perf_counter() - job.started, 4)
        return dict(job.record)


def write_stdout(data: bytes) -> None:
    """All of ``data`` to stdout. An unbuffered stdout (PYTHONUNBUFFERED=1) is a raw stream whose
    write may take only part of it; a reader that went away raises OSError (BrokenPipeError)."""
    out = sys.stdout.buffer
    view = memoryview(data)
    while view:
        written = out.write(view)
        if not written:  # None (would block) or 0: the rest would never arrive
            raise OSError(f"short write to stdout: {len(data) - len(view)} of {len(data)} bytes")
        view = view[written:]
    out.flush()


def run(inputs: list[str], options: Options, runner: Runner, json_lines: bool, console, progress) -> int:
    """Process every input; JSON lines on stdout, failures and a summary on ``console`` (stderr).

    ``progress``: a rich Progress (disabled when quiet) or None for no messages but failures.
    Returns the exit code: 0 when nothing failed, else 1.
    """
    sources = discover(inputs, options)
    if not sources:
        raise UsageError("no input images found")
    driver = Driver(runner, options)
    jobs = driver.plan(sources, several=any(Path(t).is_dir() or (_is_glob(t) and not Path(t).exists()) for t in inputs))
    counts = {"ok": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    failed = []
    task = progress.add_task("inpainting", total=len(jobs)) if progress is not None else None
    for record in driver.process(jobs):
        counts[record["status"]] += 1
        if json_lines:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        if record["status"] == "failed":
            failed.append(record["input"])
            error = record["error"]
            where = "" if record["input"] in error else f"{record['input']}: "
            console.print(f"pconv: error: {where}{error}", markup=False, highlight=False, soft_wrap=True)
        elif record["status"] == "unchanged" and progress is not None:
            console.print(f"pconv: {record['input']} has no hole; copied unchanged", markup=False, highlight=False)
        if task is not None:
            progress.advance(task)
    if progress is not None:
        summary = f"pconv: {counts['ok']} inpainted, {counts['unchanged']} unchanged, {counts['skipped']} skipped"
        summary += f", {counts['failed']} failed" + (": " + ", ".join(failed) if failed else "")
        console.print(summary, markup=False, highlight=False, soft_wrap=True)
    return 1 if failed else 0
