"""The ONNX Runtime backend: an exported pconv model (``model.onnx_export``) run without torch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pconv_cli.choices import AUTO_DEVICE, Precision, Runtime
from pconv_cli.errors import PconvError, Unavailable, UsageError
from pconv_cli.model.onnx_export import INPUTS, OUTPUT


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
    runtime = Runtime.onnx.value  # plain text: messages and the health JSON print it
    precision_used = Precision.fp32.value  # ONNX Runtime computes the model in fp32 (open refuses others)
    config: dict
    device: str

    @classmethod
    def open(
        cls, weights: str | Path | None, device: str = AUTO_DEVICE, precision: Precision | str = Precision.auto
    ) -> OnnxBackend:
        """Load an ONNX model: a path, a registered name (its ONNX form) or None (the shipped default)."""
        import onnxruntime as ort

        from pconv_cli.model.weights import resolve_onnx

        if precision not in (Precision.auto, Precision.fp32):
            raise UsageError(f"--precision {Precision(precision).value}: the onnx runtime computes in fp32 only")
        spec = device.strip().lower()
        cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        if spec.startswith("cuda") and not cuda:
            raise Unavailable(f"--device {device}: this onnxruntime has no CUDA (pip install onnxruntime-gpu)")
        if spec not in (AUTO_DEVICE, "cpu") and not re.fullmatch(r"cuda(:\d+)?", spec):
            raise UsageError(f"--device {device}: the onnx runtime runs on auto, cpu, cuda or cuda:N")
        use_cuda = cuda and spec != "cpu"
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        path = resolve_onnx(weights)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # ONNX Runtime's warnings are not the user's business
        # Its idle threads otherwise spin after each run, taking the cores from the NumPy and OpenCV work
        # between runs (blend, texture) and from other processes; the same outputs (docs/design-notes.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
