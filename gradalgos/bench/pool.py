"""Parent side of the worker process: start it, send a config, wait at most a time limit."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from gradalgos.bench.affinity import PinningError, pinned
from gradalgos.bench.config import BenchConfig
from gradalgos.bench.worker import serve

__all__ = ["DeviceUnavailable", "Worker"]


class DeviceUnavailable(RuntimeError):
    """The requested device (``--device gpu``) does not exist on this machine."""


class Worker:
    """A JAX worker process, (re)started on demand.

    Arguments:
        device: ``"cpu"`` or ``"gpu"``.
        fresh_per_config: start a new process for every config (``--fresh-process``: a
            GPU's ``peak_bytes_in_use`` cannot be reset within a process).
        cpus: pin the process to this many CPUs (:func:`.affinity.pinned`), ``None`` for all.
            A config whose ``cpus`` differs restarts the process pinned as it asks.
    """

    def __init__(
        self, device: str, *, fresh_per_config: bool = False, cpus: int | None = None
    ) -> None:
        self.device = device
        self.fresh_per_config = fresh_per_config
        self.cpus = cpus
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self.metadata: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        """Start the process if needed and return the machine metadata it reports.

        Raises:
            DeviceUnavailable: the worker could not open the device.
            PinningError: ``cpus`` cannot be honoured on this machine.
        """
        if self._proc is not None and self._proc.is_alive():
            return self.metadata
        with pinned(self.cpus):  # raises before anything starts
            parent, child = self._ctx.Pipe()
            proc = self._ctx.Process(target=serve, args=(child, self.device), daemon=True)
            proc.start()
        self._proc = proc
        child.close()
        self._conn = parent
        parent.send(("hello",))
        try:
            reply = parent.recv()
        except EOFError:
            reply = {"status": "failed", "reason": "worker process exited during start-up"}
        if reply.get("status") != "ok":
            self.stop()
            raise DeviceUnavailable(reply.get("reason", "unknown error"))
        self.metadata = {k: v for k, v in reply.items() if k != "status"}
        return self.metadata

    def stop(self) -> None:
        """Kill the process (if running)."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=10)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def run(self, config: BenchConfig, time_limit: float) -> dict[str, Any]:
        """Measure ``config``; ``{"status": "failed", "reason": …}`` on an error, a crash of
        the process, when it takes longer than ``time_limit`` seconds (compile included), or
        when the process cannot be pinned to ``config.cpus``."""
        if self.fresh_per_config or config.cpus != self.cpus:
            self.stop()
            self.cpus = config.cpus
        try:
            self.start()
        except PinningError as e:
            return {"status": "failed", "reason": str(e), "cpus_used": None}
        self._conn.send(("measure", config.to_dict()))
        if not self._conn.poll(time_limit):
            self.stop()
            return {"status": "failed", "reason": f"time limit of {time_limit:g} s exceeded"}
        try:
            return self._conn.recv()
        except EOFError:
            self._proc.join(timeout=5)
            code = self._proc.exitcode
            self.stop()
            return {
                "status": "failed",
                "reason": f"worker process died (exit code {code}; out of memory?)",
            }

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
