"""Where `pconv inpaint`'s inputs come from and where their outputs go: files, folders, globs and
stdin; masks matched by name and read into holes; output names, formats and the files they must
never replace; each source's job and record, decoded ahead, and writing an output."""

from __future__ import annotations

import glob
import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.files import atomic_write_bytes, same_file, writable_folder, write_stdout
from pconv_cli.imaging.defaults import DEFAULT_THRESHOLD, FORMAT_LIST, FORMATS, STDIO, SUFFIX_OF
from pconv_cli.imaging.encode import check_depth
from pconv_cli.imaging.images import (
    IMAGE_SUFFIXES,
    Picture,
    alpha_holes,
    color_holes,
    list_images,
    read_image,
    read_mask,
)
from pconv_cli.imaging.masks import check_fillable, dilate_holes, hole_ratio

OUTPUT_TAG = "_inpainted"
T = TypeVar("T")
R = TypeVar("R")
RECORD_KEYS = (
    "input", "mask", "output", "width", "height", "hole_ratio", "strategy", "groups", "texture", "seconds", "elapsed",
    "status", "error",
)  # fmt: skip


@dataclass
class Source:
    """One input: a file (``path``) or stdin (``path`` None); ``rel`` names it inside its folder."""

    path: Path | None
    rel: Path
    error: str | None = None

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else STDIO


def is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def discover(inputs: list[str], output: str | None = None, mask: Path | None = None) -> list[Source]:
    """Expand files, folders (recursive), globs and '-' into sources, in order; missing ones carry an error.

    A folder's listing and a glob's matches leave out earlier results, the ``output`` folder and the
    ``mask`` file or folder.
    """
    out_dir = Path(output).resolve() if output not in (None, STDIO) else None
    mask_path = Path(mask).resolve() if mask is not None else None
    sources: list[Source] = []
    for text in inputs:
        if text == STDIO:
            sources.append(Source(None, Path("stdin.png")))
            continue
        path = Path(text)
        if path.is_dir():
            root = path.resolve()
            if out_dir is not None and (out_dir == root or out_dir in root.parents):
                # Files under -o are never inputs (results of an earlier run), so this folder would give none.
                raise UsageError(f"the input folder {text} is inside the output folder -o {output}; pass another -o")
            # --mask naming this very folder is left to fail per image, saying so.
            mask_dir = mask_path if mask_path != root else None
            for file in list_images(path):
                if _is_input(file, out_dir, mask_dir, mask_path):
                    sources.append(Source(file, file.relative_to(path)))
        elif not path.exists() and is_glob(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [
                m
                for m in matches
                if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES and _is_input(m, out_dir, mask_path, mask_path)
            ]
            if not files:
                sources.append(Source(path, Path(path.name), f"no image matches the pattern {text}"))
            sources.extend(Source(m, Path(m.name)) for m in files)
        elif not path.exists():
            sources.append(Source(path, Path(path.name), f"{text}: no such file or folder"))
        else:
            sources.append(Source(path, Path(path.name)))
    # A file named twice (a folder and its subfolder, overlapping globs) is one input, filled once
    # under its first name: the second would only fail as writing the first one's output.
    seen: set[Path] = set()
    unique = []
    for source in sources:
        real = source.path.resolve() if source.path is not None and source.error is None else None
        if real is None or real not in seen:
            unique.append(source)
        if real is not None:
            seen.add(real)
    return unique


def shard(sources: list[Source], k: int, n: int) -> list[Source]:
    """The ``k``-th of ``n`` parts (1-based) of ``sources``, in their order: for N workers of one
    job (a Slurm array, a Kubernetes indexed job) that each take one part of the same inputs.

    A source's part is a hash of its path inside its folder (``rel``) modulo ``n``: every process
    splits alike, whatever the order of the listing, and a file added later joins one part without
    moving any other, so outputs already written stay in the part that wrote them.

    Example:
        >>> files = [Source(Path(f"photos/{i}.png"), Path(f"{i}.png")) for i in range(6)]
        >>> sorted(len(shard(files, k, 2)) for k in (1, 2)), sum(len(shard(files, k, 3)) for k in (1, 2, 3))
        ([2, 4], 6)
    """
    if not 1 <= k <= n:
        raise ValueError(f"expected 1 <= k <= n, got k={k}, n={n}")
    # sha1, not hash(): Python salts str hashes per process, and every worker must agree
    digests = (hashlib.sha1(os.fsencode(source.rel.as_posix())).digest() for source in sources)
    return [source for source, digest in zip(sources, digests) if int.from_bytes(digest[:8], "big") % n == k - 1]


def _is_input(file: Path, out_dir: Path | None, mask_dir: Path | None, mask_path: Path | None) -> bool:
    """Whether a file found in a folder or by a glob is an input: earlier results of this command (so
    that a second run, --skip-existing too, does not fill them again), files under -o and masks are not."""
    if file.stem.endswith(OUTPUT_TAG):
        return False
    real = file.resolve()
    return real != mask_path and not any(d is not None and d in real.parents for d in (out_dir, mask_dir))


def output_format(path: Path | str, fmt: str | None) -> str:
    """The PIL format of an output: ``fmt`` if given, else from its suffix (stdout: PNG)."""
    if fmt:
        return fmt
    if path == STDIO:
        return "PNG"  # what a pipeline can count on
    fmt = FORMATS.get(Path(path).suffix.lower().lstrip("."))
    if fmt is None:
        folder = "" if Path(path).suffix else f" (a folder is named with a trailing /: {path}/)"
        raise UsageError(f"cannot tell the output format of {path}; pass --format {FORMAT_LIST}{folder}")
    return fmt


def plan_output(source: Source, output: str | None, fmt: str | None, output_is_dir: bool) -> Path | str:
    """Where a source's result goes: a path or STDIO."""
    if output == STDIO or (output is None and source.path is None):
        return STDIO
    suffix = source.rel.suffix if source.rel.suffix.lower() in IMAGE_SUFFIXES else ".png"
    if fmt:
        suffix = SUFFIX_OF[fmt]
    if output is None:
        return source.path.with_name(f"{source.path.stem}{OUTPUT_TAG}{suffix}")  # type: ignore[union-attr]
    if output_is_dir:
        return Path(output) / source.rel.with_suffix(suffix)
    return Path(output)


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


def mask_file(mask: Path, source: Source) -> Path:
    """The mask of ``source``: the file ``mask``, or its match in the folder ``mask`` (``find_mask``);
    PconvError when that is the image itself (--mask named the input folder) or a folder for stdin."""
    path = mask
    if mask.is_dir():
        if source.path is None:
            raise PconvError("a mask folder cannot be matched to stdin; pass --mask FILE")
        path = find_mask(mask, source.rel)
    if source.path is not None and Path(path).resolve() == source.path.resolve():
        raise PconvError(f"the mask for {source.path} is the image itself (is --mask the input folder?)")
    return path


def output_refusal(output: Path, inputs: list[Path], planned: set[Path], overwrite: bool) -> str | None:
    """Why ``output`` must not be written, else None: it would replace one of ``inputs``, an output
    ``planned`` earlier (it joins them) or, without ``overwrite``, an existing file."""
    if any(same_file(output, p) for p in inputs):
        return f"the output {output} would replace an input; choose another -o"
    if output.resolve() in planned:
        return f"the output {output} is also the output of an earlier input"
    planned.add(output.resolve())
    if (output.exists() or output.is_symlink()) and not overwrite:
        return f"{output} exists (pass --overwrite, or --skip-existing to resume)"
    return None


def unwritable_folders(outputs: Iterable[Path | str]) -> dict[Path, str]:
    """The folders of ``outputs`` that cannot be written, each with why. Probed at its nearest existing
    folder, so nothing is made before an image is written (one that fails to decode leaves no folder)."""
    errors = {}
    for folder in dict.fromkeys(Path(output).parent for output in outputs):
        existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        try:
            writable_folder(existing, "output folder")
        except UsageError as exc:
            errors[folder] = str(exc)
    return errors


@dataclass(frozen=True)
class Outputs:
    """Where results go (-o: a file, a folder, STDIO, or None: beside each input), in which PIL
    ``format`` (None: each output's suffix), and whether an existing output is replaced or skipped."""

    output: str | None = None
    format: str | None = None
    overwrite: bool = False
    skip_existing: bool = False

    @property
    def names_folder(self) -> bool:
        """-o is an existing folder or ends in a separator (it is also one when the inputs are several)."""
        return self.output not in (None, STDIO) and (Path(self.output).is_dir() or self.output.endswith(("/", os.sep)))


@dataclass
class Job:
    """One source on its way: where it goes, what is known of it (``record``), its pixels while alive."""

    source: Source
    output: Path | str | None = None  # a path or STDIO; None when refused before decoding
    format: str = "PNG"  # PIL name of the output format
    record: dict = field(default_factory=dict)
    picture: Picture | None = None
    holes: np.ndarray | None = None  # H×W bool, True = hole
    mask_from_alpha: bool = False
    seconds: float = 0.0  # its own work so far (decoding, filling, writing), not its waits behind others


def plan_jobs(sources: list[Source], outputs: Outputs, mask: Path | None = None, several: bool = False) -> list[Job]:
    """One job per source, its output planned by the rules that need no decoding: missing inputs,
    existing outputs, replacing an input or the ``mask`` file, unwritable folders. A refused job has
    output None and a failed record; UsageError when -o cannot take the sources at all.

    ``several``: the inputs named a folder or a glob, so -o names a folder even for one image.

    Example:
        >>> [job] = plan_jobs([Source(None, Path("stdin.png"))], Outputs())
        >>> job.output, job.format, job.record["input"]
        ('-', 'PNG', '-')
    """
    many = len(sources) > 1 or several
    output = outputs.output
    output_is_dir = outputs.names_folder or (output not in (None, STDIO) and many)
    if many and output == STDIO:
        raise UsageError("-o - writes one image to stdout, but several inputs were given")
    if output_is_dir and Path(output).suffix.lower() in IMAGE_SUFFIXES and not Path(output).is_dir():
        raise UsageError(f"-o {output} names a file, but several inputs were given; pass a folder")
    originals = [s.path for s in sources if s.path is not None and s.error is None]  # never replaced
    if mask is not None and mask.is_file():
        originals.append(mask)
    planned: set[Path] = set()
    jobs = []
    for source in sources:
        job = Job(source, record={**dict.fromkeys(RECORD_KEYS), "input": source.name})
        jobs.append(job)
        error = source.error or _refusal(job, outputs, output_is_dir, originals, planned)
        if error:
            job.record.update(status="failed", error=error)
    # Each output folder is proven writable before any decoding: a read-only one would otherwise
    # fail every image only after its fill.
    unwritable = unwritable_folders([job.output for job in jobs if job.output not in (None, STDIO)])
    for job in jobs:
        error = job.output not in (None, STDIO) and unwritable.get(Path(job.output).parent)
        if error:
            job.output = None
            job.record.update(status="failed", error=f"cannot write {job.record['output']}: {error}")
    return jobs


def _refusal(job: Job, outputs: Outputs, to_dir: bool, originals: list[Path], planned: set[Path]) -> str | None:
    """Set the job's output and format, or say why it must not run; an existing output may mean 'skipped'."""
    output = plan_output(job.source, outputs.output, outputs.format, to_dir)
    job.record["output"] = str(output)
    job.format = output_format(output, outputs.format)
    if output != STDIO:
        output = Path(output)
        error = output_refusal(output, originals, planned, outputs.overwrite or outputs.skip_existing)
        if error:
            return error
        if outputs.skip_existing and (output.exists() or output.is_symlink()):
            job.record["status"] = "skipped"
            return None
    job.output = output
    return None


@dataclass(frozen=True)
class Masking:
    """Where a source's holes come from (a mask file or folder, else a colour, else the alpha
    channel) and how they are read (``imaging.images.read_mask``'s options, and a dilation)."""

    mask: Path | None = None
    color: tuple[int, int, int] | None = None
    tolerance: int = 0
    invert: bool = False
    threshold: int = DEFAULT_THRESHOLD
    resize: bool = False
    dilate: int = 0


def read_holes(picture: Picture, source: Source, masking: Masking, max_pixels: int) -> tuple[np.ndarray, str]:
    """The H×W bool holes (contiguous) of a source's decoded picture and what they came from: the mask
    file, "colour RRGGBB" or "alpha"; PconvError when there is nothing to read them from."""
    if masking.mask is not None:
        path = mask_file(masking.mask, source)
        holes = read_mask(path, picture.size, masking.invert, masking.threshold, masking.resize, max_pixels)
        name = str(path)
    elif masking.color is not None:
        name = "colour " + "".join(f"{c:02x}" for c in masking.color)
        holes = color_holes(picture, masking.color, masking.tolerance)
    elif picture.has_alpha:
        name, holes = "alpha", alpha_holes(picture, masking.threshold)
    else:
        raise PconvError("no mask: the image has no alpha channel; pass --mask or --mask-color")
    if masking.dilate:
        holes = dilate_holes(holes, masking.dilate)
    return np.ascontiguousarray(holes), name


def load(job: Job, masking: Masking, max_pixels: int, stdin: bytes | None) -> Job:
    """Decode a planned job's image (from ``stdin``'s bytes when its source is stdin) and its holes;
    a job refused before decoding comes back as it was. Errors go into the record (status "failed"),
    so one hostile file fails alone: it runs in a worker thread (``decoded_ahead``).
    """
    source = job.source
    if job.output is None:  # refused or skipped: nothing to decode
        return job
    started = time.perf_counter()
    try:
        picture = read_image(stdin if source.path is None else source.path, max_pixels)
        check_depth(picture.pixels.dtype, job.format)  # before the fill, not after it
        holes, mask_name = read_holes(picture, source, masking, max_pixels)
        job.mask_from_alpha = masking.mask is None and masking.color is None
        ratio = hole_ratio(holes)
        job.record.update(mask=mask_name, width=picture.size[1], height=picture.size[0], hole_ratio=round(ratio, 6))
        check_fillable(holes)
        if ratio > 0.0:
            picture.data = None  # the file's bytes serve only an image left unchanged
        job.picture, job.holes = picture, holes
    except PconvError as exc:
        job.record.update(status="failed", error=str(exc))
    except Exception as exc:  # a decoder's surprise on a hostile file is still one input's failure
        error = f"cannot read {source.name}: {type(exc).__name__}: {exc}"
        job.record.update(status="failed", error=error.splitlines()[0])
    job.seconds += time.perf_counter() - started
    return job


def decoded_ahead(items: Iterable[T], decode: Callable[[T], R], ahead: int, workers: int = 2) -> Iterator[R]:
    """``decode(item)`` of each item, in order, run by ``workers`` threads up to ``ahead`` items ahead of
    the consumer (so decoding overlaps the model's work, and memory holds a few images only)."""
    todo = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        pending = deque(pool.submit(decode, item) for item in islice(todo, ahead))
        while pending:
            future = pending.popleft()
            pending.extend(pool.submit(decode, item) for item in islice(todo, 1))
            yield future.result()


def write_output(output: Path | str, data: bytes) -> None:
    """Write an output's encoded bytes: to stdout (STDIO), else atomically, making its folders."""
    if output == STDIO:
        write_stdout(data)
    else:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(Path(output), data)
