"""Dataset-scale inpainting on Ray Data (the ``ray`` extra): `pconv inpaint`'s folder run spread over
the processes and machines of a Ray cluster, one model per worker, GPUs where the workers have them.

``inpaint_folder`` plans every output as `pconv inpaint photos/ --mask masks/ -o out/` does (the same
names, what is never replaced, ``skip_existing``), and returns a lazy Dataset whose rows are those
plans; ``InpaintBatch`` is the callable class ``map_batches`` runs on them: each worker opens one
``Inpainter`` and runs its rows through the command's own batch (``runtime.batch.Driver``: decoding
ahead, the fill, encoding with ``quality``, the atomic write, the record), so the files are the same
bytes and a bad file fails its own row only. Workers read and write the files by path:
on a cluster the folders must be on storage every node mounts at the same path.

ray is imported only inside ``inpaint_folder``, so importing this module (or anything else of pconv)
never pulls it in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pconv_cli.choices import AUTO_DEVICE, Precision, Runtime, Strategy, Texture
from pconv_cli.imaging import inputs
from pconv_cli.imaging.defaults import DEFAULT_MAX_PIXELS, FORMAT_LIST, FORMATS, QUALITY_FORMATS, STDIO
from pconv_cli.imaging.encode import check_quality
from pconv_cli.imaging.images import own_pixel_limit
from pconv_cli.imaging.inputs import RECORD_KEYS, Job, Masking, Outputs, Source
from pconv_cli.runtime.batch import Driver
from pconv_cli.runtime.inpainter import Inpainter

if TYPE_CHECKING:
    import ray.data

# A planned row: the source (path, rel), its output and PIL format, whether it is to be filled
# ("todo": False when refused or skipped, with status and error saying so). Absent text is "",
# not None, so that every block of the Dataset has one string type per column.
PLAN_KEYS = ("input", "path", "rel", "output", "format", "todo", "status", "error")


def plan_rows(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """The rows of ``imaging.inputs.plan_jobs``'s jobs, as ``InpaintBatch`` takes them back.

    Example:
        >>> [row] = plan_rows(inputs.plan_jobs([Source(Path("a.png"), Path("a.png"))], Outputs("out/")))
        >>> row["output"], row["format"], row["todo"]
        ('out/a.png', 'PNG', True)
    """
    rows = []
    for job in jobs:
        record, source = job.record, job.source
        row = dict(input=record["input"], path=str(source.path), rel=str(source.rel), output=record["output"])
        row.update(format=job.format, todo=job.output is not None, status=record["status"], error=record["error"])
        rows.append({key: "" if value is None else value for key, value in row.items()})
    return rows


def _job(row: dict[str, Any]) -> Job:
    """A planned row as the job ``plan_jobs`` made of it."""
    record = {**dict.fromkeys(RECORD_KEYS), **{key: row[key] or None for key in ("input", "output", "status", "error")}}
    output = Path(row["output"]) if row["todo"] else None
    return Job(Source(Path(row["path"]), Path(row["rel"])), output, str(row["format"]), record)


class InpaintBatch:
    """The callable class of ``Dataset.map_batches``: one Inpainter per Ray worker (opened once, in
    ``__init__``), then each batch of planned rows (``plan_rows``) through `pconv inpaint`'s
    ``runtime.batch.Driver`` (decoded, filled, encoded and written atomically), one record per row.

    Args:
        weights, device, precision, runtime, batch_size, blend: the Inpainter's (``device="auto"``
            takes the GPU Ray gave the worker, where it asked for ``num_gpus``).
        strategy: how each image meets the network's scale ("auto", "full", "tile", "crop", "refine").
        texture: "auto" (the photo's own fine texture where the surroundings hold detail) or "none".
        masking: where each image's holes come from (``imaging.inputs.Masking``: a mask file or
            folder, a colour, else the alpha channel).
        max_pixels: refuse larger images (that row fails).
        quality: JPEG and WebP outputs' (1–100, as `pconv inpaint --quality`); other formats are lossless.

    The returned batch has the columns of `pconv inpaint --json`'s records (``RECORD_KEYS``):
    ``status`` "ok", "unchanged", "skipped" or "failed" with its one-line ``error``; ``groups`` is
    JSON text; ``seconds`` each image's own work, ``elapsed`` the wall time since this worker's model
    was loaded. A file that fails to decode, or whose mask is missing, fails its row; the others go on.

    Example:
        >>> import ray.data  # doctest: +SKIP
        >>> rows = plan_rows(inputs.plan_jobs(inputs.discover(["photos"]), Outputs("out/")))  # doctest: +SKIP
        >>> ray.data.from_items(rows).map_batches(  # doctest: +SKIP
        ...     InpaintBatch, fn_constructor_kwargs={"masking": Masking(Path("masks"))}, concurrency=2
        ... ).take_all()
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str = AUTO_DEVICE,
        precision: Precision | str = Precision.auto,
        *,
        runtime: Runtime | str = Runtime.auto,
        batch_size: int | None = None,
        blend: bool = True,
        strategy: Strategy | str = Strategy.auto,
        texture: Texture | str = Texture.auto,
        masking: Masking | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        quality: int | None = None,
    ) -> None:
        check_quality(quality, QUALITY_FORMATS[0])  # before the model loads; each output's format is its row's
        own_pixel_limit()  # this worker is pconv's own process, as the CLI's is: max_pixels is the guard
        inpainter = Inpainter(weights, device, precision, runtime=runtime, batch_size=batch_size, blend=blend)
        self.driver = Driver(
            inpainter,
            masking or Masking(),
            strategy=Strategy(strategy),
            max_pixels=max_pixels,
            quality=quality,
            texture=Texture(texture),
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Fill and write a batch of planned rows (columns ``PLAN_KEYS``, NumPy format); returns one
        record per row, in the order they finished."""
        missing = [key for key in PLAN_KEYS if key not in batch]
        if missing:
            raise ValueError(f"expected a batch with the columns {', '.join(PLAN_KEYS)}; missing {', '.join(missing)}")
        jobs = [_job({key: batch[key][i] for key in PLAN_KEYS}) for i in range(len(batch["path"]))]
        records = list(self.driver.process(jobs))
        for record in records:
            record["groups"] = json.dumps(record["groups"]) if record["groups"] is not None else None
        return {key: np.array([record[key] for record in records], dtype=object) for key in RECORD_KEYS}


def inpaint_folder(
    sources: str | Path | Sequence[str | Path],
    output: str | Path,
    mask: str | Path | Masking | None = None,
    *,
    fmt: str | None = None,
    overwrite: bool = False,
    skip_existing: bool = False,
    concurrency: int | tuple[int, int] = 1,
    num_gpus: float = 0,
    num_cpus: float = 1,
    rows_per_batch: int = 16,
    quality: int | None = None,
    **fill: Any,
) -> ray.data.Dataset:
    """A lazy Ray Dataset that inpaints the images of ``sources`` into the folder ``output``, one
    record per input (`pconv inpaint --json`'s); nothing runs until it is consumed.

    Args:
        sources: image folders (recursive), files or globs, as `pconv inpaint`'s arguments.
        output: the output folder: each image goes to the same relative path in it as `pconv inpaint
            SOURCES -o OUTPUT` would write, so a rerun with ``skip_existing`` resumes a run.
        mask: a mask file or folder (matched by relative path and stem), or a ``Masking``; None:
            each image's alpha channel.
        fmt: the format of every output, as `pconv inpaint --format` names it ("png", "jpg", "webp",
            "tif", "bmp"); None: each input's own.
        overwrite, skip_existing: what becomes of an existing output (else its row fails).
        concurrency: the number of workers (each opens one model), or (min, max) to autoscale.
        num_gpus, num_cpus: what each worker asks Ray for; with ``num_gpus`` the models run on GPUs.
        rows_per_batch: images per ``map_batches`` call.
        quality: JPEG and WebP outputs' (1–100, as `pconv inpaint --quality`); refused with a lossless
            ``fmt``; with ``fmt`` None, outputs of other formats are written losslessly without it.
        fill: ``InpaintBatch``'s keywords (weights, device, precision, runtime, batch_size, blend,
            strategy, max_pixels).

    Planning runs here, on the driver: sources are listed, outputs named, refusals and skips
    recorded; UsageError when the sources or output cannot be used at all.

    Example:
        >>> import ray  # doctest: +SKIP
        >>> ray.init()  # doctest: +SKIP
        >>> records = inpaint_folder("photos", "out", "masks", skip_existing=True).take_all()  # doctest: +SKIP
        >>> sum(r["status"] == "failed" for r in records)  # doctest: +SKIP
        0
    """
    if overwrite and skip_existing:
        raise ValueError("expected one of overwrite and skip_existing, got both")
    if rows_per_batch < 1:
        raise ValueError(f"expected rows_per_batch >= 1, got {rows_per_batch}")
    if fmt is not None and fmt.lower().lstrip(".") not in FORMATS:
        raise ValueError(f"expected fmt None or one of {FORMAT_LIST}, got {fmt!r}")
    pil_format = FORMATS[fmt.lower().lstrip(".")] if fmt is not None else None
    # Outputs named after their inputs take it where they are JPEG or WebP, as `pconv inpaint`'s do.
    check_quality(quality, pil_format or QUALITY_FORMATS[0])
    masking = mask if isinstance(mask, Masking) else Masking(Path(mask) if mask is not None else None)
    named = [str(s) for s in ([sources] if isinstance(sources, (str, Path)) else sources)]
    if STDIO in named or str(output) == STDIO:
        raise ValueError(f"expected files and folders; {STDIO} (stdin, stdout) has no place in a Dataset")
    try:  # before the listing, which may take long
        import ray.data
    except ImportError as exc:
        raise ImportError("inpaint_folder needs Ray Data (not installed): pip install 'pconv-cli[ray]'") from exc
    found = inputs.discover(named, str(output), masking.mask)
    if not found:
        raise ValueError(f"expected image files under {', '.join(named)}, found none")
    # The output is always a folder, as `pconv inpaint` makes it of a folder or a glob.
    jobs = inputs.plan_jobs(found, Outputs(str(output), pil_format, overwrite, skip_existing), masking.mask, True)
    return ray.data.from_items(plan_rows(jobs)).map_batches(
        InpaintBatch,
        fn_constructor_kwargs={"masking": masking, "quality": quality, **fill},
        batch_size=rows_per_batch,
        batch_format="numpy",
        concurrency=concurrency,
        num_gpus=num_gpus,
        num_cpus=num_cpus,
    )
