"""Device helpers shared by the meters and the runners: resolve, synchronise, describe, and
keep the CPU allocator from returning memory between training steps.

Every meter of :mod:`efficient_ssl.efficiency` supports two device types:
``cpu`` and ``cuda``. A bare ``"cuda"`` means the current CUDA device.
"""

import ctypes
import ctypes.util
from pathlib import Path

import torch

SUPPORTED_DEVICE_TYPES = ("cpu", "cuda")


def resolve_device(device: str | torch.device) -> torch.device:
    """Return a concrete torch.device (``cuda`` gets its index).

    Arguments
    ---------
    device : str | torch.device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    torch.device
        The device, with an index for CUDA.

    Example
    -------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    device = torch.device(device)
    if device.type not in SUPPORTED_DEVICE_TYPES:
        raise ValueError(
            f"efficiency meters support devices {SUPPORTED_DEVICE_TYPES}, got '{device}': "
            "measure on cpu or cuda"
        )
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def synchronize(device: torch.device) -> None:
    """Wait for all queued work on ``device`` (a no-op on CPU).

    Arguments
    ---------
    device : torch.device
        The device to wait for.

    Example
    -------
    >>> synchronize(torch.device("cpu"))
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """Return a human-readable name of the hardware behind ``device``.

    Arguments
    ---------
    device : torch.device
        The device to describe.

    Returns
    -------
    str
        The GPU name on CUDA; on CPU the ``model name`` of /proc/cpuinfo,
        or ``"cpu"`` where that file is absent.

    Example
    -------
    >>> isinstance(device_name(torch.device("cpu")), str)
    True
    """
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "cpu"


# glibc mallopt parameters (malloc.h) and the largest mmap threshold it accepts on 64 bits.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MAX_MMAP_THRESHOLD = 32 * 2**20


def keep_freed_cpu_memory(trim_threshold_mb: int = 1024) -> bool:
    """Make glibc's malloc keep freed blocks for reuse instead of returning them to the OS.

    torch allocates CPU tensors with malloc. By default glibc serves large blocks with
    fresh ``mmap`` pages and gives freed memory back, so every training step page-faults
    and zeroes its activations again (about 7 % of a CPU step of the mini encoders here).
    This raises the mmap threshold to its maximum (32 MiB) and the trim threshold to
    ``trim_threshold_mb``: what jemalloc / tcmalloc users get by preloading them. The
    process's resident memory then stays at its peak. A no-op without glibc.

    Arguments
    ---------
    trim_threshold_mb : int
        Free memory at the top of the heap that is kept rather than returned.

    Returns
    -------
    bool
        True when glibc accepted both settings.

    Example
    -------
    >>> isinstance(keep_freed_cpu_memory(), bool)
    True
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # no C library found, or not glibc
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MAX_MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, trim_threshold_mb * 2**20)
    )
