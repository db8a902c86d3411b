import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_CACHES = {".pytest_cache", ".ruff_cache", "__pycache__", ".venv"}


def _untracked() -> set[str]:
    """Top-level entries of the repository, and files git neither tracks nor ignores."""
    entries = {p.name for p in ROOT.iterdir()} - _CACHES
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, timeout=60
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    return entries | set(listed)


@pytest.fixture(autouse=True, scope="session")
def _no_files_left_in_the_repository():
    # A test once trained into a run folder named "None" at the repository's root: every test writes under tmp_path.
    before = _untracked()
    yield
    leaked = sorted(_untracked() - before)
    assert not leaked, f"tests left files in the repository: {', '.join(leaked[:10])}"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# Every device this machine has: CUDA cases run where a GPU exists and are not collected elsewhere.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)
