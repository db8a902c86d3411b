"""The network as an ONNX model: export from PyTorch weights, and the ONNX Runtime backend.

The exported graph is the bare network, ``forward(image, mask) -> output``: inputs
N×3×H×W (holes zeroed) and N×1×H×W (1 = valid), float32, with the batch and both sides
dynamic (sides multiples of 2**levels); ``runner.Runner`` pads, composites and blends around
it exactly as for PyTorch. The model's PConvConfig is in the metadata (key ``config``), as in
safetensors weights. Weights are stored as float16 and cast once at load (half the file);
ONNX Runtime folds the casts, so it computes in float32.

Exporting needs torch, onnx and onnxscript; running needs only onnxruntime and NumPy.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pconv_cli.errors import PconvError, UsageError
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


def _checked_config(config) -> dict:
    """The model config from an ONNX file's metadata, checked as PConvConfig checks it (without torch)."""
    keys = {"levels", "width", "max_mult", "in_channels", "image_size"}
    if not isinstance(config, dict) or set(config) != keys or not all(type(v) is int for v in config.values()):
        raise ValueError(f"its config is not a pconv config (expected integer {', '.join(sorted(keys))})")
    levels, size = config["levels"], config["image_size"]
    if not 1 <= levels <= 12 or config["in_channels"] != 3 or size < 2**levels or size % 2**levels:
        raise ValueError(f"its config is not a usable pconv config: {config}")
    return config


@dataclass
class OnnxBackend:
    """An exported pconv model run by ONNX Runtime (a ``runner.Backend``)."""

    session: object  # onnxruntime.InferenceSession
    runtime = "onnx"
    config: dict
    device: str

    @classmethod
    def open(cls, weights: str | Path | None, device: str = "auto", precision: str = "auto") -> OnnxBackend:
        """Load an ONNX model: a path, a registered name (its ONNX form) or None (the shipped default)."""
        import onnxruntime as ort

        from pconv_cli.model.weights import resolve_onnx

        if precision not in ("auto", "fp32"):
            raise UsageError(f"--precision {precision}: the onnx runtime computes in fp32 only")
        spec = device.strip().lower()
        cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        if spec.startswith("cuda") and not cuda:
            raise UsageError(f"--device {device}: this onnxruntime has no CUDA (pip install onnxruntime-gpu)")
        if spec not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", spec):
            raise UsageError(f"--device {device}: the onnx runtime runs on auto, cpu, cuda or cuda:N")
        use_cuda = cuda and spec != "cpu"
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        path = resolve_onnx(weights)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # ONNX Runtime's warnings are not the user's business
        try:
            session = ort.InferenceSession(str(path), options, providers=providers)
            meta = session.get_modelmeta().custom_metadata_map
            if meta.get("format") != "pconv" or "config" not in meta:
                raise ValueError("no pconv config in its metadata (export one with pconv export --format onnx)")
            config = _checked_config(json.loads(meta["config"]))
            names = tuple(i.name for i in session.get_inputs())
            if names != INPUTS:
                raise ValueError(f"inputs {names}, expected {INPUTS}")
            outputs = session.get_outputs()
            if tuple(o.name for o in outputs) != (OUTPUT,) or len(outputs[0].shape) != 4 or outputs[0].shape[1] != 3:
                got = [(o.name, o.shape) for o in outputs]
                raise ValueError(f"outputs {got}, expected one {OUTPUT!r} of N×3×H×W")
        except Exception as exc:  # any failure to parse a user file is a one-line error
            raise PconvError(f"cannot load ONNX model {path}: {exc}".splitlines()[0]) from exc
        return cls(session, config, "cuda (onnxruntime)" if use_cuda else "cpu")

    memory_errors: tuple[type[BaseException], ...] = (MemoryError,)

    def forward(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The network's raw output for N×3×H×W images (holes zeroed) and N×1×H×W masks (1 = valid)."""
        return self.session.run([OUTPUT], {"image": image, "mask": valid})[0]  # type: ignore[attr-defined]
