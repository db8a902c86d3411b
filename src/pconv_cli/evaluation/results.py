"""The results of `pconv eval` on disk: results.csv (one row per pair and method, read back by
--resume and by the reports) and settings.json (what those rows measure), and the run's outcome.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pconv_cli.errors import UsageError
from pconv_cli.evaluation.methods import Method, listed_method
from pconv_cli.evaluation.reports import PER_PAIR
from pconv_cli.files import atomic_write

if TYPE_CHECKING:
    from pconv_cli.commands.evaluate import EvalOptions
    from pconv_cli.evaluation.pairs import Pair

METRICS = PER_PAIR  # one list of per-pair numbers for the CSV, the summaries and the reports
CSV_COLUMNS = ("image", "mask", "method", "bin", "border", "hole_ratio", "height", "width", *METRICS)
# Added since results files were first written: NaN when a file lacks them.
LATER_COLUMNS = ("detail", "perceptual")


@dataclass
class EvalResult:
    rows: list[dict]
    methods: list[Method]
    pairs: list[Pair]
    skipped: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    aside: list[dict] = field(default_factory=list)  # rows of results.csv this run did not ask for
    earlier_methods: list[str] = field(default_factory=list)  # methods of results.csv before the run, in file order

    def reported(self) -> tuple[list[Method], list[dict]]:
        """Every method and row of results.csv after the run, so the reports agree with the file."""
        names = dict.fromkeys([*self.earlier_methods, *(m.name for m in self.methods)])
        ours = {m.name: m for m in self.methods}
        return [ours.get(name) or listed_method(name) for name in names], self.aside + self.rows


def read_results(path: Path) -> list[dict]:
    """Rows of an existing results.csv (numbers parsed); UsageError if it is not one."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = set(CSV_COLUMNS) - set(reader.fieldnames or ()) - set(LATER_COLUMNS)
            missing_later = set(LATER_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise UsageError(f"{path} is not a pconv eval results file (missing {', '.join(sorted(missing))})")
            rows = []
            for raw in reader:
                if any(raw.get(k) in (None, "") for k in CSV_COLUMNS if k not in missing_later):
                    continue  # a row cut short by a killed run: computed again
                row = {k: raw.get(k) or "nan" for k in CSV_COLUMNS}
                for k in ("hole_ratio", *METRICS):
                    row[k] = float(row[k])
                row["height"], row["width"] = int(row["height"]), int(row["width"])
                rows.append(row)
    except (OSError, ValueError, csv.Error) as exc:
        raise UsageError(f"cannot resume from {path}: {exc}".splitlines()[0]) from exc
    return rows


def write_results(path: Path, rows: list[dict]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


# What a row measures beyond its image × mask × method names, as the option that sets it. --bins,
# --border and --pairs-per-bin only choose which pairs run: a cell's pairs do not depend on them.
SETTINGS = {"images": "IMAGES", "masks": "--masks", "size": "--size", "invert_mask": "--invert-mask", "seed": "--seed"}


def run_settings(opts: EvalOptions) -> dict:
    folders = {"images": str(opts.images.resolve()), "masks": str(opts.masks.resolve())}
    return {**folders, "size": opts.size, "invert_mask": opts.invert_mask, "seed": opts.seed}


def check_settings(opts: EvalOptions) -> None:
    """UsageError when --resume would add rows measured otherwise than those in the folder.

    A folder from before settings.json was written has no record: it is resumed as before.
    """
    path = opts.out / "settings.json"
    if not (opts.resume and path.is_file()):
        return
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot resume from {path}: {exc}".splitlines()[0]) from exc
    now = run_settings(opts)
    differ = [
        f"{flag} {recorded[key]} then, {now[key]} now"
        for key, flag in SETTINGS.items()
        if key in recorded and recorded[key] != now[key]
    ]
    if differ:
        raise UsageError(
            f"cannot resume {opts.out}: its results were made with other settings ({'; '.join(differ)}); "
            "pass the same ones, another --out, or --overwrite"
        )
