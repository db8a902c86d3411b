import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pconv_cli.errors import PconvError
from pconv_cli.model.unet import PConvConfig, PConvUNet
from pconv_cli.model.weights import load_model
from pconv_cli.training.checkpoint import (
    FORMAT_VERSION,
    checkpoint_state,
    read_checkpoint,
    remove_stale_temporaries,
    restore_rng,
    restore_training,
    rng_state,
    save_checkpoint,
)
from pconv_cli.training.loss import LossWeights

pytestmark = pytest.mark.slow  # training runs, exports and builds: `make test` runs them, `make test-fast` not

CPU = torch.device("cpu")


def pconv(*args) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "pconv_cli", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stderr


def one_step() -> tuple[PConvUNet, torch.optim.Adam]:
    """A tiny model and its Adam after one step, so that the optimiser has moments to save."""
    model = PConvUNet(PConvConfig.preset("tiny"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    image, mask = torch.rand(2, 3, 64, 64), (torch.rand(2, 1, 64, 64) > 0.3).float()
    model(image * mask, mask).mean().backward()
    optimizer.step()
    return model, optimizer


def save(path: Path, **changes) -> dict:
    """A checkpoint at step 7 written as the trainer writes one, with ``changes`` to its contents."""
    model, optimizer = one_step()
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    state = checkpoint_state(
        model, optimizer, scaler, step=7, best_val=0.5, nonfinite=2, loss_weights=LossWeights(),
        finetune=False, rngs=[rng_state(CPU)], world=1, options={},
    )  # fmt: skip
    state.update(changes)
    save_checkpoint(path, state)
    return state


def test_a_checkpoint_restores_the_optimiser_counters_and_generators(tmp_path):
    torch.manual_seed(5)
    model, optimizer = one_step()
    rngs = [rng_state(CPU)]
    drawn_next = torch.rand(3)
    state = checkpoint_state(
        model, optimizer, torch.amp.GradScaler("cpu", enabled=False), step=7, best_val=0.5, nonfinite=2,
        loss_weights=LossWeights(), finetune=False, rngs=rngs, world=1, options={},
    )  # fmt: skip
    save_checkpoint(tmp_path / "last.pt", state)
    ckpt = read_checkpoint(tmp_path / "last.pt")
    assert ckpt["format_version"] == FORMAT_VERSION
    assert ckpt["config"] == model.config.to_dict()
    fresh = torch.optim.Adam(PConvUNet(model.config).parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    assert restore_training(ckpt, fresh, scaler, 2e-4, LossWeights()) == (7, 0.5, 2)
    assert fresh.param_groups[0]["lr"] == 2e-4  # the run's --lr, not the saved one
    for saved, restored in zip(optimizer.state.values(), fresh.state.values(), strict=True):
        assert torch.equal(saved["exp_avg_sq"], restored["exp_avg_sq"])
    torch.manual_seed(0)
    restore_rng(ckpt, 0, CPU)
    assert torch.equal(torch.rand(3), drawn_next)
    torch.manual_seed(0)
    seeded = torch.rand(3)
    torch.manual_seed(0)
    restore_rng(ckpt, 1, CPU)  # a rank the checkpoint has no state for keeps its seeded generator
    assert torch.equal(torch.rand(3), seeded)


def test_resuming_under_other_loss_weights_forgets_the_best_validation_loss(tmp_path):
    save(tmp_path / "last.pt")
    ckpt = read_checkpoint(tmp_path / "last.pt")
    optimizer = torch.optim.Adam(PConvUNet(PConvConfig.preset("tiny")).parameters())
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    assert restore_training(ckpt, optimizer, scaler, 1e-3, LossWeights.parse("style=0")) == (7, math.inf, 2)


def test_an_unknown_format_version_is_refused_on_one_line(tmp_path):
    save(tmp_path / "next.pt", format_version=FORMAT_VERSION + 1)
    with pytest.raises(PconvError, match=f"checkpoint format version {FORMAT_VERSION + 1}; this pconv reads") as info:
        read_checkpoint(tmp_path / "next.pt")
    assert "\n" not in str(info.value)
    code, err = pconv("train", tmp_path, "--resume", tmp_path / "next.pt", "--steps", "10")
    assert code == 1 and f"checkpoint format version {FORMAT_VERSION + 1};" in err and err.count("\n") == 1, err


def test_a_checkpoint_from_before_the_version_field_still_reads(tmp_path):
    state = save(tmp_path / "old.pt")
    del state["format_version"]
    torch.save(state, tmp_path / "old.pt")
    assert read_checkpoint(tmp_path / "old.pt")["step"] == 7


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(PconvError, match="cannot read checkpoint"):
        read_checkpoint(bad)
    code, err = pconv("train", tmp_path, "--resume", bad)
    assert code == 1 and "cannot read checkpoint" in err and err.count("\n") == 1
    code, err = pconv("export", bad, "-o", tmp_path / "w.safetensors")
    assert code == 1 and "cannot load weights" in err and "Traceback" not in err
    (tmp_path / "junk.pt").write_text("junk\n")  # torch.load's own error for this is KeyError(174812789)
    code, err = pconv("export", tmp_path / "junk.pt", "-o", tmp_path / "w.safetensors")
    assert code == 1 and "not a readable pconv checkpoint" in err and err.count("\n") == 1
    torch.save({"step": Path("code, to torch")}, tmp_path / "pickled.pt")  # torch advises weights_only=False
    code, err = pconv("train", tmp_path, "--resume", tmp_path / "pickled.pt")
    assert code == 1 and "not a readable pconv checkpoint" in err and "weights_only" not in err, err
    torch.save({"config": {"levels": 3}, "model": {}}, tmp_path / "weights_only.pt")
    with pytest.raises(PconvError, match="not a resumable"):
        read_checkpoint(tmp_path / "weights_only.pt")


def test_a_failed_save_keeps_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    save(tmp_path / "last.pt")

    def disk_full(state, file):
        Path(file).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(PconvError, match="No space left on device"):
        save_checkpoint(tmp_path / "last.pt", {"step": 8})
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_full_disk_asks_for_about_the_checkpoints_size(tmp_path, monkeypatch):
    import shutil

    state = save(tmp_path / "last.pt")
    size = (tmp_path / "last.pt").stat().st_size

    def disk_full(state, file):
        Path(file).write_bytes(b"half a checkpoint")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", disk_full)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100))
    with pytest.raises(
        PconvError, match=rf"No space left on device; {tmp_path} needs about ([\d.]+) (k|M)B free"
    ) as info:
        save_checkpoint(tmp_path / "last.pt", state)
    number, unit = re.search(r"needs about ([\d.]+) (k|M)B", str(info.value)).groups()
    assert 0.8 * size <= float(number) * {"k": 1e3, "M": 1e6}[unit] <= 1.2 * size  # the estimate: within 20 %
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 7


def test_stale_temporaries_of_a_killed_save_go_and_nothing_else(tmp_path):
    (tmp_path / "samples").mkdir()
    stale = [".last.pt.x1y2z3.tmp", ".metrics.jsonl.k3j2.tmp", "samples/.step_000001.png.abcd.tmp"]
    kept = ["last.pt", "metrics.jsonl", "notes.tmp", ".keep", "samples/step_000001.png"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    remove_stale_temporaries(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == sorted(kept)
    remove_stale_temporaries(tmp_path / "no-such-run")  # a new run folder: nothing to do


def test_export_writes_safetensors_with_config(tmp_path):
    save(tmp_path / "last.pt")
    code, err = pconv("export", tmp_path / "last.pt", "-o", tmp_path / "w.safetensors", "--half")
    assert code == 0, err
    from safetensors import safe_open

    with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as f:
        assert json.loads(f.metadata()["config"])["levels"] == 3
        assert f.get_tensor("encoder.0.conv.conv.weight").dtype == torch.float16
    original = load_model(tmp_path / "last.pt")
    exported = load_model(tmp_path / "w.safetensors")
    for (k, a), b in zip(original.state_dict().items(), exported.state_dict().values()):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-3, msg=k)
    code, err = pconv("export", tmp_path / "last.pt", "-o", tmp_path / "w.pt")
    assert code == 2 and ".safetensors" in err
    # Suffixes are matched whatever their case, as the CLI does: written and read back as safetensors.
    code, err = pconv("export", tmp_path / "last.pt", "-o", tmp_path / "W.SAFETENSORS", "--half")
    assert code == 0, err
    torch.testing.assert_close(load_model(tmp_path / "W.SAFETENSORS").state_dict(), exported.state_dict())


def test_docstring_examples():
    import doctest

    from pconv_cli.training import checkpoint

    assert doctest.testmod(checkpoint, raise_on_error=False).failed == 0
