"""`pconv eval`'s flags parsed into its options (the runs themselves: tests/evaluation)."""

import pytest

from pconv_cli.choices import Texture
from pconv_cli.commands.evaluate import parse_baselines, parse_bins, parse_borders, parse_textures
from pconv_cli.errors import UsageError


def test_parse_arguments():
    assert parse_bins("paper") == [0, 1, 2, 3, 4, 5]
    assert parse_bins("3,1") == [0, 2]
    for bad in ("0", "7", "x", ""):
        with pytest.raises(UsageError, match="--bins"):
            parse_bins(bad)
    assert parse_baselines("NS, telea,ns") == ["ns", "telea"]
    assert parse_baselines("none") == []
    with pytest.raises(UsageError, match="unknown baseline"):
        parse_baselines("telea,magic")
    assert parse_borders("both") == ["margin", "none"]
    with pytest.raises(UsageError):
        parse_borders("edge")


def test_parse_textures():
    assert parse_textures("auto") == (Texture.auto,)
    assert parse_textures("none, auto,none") == (Texture.none, Texture.auto)
    for bad in ("", "some", "auto,grain"):
        with pytest.raises(UsageError, match="--texture"):
            parse_textures(bad)
