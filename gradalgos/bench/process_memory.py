"""Peak memory of the worker process (host RSS) and of the accelerator (``memory_stats``)."""

from __future__ import annotations

import resource
import sys

import jax

__all__ = ["device_peak", "peak_rss", "reset_peak"]


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux ``clear_refs``); ``False``
    where that is not possible (the peak is then the process's lifetime peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> int:
    """Peak resident set size in bytes since :func:`reset_peak` (``VmHWM``), else since start."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def device_peak() -> int | None:
    """``memory_stats()["peak_bytes_in_use"]`` of the default device (GPU), else ``None``.

    The counter is per process and cannot be reset, so on a GPU every config runs in a fresh
    worker process.
    """
    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    try:
        stats = device.memory_stats() or {}
    except Exception:
        return None
    peak = stats.get("peak_bytes_in_use")
    return int(peak) if peak is not None else None
