"""The reports of one `pconv eval` run: the table on stderr, results.json, results.md, bins.csv and
comparison.png, over every row of results.csv (earlier runs' too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pconv_cli.evaluation import reports as rep
from pconv_cli.evaluation.pairs import figure_tags
from pconv_cli.evaluation.scoring import PATCHES
from pconv_cli.evaluation.texture import PatchStore
from pconv_cli.imaging.masks import BINS, bin_label

if TYPE_CHECKING:
    from pconv_cli.commands.evaluate import EvalOptions
    from pconv_cli.evaluation.results import EvalResult


def _config(opts: EvalOptions) -> dict:
    return {
        "images": str(opts.images),
        "masks": str(opts.masks),
        "bins": [bin_label(*BINS[b]) for b in opts.bins],
        "borders": list(opts.borders),
        "pairs_per_bin": opts.pairs_per_bin,
        "size": opts.size,
        "seed": opts.seed,
        "blend": opts.blend,
    }


def _picture(result: EvalResult, opts: EvalOptions, labels: dict[str, str]) -> bool:
    """comparison.png of the pairs chosen for it; False when none is."""
    shown = figure_tags(result.pairs, opts.figure_pairs)
    by_tag = {p.tag: p for p in result.pairs}
    tags = sorted((p.tag for p in result.pairs if p.tag in shown), key=lambda t: by_tag[t].mask.bin)
    row_labels = [f"{bin_label(*BINS[by_tag[t].mask.bin])}\n{by_tag[t].mask.border}" for t in tags]
    if tags:
        rep.comparison_picture(
            opts.out / "comparison.png", opts.out / "samples", tags, list(labels.items()), row_labels
        )
    return bool(tags)


def _print_table(console, table) -> None:
    # Never squeeze the table into a narrow or non-terminal stderr: wrap lines rather than truncate numbers.
    wide = console.measure(table, options=console.options.update(width=10_000)).maximum
    narrow = console.width
    console.width = max(narrow, wide)
    console.print(table)
    console.width = narrow


def write_reports(result: EvalResult, opts: EvalOptions, console) -> dict:
    """Print the table on stderr, write results.json, results.md, bins.csv and comparison.png; return the aggregate."""
    from rich.markup import escape

    methods, rows = result.reported()
    names = [m.name for m in methods]
    labels = {m.name: m.label for m in methods}
    agg = rep.aggregate(rows, names, PatchStore(opts.out / PATCHES).pooled_distance)
    used = len({(r["image"], r["mask"]) for r in rep.common_rows(rows, names)})
    note = f"{used} image × mask pairs, every method on each; pairs per bin and border mode: {opts.pairs_per_bin}."
    summary = {
        "methods": [{"name": m.name, "label": m.label, "kind": m.kind} for m in methods],
        "skipped": result.skipped,
        "pairs": used,
        "aggregate": agg["cells"],
        "overall": agg["overall"],
        "failures": result.failures,
    }
    rep.write_json(opts.out / "results.json", {"config": _config(opts), **summary, "per_pair": rows})
    rep.write_text(opts.out / "results.md", rep.markdown_table(agg, labels, note))
    rep.write_cells_csv(opts.out / "bins.csv", agg)
    drawn = _picture(result, opts, labels)
    _print_table(console, rep.rich_table(agg, labels))
    written = "results.csv, results.json, results.md, bins.csv" + (", comparison.png" if drawn else "")
    console.print(f"{note}\nwrote {escape(str(opts.out))}/{written}")
    return summary
