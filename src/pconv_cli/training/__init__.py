"""Training: setup and launch, the replica loop, data, the loss, checkpoints and the run record."""
