"""Objectives (registered in OBJECTIVES), their pure loss functions and penalties (PENALTIES)."""

from ganbench.losses import functional, penalties
from ganbench.losses.objectives import OBJECTIVES, Labelled, Objective
from ganbench.losses.penalties import PENALTIES, Penalty, PenaltyParams

__all__ = [
    "OBJECTIVES",
    "PENALTIES",
    "Labelled",
    "Objective",
    "Penalty",
    "PenaltyParams",
    "functional",
    "penalties",
]
