"""The weights registry (shipped files, their sha256 and meta) and reading and writing model files.

Shipped files live in ``weights/`` (the repository's top-level folder, packed into
the wheel as ``pconv_cli/weights``) and are listed here with their sha256.
Model files are safetensors with the PConvConfig as JSON in the metadata;
training checkpoints are ``torch.save`` dicts ``{"config": dict, "model":
state_dict, ...}`` read with ``weights_only=True``. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from pconv_cli.errors import PconvError, UsageError, one_line
from pconv_cli.files import atomic_write


@dataclass(frozen=True)
class Entry:
    """A shipped file and its meta (as torchvision's weights enums carry theirs)."""

    file: str
    sha256: str
    kind: str  # "model" (a PConvUNet) or "vgg" (the loss network)
    description: str
    licence: str
    scale: int | None = None  # a model's working scale (px), the side it was trained at
    recipe: str = ""  # where the command that made it is written down
    onnx_file: str | None = None  # the same model exported by `pconv export --format onnx`
    onnx_sha256: str | None = None


REGISTRY: dict[str, Entry] = {
    "vgg16-caffe-pool3": Entry(
        file="vgg16_caffe_pool3.safetensors",
        sha256="a593968cc2a7653d61d75ed8dddfbb3bad9f2967dfa5ba6d4d60c8fdbe6494a4",
        kind="vgg",
        description="ImageNet VGG-16 conv1_1..conv3_3 (Caffe), for the perceptual and style losses",
        licence="CC BY 4.0 (Simonyan & Zisserman, VGG, Oxford)",
        recipe="weights/README.md",
    ),
    "pconv-small256-v5": Entry(
        file="pconv-small256-v5.safetensors",
        sha256="c956b94869cd85076a22181e85073ca3d76a51b68a660249145b01a38d62b054",
        kind="model",
        description="small preset, trained on Imagenette+BSDS500: v3 (CPU) fine-tuned 8,000 steps on an H200 (v4, v5)",
        licence="non-commercial research and education use (the training data's terms)",
        scale=256,
        recipe="MODEL_CARD.md",
        onnx_file="pconv-small256-v5.onnx",
        onnx_sha256="90ff9c54d0520e9893b01fe01cc82bda7b14b5bbe658eece3479c5b4f71d1311",
    ),
}
# The registered model `pconv inpaint` uses when no --weights is given (see MODEL_CARD.md).
DEFAULT_MODEL = "pconv-small256-v5"
VGG_WEIGHTS = "vgg16-caffe-pool3"


def weights_dir() -> Path:
    """The folder holding shipped weights: inside the installed package, else the source checkout's."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "weights", package.parents[1] / "weights"):
        if candidate.is_dir():
            return candidate
    raise PconvError(
        f"shipped weights folder not found (looked in {package / 'weights'} and {package.parents[1] / 'weights'})"
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _verified(file: str, sha256: str, name: str) -> Path:
    """Path of a shipped file, checked against its sha256 (once per process)."""
    path = weights_dir() / file
    if not path.is_file():
        raise PconvError(f"registered weights {name!r} missing: {path}")
    actual = sha256_file(path)
    if actual != sha256:
        raise PconvError(f"{path} is corrupt: sha256 {actual[:12]}…, expected {sha256[:12]}…")
    return path


def _entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise UsageError(f"unknown weights {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def weights_not_found(weights: str | Path) -> UsageError:
    """The usage error for weights that are neither a file nor a registered name, listing the names."""
    return UsageError(f"weights not found: {Path(weights)} (registered names: {', '.join(sorted(REGISTRY))})")


def registered_path(name: str) -> Path:
    """Path of a registered file, checked against its sha256."""
    entry = _entry(name)
    return _verified(entry.file, entry.sha256, name)


def default_model_path() -> Path:
    """The shipped default model (MODEL_CARD.md), checked against its sha256."""
    return registered_path(DEFAULT_MODEL)


def resolve_onnx(weights: str | Path | None) -> Path:
    """The ONNX model to run: a .onnx path, a registered model's ONNX form, or (None) the default's."""
    name = DEFAULT_MODEL if weights is None else str(weights)
    if not Path(name).exists() and name in REGISTRY:
        entry = _entry(name)
        if entry.onnx_file is None or entry.onnx_sha256 is None:
            raise UsageError(f"registered weights {name!r} have no ONNX form; use --runtime torch")
        return _verified(entry.onnx_file, entry.onnx_sha256, name)
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"weights {path} is a folder; expected an .onnx model or a registered name")
    if not path.exists():
        raise weights_not_found(path)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"--runtime onnx runs .onnx models, got {path}; make one: pconv export {path} -o model.onnx")
    return path


def save_weights(model, path: str | Path, half: bool = False) -> None:
    """Write a PConvUNet as safetensors with its config in the metadata (atomically)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    metadata = {"format": "pconv", "config": json.dumps(model.config.to_dict())}
    atomic_write(Path(path), lambda tmp: save_file(state, tmp, metadata=metadata))


def load_plain(path: str | Path):
    """``torch.load`` of a file's tensors and plain data only (weights_only, on the CPU); ValueError otherwise.

    torch's own message is a bare number for some junk, and for code in a pickle advises
    weights_only=False, i.e. running the file's code: never that."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise ValueError(
            "not a readable pconv checkpoint (pconv reads only tensors and plain data from .pt files)"
        ) from None


def load_model(path: str | Path):
    """A PConvUNet (eval mode, float32, CPU) from a registered name (``pconv weights list``), a
    safetensors weights file or a training checkpoint."""

    from pconv_cli.model.unet import PConvConfig, PConvUNet

    path = Path(path)
    if not path.exists() and str(path) in REGISTRY:
        path = registered_path(str(path))
    if path.is_dir():
        raise UsageError(f"weights {path} is a folder; expected a .safetensors file, a checkpoint or a registered name")
    if not path.is_file():
        raise UsageError(f"weights file not found: {path} (registered names: {', '.join(sorted(REGISTRY))})")
    if path.suffix.lower() == ".onnx":
        raise UsageError(
            f"{path} is an ONNX model: torch cannot load it (run it with --runtime onnx; "
            "training and export need .safetensors or .pt)"
        )
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if "config" not in meta:
                    raise ValueError("no model config in its metadata (not a pconv weights file)")
                config = json.loads(meta["config"])
                state = {k: f.get_tensor(k) for k in f.keys()}
        else:
            ckpt = load_plain(path)
            if not isinstance(ckpt, dict) or "config" not in ckpt or "model" not in ckpt:
                raise ValueError("not a pconv checkpoint (expected the keys 'config' and 'model')")
            config, state = ckpt["config"], ckpt["model"]
        model = PConvUNet(PConvConfig.from_dict(config))
        load_state(model, {k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except Exception as exc:  # any failure to parse a user file is a one-line error
        raise PconvError(one_line(f"cannot load weights {path}", exc)) from exc
    return model.eval()


def load_averaged(sources: str | Path | Sequence[str | Path]):
    """One model (``load_model``), or the uniform average of several of one architecture: a
    "model soup" (Wortsman et al. 2022), which for runs that share a start often beats each of them.
    BatchNorm statistics are averaged too; integer buffers come from the first."""
    paths = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if not paths:
        raise UsageError("nothing to load: give at least one weights file or checkpoint")
    model = load_model(paths[0])
    if len(paths) == 1:
        return model
    states = [model.state_dict()]
    for path in paths[1:]:
        other = load_model(path)
        if other.config != model.config:
            a, b = asdict(model.config), asdict(other.config)
            differ = ", ".join(f"{k} {b[k]} vs {a[k]}" for k in a if a[k] != b[k])
            raise UsageError(f"cannot average {path} with {paths[0]}: their configs differ ({differ})")
        states.append(other.state_dict())
    average = {
        k: (sum(s[k].double() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
        for k, v in states[0].items()
    }
    model.load_state_dict(average)
    return model


def load_state(model, state: dict) -> None:
    """model.load_state_dict(state), or ValueError with a one-line account of what does not fit the model."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} tensor(s) of another shape ({k}: {tuple(state[k].shape)}, "
                         f"the config wants {tuple(own[k].shape)})")  # fmt: skip
        if missing:
            parts.append(f"{len(missing)} missing (first {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first {unexpected[0]})")
        raise ValueError("its tensors do not fit its config: " + "; ".join(parts))
    model.load_state_dict(state)
