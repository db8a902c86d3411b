import doctest

import pytest

from pconv_cli import errors
from pconv_cli.errors import one_line


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OSError("truncated\nsecond line"), "cannot read a.png: truncated"),
        (ValueError(""), "cannot read a.png: ValueError"),
        (ValueError("\nonly later"), "cannot read a.png: "),
    ],
)
def test_one_line_keeps_the_first_line_or_names_the_type(exc, expected):
    assert one_line("cannot read a.png", exc) == expected


def test_docstring_examples():
    assert doctest.testmod(errors, raise_on_error=False).failed == 0
