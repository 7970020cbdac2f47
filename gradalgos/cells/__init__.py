"""Recurrent cells: one file per family, one interface (:class:`AbstractCell`)."""

from gradalgos.cells.base import AbstractCell
from gradalgos.cells.elman import Elman

__all__ = ["AbstractCell", "Elman"]
