"""The worker process: JAX runs there, one config at a time, so that the parent can enforce a
time limit (by killing it) and survive crashes such as running out of memory."""

from __future__ import annotations

import multiprocessing as mp
import traceback
from multiprocessing.connection import Connection
from typing import Any

from gradalgos.bench.config import BenchConfig

__all__ = ["DeviceUnavailable", "Worker", "serve"]

_PLATFORMS = {"cpu": "cpu", "gpu": "cuda"}


class DeviceUnavailable(RuntimeError):
    """The requested device (``--device gpu``) does not exist on this machine."""


def _setup(device: str) -> dict[str, Any]:
    """Select the backend, turn on x64 (the float64 reference needs it) and describe the
    machine; ``RuntimeError`` when the device does not exist."""
    import jax
    import jaxlib

    # Not the JAX_PLATFORMS variable: importing gradalgos has already imported jax.
    jax.config.update("jax_platforms", _PLATFORMS[device])
    jax.config.update("jax_enable_x64", True)
    try:
        devices = jax.devices()
    except Exception as e:  # jax raises RuntimeError, or a bare AssertionError, when none
        detail = f"{type(e).__name__}: {e}".rstrip(": ")
        raise RuntimeError(
            f"--device {device}: JAX found no {device.upper()} backend on this machine "
            f"({detail}); for a GPU install jax with CUDA support (pip install 'jax[cuda12]')"
        ) from e
    if devices[0].platform != device:
        raise RuntimeError(f"--device {device}: JAX opened {devices[0].platform}, not {device}")
    return {
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "jax_version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
    }


def _failure(e: BaseException) -> dict[str, Any]:
    lines = traceback.format_exception_only(type(e), e)
    return {"status": "failed", "reason": "".join(lines).strip()[-2000:]}


def serve(conn: Connection, device: str) -> None:
    """The worker's loop: ``("hello",)`` → machine metadata; ``("measure", config_dict)`` →
    measured fields (or ``status``/``reason`` on an error); returns when the pipe closes."""
    try:
        meta = {"status": "ok", **_setup(device)}
    except Exception as e:
        conn.send(_failure(e))
        return
    from gradalgos.bench.measure import measure

    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "hello":
            conn.send(meta)
            continue
        try:
            result = {"status": "ok", **measure(BenchConfig.from_dict(message[1]))}
        except Exception as e:
            result = _failure(e)
        conn.send(result)


class Worker:
    """The parent's handle on a worker process, (re)started on demand; ``fresh_per_config``
    starts one per config (``--fresh-process``: a GPU's peak memory cannot be reset within a
    process)."""

    def __init__(self, device: str, *, fresh_per_config: bool = False) -> None:
        self.device = device
        self.fresh_per_config = fresh_per_config
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self.metadata: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        """Start the process if needed; returns the machine metadata it reports.

        Raises:
            DeviceUnavailable: the worker could not open the device.
        """
        if self._proc is not None and self._proc.is_alive():
            return self.metadata
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=serve, args=(child, self.device), daemon=True)
        self._proc.start()
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
        the process, or past ``time_limit`` seconds (compile included)."""
        if self.fresh_per_config:
            self.stop()
        self.start()
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
