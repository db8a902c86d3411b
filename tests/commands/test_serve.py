import pytest

from pconv_cli.commands.serve import Options
from pconv_cli.errors import UsageError
from pconv_cli.imaging.images import DEFAULT_MAX_PIXELS


@pytest.mark.parametrize(
    "flags, message",
    [
        (dict(port=70000), "--port 70000: expected 0 (any free port) to 65535"),
        (dict(queue=0), "--queue 0: expected at least 1"),
        (dict(max_upload_mb=float("nan")), "--max-upload-mb nan: expected a size of at least 0.001 (1 KiB)"),
    ],
)
def test_impossible_values_are_usage_errors_naming_the_flag(flags, message):
    with pytest.raises(UsageError) as info:
        Options.from_flags(**flags)
    assert str(info.value) == message


def test_defaults_and_the_upload_limit_in_bytes():
    options = Options.from_flags(max_upload_mb=0.5)
    assert options.max_upload_bytes == 512 * 1024 and options.max_pixels == DEFAULT_MAX_PIXELS
