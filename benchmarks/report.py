"""Machine description, targets, and the JSON + Markdown outputs of a benchmark run."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

from pconv_cli.files import atomic_write

GROUPS = ("layer", "network", "training", "commands", "serve")  # in running order
# (group, case substring, ratio or value key, comparison, threshold, what it means)
TARGETS = (
    ("network", "batch 1", "reference/pconv", ">=", 1.5, "network ≥ 1.5× faster than reference (a), batch 1"),
    ("network", "batch 4", "reference/pconv", ">=", 1.5, "network ≥ 1.5× faster than reference (a), batch 4"),
    ("network", "batch 1", "pconv/plain", "<=", 1.15, "network within 1.15× of the plain-conv floor, batch 1"),
    ("network", "batch 4", "pconv/plain", "<=", 1.15, "network within 1.15× of the plain-conv floor, batch 4"),
    ("training", "full loss", "reference/pconv", ">=", 1.3, "training ≥ 1.3× the reference-(a) loop (full loss)"),
    ("startup", "", "value:pconv --help", "<=", 0.3, "`pconv --help` ≤ 0.3 s"),
    ("end-to-end", "peak RSS", "value:pconv peak RSS", "<=", 1536, "8000² inpaint peak RSS ≤ 1.5 GiB (MiB)"),
    (
        "end-to-end",
        "3000×2000",
        "value:pconv auto",
        "<=",
        3.3,
        "3000×2000, 6 % hole: auto ≤ 3.3 s",
    ),
    ("make-masks", "", "value:pconv", ">=", 200, "make-masks ≥ 200 masks/s at 512²"),
    ("serve", "round 1", "value:errors", "<=", 0, "serve under load: no answers but 200 and 503, round 1"),
    ("serve", "round 2", "value:errors", "<=", 0, "serve under load: no answers but 200 and 503, round 2"),
    ("serve", "server RSS", "value:growth in round 2", "<=", 50, "serve: RSS growth over a second round ≤ 50 MiB"),
)


def machine() -> dict:
    """What the numbers were measured on."""
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = None
    accel = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(mem_gib, 1) if mem_gib else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_1min": os.getloadavg()[0],
        "accelerator": accel,
        "accelerator_note": None
        if accel
        else "no accelerator available in this run: GPU measurements (bf16, channels_last, torch.compile, "
        "fraction of peak) were not taken",
    }


def machine_slug(info: dict) -> str:
    """Short file-name form of the machine, e.g. 'intel-xeon-2cpu'."""
    name = re.sub(r"\((r|tm)\)|processor|cpu|@.*", " ", info["cpu"].lower())
    name = re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "machine"
    return f"{name}-{info['logical_cpus']}cpu" + (
        "-" + re.sub(r"[^a-z0-9]+", "-", info["accelerator"].lower()) if info["accelerator"] else ""
    )


def _lookup(record: dict, key: str) -> float | None:
    if key.startswith("value:"):
        return record["values"].get(key[6:])
    return record["ratios"].get(key)


def check_targets(records: list[dict]) -> list[dict]:
    """One row per target: the measured value, and met / missed / not measured."""
    rows = []
    for group, case, key, op, threshold, label in TARGETS:
        hits = [r for r in records if r["group"] == group and case in r["case"]]
        value = next((v for r in hits if not r.get("skipped") and (v := _lookup(r, key)) is not None), None)
        if value is None:
            status = "; ".join(n for r in hits for n in r["notes"]) or "not measured in this run"
        else:
            status = "met" if (value >= threshold if op == ">=" else value <= threshold) else "missed"
        rows.append({"target": label, "key": key, "threshold": f"{op} {threshold}", "value": value, "status": status})
    return rows


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def markdown(result: dict) -> str:
    """The human summary of one run: machine, targets, then every record with its ratios."""
    m = result["machine"]
    lines = [
        f"# pconv benchmarks: {result['slug']}, {result['date']}{' (quick)' if result['quick'] else ''}",
        "",
        f"{m['cpu']}, {m['logical_cpus']} logical CPUs ({m['torch_threads']} torch threads), {m['memory_gib']} GiB; "
        f"Python {m['python']}, torch {m['torch']}; {m['os']}.",
        f"Load average at the start: {m['load_average_1min']:.1f}, at the end: {result['load_average_end']:.1f} "
        "(other work on the machine slows every case alike; the ratios stay comparable).",
        f"Accelerator: {m['accelerator'] or 'none. ' + m['accelerator_note']}.",
        f"Command: `{result['command']}`; {result['seconds']:.0f} s in all.",
        "",
        "Every ratio is a time ratio of two cases timed side by side in this run "
        "(medians over interleaved rounds after warm-up): `reference/pconv` = 2 means pconv takes half the time; "
        "`pconv/plain` is pconv's overhead over a plain convolution. Absolute times on a shared machine are noisy; "
        "the ratios are the result.",
        "",
        "## Targets",
        "",
        "| target | measured | status |",
        "|---|---|---|",
    ]
    for row in result["targets"]:
        value = "–" if row["value"] is None else _fmt(row["value"])
        lines.append(f"| {row['target']} | {value} | {row['status']} |")
    group = None
    for r in result["records"]:
        if r["group"] != group:
            group = r["group"]
            lines += ["", f"## {group}", "", "| case | metric | values | ratios | notes |", "|---|---|---|---|---|"]
        values = ", ".join(f"{k} {_fmt(v)}" for k, v in r["values"].items())
        ratios = ", ".join(f"{k} **{_fmt(v)}**" for k, v in r["ratios"].items())
        lines.append(f"| {r['case']} | {r['metric']} | {values} | {ratios} | {'; '.join(r['notes'])} |")
    return "\n".join(lines) + "\n"


def write(result: dict, folder: Path) -> tuple[Path, Path]:
    """Write <slug>-<date>[-quick][-groups].json and .md into ``folder``; a complete full run refreshes latest.md."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = result["groups"] != list(GROUPS)
    stem = f"{result['slug']}-{result['date']}{'-quick' if result['quick'] else ''}"
    stem += "-" + "-".join(result["groups"]) if partial else ""
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    text = markdown(result)
    atomic_write(json_path, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n"))
    atomic_write(md_path, lambda tmp: Path(tmp).write_text(text))
    if not result["quick"] and not partial:
        atomic_write(folder / "latest.md", lambda tmp: Path(tmp).write_text(text))
    return json_path, md_path
