"""Peak memory of the worker process (host RSS) and of the accelerator (``memory_stats``)."""

from __future__ import annotations

import resource
import sys

import jax

__all__ = ["attributable_peak", "device_memory", "peak_rss", "reset_peak"]


def reset_peak() -> int | None:
    """Reset the kernel's peak-RSS counter of this process (Linux ``clear_refs``) to the
    current RSS, and return that RSS [bytes] (what the process holds from before: the start
    of the next :func:`peak_rss`); ``None`` where the reset is not possible (the peak is then
    the process's lifetime peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _status_bytes("VmRSS:")


def _status_bytes(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` in bytes, ``None`` where unreadable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss() -> int:
    """Peak resident set size in bytes since :func:`reset_peak` (``VmHWM``), else since start."""
    peak = _status_bytes("VmHWM:")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def device_memory() -> tuple[int, int] | None:
    """``(bytes_in_use, peak_bytes_in_use)`` of the default device from ``memory_stats()``;
    ``None`` on a CPU or where the backend does not report them."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    try:
        stats = device.memory_stats() or {}
    except Exception:
        return None
    if "bytes_in_use" not in stats or "peak_bytes_in_use" not in stats:
        return None
    return int(stats["bytes_in_use"]), int(stats["peak_bytes_in_use"])


def attributable_peak(before: tuple[int, int] | None, after: tuple[int, int] | None) -> int | None:
    """A config's own device peak [bytes] from :func:`device_memory` before and after it.

    ``peak_bytes_in_use`` is the process's high-water mark and cannot be reset. When the
    config raised it, the config's peak is the new mark minus what was already in use when it
    started; when it did not, its peak lies below an earlier config's and is unknown
    (``None``; ``--fresh-process`` runs every config in a new process, where it is always known).
    """
    if before is None or after is None:
        return None
    (in_use_before, peak_before), (_, peak_after) = before, after
    if peak_after <= peak_before:
        return None
    return peak_after - in_use_before
