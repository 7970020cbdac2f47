"""Gradient algorithms: one file each, one interface (:class:`AbstractAlgorithm`); the online
ones share one protocol (:class:`AbstractOnlineAlgorithm`); :mod:`.registry` lists them all."""

from gradalgos.algorithms import registry
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.bptt import BPTT
from gradalgos.algorithms.checkpointed import CheckpointedBPTT
from gradalgos.algorithms.crbp import CRBP, CRBPState
from gradalgos.algorithms.eprop import EProp
from gradalgos.algorithms.hybrid import Hybrid
from gradalgos.algorithms.immediate import Immediate, ImmediateState
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.kfrtrl import KFRTRL, KFRTRLState
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.replay import ReplayState, ReplayTBPTT
from gradalgos.algorithms.rflo import RFLO
from gradalgos.algorithms.rtrl import RTRL
from gradalgos.algorithms.sensitivity import SensitivityState
from gradalgos.algorithms.snap import SnAp
from gradalgos.algorithms.tbptt import TBPTT
from gradalgos.algorithms.traces import TraceState
from gradalgos.algorithms.uoro import UORO, UOROState

__all__ = [
    "BPTT",
    "CRBP",
    "KFRTRL",
    "RFLO",
    "RTRL",
    "TBPTT",
    "UORO",
    "AbstractAlgorithm",
    "AbstractOnlineAlgorithm",
    "AlgorithmInfo",
    "CRBPState",
    "CheckpointedBPTT",
    "EProp",
    "Hybrid",
    "Immediate",
    "ImmediateState",
    "KFRTRLState",
    "ReplayState",
    "ReplayTBPTT",
    "SensitivityState",
    "SnAp",
    "TraceState",
    "UOROState",
    "registry",
]
