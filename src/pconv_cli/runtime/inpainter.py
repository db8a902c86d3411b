"""The Python API: ``Inpainter`` loads a model once and fills holes in arrays, PIL images or pictures.

Every way pconv fills holes goes through an Inpainter (the CLI's `inpaint` and `eval`, `pconv serve`
and calls from code): it resolves each image's strategy, batches same-size whole images, runs the
strategies' plans on the network and reports errors in one line, so they all fill alike. It is
also the one caller of a backend's ``forward`` (``run``). Nothing here imports torch: with only
the ONNX runtime installed the API works as the CLI does.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from pconv_cli.choices import AUTO_DEVICE, Precision, Runtime, Strategy, Texture, values
from pconv_cli.errors import PconvError
from pconv_cli.imaging.defaults import DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLD
from pconv_cli.imaging.images import Picture
from pconv_cli.imaging.masks import check_fillable, dilate_holes
from pconv_cli.runtime import arrays, finishing, patchmatch, strategies
from pconv_cli.runtime.runner import Backend, Runner, Work, pick_runtime

T = TypeVar("T")


@dataclass
class Filled:
    """One image's fill: its pixels (the picture's layout and integers), the strategy it got, for
    crop and refine one (x, y, w, h, fill) per group of nearby holes, and the seconds of its work (its
    share of its batch's). ``textures``: with texture auto, one (x, y, w, h, got) per group of holes
    (``finishing.add_photo_texture``). ``error``: the one-line PconvError that failed it (``pixels`` None then)."""

    pixels: np.ndarray | None
    strategy: str | None  # the resolved Strategy's value; None: no hole, the pixels are the input's
    groups: list | None = None
    seconds: float = 0.0
    error: PconvError | None = None
    textures: list | None = None


class Inpainter:
    """A model loaded once and called many times: ``inpainter(image, mask)``.

    Args:
        weights: a registered model name or a file (.safetensors, .pt, .onnx); None: the shipped default.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        precision: "auto", "fp32", "bf16" or "fp16".
        runtime: "auto", "torch" or "onnx" (auto: ONNX Runtime for the shipped model on a CPU).
        batch_size: images per network call (default 8 on a GPU, 1 on a CPU).
        blend: set each fill into its photo by a gradient-domain blend (no seam at the hole's edge).

    Example:
        >>> import numpy as np
        >>> from pconv_cli import Inpainter
        >>> inpainter = Inpainter(device="cpu")
        >>> image = np.full((64, 96, 3), 120, np.uint8)
        >>> mask = np.zeros((64, 96), bool)
        >>> mask[20:40, 30:60] = True  # True (or white) = hole
        >>> out = inpainter(image, mask)
        >>> out.shape, out.dtype, bool((out[~mask] == image[~mask]).all())
        ((64, 96, 3), dtype('uint8'), True)
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
    ) -> None:
        # True is an int to Python, not a batch size (as for the call's keywords)
        if batch_size is not None and (type(batch_size) is bool or not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"expected batch_size None or an integer >= 1, got {batch_size!r}")
        self.runner = open_runner(weights, device, precision, batch_size, blend, runtime)
        self.weights = weights

    @property
    def config(self) -> dict:
        """The model's configuration (levels, width, image_size = its working scale, …)."""
        return dict(self.runner.backend.config)

    def __call__(
        self,
        image: Any,
        mask: Any,
        *,
        strategy: Strategy | str = Strategy.auto,
        texture: Texture | str = Texture.auto,
        dilate: int = 0,
        invert_mask: bool = False,
        threshold: int = DEFAULT_THRESHOLD,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Any:
        """Fill the holes of ``image`` (or of each image of a list) and return the same type.

        Args:
            image: an H×W×3 (or H×W grey, H×W×4 RGBA) NumPy array of uint8, uint16 or float in
                [0, 1]; or a PIL image; or a list of these (batched where sizes agree).
            mask: holes, True or white = hole: an H×W bool array, an integer or float array (above
                ``threshold`` on the 8-bit scale is hole), or a PIL image; a list pairs with a list
                of images, a single mask serves every image of a list.
            strategy: "auto", "full", "tile", "crop" or "refine" (see ``pconv inpaint --help``).
            texture: "auto": holes in detailed surroundings take the photo's own fine detail, and
                where the photo repeats itself PatchMatch's copy; "hybrid": also PatchMatch's copy
                wherever the network's fill agrees with it (slower); "none": the network's smooth
                fill only (``pconv inpaint --help``).
            dilate: grow holes by this many pixels first.
            invert_mask: black = hole instead.
            threshold: grey level (0–255) above which a mask pixel is hole.
            max_pixels: refuse larger images (ValueError).

        Only hole pixels change; an alpha channel is kept as it was. A PIL image is taken as
        stored: its EXIF orientation is not applied (``PIL.ImageOps.exif_transpose`` does that).
        ValueError says what was got and what was expected (a mask that covers the whole image
        too: nothing is left to fill from); PconvError when the model fails (out of memory, say).
        """
        arrays.check_keywords(dilate, threshold, max_pixels)
        single = not isinstance(image, (list, tuple))
        images = [image] if single else list(image)
        if isinstance(mask, (list, tuple)):
            if single or len(mask) != len(images):
                wanted = "one mask (not a list) for one image" if single else f"{len(images)} masks, one per image"
                raise ValueError(f"expected {wanted}, got a list of {len(mask)}")
            masks = list(mask)
        else:
            masks = [mask] * len(images)
        pictures, holes = [], []
        for img, msk in zip(images, masks):
            picture = arrays.picture_of(img, max_pixels)
            hole = arrays.holes_of(msk, picture.size, threshold, invert_mask)
            pictures.append(picture)
            holes.append(dilate_holes(hole, dilate) if dilate else hole)
        filled = self.fill(pictures, holes, strategy, texture)
        results = [arrays.like(img, f.pixels, hole) for img, f, hole in zip(images, filled, holes)]
        return results[0] if single else results

    def fill(
        self,
        pictures: Sequence[Picture],
        holes: Sequence[np.ndarray],
        strategy: Strategy | str = Strategy.auto,
        texture: Texture | str = Texture.auto,
    ) -> list[Filled]:
        """Fill decoded pictures (H×W bool holes each), as ``fill_many`` does, and return them in order.

        Every picture is checked before any work, so a list fails whole: a mask that covers its whole
        image raises MaskCoversImage (a ValueError and a PconvError); a failure raises PconvError with
        one line saying what to try.
        """
        if len(pictures) != len(holes):
            raise ValueError(f"expected one hole map per picture, got {len(holes)} for {len(pictures)}")
        for picture, hole in zip(pictures, holes):
            _check(picture, hole)
        results: list[Filled | None] = [None] * len(pictures)
        for i, filled in self.fill_many(list(zip(range(len(pictures)), pictures, holes)), strategy, texture):
            if filled.error is not None:
                raise filled.error
            results[i] = filled
        return results  # type: ignore[return-value]

    def fill_many(
        self,
        items: Iterable[tuple[Any, Picture, np.ndarray]],
        strategy: Strategy | str = Strategy.auto,
        texture: Texture | str = Texture.auto,
    ) -> Iterator[tuple[Any, Filled]]:
        """Fill (key, picture, holes) items one after another, yielding (key, Filled) as each is done.

        The order is the items' except that an image resolved to ``full`` waits for the next ones of
        its size to share its batch; ``Stream`` says how.
        """
        stream = self.stream(strategy, texture)
        for key, picture, hole in items:
            yield from stream.push(key, picture, hole)
        yield from stream.close()

    def stream(self, strategy: Strategy | str = Strategy.auto, texture: Texture | str = Texture.auto) -> Stream:
        """A Stream of this model: images handed over one at a time (``push``), for callers that
        produce them as they go (the inpaint command decodes ahead in threads)."""
        return Stream(self.runner, strategy, texture)


class Stream:
    """Images pushed one at a time, each filled by its own strategy (``auto`` resolved by its size).

    An image without holes comes back at once, unchanged. Images resolved to ``full`` wait for
    batch mates: consecutive ones of the same size, up to the runner's batch size, go to the
    network together; an image of another size or strategy fills those waiting first. Other
    strategies run one image at a time. A failure (out of memory, OpenCV's limits, a broken
    model) fails the images of that call, as Filled.error, and the stream goes on.
    """

    def __init__(
        self, runner: Runner, strategy: Strategy | str = Strategy.auto, texture: Texture | str = Texture.auto
    ) -> None:
        if texture not in values(Texture):
            raise ValueError(f"expected texture in {values(Texture)}, got {texture!r}")
        self.runner, self.strategy, self.texture = runner, strategy, Texture(texture)
        reason = patchmatch.unavailable_reason() if self.texture == Texture.hybrid else None
        if reason is not None:
            raise PconvError(f"texture 'hybrid' cannot run: {reason}; try texture 'auto'")
        self.waiting: list[tuple[Any, Picture, np.ndarray]] = []

    def push(self, key: Any, picture: Picture, holes: np.ndarray) -> list[tuple[Any, Filled]]:
        """Hand over one image; returns the (key, Filled) pairs done now (none while it waits for mates)."""
        _check(picture, holes)
        if not holes.any():
            return [(key, Filled(picture.pixels, None))]
        strategy = strategies.choose(picture.size, self.strategy, self.runner.scale)
        done = []
        waiting = self.waiting
        if waiting and (
            strategy != Strategy.full or picture.size != waiting[0][1].size or len(waiting) >= self.runner.batch_size
        ):
            done = self.close()
        if strategy == Strategy.full:
            self.waiting.append((key, picture, holes))
            return done
        return done + self._fill([(key, picture, holes)], strategy)

    def close(self) -> list[tuple[Any, Filled]]:
        """Fill the images still waiting for batch mates."""
        waiting, self.waiting = self.waiting, []
        return self._fill(waiting, Strategy.full) if waiting else []

    def _fill(self, items: list[tuple[Any, Picture, np.ndarray]], strategy: Strategy) -> list[tuple[Any, Filled]]:
        keys, pictures, holes = zip(*items)
        if strategy == Strategy.full:
            plan: Generator = strategies.fill_full(list(pictures), list(holes), self.runner)
        else:
            plan = strategies.inpaint_one(pictures[0], holes[0], strategy, self.runner)
        start = time.perf_counter()
        try:
            result = _guarded(strategy, self.runner, plan)
            filled = [(pixels, None) for pixels in result] if strategy == Strategy.full else [result]
            textures = [self._textured(*item) for item in zip(pictures, holes, (px for px, _ in filled))]
        except PconvError as exc:
            return [(key, Filled(None, strategy.value, error=exc)) for key in keys]
        seconds = (time.perf_counter() - start) / len(keys)
        return [
            (key, Filled(px, strategy.value, groups, seconds, textures=got))
            for key, (px, groups), got in zip(keys, filled, textures)
        ]

    def _textured(self, picture: Picture, holes: np.ndarray, pixels: np.ndarray) -> list | None:
        """The texture stage on one filled image (in place), when asked for; what each group got."""
        if self.texture == Texture.none:
            return None
        try:
            return finishing.add_photo_texture(
                picture, holes, pixels, self.runner.scale, patchmatch=self.texture == Texture.hybrid
            )
        except MemoryError:
            raise PconvError("out of memory adding the photo's texture; try --texture none") from None
        except cv2.error as exc:  # OpenCV's own limits, as in _guarded
            message = str(exc).strip().splitlines()[-1]
            raise PconvError(f"OpenCV failed adding the photo's texture: {message}; try --texture none") from None


def _check(picture: Picture, hole: np.ndarray) -> None:
    if hole.shape != picture.size or hole.dtype != bool:
        raise ValueError(f"expected an {picture.size} bool hole map, got {hole.dtype} of shape {hole.shape}")
    check_fillable(hole)


def _guarded(strategy: Strategy, runner: Runner, plan: Generator[Work, list[np.ndarray], T]) -> T:
    """``execute`` a plan, turning out-of-memory and OpenCV's limits into one-line PconvErrors."""
    try:
        return execute(plan, runner)
    except runner.backend.memory_errors:
        hint = "try strategy tile" if strategy != Strategy.tile else "try a smaller batch size or image"
        raise PconvError(f"out of memory with strategy {strategy.value}; {hint}") from None
    except cv2.error as exc:  # OpenCV's own out-of-memory and size limits on huge images
        message = str(exc).strip().splitlines()[-1]
        raise PconvError(f"OpenCV failed with strategy {strategy.value}: {message}") from None


def execute(plan: Generator[Work, list[np.ndarray], T], runner: Runner) -> T:
    """Carry out a strategy's plan: each Work it yields goes through the network (``run``) and its
    composites are sent back; returns what the plan returns, e.g. ``(pixels, groups)`` of
    ``execute(strategies.inpaint_one(picture, holes, Strategy.crop, runner), runner)``.
    """
    try:
        work = next(plan)
        while True:
            work = plan.send(run(runner, work))
    except StopIteration as done:
        return done.value


def run(runner: Runner, work: Work) -> list[np.ndarray]:
    """The composites (h×w×3 float32 in [0, 1]) of a Work's images, in order: the Runner's padded
    batches through its backend, each finished by the Runner (composite, blend)."""
    composites: list[np.ndarray | None] = [None] * len(work.images)
    for batch in runner.batches(work):
        output = _forward(runner.backend, batch.image, batch.valid)
        for i, composite in zip(batch.indices, runner.finish(work, batch, output)):
            composites[i] = composite
    return composites  # type: ignore[return-value]


def _forward(backend: Backend, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``backend.forward``, with an allocator's failure raised as MemoryError: torch on a CPU and
    ONNX Runtime report running out of memory as a RuntimeError of their own."""
    try:
        return backend.forward(x, valid)
    except backend.memory_errors:
        raise
    except Exception as exc:
        if "allocate" in str(exc).lower():
            raise MemoryError(str(exc).strip().splitlines()[0]) from exc
        raise


def open_runner(
    weights: str | Path | None = None,
    device: str = AUTO_DEVICE,
    precision: Precision | str = Precision.auto,
    batch_size: int | None = None,
    blend: bool = True,
    runtime: Runtime | str = Runtime.auto,
) -> Runner:
    """The one way a model is loaded to run: ``weights`` a registered name or a path (None: the
    shipped default) on ``runtime`` (see ``runner.pick_runtime``) and the device ``--device`` names;
    batch size 8 on a GPU and 1 on a CPU (where batching gains nothing), unless given. Weights that
    are neither a file nor a registered name are "not found" (UsageError), whatever is installed."""
    from pconv_cli.model.weights import REGISTRY, weights_not_found

    if weights is not None and not Path(weights).exists() and str(weights) not in REGISTRY:
        raise weights_not_found(weights)
    if pick_runtime(runtime, weights, device, precision) == Runtime.onnx:
        from pconv_cli.runtime.onnx_backend import OnnxBackend

        backend: Backend = OnnxBackend.open(weights, device, precision)
    else:
        from pconv_cli.model.weights import default_model_path, load_model
        from pconv_cli.runtime.devices import pick_device
        from pconv_cli.runtime.torch_backend import TorchBackend

        # The device first: a wrong --device is refused before the weights are read.
        torch_device = pick_device(device)
        backend = TorchBackend.open(
            load_model(default_model_path() if weights is None else weights), torch_device, precision
        )
    if batch_size is None:
        batch_size = 1 if backend.device == "cpu" else 8
    return Runner(backend, batch_size, blend)
