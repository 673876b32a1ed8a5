"""Wall-clock time of a block, waiting for the device on entry and exit."""

import time
from typing import Any

import torch

from efficient_ssl.efficiency.device import resolve_device, synchronize


class Timer:
    """Context manager measuring wall seconds with ``time.perf_counter``.

    On CUDA the device is synchronised on entry and exit, so queued kernels
    are counted in the block that launched them.

    Arguments
    ---------
    device : str | torch.device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Attributes
    ----------
    seconds : float
        Wall time of the block (after exit).

    Example
    -------
    >>> with Timer("cpu") as timer:
    ...     time.sleep(0.01)
    >>> timer.seconds >= 0.01
    True
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device)
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> "Timer":
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start
