"""Gradient algorithms: one file each, one interface (:class:`AbstractAlgorithm`)."""

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.bptt import BPTT
from gradalgos.algorithms.checkpointed import CheckpointedBPTT
from gradalgos.algorithms.hybrid import Hybrid
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.rtrl import RTRL
from gradalgos.algorithms.sensitivity import SensitivityState
from gradalgos.algorithms.tbptt import TBPTT

__all__ = [
    "BPTT",
    "RTRL",
    "TBPTT",
    "AbstractAlgorithm",
    "AbstractOnlineAlgorithm",
    "CheckpointedBPTT",
    "Hybrid",
    "SensitivityState",
]
