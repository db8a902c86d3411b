from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pconv_cli.errors import PconvError, UsageError
from pconv_cli.imaging.inputs import STDIO, Source, discover, find_mask, output_format, plan_output


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
    with pytest.raises(UsageError, match="cannot tell the output format of x.raw"):
        output_format(Path("x.raw"), None)


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
