"""Launching a `pconv train` run: in this process for one replica, spawned processes for several on
this machine, or this process's place in a torchrun job (``replicas.py``)."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import torch

from pconv_cli.model.weights import load_model
from pconv_cli.runtime.devices import pick_device
from pconv_cli.training.checkpoint import read_checkpoint
from pconv_cli.training.replicas import process_group, spawn, under_torchrun
from pconv_cli.training.setup import prepare, remove_made_folders
from pconv_cli.training.trainer import Trainer

if TYPE_CHECKING:
    from pconv_cli.commands.train import TrainOptions
    from pconv_cli.training.setup import Setup


def train(opts: TrainOptions) -> dict:
    """Run the training; returns a summary dict (step, best_val, interrupted, run folder). A run that
    fails before its first step leaves nothing it made (the trainer removes its files, this its folders)."""
    setup = prepare(opts)
    try:
        if under_torchrun():
            rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
            return _replica(local, setup, rank, "env://")
        if setup.world == 1:
            return _replica(0, setup, 0, None)
        # Tensors pickled to spawned processes live in shared memory, and Adam's load_state_dict
        # keeps them as they are: the replicas would update one shared moment buffer. Each
        # worker reads the checkpoint itself instead.
        light = dataclasses.replace(setup, checkpoint=None, init_state=None)
        return spawn(_spawned_replica, light, setup.world, setup.out)
    except BaseException:
        remove_made_folders(setup)
        raise


def _spawned_replica(local: int, setup: Setup, init: str) -> dict:
    """A spawned replica: it reads the checkpoint and the initial weights itself (see train)."""
    opts = setup.opts
    if opts.resume:
        setup.checkpoint = read_checkpoint(opts.resume)
    if opts.finetune or opts.init:
        setup.init_state = load_model(opts.finetune or opts.init).state_dict()
    return _replica(local, setup, local, init)


def _replica(local: int, setup: Setup, rank: int, init: str | None) -> dict:
    """Train as replica ``rank`` (``local`` on this machine); the run's summary."""
    if setup.device_type == "cuda":
        device = torch.device("cuda", local) if setup.world > 1 else pick_device(setup.opts.device)
        torch.cuda.set_device(device)
    else:
        device = torch.device(setup.device_type)
    with process_group(device, rank, setup.world, init):
        return Trainer(setup, rank, device).run()
