"""Objectives (registered in OBJECTIVES), their pure loss functions and penalties (PENALTIES)."""

from ganbench.losses import functional as functional
from ganbench.losses import penalties as penalties
from ganbench.losses.objectives import OBJECTIVES as OBJECTIVES
from ganbench.losses.objectives import Labelled as Labelled
from ganbench.losses.objectives import Objective as Objective
from ganbench.losses.penalties import PENALTIES as PENALTIES
from ganbench.losses.penalties import Penalty as Penalty
from ganbench.losses.penalties import PenaltyParams as PenaltyParams
