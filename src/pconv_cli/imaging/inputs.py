"""Where `pconv inpaint`'s inputs come from and where their outputs go: files, folders, globs and
stdin; masks matched by name; output names, formats and the files they must never replace."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.imaging.encode import FORMATS, SUFFIX_OF
from pconv_cli.imaging.images import IMAGE_SUFFIXES, list_images

OUTPUT_TAG = "_inpainted"
STDIO = "-"


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
        raise UsageError(f"cannot tell the output format of {path}; pass --format")
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
