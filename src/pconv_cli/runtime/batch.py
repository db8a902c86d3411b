"""A planned batch of image files through an Inpainter, as `pconv inpaint` runs it: each job's image
decoded ahead in threads, pushed to the Inpainter's stream (which batches what it can), its output
encoded and written atomically, and one record per job. Torch-free, as the Inpainter is."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from functools import partial

import numpy as np

from pconv_cli.choices import Strategy, Texture
from pconv_cli.errors import PconvError
from pconv_cli.imaging import inputs
from pconv_cli.imaging.defaults import DEFAULT_MAX_PIXELS, QUALITY_FORMATS, STDIO
from pconv_cli.imaging.encode import encode_image
from pconv_cli.imaging.inputs import Job
from pconv_cli.runtime.inpainter import Filled, Inpainter


class Driver:
    """Decodes, inpaints and writes each planned job, yielding one record per source.

    ``masking``, ``max_pixels``: how each image and its holes are read (``inputs.load``);
    ``strategy``, ``texture``: the Inpainter's; ``quality``: JPEG and WebP outputs' (other formats are lossless).
    A record's ``seconds`` are its image's own work: decoding, its share of the fill it was batched
    in, encoding and writing; ``elapsed`` the wall time from ``began`` to its end. An image decoded
    ahead or held for batch mates waits, and that wait is in neither its seconds nor any other's.

    Example:
        >>> from pathlib import Path
        >>> jobs = inputs.plan_jobs(inputs.discover(["photos/"]), inputs.Outputs("done/"), several=True)
        >>> for record in Driver(Inpainter(), inputs.Masking(Path("masks/"))).process(jobs):  # doctest: +SKIP
        ...     print(record["input"], record["status"], record["seconds"])
    """

    def __init__(
        self,
        inpainter: Inpainter,
        masking: inputs.Masking,
        strategy: Strategy | str = Strategy.auto,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        quality: int | None = None,
        began: float | None = None,
        texture: Texture | str = Texture.auto,
    ) -> None:
        self.inpainter, self.masking, self.strategy, self.texture = inpainter, masking, strategy, texture
        self.max_pixels, self.quality = max_pixels, quality
        self.began = time.perf_counter() if began is None else began

    def loaded(self, jobs: list[Job]) -> Iterator[Job]:
        """Jobs in order, decoded by a thread pool a few images ahead of the consumer."""
        stdin = None
        if any(j.source.path is None and j.output is not None for j in jobs):
            stdin = sys.stdin.buffer.read() if sys.stdin is not None else b""  # closed (<&-): no bytes
        decode = partial(inputs.load, masking=self.masking, max_pixels=self.max_pixels, stdin=stdin)
        return inputs.decoded_ahead(jobs, decode, ahead=max(2, self.inpainter.runner.batch_size + 1))

    def process(self, jobs: list[Job]) -> Iterator[dict]:
        """Inpaint and write every job; yields each finished record (completion order: an image the
        Inpainter's stream holds for batch mates comes after the failures and unchanged images behind it)."""
        stream = self.inpainter.stream(self.strategy, self.texture)
        for job in self.loaded(jobs):
            if job.picture is None:
                yield self.finish(job)
                continue
            for done, filled in stream.push(job, job.picture, job.holes):
                yield self.written(done, filled)
        for done, filled in stream.close():
            yield self.written(done, filled)

    def written(self, job: Job, filled: Filled) -> dict:
        """Write a job's fill, or record why it failed."""
        job.record["strategy"] = filled.strategy
        job.seconds += filled.seconds
        if filled.error is not None:
            job.record.update(status="failed", error=str(filled.error))
            return self.finish(job)
        if filled.strategy is None:  # no hole (not the record's ratio: rounded, a speck on a huge photo reads 0)
            return self.write(job, None, "unchanged")
        if filled.groups is not None:  # which fill each group of nearby holes got
            job.record["groups"] = [{"box": list(g[:4]), "fill": g[4]} for g in filled.groups]
        if filled.textures is not None:  # per group of holes: the photo's texture added, or the smooth fill kept
            job.record["texture"] = [{"box": list(g[:4]), "got": g[4]} for g in filled.textures]
        return self.write(job, filled.pixels, "ok")

    def write(self, job: Job, pixels: np.ndarray | None, status: str) -> dict:
        """Encode and write atomically (``pixels`` None: the input unchanged)."""
        picture, fmt = job.picture, job.format
        quality = self.quality if fmt in QUALITY_FORMATS else None  # PNG beside a JPEG from one folder
        started = time.perf_counter()
        try:
            if pixels is None and fmt == picture.format and job.output != STDIO:
                data = picture.data
            elif pixels is None:
                data = encode_image(picture, picture.pixels, fmt, quality)
            else:
                if job.mask_from_alpha:
                    pixels[job.holes, 3] = picture.max_value  # filled holes become opaque
                # The encoder copies the pixels: free the input's first (a large photo's peak memory).
                picture.pixels = job.holes = None
                data = encode_image(picture, pixels, fmt, quality)
            inputs.write_output(job.output, data)
            job.record.update(status=status, error=None)
        except PconvError as exc:
            job.record.update(status="failed", error=str(exc))
        except OSError as exc:
            if isinstance(exc, BrokenPipeError) and job.output == STDIO:
                raise  # stdout's reader has gone: the caller ends quietly
            job.record.update(status="failed", error=f"cannot write {job.output}: {exc.strerror or exc}")
        job.seconds += time.perf_counter() - started
        return self.finish(job)

    def finish(self, job: Job) -> dict:
        job.picture = job.holes = None  # free the pixels before the next image
        job.record.update(seconds=round(job.seconds, 4), elapsed=round(time.perf_counter() - self.began, 4))
        return dict(job.record)
