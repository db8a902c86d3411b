"""`pconv train`: the paper's training loop (DESIGN §1.3) on one CPU/GPU or many through DDP.

One process per replica. ``train(options)`` runs in-process for one replica, spawns
``gpus`` workers on this machine, or joins a torchrun job when its environment
variables are set. Rank 0 alone writes the run folder and logs.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import signal
import socket
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .data import Positions, TrainSet, ValSet, find_images, mask_source, to_device
from .devices import describe, pick_device, training_precision
from .errors import PconvError, UsageError
from .files import atomic_write, writable_folder
from .inference import PRECISIONS, composite
from .loss import LossWeights
from .unet import PConvConfig, PConvUNet
from .weights import load_model, load_state

MAX_SIZE = 4096  # crop side: a 256-image batch of 4096² crops is already ~50 GB of activations
FINETUNE_LR = 5e-5
TRAIN_LR = 2e-4


@dataclass
class TrainOptions:
    """Every option of `pconv train`; saved as the run's config.json."""

    data: list[str]
    out: str | None = None
    arch: str = "paper256"
    size: int | None = None
    masks: str | None = None
    val: str | None = None
    val_masks: str | None = None
    device: str = "auto"
    gpus: int = 1
    steps: int = 100_000
    batch_size: int = 6
    grad_accum: int = 1
    lr: float | None = None
    seed: int = 0
    precision: str = "auto"
    compile: bool = False
    sync_bn: bool = False
    finetune: str | None = None
    init: str | None = None
    resume: str | None = None
    workers: int = 4
    log_every: int = 10
    val_every: int = 1000
    sample_every: int = 1000
    save_every: int = 500
    max_nonfinite: int = 20
    vgg_weights: str | None = None
    loss_weights: str = ""  # LossWeights.parse spec; empty = the paper's weights


@dataclass
class _Setup:
    """Checked options plus what they resolve to, shared with every worker."""

    opts: TrainOptions
    out: Path
    config: PConvConfig
    size: int
    lr: float
    files: list[Path]
    skipped_files: int
    val_files: list[Path]
    masks: object  # GeneratedMasks or FolderMasks: .sample(rng, (h, w)) -> bool hole array
    val_masks: object | None
    checkpoint: dict | None  # the --resume checkpoint
    init_state: dict | None  # the --finetune or --init weights
    finetune: bool
    loss_weights: LossWeights
    world: int
    device_type: str
    precision: str  # resolved: fp32, bf16 or fp16


def read_checkpoint(path: str | Path) -> dict:
    """A training checkpoint (weights_only); UsageError when missing, PconvError when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file is a one-line error
        raise PconvError(f"cannot read checkpoint {path}: {exc}".splitlines()[0]) from exc
    for key in ("config", "model", "optimizer", "step"):
        if not isinstance(ckpt, dict) or key not in ckpt:
            raise PconvError(f"{path} is not a resumable pconv training checkpoint (no {key!r})")
    return ckpt


def prepare(opts: TrainOptions) -> _Setup:
    """Validate every option before any work starts (UsageError -> exit 2)."""
    if opts.precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got {opts.precision!r}")
    for name in ("steps", "batch_size", "grad_accum", "log_every", "val_every", "sample_every", "save_every"):
        if getattr(opts, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(opts, name)}")
    if opts.lr is not None and not 0 < opts.lr < 1:  # also refuses NaN
        raise UsageError(f"--lr must be a positive learning rate below 1, got {opts.lr}")
    if opts.size is not None and opts.size > MAX_SIZE:
        raise UsageError(f"--size must be at most {MAX_SIZE}, got {opts.size}")
    if opts.gpus < 0 or opts.workers < 0:
        raise UsageError("--gpus and --workers must be >= 0")
    if sum(bool(x) for x in (opts.resume, opts.finetune, opts.init)) > 1:
        raise UsageError("--resume, --finetune and --init exclude each other (a resumed run keeps its own start)")
    if opts.val and not opts.val_masks:
        raise UsageError("--val needs --val-masks DIR: validation uses fixed masks from a folder")
    if opts.val_masks and not opts.val:
        raise UsageError("--val-masks needs --val DIR")
    try:
        loss_weights = LossWeights.parse(opts.loss_weights)
    except ValueError as exc:
        raise UsageError(f"--loss-weights: {exc}") from None
    checkpoint = read_checkpoint(opts.resume) if opts.resume else None
    init_state, finetune = None, False
    if checkpoint is not None:
        config = PConvConfig.from_dict(checkpoint["config"])
        finetune = bool(checkpoint.get("finetune", False))
        try:
            load_state(PConvUNet(config), checkpoint["model"])
        except ValueError as exc:
            raise PconvError(f"cannot resume from {opts.resume}: {exc}") from None
        if opts.steps <= checkpoint["step"]:
            raise UsageError(
                f"--steps {opts.steps} is not above the checkpoint's step {checkpoint['step']}: nothing to train"
            )
    elif opts.finetune or opts.init:
        model = load_model(opts.finetune or opts.init)
        config, init_state, finetune = model.config, model.state_dict(), bool(opts.finetune)
    else:
        try:
            config = PConvConfig.preset(opts.arch)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    size = config.image_size if opts.size is None else opts.size
    if size < config.multiple or size % config.multiple:
        raise UsageError(f"--size must be a multiple of 2**levels = {config.multiple} for this network, got {size}")
    # The working scale inference uses (strategies) is the crop side the weights last trained at.
    config = dataclasses.replace(config, image_size=size)
    lr = opts.lr if opts.lr is not None else (FINETUNE_LR if finetune else TRAIN_LR)
    files, bad = find_images(opts.data)
    val_files = find_images([opts.val], "validation")[0] if opts.val else []
    masks = mask_source(opts.masks)
    val_masks = mask_source(opts.val_masks, augment=False) if opts.val_masks else None
    if opts.out:
        out = Path(opts.out)
    elif opts.resume:
        out = Path(opts.resume).parent
    else:
        out = Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    device = pick_device("cpu" if opts.gpus == 0 else opts.device)
    world = int(os.environ["WORLD_SIZE"]) if _under_torchrun() else max(1, opts.gpus)
    if device.type == "cuda" and not _under_torchrun() and world > torch.cuda.device_count():
        raise UsageError(f"--gpus {world}: only {torch.cuda.device_count()} CUDA device(s) present")
    if device.type == "mps" and world > 1:
        raise UsageError("--gpus > 1 needs CUDA (or --device cpu for CPU processes)")
    if opts.precision == "fp16" and device.type == "cpu":
        raise UsageError("--precision fp16 needs a GPU; use bf16 or fp32 on CPU")
    precision = training_precision(device, opts.precision)
    writable_folder(out, "run folder")  # last: a refused option leaves no folder behind
    for path in bad:
        print(f"warning: skipping unreadable image {path}", file=sys.stderr)
    return _Setup(
        opts, out, config, size, lr, files, len(bad), val_files, masks, val_masks,
        checkpoint, init_state, finetune, loss_weights, world, device.type, precision,
    )  # fmt: skip


def _under_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(opts: TrainOptions) -> dict:
    """Run the training; returns a summary dict (step, best_val, interrupted, run folder)."""
    setup = prepare(opts)
    if _under_torchrun():
        rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
        return _worker(local, setup, rank, "env://")
    if setup.world == 1:
        return _worker(0, setup, 0, None)
    import torch.multiprocessing as mp

    init = f"tcp://127.0.0.1:{_free_port()}"
    # Ctrl-C reaches every worker (same process group), which stop together at a step
    # boundary; the parent just waits. SIGTERM reaches the parent only: pass it on.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.getsignal(signal.SIGTERM)
    try:
        # Tensors pickled to spawned processes live in shared memory, and Adam's load_state_dict
        # keeps them as they are: the replicas would update one shared moment buffer. Each
        # worker reads the checkpoint itself instead.
        light = dataclasses.replace(setup, checkpoint=None, init_state=None)
        ctx = mp.start_processes(_spawned, args=(light, init), nprocs=setup.world, join=False, start_method="spawn")
        signal.signal(signal.SIGTERM, lambda *_: [os.kill(p.pid, signal.SIGTERM) for p in ctx.processes])
        while not ctx.join():
            pass
    except mp.ProcessRaisedException as exc:
        raise _one_line(exc, "a training worker failed") from None
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    summary_path = setup.out / ".summary.json"
    summary = json.loads(summary_path.read_text())
    summary_path.unlink()
    return summary


def _one_line(exc: BaseException, what: str) -> PconvError:
    """An error from another process (a DDP replica, a loader worker), whose message carries its whole
    traceback, as the one-line error it ends with: pconv's own as it was, anything else after ``what``."""
    if isinstance(exc, PconvError) and "\n" not in str(exc).strip():
        return exc  # raised in this process: already one line
    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    kind, _, message = last.partition(": ")
    if kind.startswith("pconv_cli."):
        return (UsageError if kind.endswith("UsageError") else PconvError)(message)
    return PconvError(f"{what}: {last}")


def _spawned(local: int, setup: _Setup, init: str) -> None:
    opts = setup.opts
    if opts.resume:
        setup.checkpoint = read_checkpoint(opts.resume)
    if opts.finetune or opts.init:
        setup.init_state = load_model(opts.finetune or opts.init).state_dict()
    summary = _worker(local, setup, local, init)
    if local == 0:
        atomic_write(setup.out / ".summary.json", lambda tmp: Path(tmp).write_text(json.dumps(summary)))
    # Leave without interpreter finalisation: a gloo thread still joinable in a native static
    # destructor aborted a finished replica now and then ("terminate called without an active
    # exception", SIGABRT), failing a run whose work was all saved.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _StopFlag:
    """SIGINT/SIGTERM ask the loop to stop at the next step boundary; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _worker_init(_: int) -> None:
    # The main process decides when to stop: Ctrl-C, `timeout` or `kill -- -PGID` reach the
    # loader workers too, and a worker dying first would break the loader before the save.
    # Workers still exit when the loader shuts down or the main process dies.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _worker(local: int, setup: _Setup, rank: int, init: str | None) -> dict:
    opts, world = setup.opts, setup.world
    if setup.device_type == "cuda":
        device = torch.device("cuda", local) if world > 1 else pick_device(opts.device)
        torch.cuda.set_device(device)
    else:
        device = torch.device(setup.device_type)
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, init_method=init, rank=rank, world_size=world)
    try:
        summary = _Trainer(setup, rank, device).run()
        if world > 1:  # leave together: gloo can abort a peer whose partner tears down mid-exchange
            gc.collect()  # the trainer's DDP reducer holds the process group: free it first
            dist.barrier()
        return summary
    finally:
        if world > 1:
            dist.destroy_process_group()


class _Trainer:
    def __init__(self, setup: _Setup, rank: int, device: torch.device) -> None:
        self.setup, self.opts, self.rank, self.device = setup, setup.opts, rank, device
        self.world = setup.world
        self.main = rank == 0
        opts, ckpt = self.opts, setup.checkpoint
        torch.manual_seed(opts.seed)  # identical initial weights on every rank
        self.model = PConvUNet(setup.config)
        if setup.init_state is not None:
            self.model.load_state_dict(setup.init_state)
        if setup.finetune:
            self.model.freeze_encoder_bn()
        if ckpt is not None:
            self.model.load_state_dict(ckpt["model"])
        # Low-precision convolutions (tensor cores, AMX on CPU) run fastest on NHWC tensors.
        self.memory_format = torch.contiguous_format if setup.precision == "fp32" else torch.channels_last
        self.model.to(device, memory_format=self.memory_format).train()
        net: nn.Module = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            if opts.sync_bn:
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        self.net = torch.compile(net) if opts.compile else net
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=setup.lr)
        self.scaler = torch.amp.GradScaler(device.type, enabled=setup.precision == "fp16")
        self.dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[setup.precision]
        from .loss import InpaintingLoss

        weights = setup.loss_weights
        self.loss_fn = InpaintingLoss(weights, opts.vgg_weights).to(device, memory_format=self.memory_format)
        self.step, self.best_val, self.nonfinite = 0, math.inf, 0
        if ckpt is not None:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            for group in self.optimizer.param_groups:  # an explicit --lr overrides the saved one
                group["lr"] = setup.lr
            if "scaler" in ckpt and ckpt["scaler"]:
                self.scaler.load_state_dict(ckpt["scaler"])
            self.step = int(ckpt["step"])
            # Validation losses under other loss weights do not compare: best.pt starts afresh.
            same_loss = ckpt.get("loss_weights", dataclasses.asdict(LossWeights())) == dataclasses.asdict(weights)
            self.best_val = float(ckpt.get("best_val", math.inf)) if same_loss else math.inf
            self.nonfinite = int(ckpt.get("nonfinite", 0))
        # Per-rank generator state: each replica draws differently (nothing in the model draws today).
        torch.manual_seed(opts.seed * 1000 + rank)
        if ckpt is not None and rank < len(ckpt.get("rng", [])):
            saved = ckpt["rng"][rank]
            torch.set_rng_state(saved["cpu"])
            if device.type == "cuda" and "cuda" in saved:
                torch.cuda.set_rng_state(saved["cuda"], device)
        self.trainset = TrainSet(setup.files, setup.size, setup.masks, opts.seed)
        self.valset = ValSet(setup.val_files, setup.size, setup.val_masks, opts.seed) if setup.val_files else None
        self.log = _RunLog(setup.out, self.step, enabled=self.main)

    # ---- loop -----------------------------------------------------------------
    def run(self) -> dict:
        opts, setup = self.opts, self.setup
        per_step = opts.batch_size * opts.grad_accum
        remaining = max(0, opts.steps - self.step)
        if self.main:
            self._write_config()
            self.log.message(
                f"training a {setup.config.levels}-level ×{setup.config.width} net at {setup.size}² on "
                f"{describe(self.device)} × {self.world} in {setup.precision}, {len(setup.files)} images"
                + (f" ({setup.skipped_files} unreadable skipped)" if setup.skipped_files else "")
                + f", steps {self.step}→{opts.steps}, lr {setup.lr:g} → {setup.out}"
            )
        loader = torch.utils.data.DataLoader(
            self.trainset,
            batch_size=opts.batch_size,
            sampler=Positions(self.step * per_step, remaining * per_step, self.rank, self.world),
            num_workers=opts.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if opts.workers else None,
            worker_init_fn=_worker_init,
            drop_last=True,
        )
        batches = iter(loader)
        try:
            interrupted = self._loop(batches, per_step)
        finally:
            # An error leaves its traceback holding the iterator, whose workers would then outlive the
            # process and hang its exit: stop them here.
            getattr(batches, "_shutdown_workers", lambda: None)()
        if self.valset is not None and remaining and self.step % opts.val_every and not interrupted:
            self._validate()
        self._save("last.pt")
        self.log.close()
        if interrupted:
            self.log.message(f"interrupted at step {self.step}; saved {self.setup.out / 'last.pt'} (use --resume)")
        return {
            "step": self.step,
            "world": self.world,
            "replica_checksums": self._replica_checksums(),
            "best_val": None if math.isinf(self.best_val) else self.best_val,
            "nonfinite": self.nonfinite,
            "interrupted": interrupted,
            "out": str(self.setup.out),
        }

    def _loop(self, batches, per_step: int) -> bool:
        """Train from self.step to --steps; True when a signal stopped it early."""
        opts, interrupted, consecutive = self.opts, False, 0
        with _StopFlag() as stop, self.log.progress(self.step, opts.steps) as progress:
            while self.step < opts.steps:
                t0 = time.perf_counter()
                terms, total, finite, wait, skipped = self._train_step(batches)
                self.step += 1
                elapsed = time.perf_counter() - t0
                if finite:
                    consecutive = 0
                else:
                    self.nonfinite += 1
                    consecutive += 1
                    self.log.message(f"step {self.step}: non-finite loss, step skipped ({self.nonfinite} so far)")
                if self.main:
                    record = {"step": self.step, "loss": total, **terms, "lr": self.optimizer.param_groups[0]["lr"]}
                    record |= {"img_s": per_step * self.world / elapsed, "data_wait": wait / elapsed}
                    record["skipped_images"] = skipped
                    if self.device.type == "cuda":
                        record["gpu_mem_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
                    progress(self.step, record, log=self.step % opts.log_every == 0 or self.step == opts.steps)
                if consecutive >= opts.max_nonfinite:
                    self._save("last.pt")
                    raise PconvError(
                        f"stopped at step {self.step}: {consecutive} non-finite losses in a row "
                        "(try a lower --lr or --precision fp32); last.pt keeps the last good weights"
                    )
                if self.valset is not None and self.step % opts.val_every == 0:
                    self._validate()
                if self.main and (self.step % opts.sample_every == 0 or self.step == opts.steps):
                    self._samples()
                if self.step % opts.save_every == 0:
                    self._save("last.pt")
                if self._all_agree(stop.requested):
                    interrupted = self.step < opts.steps
                    break
        return interrupted

    def _replica_checksums(self) -> list[float]:
        """Sum of every parameter, per rank: equal on all ranks when DDP kept the replicas in step."""
        local = sum(float(p.detach().double().sum()) for p in self.model.parameters())
        if self.world == 1:
            return [local]
        gathered = [None] * self.world
        dist.all_gather_object(gathered, local)
        return gathered

    def _all_agree(self, flag: bool) -> bool:
        """True when any rank has the flag (so every rank stops at the same step)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def _train_step(self, batches) -> tuple[dict[str, float], float, bool, float, int]:
        opts = self.opts
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        total, finite, wait, skipped = 0.0, True, 0.0, 0
        for micro in range(opts.grad_accum):
            t = time.perf_counter()
            try:
                batch = next(batches)
            except (PconvError, RuntimeError) as exc:  # a loader worker's error, its traceback in the message
                raise _one_line(exc, "loading training images failed") from None
            wait += time.perf_counter() - t
            skipped += int(batch["skipped"].sum())
            image, mask = to_device(batch, self.device, self.memory_format)
            last = micro == opts.grad_accum - 1
            sync = self.net.no_sync() if self.world > 1 and not last else nullcontext()
            with sync:
                with self._autocast():
                    output = self.net(image * mask, mask)
                    loss, terms = self.loss_fn(output, image, mask)
                bad = self._all_agree(not bool(torch.isfinite(loss)))
                if not bad:
                    self.scaler.scale(loss / opts.grad_accum).backward()
            finite = finite and not bad
            total += float(loss.detach()) / opts.grad_accum
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) / opts.grad_accum
        if finite:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.zero_grad(set_to_none=True)
        return sums, total, finite, wait, skipped

    # ---- validation, samples, checkpoints ------------------------------------
    @torch.no_grad()
    def _validate(self) -> None:
        if self.main:
            self.model.eval()
            loader = torch.utils.data.DataLoader(
                self.valset,
                batch_size=self.opts.batch_size,
                num_workers=min(self.opts.workers, 2),
                worker_init_fn=_worker_init,
            )
            sums: dict[str, float] = {}
            total, count = 0.0, 0
            for batch in loader:
                image, mask = to_device(batch, self.device, self.memory_format)
                with self._autocast():
                    output = self.model(image * mask, mask)
                    loss, terms = self.loss_fn(output, image, mask)
                n = image.shape[0]
                total += float(loss) * n
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * n
                count += n
            self.model.train()
            val = total / count
            record = {"step": self.step, "val_loss": val} | {f"val_{k}": v / count for k, v in sums.items()}
            self.log.metrics(record)
            self.log.message(f"step {self.step}: validation loss {val:.4f}")
            if val < self.best_val:
                self.best_val = val
                self._save("best.pt", gather_rng=False)
        if self.world > 1:
            dist.barrier()

    @torch.no_grad()
    def _samples(self) -> None:
        """samples/step_XXXXXX.png: rows of masked input | output | composite | ground truth."""
        source = self.valset if self.valset is not None else self.trainset
        items = [source[i] for i in range(min(4, len(source)))]
        image = torch.stack([it["image"] for it in items]).to(self.device).float() / 255
        mask = torch.stack([it["mask"] for it in items]).to(self.device).float()
        self.model.eval()
        output = self.model(image * mask, mask).float().clamp(0, 1)
        self.model.train()
        masked = image * mask + (1 - mask)  # holes shown white
        comp = composite(image, output, mask)
        rows = [torch.cat([masked[i], output[i], comp[i], image[i]], dim=2) for i in range(len(items))]
        grid = (torch.cat(rows, dim=1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
        self.log.image(f"samples/step_{self.step:06d}.png", grid)

    def state(self, gather_rng: bool = True) -> dict:
        """The checkpoint: config and model (what load_model reads) plus everything --resume needs.

        gather_rng collects every rank's generator states (a collective: all ranks must call it).
        """
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        rngs = [rng]
        if gather_rng and self.world > 1:
            rngs = [None] * self.world
            dist.all_gather_object(rngs, {k: v.cpu() for k, v in rng.items()})
        return {
            "config": self.model.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "step": self.step,
            "best_val": self.best_val,
            "loss_weights": dataclasses.asdict(self.loss_fn.weights),
            "nonfinite": self.nonfinite,
            "finetune": self.setup.finetune,
            "rng": rngs,
            "world": self.world,
        }

    def _save(self, name: str, gather_rng: bool = True) -> None:
        """Rank 0 writes ``name`` atomically; with gather_rng every rank must call this."""
        state = self.state(gather_rng)
        if self.main:
            atomic_write(self.setup.out / name, lambda tmp: torch.save(state, tmp))

    def _write_config(self) -> None:
        setup = self.setup
        config = dataclasses.asdict(self.opts) | {
            "model": setup.config.to_dict(),
            "size": setup.size,
            "lr": setup.lr,
            "resolved_precision": setup.precision,
            "world_size": self.world,
            "finetune": setup.finetune,
            "torch": torch.__version__,
            "started_at_step": self.step,
        }
        text = json.dumps(config, indent=2)
        atomic_write(setup.out / "config.json", lambda tmp: Path(tmp).write_text(text + "\n"))


def _records(path: Path) -> list[dict]:
    """The records of a metrics.jsonl; a line cut short by a killed run is left out."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class _RunLog:
    """metrics.jsonl, the loss-curve PNG, TensorBoard and stderr progress; a no-op off rank 0."""

    def __init__(self, out: Path, start_step: int, enabled: bool) -> None:
        self.out, self.enabled = out, enabled
        self.history: list[dict] = []
        self.tb = None
        if not enabled:
            return
        (out / "samples").mkdir(parents=True, exist_ok=True)
        for stale in [*out.glob(".*.tmp"), *(out / "samples").glob(".*.tmp")]:
            stale.unlink(missing_ok=True)  # atomic_write's temporaries of a killed run (SIGKILL skips the clean-up)
        path = out / "metrics.jsonl"
        if path.exists():  # a resumed run drops what was logged after its checkpoint
            self.history = [r for r in _records(path) if r.get("step", 0) <= start_step]
            text = "".join(json.dumps(r) + "\n" for r in self.history)
            atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        self._file = open(path, "a")  # noqa: SIM115 - open for the whole run
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:  # tensorboard is optional
            pass
        from rich.console import Console

        self.console = Console(stderr=True)

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, markup=False, highlight=False)

    def metrics(self, record: dict) -> None:
        if not self.enabled:
            return
        record = {k: round(v, 6) if isinstance(v, float) else v for k, v in record.items()}
        self.history.append(record)
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self.tb is not None:
            for k, v in record.items():
                if k != "step":
                    self.tb.add_scalar(k if k.startswith("val") else f"train/{k}", v, record["step"])
        from .curves import draw_loss_curve

        png = draw_loss_curve(self.history)
        atomic_write(self.out / "loss_curve.png", lambda tmp: png.save(tmp, format="PNG"))

    def image(self, relative: str, array: np.ndarray) -> None:
        from PIL import Image

        atomic_write(self.out / relative, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))

    def progress(self, start: int, total: int):
        """Context giving update(step, record, log): a rich bar on a terminal, plain lines otherwise."""
        return _Progress(self, start, total)

    def close(self) -> None:
        if self.enabled:
            self._file.close()
            if self.tb is not None:
                self.tb.close()


class _Progress:
    def __init__(self, log: _RunLog, start: int, total: int) -> None:
        self.log, self.start, self.total = log, start, total
        self.bar = None
        self.window: list[dict] = []
        self.t0 = time.perf_counter()

    def __enter__(self):
        if self.log.enabled and self.log.console.is_terminal:
            from .console import progress_bar

            self.bar = progress_bar(self.log.console, info=True)
            self.bar.start()
            self.task = self.bar.add_task("step", total=self.total, completed=self.start, info="")
        return self

    def __call__(self, step: int, record: dict, log: bool) -> None:
        self.window.append(record)
        if self.bar is not None:
            self.bar.update(self.task, completed=step, info=f"loss {record['loss']:.4f}  {record['img_s']:.1f} img/s")
        if not log:
            return
        mean = {k: sum(r[k] for r in self.window) / len(self.window) for k in record if k not in ("step", "lr")}
        mean |= {"step": step, "lr": record["lr"]}
        mean["skipped_images"] = sum(r.get("skipped_images", 0) for r in self.window)
        self.window = []
        self.log.metrics(mean)
        if self.bar is None:
            done = step - self.start
            rate = (time.perf_counter() - self.t0) / max(done, 1)
            eta = int(rate * (self.total - step))
            self.log.message(
                f"step {step}/{self.total}  loss {mean['loss']:.4f}  {mean['img_s']:.1f} img/s  "
                f"data wait {mean['data_wait']:.0%}  eta {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}"
            )

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def export(checkpoint: str | Path, output: str | Path, half: bool = False) -> Path:
    """Write the weights of a checkpoint (or weights file) as shippable safetensors with its config."""
    from .weights import save_weights

    output = Path(output)
    if output.suffix != ".safetensors":
        raise UsageError(f"export writes safetensors: the output name must end in .safetensors, got {output}")
    if not output.parent.is_dir():
        raise UsageError(f"output folder does not exist: {output.parent}")
    model = load_model(checkpoint)
    save_weights(model, output, half=half)
    return output
