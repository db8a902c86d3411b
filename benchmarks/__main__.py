"""`python -m benchmarks [--quick] [--only GROUP ...]`: run the suite, write results/<machine>-<date>.json and .md."""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from pathlib import Path

from .report import GROUPS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller cases: a first look")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=GROUPS, help="run only these groups")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="results folder")
    args = parser.parse_args(argv)

    from rich.console import Console

    from . import commands, layers, network, report, serve, training

    console = Console(stderr=True)
    q = args.quick
    info = report.machine()  # before the runs: its load average tells how busy the machine was
    plan = {
        "layer": lambda: layers.run(repeats=2 if q else 3),
        "network": lambda: network.run({1: 3} if q else {1: 4, 4: 2}) + network.blend_cost(2 if q else 5),
        "training": lambda: [training.precision(repeats=2 if q else 5)] + training.run(repeats=1 if q else 3),
        "commands": lambda: commands.run(quick=q),
        "serve": lambda: serve.run(quick=q),
    }
    start = time.perf_counter()
    records: list[dict] = []
    for group in GROUPS:
        if group not in args.only:
            continue
        t = time.perf_counter()
        with console.status(f"benchmark: {group}…"):
            records += plan[group]()
        console.print(f"[green]✓[/] {group} ({time.perf_counter() - t:.0f} s)")
    result = {
        "slug": report.machine_slug(info),
        "date": datetime.date.today().isoformat(),
        "quick": q,
        "groups": [g for g in GROUPS if g in args.only],
        "command": shlex.join(["python", "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])]),
        "seconds": time.perf_counter() - start,
        "machine": info,
        "load_average_end": os.getloadavg()[0],
        "records": records,
    }
    result["targets"] = report.check_targets(records)
    json_path, md_path = report.write(result, args.out)
    for row in result["targets"]:
        console.print(
            f"{row['target']}: {row['value'] if row['value'] is None else round(row['value'], 3)} — {row['status']}"
        )
    console.print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
