"""Device helpers shared by the meters: resolve, synchronise, describe.

Every meter of :mod:`efficient_ssl.efficiency` supports two device types:
``cpu`` and ``cuda``. A bare ``"cuda"`` means the current CUDA device.
"""

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
