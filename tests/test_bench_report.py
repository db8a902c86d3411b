import json

from benchmarks import report


def fake_result(quick):
    records = [
        {
            "group": "network",
            "case": "paper512 inference 512² fp32 batch 1",
            "metric": "ms/image",
            "values": {"pconv": 100.0, "reference": 250.0, "plain": 90.0},
            "ratios": {"reference/pconv": 2.5, "pconv/plain": 100 / 90},
            "notes": [],
        },
        {"group": "training", "case": "step", "metric": "images/s", "values": {}, "ratios": {}, "notes": ["x"]},
        {
            "group": "make-masks",
            "case": "pconv make-masks",
            "metric": "",
            "values": {},
            "ratios": {},
            "notes": ["skipped: command not built yet"],
            "skipped": True,
        },
    ]
    info = report.machine()
    return {
        "slug": report.machine_slug(info),
        "date": "2026-01-02",
        "quick": quick,
        "groups": list(report.GROUPS),
        "command": "python -m benchmarks",
        "seconds": 1.0,
        "machine": info,
        "load_average_end": 0.5,
        "records": records,
        "targets": report.check_targets(records),
    }


def test_targets_are_judged_from_the_ratios():
    rows = {row["target"]: row for row in fake_result(False)["targets"]}
    assert rows["network ≥ 1.5× faster than reference (a), batch 1"]["status"] == "met"
    assert rows["network within 1.15× of the plain-conv floor, batch 1"]["status"] == "met"
    assert rows["network ≥ 1.5× faster than reference (a), batch 4"]["status"] == "not measured in this run"
    assert rows["make-masks ≥ 200 masks/s at 512²"]["status"] == "skipped: command not built yet"


def test_write_json_markdown_and_latest_only_for_full_runs(tmp_path):
    result = fake_result(True)
    json_path, md_path = report.write(result, tmp_path)
    assert json_path.name == f"{result['slug']}-2026-01-02-quick.json"
    assert json.loads(json_path.read_text())["records"][0]["ratios"]["reference/pconv"] == 2.5
    assert "reference/pconv **2.5**" in md_path.read_text()
    assert not (tmp_path / "latest.md").exists()
    report.write(fake_result(False), tmp_path)
    assert (tmp_path / "latest.md").read_text().startswith("# pconv benchmarks")


def test_partial_run_gets_its_own_name_and_leaves_latest_alone(tmp_path):
    result = fake_result(False) | {"groups": ["network"]}
    json_path, _ = report.write(result, tmp_path)
    assert json_path.name.endswith("-2026-01-02-network.json")
    assert not (tmp_path / "latest.md").exists()
