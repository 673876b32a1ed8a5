"""Peak memory of a block of code: tensor bytes by allocation, and process RSS.

:class:`PeakMemory` reports the peak of tensor memory allocated inside the
block, relative to what was allocated on entry:

- CUDA: the caching allocator's statistics (``reset_peak_memory_stats`` on
  entry, ``max_memory_allocated`` minus ``memory_allocated`` at entry on exit).
  No overhead.
- CPU: every allocation and free of PyTorch's CPU allocator inside the block,
  recorded by the PyTorch profiler (``profile_memory=True``), summed in time
  order; the peak of that running sum. Being at the allocator, it sees
  autograd's saved activations and their release in backward, temporaries
  inside kernels, and correctly ignores views (no allocation) and in-place
  ops. Deterministic: independent of the process RSS and of other processes.
  Costs a few microseconds per operator and keeps one record per operator
  until exit: measure a few steps or batches, not a whole epoch. Memory
  obtained outside PyTorch's allocator (numpy, oneDNN scratch buffers) is
  not seen; tensors allocated before the block and freed inside it do not
  lower the count (PyTorch logs one warning about this, once per process).

Both also report the process peak RSS (:class:`RssPeak`), which includes
everything the process holds: the Python heap, libraries, the allocator cache.

The CPU path uses the PyTorch profiler, which is one per process: it cannot
run inside ``torch.profiler.profile`` or another CPU ``PeakMemory``. To keep
logs clean it sets ``KINETO_LOG_LEVEL=6`` (silences the profiler's own
start/stop messages) unless that variable is already set.
"""

import os
import resource
import sys
from pathlib import Path
from typing import Any

import torch
from torch.autograd import DeviceType

from efficient_ssl.efficiency.device import resolve_device, synchronize

MIB = 2**20
_CPU_MEMORY_DEVICES = (DeviceType.CPU, DeviceType.MKLDNN, DeviceType.IDEEP)
_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def _read_vm_hwm() -> int:
    """Return this process's peak RSS (VmHWM) in bytes from /proc/self/status."""
    for line in _PROC_STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # the kernel reports kB (KiB)
    raise OSError(f"no VmHWM line in {_PROC_STATUS}")


def _ru_maxrss() -> int:
    """Return getrusage's peak RSS of this process in bytes."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


class RssPeak:
    """Context manager: peak resident set size (RSS) of this process in a block.

    On Linux the kernel's high-water mark is reset on entry (writing ``5`` to
    /proc/self/clear_refs) and VmHWM is read on exit: the exact peak within the
    block (``exact`` is True). Where that is not possible, the process-lifetime
    peak of ``getrusage`` is used: exact when the block set a new record, an
    upper bound otherwise (``exact`` is False). The reset is process-wide, so
    an enclosing RssPeak reads only from the inner block's start.

    Attributes
    ----------
    rss_peak_bytes : int
        Peak RSS of the whole process during the block (after exit).
    rss_peak_mb : float
        The same in MiB (2**20 bytes).
    exact : bool
        Whether the figure is the peak of the block itself.

    Example
    -------
    >>> with RssPeak() as rss:
    ...     buffer = bytearray(8 * 2**20)
    >>> rss.rss_peak_mb > 8
    True
    """

    def __init__(self) -> None:
        self.rss_peak_bytes = 0
        self.exact = False
        self._reset_ok = False
        self._maxrss_at_entry = 0

    def __enter__(self) -> "RssPeak":
        try:
            _PROC_CLEAR_REFS.write_text("5")
            _read_vm_hwm()
            self._reset_ok = True
        except OSError:
            self._reset_ok = False
            self._maxrss_at_entry = _ru_maxrss()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._reset_ok:
            self.rss_peak_bytes = _read_vm_hwm()
            self.exact = True
        else:
            self.rss_peak_bytes = _ru_maxrss()
            self.exact = self.rss_peak_bytes > self._maxrss_at_entry

    @property
    def rss_peak_mb(self) -> float:
        """Peak RSS in MiB."""
        return self.rss_peak_bytes / MIB


class PeakMemory:
    """Context manager: peak tensor memory allocated inside a block.

    See the module docstring for how it is measured on CPU and CUDA.

    Arguments
    ---------
    device : str | torch.device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``: whose memory to track.

    Attributes (after exit)
    -----------------------
    peak_bytes : int
        Peak of tensor bytes allocated in the block and live at the same
        time, relative to the memory allocated at entry.
    peak_mb : float
        ``peak_bytes`` in MiB (2**20 bytes).
    retained_bytes : int
        Bytes allocated in the block and still live at exit (e.g. gradients).
    rss_peak_mb : float
        Process peak RSS during the block in MiB, see :class:`RssPeak`.

    Example
    -------
    >>> with PeakMemory("cpu") as mem:
    ...     first = torch.ones(2**18)  # 1 MiB of float32
    ...     del first
    ...     second = torch.ones(2**18)  # allocated after the first was freed
    >>> mem.peak_mb, mem.retained_bytes
    (1.0, 1048576)
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device)
        self.peak_bytes = 0
        self.retained_bytes = 0
        self._rss = RssPeak()
        self._profiler: torch.autograd.profiler.profile | None = None
        self._allocated_at_entry = 0

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            synchronize(self.device)
            self._allocated_at_entry = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            if torch.autograd._profiler_enabled():
                raise RuntimeError(
                    "PeakMemory('cpu') needs the PyTorch profiler, which is already running: "
                    "measure memory outside torch.profiler.profile and other CPU PeakMemory blocks"
                )
            os.environ.setdefault("KINETO_LOG_LEVEL", "6")
            self._profiler = torch.autograd.profiler.profile(profile_memory=True)
            self._profiler.__enter__()
        self._rss.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._rss.__exit__(*exc_info)
        if self.device.type == "cuda":
            synchronize(self.device)
            self.peak_bytes = (
                torch.cuda.max_memory_allocated(self.device) - self._allocated_at_entry
            )
            self.retained_bytes = (
                torch.cuda.memory_allocated(self.device) - self._allocated_at_entry
            )
            return
        self._profiler.__exit__(*exc_info)
        records = [
            event
            for event in self._profiler.kineto_results.events()
            if event.name() == "[memory]" and event.device_type() in _CPU_MEMORY_DEVICES
        ]
        self._profiler = None
        live = peak = 0
        for event in sorted(records, key=lambda event: event.start_ns()):
            live += event.nbytes()  # negative for a free
            peak = max(peak, live)
        self.peak_bytes, self.retained_bytes = peak, live

    @property
    def peak_mb(self) -> float:
        """Peak tensor memory of the block in MiB."""
        return self.peak_bytes / MIB

    @property
    def rss_peak_mb(self) -> float:
        """Process peak RSS during the block in MiB."""
        return self._rss.rss_peak_mb
