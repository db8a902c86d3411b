"""`pconv weights list`: the registered weights, one tab-separated line each."""

from __future__ import annotations

import typer

from pconv_cli.model import weights

app = typer.Typer(help="Inspect the registered weights.", no_args_is_help=True)


def _state(file: str, sha256: str) -> str:
    """ok, missing or corrupt: whether the weights folder holds ``file`` with this digest."""
    path = weights.weights_dir() / file
    if not path.is_file():
        return "missing"
    return "ok" if weights.sha256_file(path) == sha256 else "corrupt"


def lines() -> list[str]:
    """One tab-separated line per registered name, sorted: name, kind, state (the worst of its
    files), default, files, scale, licence, description."""
    rows = []
    for name, entry in sorted(weights.REGISTRY.items()):
        states, files = [_state(entry.file, entry.sha256)], [entry.file]
        if entry.onnx_file and entry.onnx_sha256:
            states.append(_state(entry.onnx_file, entry.onnx_sha256))
            files.append(entry.onnx_file)
        worst = next((s for s in ("corrupt", "missing") if s in states), "ok")
        default = "default" if name == weights.DEFAULT_MODEL else "-"
        scale = str(entry.scale) if entry.scale else "-"
        rows.append(
            "\t".join([name, entry.kind, worst, default, ",".join(files), scale, entry.licence, entry.description])
        )
    return rows


@app.command("list")
def list_weights() -> None:
    """List registered weights, one tab-separated line each.

    Fields: name, kind, state (ok/missing/corrupt), default, files (ONNX after a comma), scale, licence, description.

    Example: pconv weights list | cut -f1,3
    """
    for line in lines():
        print(line)
