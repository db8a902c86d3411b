"""The methods `pconv eval` compares: models (run through the Inpainter, as `pconv inpaint` does)
and classical baselines, each under the name its rows carry in results.csv.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pconv_cli.choices import Strategy, Texture
from pconv_cli.evaluation import baselines as bl

if TYPE_CHECKING:
    from pconv_cli.commands.evaluate import EvalOptions


@dataclass(eq=False)  # methods compare by identity
class Method:
    """A baseline (``run`` on uint8 arrays) or a model (``inpainter``, a runtime Inpainter)."""

    name: str
    label: str
    kind: str  # "baseline" or "model"
    run: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    inpainter: object | None = None
    texture: Texture = Texture.auto  # a model's texture stage (runtime.finishing)


def listed_method(name: str) -> Method:
    """A method known only by its name in results.csv (an earlier run's): a baseline or a model."""
    if name in bl.BASELINES:
        return Method(name=name, label=bl.BASELINES[name].label, kind="baseline")
    return Method(name=name, label=name, kind="model")


def build_methods(opts: EvalOptions) -> tuple[list[Method], dict[str, str]]:
    """Models (loaded onto the device) and available baselines; skipped ones with the reason."""
    from pconv_cli.model.weights import DEFAULT_MODEL
    from pconv_cli.runtime.inpainter import Inpainter

    skipped: dict[str, str] = {}
    methods: list[Method] = []
    weights: list = list(opts.weights) or [DEFAULT_MODEL]  # by name: it runs on whichever runtime is installed
    stems = [Path(w).stem for w in weights]
    for w, stem in zip(weights, stems):
        name = stem if stems.count(stem) == 1 else str(w)
        if not opts.blend:  # its own name: --resume never mixes raw and blended rows of one model
            name += "-noblend"
        if opts.strategy != Strategy.auto:  # likewise for a forced strategy
            name += f"-{opts.strategy.value}"
        inpainter = Inpainter(w, opts.device, opts.precision, batch_size=opts.batch_size, blend=opts.blend)
        for texture in opts.textures:  # one model loaded, a method per texture setting
            named = name if texture == Texture.auto else f"{name}-texture-{texture.value}"
            methods.append(Method(name=named, label=named, kind="model", inpainter=inpainter, texture=texture))
    for name in opts.baselines:
        reason = bl.unavailable_reason(name)
        if reason is not None:
            skipped[name] = reason
        else:
            b = bl.BASELINES[name]
            methods.append(Method(name=name, label=b.label, kind="baseline", run=b.run))
    return methods, skipped
