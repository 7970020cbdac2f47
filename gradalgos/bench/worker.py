"""The worker process: JAX runs here, one config at a time, so that the parent can enforce a
time limit (by killing it) and survive crashes such as running out of memory."""

from __future__ import annotations

import traceback
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["serve"]

_PLATFORMS = {"cpu": "cpu", "gpu": "cuda"}


def _setup(device: str) -> dict[str, Any]:
    """Select the backend before JAX starts, turn on x64 (the float64 reference needs it) and
    describe the machine; raise ``RuntimeError`` when the device does not exist."""
    import jax
    import jaxlib

    from gradalgos.bench.affinity import cpus_in_use

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
        "cpus_used": cpus_in_use(),
    }


def _failure(e: BaseException) -> dict[str, Any]:
    lines = traceback.format_exception_only(type(e), e)
    return {"status": "failed", "reason": "".join(lines).strip()[-2000:]}


def serve(conn: Connection, device: str) -> None:
    """Answer messages until the pipe closes: ``("hello",)`` → machine metadata;
    ``("measure", config_dict)`` → measured fields (or ``status``/``reason`` on an error)."""
    try:
        meta = {"status": "ok", **_setup(device)}
    except Exception as e:
        conn.send(_failure(e))
        return
    from gradalgos.bench.config import BenchConfig
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
