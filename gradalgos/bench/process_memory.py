"""Peak memory of the worker process (host RSS) and of the accelerator (``memory_stats``)."""

from __future__ import annotations

import resource
import sys

import jax

__all__ = ["attributable_peak", "device_memory", "peak_rss", "reset_peak"]


def _status_bytes(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` in bytes, ``None`` where unreadable."""
    try:
        with open("/proc/self/status") as f:
            return next((int(ln.split()[1]) * 1024 for ln in f if ln.startswith(field)), None)
    except OSError:
        return None


def reset_peak() -> int | None:
    """Reset this process's peak-RSS counter (Linux ``clear_refs``) and return the current
    RSS [bytes]; ``None`` where it cannot be reset (the peak is then the lifetime peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _status_bytes("VmRSS:")


def peak_rss() -> int:
    """Peak resident set size in bytes since :func:`reset_peak` (``VmHWM``), else since start."""
    peak = _status_bytes("VmHWM:")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def device_memory() -> tuple[int, int] | None:
    """``(bytes_in_use, peak_bytes_in_use)`` of the default device; ``None`` on a CPU or where
    the backend does not report them."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    try:
        stats = device.memory_stats() or {}
        return int(stats["bytes_in_use"]), int(stats["peak_bytes_in_use"])
    except Exception:
        return None


def attributable_peak(before: tuple[int, int] | None, after: tuple[int, int] | None) -> int | None:
    """A config's own device peak [bytes] from :func:`device_memory` before and after it: the
    new high-water mark minus what was in use before, where the config raised the mark (the
    mark cannot be reset: otherwise ``None``; ``--fresh-process`` always knows it)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return after[1] - before[0]
