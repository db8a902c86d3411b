import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _parent_conftest():
    spec = importlib.util.spec_from_file_location("_pconv_tests_conftest", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True, scope="session")
def _no_files_left_in_the_repository():
    """tests/conftest.py's check, except for the screenshot PCONV_SCREENSHOT asks for (docs/serve.png)."""
    untracked = _parent_conftest()._untracked
    allowed = set()
    if os.environ.get("PCONV_SCREENSHOT"):
        shot = Path(os.environ["PCONV_SCREENSHOT"]).resolve()
        if shot.is_relative_to(ROOT):
            relative = shot.relative_to(ROOT)
            allowed = {relative.as_posix(), *(p.as_posix() for p in relative.parents)}
    before = untracked()
    yield
    leaked = sorted(untracked() - before - allowed)
    assert not leaked, f"tests left files in the repository: {', '.join(leaked[:10])}"
