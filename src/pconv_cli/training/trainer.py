"""One replica's training, as the paper trains: its network, optimiser and data, the loop with its
mixed precision, gradient accumulation and non-finite guard, validation, sample grids and saves.

Replicas agree through DDP and a few collectives (the stop flag, non-finite losses, generator
states); rank 0 alone writes the run folder.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from pconv_cli.choices import Precision
from pconv_cli.errors import PconvError
from pconv_cli.files import atomic_write
from pconv_cli.model.unet import PConvUNet
from pconv_cli.runtime.devices import describe
from pconv_cli.runtime.runner import composite
from pconv_cli.runtime.torch_backend import autocast_dtype
from pconv_cli.signals import ignore_stop_signals
from pconv_cli.training.checkpoint import (
    checkpoint_state,
    remove_stale_temporaries,
    restore_rng,
    restore_training,
    rng_state,
    save_checkpoint,
)
from pconv_cli.training.data import Positions, TrainSet, ValSet, to_device
from pconv_cli.training.loss import InpaintingLoss
from pconv_cli.training.replicas import StopFlag, one_line
from pconv_cli.training.runlog import RunLog

if TYPE_CHECKING:
    from pconv_cli.training.setup import Setup


class Trainer:
    """One replica's training: its network, optimiser and data, the loop, validation, samples and saves."""

    def __init__(self, setup: Setup, rank: int, device: torch.device) -> None:
        self.setup, self.opts, self.rank, self.device = setup, setup.opts, rank, device
        self.world = setup.world
        self.main = rank == 0
        opts, ckpt = self.opts, setup.checkpoint
        # Low-precision convolutions (tensor cores, AMX on CPU) run fastest on NHWC tensors.
        self.memory_format = torch.contiguous_format if setup.precision == Precision.fp32 else torch.channels_last
        self.model, self.net = self._network()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=setup.lr)
        self.scaler = torch.amp.GradScaler(device.type, enabled=setup.precision == Precision.fp16)
        self.dtype = autocast_dtype(device, setup.precision)
        weights = setup.loss_weights
        self.loss_fn = InpaintingLoss(weights).to(device, memory_format=self.memory_format)
        self.step, self.best_val, self.nonfinite = 0, math.inf, 0
        if ckpt is not None:
            restored = restore_training(ckpt, self.optimizer, self.scaler, setup.lr, weights)
            self.step, self.best_val, self.nonfinite = restored
        # Per-rank generator state: each replica draws differently (nothing in the model draws today).
        torch.manual_seed(opts.seed * 1000 + rank)
        if ckpt is not None:
            restore_rng(ckpt, rank, device)
        self.trainset = TrainSet(setup.files, setup.size, setup.masks, opts.seed)
        self.valset = ValSet(setup.val_files, setup.size, setup.val_masks, opts.seed) if setup.val_files else None
        if self.main:
            remove_stale_temporaries(setup.out)
        self.log = RunLog(setup.out, self.step, enabled=self.main)

    def _network(self) -> tuple[PConvUNet, nn.Module]:
        """The model, alike on every rank, on its device; and what the loop calls: the model wrapped
        for DDP when there are several replicas, compiled with --compile."""
        setup, opts = self.setup, self.opts
        torch.manual_seed(opts.seed)  # identical initial weights on every rank
        model = PConvUNet(setup.config)
        if setup.init_state is not None:
            model.load_state_dict(setup.init_state)
        if setup.finetune:
            model.freeze_encoder_bn()
        if setup.checkpoint is not None:
            model.load_state_dict(setup.checkpoint["model"])
        model.to(self.device, memory_format=self.memory_format).train()
        net: nn.Module = model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            if opts.sync_bn:
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            net = DistributedDataParallel(net, device_ids=device_ids)
        return model, torch.compile(net) if opts.compile else net

    # ---- loop -----------------------------------------------------------------
    def run(self) -> dict:
        """Train up to --steps or a stop signal, save last.pt; the run's summary. A run that fails
        before it has trained a step removes what it wrote (a broken data set leaves no empty run)."""
        first = self.step
        try:
            return self._run()
        except BaseException:
            if self.step == first:
                self.log.discard()
            raise

    def _run(self) -> dict:
        opts, setup = self.opts, self.setup
        per_step = opts.batch_size * opts.grad_accum
        remaining = max(0, opts.steps - self.step)
        if self.main:
            self._write_config()
            self.log.message(
                f"training a {setup.config.levels}-level ×{setup.config.width} net at {setup.size}² on "
                f"{describe(self.device)} × {self.world} in {setup.precision.value}, {len(setup.files)} images"
                + (f" ({setup.skipped_files} unreadable skipped)" if setup.skipped_files else "")
                + f", steps {self.step}→{opts.steps}, lr {setup.lr:g} → {setup.out}"
            )
        loader = self._loader(per_step, remaining)
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
            self.log.message(f"interrupted at step {self.step}; saved {setup.out / 'last.pt'} (use --resume)")
        return {
            "step": self.step,
            "world": self.world,
            "replica_checksums": self._replica_checksums(),
            "best_val": None if math.isinf(self.best_val) else self.best_val,
            "nonfinite": self.nonfinite,
            "interrupted": interrupted,
            "out": str(setup.out),
        }

    def _loader(self, per_step: int, remaining: int) -> torch.utils.data.DataLoader:
        """This rank's batches for the steps left, from the sample a run stopped at: a resumed run sees what
        an unbroken one would have."""
        opts = self.opts
        return torch.utils.data.DataLoader(
            self.trainset,
            batch_size=opts.batch_size,
            sampler=Positions(self.step * per_step, remaining * per_step, self.rank, self.world),
            num_workers=opts.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if opts.workers else None,
            worker_init_fn=ignore_stop_signals,
            drop_last=True,
        )

    def _loop(self, batches, per_step: int) -> bool:
        """Train from self.step to --steps; True when a signal stopped it early."""
        opts, interrupted, consecutive = self.opts, False, 0
        with StopFlag() as stop, self.log.progress(self.step, opts.steps) as progress:
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
                raise one_line(exc, "loading training images failed") from None
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
                worker_init_fn=ignore_stop_signals,
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

    def _save(self, name: str, gather_rng: bool = True) -> None:
        """Rank 0 writes checkpoint ``name``; gather_rng puts every rank's generator states in it, and
        then every rank must call this (a collective)."""
        rng = rng_state(self.device)
        rngs = [rng]
        if gather_rng and self.world > 1:
            rngs = [None] * self.world
            dist.all_gather_object(rngs, {k: v.cpu() for k, v in rng.items()})
        if self.main:
            state = checkpoint_state(
                self.model, self.optimizer, self.scaler, step=self.step, best_val=self.best_val,
                nonfinite=self.nonfinite, loss_weights=self.loss_fn.weights, finetune=self.setup.finetune,
                rngs=rngs, world=self.world, options=self.opts.record(),
            )  # fmt: skip
            save_checkpoint(self.setup.out / name, state)

    def _write_config(self) -> None:
        setup = self.setup
        config = self.opts.record() | {
            "model": setup.config.to_dict(),
            "size": setup.size,
            "lr": setup.lr,
            "resolved_precision": setup.precision.value,
            "world_size": self.world,
            "finetuning": setup.finetune,  # also for a resumed fine-tune; "finetune" keeps the option's weights
            torch.__name__: torch.__version__,
            "started_at_step": self.step,
        }
        text = json.dumps(config, indent=2)
        atomic_write(setup.out / "config.json", lambda tmp: Path(tmp).write_text(text + "\n"))
