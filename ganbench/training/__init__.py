"""The training loop, checkpoints, sampling and hyperparameter sets."""
