"""Objectives (registered in LOSSES), their pure loss functions and penalties."""

from ganbench.losses import functional, penalties
from ganbench.losses.objectives import LOSSES, Objective

__all__ = ["LOSSES", "Objective", "functional", "penalties"]
