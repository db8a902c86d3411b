from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.imaging import inputs
from pconv_cli.imaging.inputs import (
    RECORD_KEYS,
    STDIO,
    Job,
    Masking,
    Outputs,
    Source,
    discover,
    find_mask,
    load,
    output_format,
    plan_jobs,
    plan_output,
)


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)


def test_discover_and_find_mask_rules(tmp_path):
    _png(tmp_path / "in" / "a.png")
    _png(tmp_path / "in" / "a_inpainted.png")
    _png(tmp_path / "in" / "out" / "b.png")
    (tmp_path / "in" / "notes.txt").write_text("x")
    names = [s.rel.as_posix() for s in discover([str(tmp_path / "in")])]
    assert names == ["a.png", "out/b.png"]
    names = [s.rel.as_posix() for s in discover([str(tmp_path / "in")], str(tmp_path / "in" / "out"))]
    assert names == ["a.png"]
    for out in ("in", "."):  # -o the input folder or above it: every image would be skipped as a result
        with pytest.raises(UsageError, match="inside the output folder"):
            discover([str(tmp_path / "in")], str(tmp_path / out))
    _png(tmp_path / "masks" / "a.png")
    _png(tmp_path / "masks" / "a.jpg")
    with pytest.raises(PconvError, match="several masks"):
        find_mask(tmp_path / "masks", Path("a.png"))
    _png(tmp_path / "masks" / "b.png")
    assert find_mask(tmp_path / "masks", Path("deep/b.png")) == tmp_path / "masks" / "b.png"


def test_the_mask_folder_or_file_inside_an_input_folder_is_no_input(tmp_path):
    for name in ("a.png", "m.png", "masks/a.png", "masks/deep/b.png"):
        _png(tmp_path / "ph" / name)
    folder = str(tmp_path / "ph")
    names = [s.rel.as_posix() for s in discover([folder], mask=tmp_path / "ph" / "masks")]
    assert names == ["a.png", "m.png"]
    names = [s.rel.as_posix() for s in discover([folder], mask=tmp_path / "ph" / "m.png")]
    assert names == ["a.png", "masks/a.png", "masks/deep/b.png"]
    # --mask naming the input folder itself keeps its images, to fail each saying why
    assert len(discover([folder], mask=tmp_path / "ph")) == 4


def test_output_names_and_formats():
    source = Source(Path("in/photo.jpg"), Path("sub/photo.jpg"))
    assert plan_output(source, None, None, False) == Path("in/photo_inpainted.jpg")
    assert plan_output(source, "done", "PNG", True) == Path("done/sub/photo.png")
    assert plan_output(source, "one.webp", None, False) == Path("one.webp")
    assert plan_output(Source(None, Path("stdin.png")), None, None, False) == STDIO
    assert output_format(STDIO, None) == "PNG" and output_format(Path("x.tif"), None) == "TIFF"
    with pytest.raises(UsageError, match="cannot tell the output format of x.raw; pass --format png") as raw:
        output_format(Path("x.raw"), None)
    assert "folder" not in str(raw.value)
    with pytest.raises(UsageError, match="a folder is named with a trailing /: done/"):
        output_format(Path("done"), None)


def test_a_glob_leaves_out_earlier_results_the_output_folder_and_masks(tmp_path):
    # A quoted glob run twice (--skip-existing) took the first run's a_inpainted.png for an input,
    # so a.png's output "would replace an input" and a_inpainted_inpainted.png was written.
    for name in ("a.png", "a_inpainted.png", "m.png", "done/b.png", "masks/a.png"):
        _png(tmp_path / name)
    pattern = str(tmp_path / "**" / "*.png")
    names = [s.rel.as_posix() for s in discover([pattern], str(tmp_path / "done"), tmp_path / "m.png")]
    assert names == ["a.png", "a.png"]  # the top one and masks/a.png: only a --mask folder is left out
    names = [s.rel.as_posix() for s in discover([pattern], None, tmp_path / "masks")]
    assert names == ["a.png", "b.png", "m.png"]


def test_a_file_named_twice_is_one_input(tmp_path):
    for name in ("a.png", "sub/b.png"):
        _png(tmp_path / "in" / name)
    folder, sub = str(tmp_path / "in"), str(tmp_path / "in" / "sub")
    given = [
        folder,
        sub,
        str(tmp_path / "in" / "sub" / "b.png"),
        str(tmp_path / "in" / "*.png"),
        folder + "/../in/a.png",
    ]
    assert [s.rel.as_posix() for s in discover(given)] == ["a.png", "sub/b.png"]
    assert [s.rel.as_posix() for s in discover([STDIO, STDIO])] == ["stdin.png", "stdin.png"]  # refused elsewhere


def _planned(sources: list[Source], **outputs) -> list[tuple[str | None, str | None]]:
    return [(job.record["status"], job.record["error"]) for job in plan_jobs(sources, Outputs(**outputs))]


def test_planning_refuses_what_would_replace_an_input_or_an_earlier_output(tmp_path):
    for name in ("a.png", "b.png", "sub/a.png"):
        _png(tmp_path / name)
    a, b, sub_a = (Source(tmp_path / n, Path(n)) for n in ("a.png", "b.png", "sub/a.png"))
    flat_a = Source(tmp_path / "sub/a.png", Path("a.png"))
    assert _planned([a, b], output=str(tmp_path)) == [  # -o the input folder: each output is its input
        ("failed", f"the output {tmp_path / 'a.png'} would replace an input; choose another -o"),
        ("failed", f"the output {tmp_path / 'b.png'} would replace an input; choose another -o"),
    ]
    out = tmp_path / "out"
    assert _planned([a, flat_a], output=str(out))[1] == (
        "failed",
        f"the output {out / 'a.png'} is also the output of an earlier input",
    )
    assert _planned([a, sub_a], output=str(out)) == [(None, None), (None, None)]  # sub/a.png keeps its folder
    jobs = plan_jobs([a], Outputs(output=str(out)), several=True)
    assert (
        jobs[0].output == out / "a.png" and jobs[0].format == "PNG" and jobs[0].record["output"] == str(out / "a.png")
    )
    assert list(jobs[0].record) == list(RECORD_KEYS) and jobs[0].record["input"] == str(tmp_path / "a.png")
    # --mask FILE is never replaced either, even when it is no input
    _png(tmp_path / "m.png")
    refused = plan_jobs([a], Outputs(output=str(tmp_path / "m.png"), overwrite=True), tmp_path / "m.png")
    assert refused[0].output is None and "would replace an input" in refused[0].record["error"]


def test_planning_existing_outputs_fail_skip_or_are_replaced(tmp_path):
    _png(tmp_path / "a.png")
    _png(tmp_path / "a_inpainted.png")
    a = Source(tmp_path / "a.png", Path("a.png"))
    existing = tmp_path / "a_inpainted.png"
    assert _planned([a]) == [("failed", f"{existing} exists (pass --overwrite, or --skip-existing to resume)")]
    skipped = plan_jobs([a], Outputs(skip_existing=True))[0]
    assert (
        skipped.output is None and skipped.record["status"] == "skipped" and skipped.record["output"] == str(existing)
    )
    replaced = plan_jobs([a], Outputs(overwrite=True))[0]
    assert replaced.output == existing and replaced.record["status"] is None
    missing = Source(tmp_path / "x.png", Path("x.png"), "x.png: no such file or folder")
    assert _planned([missing]) == [("failed", "x.png: no such file or folder")]


def test_planning_refuses_an_output_that_cannot_take_several_inputs(tmp_path):
    a, b = Source(tmp_path / "a.png", Path("a.png")), Source(tmp_path / "b.png", Path("b.png"))
    with pytest.raises(UsageError, match="-o - writes one image to stdout, but several inputs were given"):
        plan_jobs([a, b], Outputs(output=STDIO))
    with pytest.raises(UsageError, match="-o - writes one image"):
        plan_jobs([a], Outputs(output=STDIO), several=True)  # a folder or a glob: several, even if one matched
    with pytest.raises(UsageError, match=r"names a file, but several inputs were given; pass a folder"):
        plan_jobs([a, b], Outputs(output=str(tmp_path / "one.png")))
    assert Outputs(output=str(tmp_path)).names_folder and Outputs(output="new/").names_folder
    assert not Outputs(output="new").names_folder and not Outputs(output=STDIO).names_folder


def test_load_decodes_a_planned_job_and_records_a_broken_file_as_failed(tmp_path, monkeypatch):
    image = np.zeros((4, 6, 4), np.uint8)
    image[1, 2, 3] = 255  # opaque pixel; the rest, transparent, are holes
    Image.fromarray(image).save(tmp_path / "a.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    good, broken = plan_jobs(
        [Source(tmp_path / "a.png", Path("a.png")), Source(tmp_path / "broken.png", Path("broken.png"))],
        Outputs(output=str(tmp_path / "out")),
    )
    done = load(good, Masking(), max_pixels=1000, stdin=None)
    assert done.record["status"] is None and done.mask_from_alpha
    assert done.holes.shape == (4, 6) and done.holes.dtype == bool and done.holes.sum() == 23
    assert (done.record["mask"], done.record["width"], done.record["height"]) == ("alpha", 6, 4)
    assert done.record["hole_ratio"] == round(23 / 24, 6)
    failed = load(broken, Masking(), max_pixels=1000, stdin=None)
    assert failed.picture is None and failed.record["status"] == "failed"
    assert (
        failed.record["error"]
        == f"cannot read image {tmp_path / 'broken.png'}: not an image, or a format Pillow does not know"
    )
    refused = Job(Source(tmp_path / "a.png", Path("a.png")), record={"status": "skipped"})
    assert load(refused, Masking(), max_pixels=1000, stdin=None) is refused and refused.picture is None

    # a decoder's surprise on a hostile file fails that input alone, in one line
    def surprise(*_):
        raise SyntaxError("bad chunk\nat 12")

    monkeypatch.setattr(inputs, "read_image", surprise)
    surprised = load(good, Masking(), max_pixels=1000, stdin=None)
    assert surprised.record["error"] == f"cannot read {tmp_path / 'a.png'}: SyntaxError: bad chunk"


def test_shards_cover_every_source_once_stably_and_a_new_file_moves_no_other():
    sources = [Source(Path("photos") / f"sub{i % 3}" / f"{i}.png", Path(f"sub{i % 3}/{i}.png")) for i in range(200)]
    parts = [inputs.shard(sources, k, 7) for k in range(1, 8)]
    names = [source.rel for part in parts for source in part]
    assert sorted(names) == sorted(s.rel for s in sources)  # every source in exactly one shard
    assert all(15 <= len(part) <= 45 for part in parts)  # about 200 / 7 each
    assert [inputs.shard(sources, k, 7) for k in range(1, 8)] == parts  # the same split every time
    assert inputs.shard(sources[::-1], 3, 7) == parts[2][::-1]  # by name, not by position
    grown = [*sources, Source(Path("photos/new.png"), Path("new.png"))]
    assert sum(len(inputs.shard(grown, k, 7)) != len(parts[k - 1]) for k in range(1, 8)) == 1
    assert all(set(map(id, parts[k - 1])) <= set(map(id, inputs.shard(grown, k, 7))) for k in range(1, 8))
    # Pinned: another process, machine or Python gives the same split (Python's hash() would not).
    assert [s.rel.as_posix() for s in inputs.shard(sources[:12], 1, 3)] == [
        "sub2/2.png",
        "sub1/4.png",
        "sub0/6.png",
        "sub2/8.png",
        "sub0/9.png",
    ]
    assert inputs.shard(sources, 1, 1) == sources
    for k, n in ((0, 3), (4, 3), (1, 0)):
        with pytest.raises(ValueError, match=f"expected 1 <= k <= n, got k={k}, n={n}"):
            inputs.shard(sources, k, n)
