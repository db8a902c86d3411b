"""`pconv weights list`: the registered weights, as a table for people or one JSON line each (`--json`)."""

from __future__ import annotations

import json

import typer

from pconv_cli.model import weights

app = typer.Typer(help="Inspect the registered weights.", no_args_is_help=True)

# What each kind of the registry is for, in the table's words: the VGG-16 is no inpainting model but
# the features of the training loss and of eval's perceptual distance.
KINDS = {"model": "inpainting model", "vgg": "loss network (train, eval)"}
HEADER = ("NAME", "KIND", "DEFAULT", "STATE", "SIZE", "SCALE", "LICENCE")


def _file(file: str, sha256: str) -> dict:
    """A registered file in the weights folder: its name, size in bytes (None: missing) and state
    (ok, missing, or corrupt where its sha256 is not the registered one)."""
    path = weights.weights_dir() / file
    if not path.is_file():
        return {"file": file, "bytes": None, "state": "missing"}
    state = "ok" if weights.sha256_file(path) == sha256 else "corrupt"
    return {"file": file, "bytes": path.stat().st_size, "state": state}


def records() -> list[dict]:
    """One record per registered name, inpainting models first, then by name.

    Keys: name, kind ("model" or "vgg"), default (the model `pconv inpaint` runs without --weights),
    state (the worst of its files'), scale (a model's working side in px, else None), licence,
    description, recipe (where the command that made it is written down) and files (file, bytes,
    state; the ONNX form second).

    Example:
        >>> [r["name"] for r in records() if r["default"]]
        ['pconv-small256-v5']
    """
    rows = []
    for name, entry in sorted(weights.REGISTRY.items(), key=lambda item: (item[1].kind != "model", item[0])):
        files = [_file(entry.file, entry.sha256)]
        if entry.onnx_file and entry.onnx_sha256:
            files.append(_file(entry.onnx_file, entry.onnx_sha256))
        states = {f["state"] for f in files}
        rows.append(
            {
                "name": name,
                "kind": entry.kind,
                "default": name == weights.DEFAULT_MODEL,
                "state": next((s for s in ("corrupt", "missing") if s in states), "ok"),
                "scale": entry.scale,
                "licence": entry.licence,
                "description": entry.description,
                "recipe": entry.recipe,
                "files": files,
            }
        )
    return rows


def _megabytes(size: int | None) -> str:
    return "missing" if size is None else f"{size / 1e6:.1f} MB"


def table(rows: list[dict]) -> list[str]:
    """``records()`` for people: a header, one aligned line each (SIZE: its main file's), a blank
    line, then each one's description and files."""
    cells = [HEADER] + [
        (
            r["name"],
            KINDS[r["kind"]],
            "yes" if r["default"] else "-",
            r["state"],
            _megabytes(r["files"][0]["bytes"]),
            f"{r['scale']} px" if r["scale"] else "-",
            r["licence"],
        )
        for r in rows
    ]
    widths = [max(len(row[column]) for row in cells) for column in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.append("")
    for r in rows:
        files = ", ".join(f"{f['file']} ({_megabytes(f['bytes'])})" for f in r["files"])
        lines.append(f"{r['name']}: {r['description']}. Files: {files}.")
    return lines


@app.command("list")
def list_weights(
    as_json: bool = typer.Option(
        False,
        "--json",
        help="One JSON object per line instead of the table: name, kind (model or vgg), default, state, scale,"
        " licence, description, recipe and files (file, bytes, state).",
    ),
) -> None:
    """List the registered weights: inpainting models and the loss network, with size, scale and licence.

    The loss network (VGG-16) fills no holes: training's loss and eval's perceptual distance use its
    features. STATE: whether each file is there with its registered sha256 (ok, missing, corrupt).

    Example: pconv weights list --json | jq -r 'select(.kind == "model") | .name'
    """
    rows = records()
    for line in [json.dumps(r) for r in rows] if as_json else table(rows):
        print(line)
