"""The CLI benchmarks report failing commands as skipped and measure working ones (with a stand-in `pconv`)."""

import sys

import pytest

from benchmarks import commands, texture

FAILING = """
import sys
print("pconv: error: no space left on device", file=sys.stderr)
sys.exit(1)
"""
MAKE_MASKS = """
import pathlib, sys
out = pathlib.Path(sys.argv[2]); out.mkdir()
count = int(sys.argv[sys.argv.index("--count") + 1])
for i in range(count):
    (out / f"m{i}.png").write_bytes(b"png")
"""


@pytest.fixture
def fake_pconv(tmp_path, monkeypatch):
    def install(source):
        script = tmp_path / "fake_pconv.py"
        script.write_text(source)
        monkeypatch.setattr(commands, "pconv_command", lambda: [sys.executable, str(script)])

    return install


def test_failing_commands_are_skipped_with_their_error(tmp_path, fake_pconv):
    fake_pconv(FAILING)
    (record,) = commands.make_masks(tmp_path, 3)
    assert record["skipped"] and record["notes"] == ["failed: exit 1: pconv: error: no space left on device"]
    (record,) = commands.inpaint(tmp_path, 2, None)
    assert record["skipped"] and record["group"] == "end-to-end"
    (record,) = texture.run(tmp_path, 1, 1, None)
    assert record["skipped"] and "no space left" in record["notes"][0]


def test_built_make_masks_is_measured(tmp_path, fake_pconv):
    fake_pconv(MAKE_MASKS)
    (record,) = commands.make_masks(tmp_path, 7)
    assert not record.get("skipped") and record["values"]["pconv"] > 0
    assert record["notes"] == ["7 PNG files written"]


def test_failure_message_is_the_last_meaningful_line():
    err = "Usage: pconv make-masks\n╭─ Error ─╮\n│ No such option: --size │\n╰──────────╯\n"
    assert commands._failure(2, err) == "failed: exit 2: No such option: --size"
    assert commands._failure(0, "") is None


def test_run_measured_reports_exit_code_and_peak_rss():
    code, wall, rss, err = commands.run_measured([sys.executable, "-c", "b = bytearray(50 << 20); raise SystemExit(3)"])
    assert code == 3 and wall > 0 and rss >= 50 and err == ""
