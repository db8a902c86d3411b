import dataclasses
import errno
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pconv_cli.commands.train import TrainOptions
from pconv_cli.errors import PconvError, UsageError
from pconv_cli.model.unet import PConvConfig
from pconv_cli.model.weights import load_model
from pconv_cli.training import launch, setup
from pconv_cli.training.checkpoint import read_checkpoint

pytestmark = pytest.mark.slow  # training runs, exports and builds: `make test` runs them, `make test-fast` not


def write_photos(folder: Path, count: int = 4, size: int = 72) -> Path:
    """Smooth colour gradients with a few shapes: learnable in a few steps, unlike noise."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        img = np.stack([xx * (i + 1) % 1, yy, (xx + yy) / 2], -1)
        img[size // 4 : size // 2, size // 3 : size // 2] = (i % 2, 0.5, 1 - i % 2)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def write_masks(folder: Path, count: int = 3, size: int = 96) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        m = np.zeros((size, size), np.uint8)
        t, left = rng.integers(0, size // 2, 2)
        m[t : t + size // 3, left : left + size // 4] = 255
        Image.fromarray(m).save(folder / f"m{i}.png")
    return folder


@pytest.fixture
def photos(tmp_path):
    return write_photos(tmp_path / "photos")


@pytest.fixture
def masks(tmp_path):
    return write_masks(tmp_path / "masks")


def options(photos, out, **kw) -> TrainOptions:
    base = dict(
        data=[str(photos)], out=str(out) if out else None, arch="tiny", device="cpu", batch_size=2, workers=0, steps=4
    )
    base.update(log_every=1, val_every=1000, sample_every=1000, save_every=1000)
    base.update(kw)
    return TrainOptions(**base)


def cli(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "pconv_cli", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw
    )


def run_cli(*args):
    proc = cli(*args)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out.decode(), err.decode()


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def main_in_process(monkeypatch, capsys, *args) -> tuple[int, str]:
    """`pconv ARGS` through cli.main in this process (so that a test can patch what it calls): exit code, stderr."""
    from pconv_cli.cli import main

    monkeypatch.setattr(signal, "signal", lambda *a: None)  # no handlers of main's and the run's in pytest's process
    monkeypatch.setattr(sys, "argv", ["pconv", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


def test_few_steps_reduce_the_loss_on_a_fixed_batch(photos, masks, tmp_path):
    from pconv_cli.model.unet import PConvConfig, PConvUNet
    from pconv_cli.training.data import ValSet, find_images, mask_source, to_device
    from pconv_cli.training.loss import InpaintingLoss

    out = tmp_path / "run"
    summary = launch.train(options(photos, out, steps=12, lr=2e-3, val=str(photos), val_masks=str(masks), val_every=4))
    assert summary["step"] == 12 and not summary["interrupted"]
    batch = ValSet(find_images([photos])[0], 64, mask_source(masks, augment=False), seed=0)
    image, mask = to_device(torch.utils.data.default_collate([batch[i] for i in range(4)]), torch.device("cpu"))
    loss_fn = InpaintingLoss()
    torch.manual_seed(0)
    before = PConvUNet(PConvConfig.preset("tiny")).eval()
    after = load_model(out / "last.pt")
    with torch.no_grad():
        loss_before = loss_fn(before(image * mask, mask), image, mask)[0]
        loss_after = loss_fn(after(image * mask, mask), image, mask)[0]
    assert loss_after < 0.8 * loss_before
    vals = [r["val_loss"] for r in metrics(out) if "val_loss" in r]
    assert len(vals) == 3 and vals[-1] < vals[0]
    assert (out / "best.pt").is_file() and (out / "loss_curve.png").is_file()
    assert (out / "samples" / "step_000012.png").is_file()
    grid = Image.open(out / "samples" / "step_000012.png")
    assert grid.size == (4 * 64, 4 * 64)
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "tiny" and config["steps"] == 12 and config["model"]["levels"] == 3
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_resume_is_bit_for_bit(photos, tmp_path):
    full = launch.train(options(photos, tmp_path / "full", steps=4))
    assert full["step"] == 4
    launch.train(options(photos, tmp_path / "split", steps=2))
    resumed = launch.train(options(photos, None, steps=4, resume=str(tmp_path / "split" / "last.pt")))
    assert resumed["step"] == 4 and resumed["out"] == str(tmp_path / "split")
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    losses = [(r["step"], r["loss"]) for r in metrics(tmp_path / "full")]
    assert [(r["step"], r["loss"]) for r in metrics(tmp_path / "split")] == losses


def test_finetune_freezes_exactly_the_encoder_bn_and_lowers_lr(photos, tmp_path):
    launch.train(options(photos, tmp_path / "base", steps=2))
    base = torch.load(tmp_path / "base" / "last.pt", weights_only=True)["model"]
    launch.train(options(photos, tmp_path / "ft", steps=3, finetune=str(tmp_path / "base" / "last.pt")))
    ckpt = torch.load(tmp_path / "ft" / "last.pt", weights_only=True)
    tuned = ckpt["model"]
    assert ckpt["finetune"] and ckpt["step"] == 3
    enc_bn = [k for k in base if k.startswith("encoder.") and ".bn." in k and "num_batches" not in k]
    dec_bn = [k for k in base if k.startswith("decoder.") and ".bn." in k and "running_mean" in k]
    assert enc_bn and dec_bn
    for key in enc_bn:  # running stats and affine parameters of the encoder BN untouched
        assert torch.equal(base[key], tuned[key]), key
    assert all(not torch.equal(base[k], tuned[k]) for k in dec_bn)
    assert not torch.equal(base["encoder.0.conv.conv.weight"], tuned["encoder.0.conv.conv.weight"])
    assert {r["lr"] for r in metrics(tmp_path / "ft")} == {setup.FINETUNE_LR}
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["finetune"] == str(tmp_path / "base" / "last.pt") and config["finetuning"]  # where it started
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == setup.FINETUNE_LR
    # the frozen parameters are not even in the optimiser
    trainable = sum(p.numel() for k, p in base.items() if k.endswith(("weight", "bias")) and k not in enc_bn)
    in_optimizer = sum(s["exp_avg"].numel() for s in ckpt["optimizer"]["state"].values())
    assert in_optimizer == trainable


def test_init_starts_from_the_weights_with_every_layer_learning(photos, tmp_path):
    launch.train(options(photos, tmp_path / "base", steps=2))
    base = torch.load(tmp_path / "base" / "last.pt", weights_only=True)["model"]
    first = launch.train(options(photos, tmp_path / "init", steps=1, init=str(tmp_path / "base" / "last.pt")))
    ckpt = torch.load(tmp_path / "init" / "last.pt", weights_only=True)
    assert first["step"] == 1 and not ckpt["finetune"]
    assert {r["lr"] for r in metrics(tmp_path / "init")} == {setup.TRAIN_LR}
    # one step from the base: close to it (not a fresh init), and the encoder BN moved too
    key = "encoder.0.conv.conv.weight"
    assert (ckpt["model"][key] - base[key]).abs().max() <= 2 * setup.TRAIN_LR
    assert not torch.equal(base["encoder.1.bn.running_mean"], ckpt["model"]["encoder.1.bn.running_mean"])


def test_ddp_two_cpu_processes_agree_and_rank0_writes(photos, tmp_path):
    out = tmp_path / "ddp"
    first = launch.train(options(photos, out, steps=2, gpus=2))
    assert first["step"] == 2 and first["world"] == 2
    summary = launch.train(options(photos, None, steps=3, gpus=2, resume=str(out / "last.pt")))
    assert summary["step"] == 3 and summary["out"] == str(out)
    for s in (first, summary):
        assert len(s["replica_checksums"]) == 2 and s["replica_checksums"][0] == s["replica_checksums"][1]
    assert first["replica_checksums"] != summary["replica_checksums"]
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "last.pt",
        "loss_curve.png",
        "metrics.jsonl",
        "samples",
    ]
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["world"] == 2 and len(ckpt["rng"]) == 2 and ckpt["step"] == 3
    assert [r["step"] for r in metrics(out)] == [1, 2, 3]  # one writer: no duplicated lines
    assert metrics(out)[0]["img_s"] > 0


def test_nonfinite_losses_are_skipped_then_stop_the_run(photos, tmp_path, monkeypatch):
    from pconv_cli.training.loss import InpaintingLoss

    real = InpaintingLoss.forward
    calls = {"n": 0}

    def flaky(self, output, target, mask):
        calls["n"] += 1
        total, terms = real(self, output, target, mask)
        return (total * float("nan"), terms) if calls["n"] > 1 else (total, terms)

    monkeypatch.setattr(InpaintingLoss, "forward", flaky)
    with pytest.raises(PconvError, match="3 non-finite losses in a row"):
        launch.train(options(photos, tmp_path / "nan", steps=10, max_nonfinite=3))
    ckpt = torch.load(tmp_path / "nan" / "last.pt", weights_only=True)
    assert ckpt["step"] == 4 and ckpt["nonfinite"] == 3
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def wait_for_step(out: Path, step: int, proc, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        if (out / "metrics.jsonl").exists() and any(r["step"] >= step for r in metrics(out)):
            return
        time.sleep(0.1)
    raise AssertionError(f"no step {step} within {timeout}s")


def test_sigkill_leaves_a_loadable_last_checkpoint(photos, tmp_path):
    out = tmp_path / "killed"
    proc = cli(
        "train", photos, "-o", out, "--arch", "tiny", "--device", "cpu", "--batch-size", "2", "--workers", "0",
        "--steps", "100000", "--save-every", "1", "--log-every", "1",
    )  # fmt: skip
    try:
        wait_for_step(out, 3, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    model = load_model(out / "last.pt")
    assert model.config.levels == 3
    assert read_checkpoint(out / "last.pt")["step"] >= 2
    # What a kill mid-write leaves (a temporary, a torn last metrics line) must not stop the resume.
    (out / ".last.pt.x1y2z3.tmp").write_bytes(b"half a checkpoint")
    (out / "samples" / ".step_000001.png.abcd.tmp").write_bytes(b"half a png")
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 99999, "lo')
    step = read_checkpoint(out / "last.pt")["step"]
    code, _, err = run_cli("train", photos, "--resume", out / "last.pt", "--steps", step + 1, "--workers", "0")
    assert code == 0, err
    assert not list(out.rglob(".*.tmp")) and metrics(out)[-1]["step"] == step + 1


def test_sigterm_saves_last_and_resume_continues(photos, tmp_path):
    out = tmp_path / "term"
    proc = cli(
        "train", photos, "-o", out, "--arch", "tiny", "--device", "cpu", "--batch-size", "2", "--workers", "1",
        "--steps", "100000", "--log-every", "1", start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_step(out, 2, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # as `timeout` or `kill -- -PGID`: the loader worker gets it too
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert "interrupted at step" in err.decode()
    step = read_checkpoint(out / "last.pt")["step"]
    assert step == metrics(out)[-1]["step"] >= 2
    code, _, err = run_cli("train", photos, "--resume", out / "last.pt", "--steps", step + 1, "--workers", "0")
    assert code == 0, err
    assert read_checkpoint(out / "last.pt")["step"] == step + 1


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),  # torch.save's
    ],
)
def test_a_full_disk_at_a_checkpoint_is_one_line_exit_1_and_the_last_one_kept(photos, tmp_path, monkeypatch, capsys,
                                                                              failure):  # fmt: skip
    out = tmp_path / "run"
    launch.train(options(photos, out, steps=2))
    before = (out / "last.pt").read_bytes()

    def disk_full(state, file):
        Path(file).write_bytes(b"the first bytes of a checkpoint")
        raise failure

    monkeypatch.setattr(torch, "save", disk_full)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 4096, 4096))
    code, err = main_in_process(monkeypatch, capsys, "train", photos, "--resume", out / "last.pt", "--steps", "3",
                               "--workers", "0")  # fmt: skip
    assert code == 1 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith(f"pconv: error: cannot write {out / 'last.pt'}: No space left on device; {out} needs ")
    assert last.endswith(" free for it, and has 4.1 kB (the previous last.pt is kept)"), last
    assert (out / "last.pt").read_bytes() == before and not list(out.glob(".*.tmp"))


def test_resume_and_run_folder_mistakes_are_one_line_errors(photos, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli("train", photos, "-o", out, "--arch", "tiny", "--steps", "2", "--workers", "0")
    assert code == 0, err
    code, _, err = run_cli("train", photos, "--resume", out / "last.pt", "--steps", "2")  # once: exit 0, nothing done
    assert code == 2 and "not above the checkpoint's step 2" in err and err.count("\n") == 1
    ckpt = torch.load(out / "last.pt", weights_only=True)
    ckpt["config"] = PConvConfig.preset("small").to_dict()  # a config its weights do not fit
    torch.save(ckpt, tmp_path / "mismatch.pt")
    code, _, err = run_cli("train", photos, "--resume", tmp_path / "mismatch.pt", "--steps", "5")
    assert code == 1 and "do not fit its config" in err and "Traceback" not in err and err.count("\n") == 1
    (tmp_path / "file").write_text("")
    for bad in (tmp_path / "file", tmp_path / "file" / "under"):
        code, _, err = run_cli("train", photos, "-o", bad, "--arch", "tiny", "--steps", "1")
        assert code == 2 and "run folder" in err and "Traceback" not in err, err


def test_a_run_folder_holding_a_run_is_refused_unless_resumed_or_overwritten(photos, masks, tmp_path):
    run = tmp_path / "run"
    launch.train(options(photos, run, steps=3, val=str(photos), val_masks=str(masks), val_every=3))
    kept = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt", "metrics.jsonl", "config.json")}
    code, _, err = run_cli("train", photos, "-o", run, "--arch", "tiny", "--steps", "1", "--workers", "0")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"run folder {run} already holds a run" in err and f"--resume {run / 'last.pt'}" in err
    assert "--overwrite" in err
    assert {name: (run / name).read_bytes() for name in kept} == kept
    # Its own checkpoint's folder, named by -o or not, is where --resume writes.
    assert setup.prepare(options(photos, run, steps=5, resume=str(run / "last.pt"))).out == run
    assert (run / "best.pt").is_file()
    # --overwrite takes it, and drops the earlier best.pt (a run without validation writes none).
    assert setup.prepare(options(photos, run, steps=1, overwrite=True)).out == run
    assert not (run / "best.pt").exists()
    # A folder holding no run is free: empty, or left by a run that never got to a step.
    (tmp_path / "empty").mkdir()
    (tmp_path / "early").mkdir()
    (tmp_path / "early" / "config.json").write_text("{}")
    (tmp_path / "early" / "metrics.jsonl").write_text("")
    for free in ("empty", "early"):
        assert setup.prepare(options(photos, tmp_path / free, steps=1)).out == tmp_path / free


@pytest.mark.parametrize("workers", [0, 1])
def test_photos_that_do_not_decode_end_in_one_line_not_a_hang(tmp_path, workers):
    broken = tmp_path / "broken"
    broken.mkdir()
    for i, path in enumerate(sorted(write_photos(tmp_path / "ok", 3).iterdir())):
        data = path.read_bytes()
        (broken / f"b{i}.png").write_bytes(data[: len(data) // 2])  # the header reads, the pixels do not
    args = ("-o", tmp_path / "run", "--arch", "tiny", "--steps", "2", "--workers", workers)
    code, _, err = run_cli("train", broken, *args)
    assert code == 1 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("pconv: error: 100 training images in a row failed to decode")
    assert not (tmp_path / "run").exists()  # it never trained a step: nothing of it is left


def _undecodable(folder: Path) -> Path:
    """Photos whose header reads (so the run starts) and whose pixels do not (so no step trains)."""
    folder.mkdir()
    for i in range(3):
        (folder / f"b{i}.png").write_bytes((write_photos(folder.parent / "whole", 3) / f"p{i}.png").read_bytes()[:300])
    return folder


def test_a_run_that_trains_no_step_removes_only_what_it_made(photos, tmp_path):
    broken = _undecodable(tmp_path / "broken")
    args = ("--arch", "tiny", "--steps", "2", "--workers", "0")
    made = tmp_path / "new" / "runs" / "a"  # made by the run, with its parents
    code, _, err = run_cli("train", broken, "-o", made, *args)
    assert code == 1 and not (tmp_path / "new").exists(), err
    mine = tmp_path / "mine"  # a folder the user made: it stays, with what they put there
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    code, _, err = run_cli("train", broken, "-o", mine, *args)
    assert code == 1 and [p.name for p in mine.iterdir()] == ["notes.txt"], err
    run = tmp_path / "run"  # a previous run's folder, resumed on data that fails: all of it stays
    code, _, err = run_cli("train", photos, "-o", run, *args)
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, _, err = run_cli("train", broken, "--resume", run / "last.pt", "--steps", "4", "--workers", "0")
    assert code == 1, err
    after = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after.keys() == before.keys() and after["last.pt"] == before["last.pt"]
    assert after["metrics.jsonl"] == before["metrics.jsonl"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", "no images"),
        ("corrupt", "readable image"),
        ("size", "multiple of 2\\*\\*levels = 8"),
        ("size0", "multiple of 2\\*\\*levels = 8 for this network, got 0"),
        ("huge", "--size must be at most 4096"),
        ("lr", "--lr must be a positive learning rate"),
        ("val", "--val needs --val-masks"),
        ("arch", "Invalid value for '--arch': 'huge' is not one of paper512, paper256, small, tiny"),
        ("precision", "--precision"),
        ("masks", "no readable mask"),
        ("loss", "--loss-weights: expected NAME=VALUE"),
    ],
)
def test_bad_input_exits_2_with_one_line(case, message, photos, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "a.jpg").write_bytes(b"\xff\xd8 not really")
    (corrupt / "b.png").write_bytes(b"")
    args = {
        "empty": [empty],
        "corrupt": [corrupt],
        "size": [photos, "--arch", "tiny", "--size", "100"],
        "size0": [photos, "--arch", "tiny", "--size", "0"],  # once silently the preset's size
        "huge": [photos, "--arch", "tiny", "--size", "65536"],  # once a 30 GB allocation
        "lr": [photos, "--lr", "-1"],
        "val": [photos, "--val", photos],
        "arch": [photos, "--arch", "huge"],
        "precision": [photos, "--precision", "fp8"],
        "masks": [photos, "--masks", empty],
        "loss": [photos, "--loss-weights", "style"],
    }[case]
    code, _, err = run_cli("train", *args, "-o", tmp_path / "run")
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_resume_under_new_loss_weights_restarts_best_and_records_them(photos, masks, tmp_path):
    run = tmp_path / "run"
    launch.train(options(photos, run, steps=2, val=str(photos), val_masks=str(masks), val_every=2))
    assert math.isfinite(torch.load(run / "last.pt", weights_only=True)["best_val"])
    pixel = "perceptual=0,style=0"
    launch.train(options(photos, None, steps=3, resume=str(run / "last.pt"), loss_weights=pixel, val_every=1000))
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["best_val"] == math.inf  # a full-loss validation value would never be beaten fairly
    assert ckpt["loss_weights"] == {"valid": 1.0, "hole": 6.0, "perceptual": 0.0, "style": 0.0, "tv": 0.1}
    assert [r["perceptual"] for r in metrics(run) if r["step"] == 3] == [0.0]


def test_weights_record_the_crop_size_as_their_working_scale(photos, tmp_path):
    launch.train(options(photos, tmp_path / "run", steps=1, size=32))
    assert load_model(tmp_path / "run" / "last.pt").config.image_size == 32  # tiny's preset says 64


def test_prepare_checks_before_any_work(photos, tmp_path):
    with pytest.raises(UsageError, match="--resume, --finetune and --init exclude"):
        setup.prepare(options(photos, tmp_path, resume="a.pt", finetune="b.pt"))
    with pytest.raises(UsageError, match="--resume, --finetune and --init exclude"):
        setup.prepare(options(photos, tmp_path, init="a.pt", finetune="b.pt"))
    with pytest.raises(UsageError, match="--batch-size must be at least 1"):
        setup.prepare(options(photos, tmp_path, batch_size=0))
    for count in (0, -1):  # once the run stopped after its first step, finite or not
        with pytest.raises(UsageError, match=f"--max-nonfinite must be at least 1, got {count}"):
            setup.prepare(options(photos, tmp_path, max_nonfinite=count))


def test_loss_curve_draws_both_series():
    from pconv_cli.training.curves import draw_loss_curve

    history = [{"step": s, "loss": 2.0 / s} for s in range(1, 20)] + [{"step": 10, "val_loss": 0.5}]
    img = np.asarray(draw_loss_curve(history))
    assert img.shape == (450, 800, 3)
    blue = ((img[..., 2] > 150) & (img[..., 0] < 80)).sum()
    red = ((img[..., 0] > 180) & (img[..., 1] < 80)).sum()
    assert blue > 100 and red > 10
    assert np.asarray(draw_loss_curve([])).std() > 0  # says there is nothing yet


def test_resume_continues_with_the_runs_own_options_unless_given_again(photos, masks, tmp_path):
    run = tmp_path / "run"
    pixel = "perceptual=0,style=0"
    first = ["--seed", "3", "--batch-size", "3", "--loss-weights", pixel, "--val", photos, "--val-masks", masks]
    first += ["--arch", "tiny", "--val-every", "2", "--log-every", "1", "--save-every", "7", "--workers", "0"]
    code, _, err = run_cli("train", photos, "-o", run, "--steps", "2", *first)
    assert code == 0, err
    started = json.loads((run / "config.json").read_text())
    # As the README shows it: the data, the checkpoint and a new total.
    code, _, err = run_cli("train", photos, "--resume", run / "last.pt", "--steps", "4", "--workers", "0")
    assert code == 0, err
    assert "resuming with the run's" in err and "--seed 3" in err and f"--loss-weights {pixel}" in err
    config = json.loads((run / "config.json").read_text())
    # --precision auto is measured again on each start (a machine setting, like --device).
    kept = set(started) - {"out", "steps", "resume", "started_at_step", "resolved_precision"}
    assert {k: config[k] for k in kept} == {k: started[k] for k in kept}
    assert config["steps"] == 4 and config["batch_size"] == 3 and config["val"] == str(photos)
    assert [r["perceptual"] for r in metrics(run) if "loss" in r] == [0.0] * 4
    assert [r["step"] for r in metrics(run) if "val_loss" in r] == [2, 4]  # validation goes on
    # A flag given again wins; the rest still come from the run.
    code, _, err = run_cli("train", photos, "--resume", run / "last.pt", "--steps", "5", "--batch-size", "2")
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["batch_size"] == 2 and config["seed"] == 3 and config["loss_weights"] == pixel
    assert read_checkpoint(run / "last.pt")["options"]["batch_size"] == 2


def test_a_finetuned_run_resumes_from_its_checkpoint_not_its_start(photos, tmp_path):
    launch.train(options(photos, tmp_path / "base", steps=1))
    code, _, err = run_cli("train", photos, "-o", tmp_path / "ft", "--finetune", tmp_path / "base" / "last.pt",
                           "--arch", "tiny", "--batch-size", "2", "--workers", "0", "--steps", "1")  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli("train", photos, "--resume", tmp_path / "ft", "--steps", "2", "--workers", "0")  # the folder
    assert code == 0, err  # not "--resume, --finetune and --init exclude each other"
    ckpt = read_checkpoint(tmp_path / "ft" / "last.pt")
    assert ckpt["step"] == 2 and ckpt["finetune"]  # still a fine-tune: encoder BatchNorm stays frozen


def test_a_closed_stderr_does_not_stop_the_run(photos, tmp_path):
    # `pconv train … 2>&1 | head -2`: rich would exit on the broken pipe; the run goes on and saves.
    proc = cli("train", photos, "-o", tmp_path / "run", "--arch", "tiny", "--batch-size", "2", "--workers", "0",
               "--loss-weights", "perceptual=0,style=0", "--steps", "12", "--log-every", "1")  # fmt: skip
    banner = proc.stderr.readline().decode()
    assert banner.startswith("training a ") and banner.rstrip().endswith(str(tmp_path / "run"))  # not wrapped
    proc.stderr.close()
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    assert read_checkpoint(tmp_path / "run" / "last.pt")["step"] == 12


def test_an_undecodable_validation_image_is_skipped_with_a_warning(photos, masks, tmp_path, capsys):
    val = write_photos(tmp_path / "val", 2)
    data = (val / "p0.png").read_bytes()
    (val / "cut.png").write_bytes(data[: len(data) // 2])  # the header reads, the pixels do not
    summary = launch.train(options(photos, tmp_path / "run", steps=2, val=str(val), val_masks=str(masks), val_every=2))
    assert summary["step"] == 2 and summary["best_val"] is not None  # once "cannot read image", exit 1
    assert f"warning: skipping unreadable validation image {val / 'cut.png'}" in capsys.readouterr().err


def test_overwrite_leaves_none_of_the_replaced_runs_sample_grids(photos, tmp_path):
    run = tmp_path / "run"
    launch.train(options(photos, run, steps=3, sample_every=1))
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / "events.out.tfevents.1.host.1.0").write_bytes(b"old run")
    launch.train(options(photos, run, steps=1, sample_every=1, overwrite=True))
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000001.png"]
    assert not (run / "tensorboard" / "events.out.tfevents.1.host.1.0").exists()


def test_a_run_with_relative_folders_resumes_from_another_directory(photos, masks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    val = dict(val="photos", val_masks="masks", masks="masks", val_every=1)
    launch.train(options(Path("photos"), Path("run"), steps=1, **val))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    given = frozenset({"data", "steps", "resume"})  # as the command line: the rest comes from the run
    resumed = launch.train(options(photos, None, steps=2, resume="../run/last.pt", given=given))
    assert resumed["step"] == 2 and resumed["best_val"] is not None
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert [config[k] for k in ("val", "val_masks", "masks")] == [str(photos), str(masks), str(masks)]


def test_config_records_the_architecture_trained_not_the_arch_default(photos, tmp_path):
    launch.train(options(photos, tmp_path / "base", steps=1))  # tiny
    launch.train(options(photos, tmp_path / "init", steps=1, arch="paper256", init=str(tmp_path / "base" / "last.pt")))
    assert json.loads((tmp_path / "init" / "config.json").read_text())["arch"] == "tiny"
    assert read_checkpoint(tmp_path / "init" / "last.pt")["options"]["arch"] == "tiny"


def test_a_typed_arch_that_contradicts_the_starting_network_is_refused(photos, tmp_path):
    launch.train(options(photos, tmp_path / "base", steps=1))  # tiny
    base = str(tmp_path / "base" / "last.pt")
    for start in (dict(init=base), dict(finetune=base), dict(resume=base, steps=2)):
        typed = dataclasses.replace(
            options(photos, tmp_path / "x", arch="small", **start), given=frozenset({"arch", "steps"})
        )
        with pytest.raises(UsageError, match="--arch small contradicts .*tiny; drop --arch"):
            setup.prepare(typed)
        same = dataclasses.replace(
            options(photos, tmp_path / "x", arch="tiny", **start), given=frozenset({"arch", "steps"})
        )
        assert setup.prepare(same).config.preset_name() == "tiny"  # typed and agreeing: fine


def test_a_run_folder_inside_the_data_folder_adds_no_training_images(photos, masks, tmp_path):
    launch.train(options(photos, photos / "run", steps=1, sample_every=1))
    assert list((photos / "run").rglob("*.png"))  # the sample grid and the loss curve
    val = dict(val=str(photos), val_masks=str(masks))
    prepared = setup.prepare(options(photos, None, steps=2, resume=str(photos / "run" / "last.pt"), **val))
    assert prepared.files == prepared.val_files == sorted(photos.glob("*.png"))


def test_a_data_or_mask_folder_itself_is_no_run_folder(photos, masks, tmp_path):
    for out, extra in ((photos, {}), (masks, dict(val=str(photos), val_masks=str(masks)))):
        with pytest.raises(UsageError, match="is a data, validation or mask folder; write the run elsewhere"):
            setup.prepare(options(photos, out, steps=1, **extra))


def test_a_run_resumed_over_another_keeps_none_of_its_metrics(photos, tmp_path):
    launch.train(options(photos, tmp_path / "a", steps=2))
    launch.train(options(photos, tmp_path / "b", steps=3, seed=5))
    launch.train(options(photos, tmp_path / "b", steps=3, resume=str(tmp_path / "a" / "last.pt"), overwrite=True))
    assert [r["step"] for r in metrics(tmp_path / "b")] == [3]  # not b's own steps 1 and 2 before it
