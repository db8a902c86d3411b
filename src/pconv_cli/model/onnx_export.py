"""Exporting the network as an ONNX model (`pconv export --format onnx`); ``runtime.onnx_backend`` runs it.

The exported graph is the bare network, ``forward(image, mask) -> output``: inputs
N×3×H×W (holes zeroed) and N×1×H×W (1 = valid), float32, with the batch and both sides
dynamic (sides multiples of 2**levels); ``runtime.runner.Runner`` pads, composites and blends around
it exactly as for PyTorch. The model's PConvConfig is in the metadata (key ``config``), as in
safetensors weights. Weights are stored as float16 and cast once at load (half the file);
ONNX Runtime folds the casts, so it computes in float32.

Exporting needs torch, onnx and onnxscript; running needs only onnxruntime and NumPy.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pconv_cli.files import atomic_write

INPUTS = ("image", "mask")
OUTPUT = "output"
OPSET = 18
STACK_TRACE = "pkg.torch.onnx.stack_trace"  # node metadata: source file paths and lines


def export_onnx(weights: str | Path | Sequence[str | Path], output: str | Path, half: bool = False) -> Path:
    """Write ``weights`` (a registered name, safetensors file or checkpoint, or several to
    average: ``weights.load_averaged``) as an ONNX model.

    Deterministic: the same weights give the same bytes, wherever the checkout lies. The shipped
    ONNX model (its sha256 is in ``weights.REGISTRY``) is reproduced up to the per-node stack
    traces it holds and exports now leave out.

    Example:
        >>> export_onnx("pconv-small256-v5", "model.onnx", half=True)  # doctest: +SKIP
    """
    # onnx and onnxscript: torch's exporter needs them; missing, cli.main names their extra ([export]).
    import onnx  # noqa: F401
    import onnxscript  # noqa: F401
    import torch
    from torch.export import Dim

    from pconv_cli.model.weights import load_averaged

    model = load_averaged(weights)
    cfg = model.config
    side = 2 * cfg.multiple  # not 1×multiple: the exporter would take a size-1 factor for a constant
    image = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(1, 1, side, side)
    batch, rows, cols = Dim("batch"), Dim("rows", min=1), Dim("cols", min=1)
    shapes = {name: {0: batch, 2: cfg.multiple * rows, 3: cfg.multiple * cols} for name in INPUTS}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporter's own deprecations and progress are not the user's
        program = torch.onnx.export(
            model,
            (image, mask),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_shapes=shapes,
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    if half:
        _store_half(proto)
    # The exporter's graph metadata prints sets of symbolic ranges in no fixed order: not reproducible.
    del proto.graph.metadata_props[:], proto.metadata_props[:]
    # Each node's stack trace names this checkout's absolute path and line numbers: the bytes would
    # depend on where pconv lies and on edits to its source.
    for node in proto.graph.node:
        kept = [entry for entry in node.metadata_props if entry.key != STACK_TRACE]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    for key, value in (("format", "pconv"), ("config", json.dumps(cfg.to_dict()))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    output = Path(output)
    atomic_write(output, lambda tmp: Path(tmp).write_bytes(proto.SerializeToString(deterministic=True)))
    return output


def _store_half(proto) -> None:
    """Store float32 weight tensors as float16, each behind a Cast back to float32."""
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or len(init.dims) == 0:
            continue
        array = numpy_helper.to_array(init).astype(np.float16)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(array, f"{name}__f16"))
        casts.append(helper.make_node("Cast", [f"{name}__f16"], [name], to=TensorProto.FLOAT, name=f"{name}__cast"))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
