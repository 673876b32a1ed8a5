"""Energy of a block of code, from the best source available; never fails.

:class:`EnergyMeter` picks the first source that works on entry and names it
in ``.method`` (these names are stable: result tables group by them):

On a CUDA device (energy of that GPU board only, not of the CPU or host):

- ``"nvml-energy-counter"``: the driver's cumulative energy counter
  (``nvmlDeviceGetTotalEnergyConsumption``, Volta and newer), via pynvml
  (``pip install nvidia-ml-py``).
- ``"nvml-power-sampling"``: board power (``nvmlDeviceGetPowerUsage``)
  sampled by a thread every ``sample_interval_s`` and integrated over time
  (trapezoid rule).
- ``"nvidia-smi-power-sampling"``: the same with ``nvidia-smi
  --query-gpu=power.draw``, where pynvml is not installed.

On CPU:

- ``"rapl"``: Intel RAPL package counters
  (/sys/class/powercap/intel-rapl:N/energy_uj, wrap-around handled). A
  measurement of the whole CPU package(s), all processes included; readable
  only where the administrator allows it (often root only).
- ``"cpu-time-model"``: an ESTIMATE, not a measurement: CPU seconds used by
  this process (user + system, all threads, ``time.process_time``) times a
  power per busy core. The default, 12 W per core, is the "Any CPU" value of
  the Green Algorithms calculator (Lannelongue et al., Advanced Science
  2021); pass ``cpu_watts_per_core`` or set the environment variable
  ``EFFICIENT_SSL_CPU_WATTS_PER_CORE`` to your CPU's TDP / cores.

``"unavailable"`` (``joules`` None) where no source works, e.g. a GPU
without pynvml or nvidia-smi.
"""

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from efficient_ssl.efficiency.device import resolve_device, synchronize

DEFAULT_CPU_WATTS_PER_CORE = 12.0
CPU_WATTS_PER_CORE_ENV = "EFFICIENT_SSL_CPU_WATTS_PER_CORE"
RAPL_ROOT = Path("/sys/class/powercap")


def resolve_cpu_watts_per_core(override: float | None = None) -> float:
    """Return the power per busy core of the CPU-time model, in watts.

    Arguments
    ---------
    override : float | None
        Used when given; else ``$EFFICIENT_SSL_CPU_WATTS_PER_CORE``; else
        ``DEFAULT_CPU_WATTS_PER_CORE``.

    Returns
    -------
    float
        Watts per fully busy core.

    Example
    -------
    >>> resolve_cpu_watts_per_core(7.5)
    7.5
    """
    if override is not None:
        return float(override)
    value = os.environ.get(CPU_WATTS_PER_CORE_ENV)
    if value is None:
        return DEFAULT_CPU_WATTS_PER_CORE
    try:
        return float(value)
    except ValueError:
        raise ValueError(
            f"environment variable {CPU_WATTS_PER_CORE_ENV}='{value}' is not a number: "
            "set it to watts per core, e.g. 12"
        ) from None


class RaplCounters:
    """Intel RAPL energy counters of all CPU packages, wrap-around aware.

    Arguments
    ---------
    root : Path
        The powercap folder holding ``intel-rapl:N`` package zones.

    Example
    -------
    >>> import tempfile
    >>> zone = Path(tempfile.mkdtemp()) / "intel-rapl:0"
    >>> zone.mkdir()
    >>> _ = (zone / "energy_uj").write_text("999000000")
    >>> _ = (zone / "max_energy_range_uj").write_text("1000000000")
    >>> counters = RaplCounters(zone.parent)
    >>> start = counters.read()
    >>> _ = (zone / "energy_uj").write_text("1000000")  # wrapped around
    >>> counters.joules_since(start)
    2.0
    """

    def __init__(self, root: Path) -> None:
        # Package zones only (intel-rapl:0); sub-zones (intel-rapl:0:0) are parts of them.
        self.zones = sorted(
            zone for zone in root.glob("intel-rapl:*") if zone.name.count(":") == 1
        )
        if not self.zones:
            raise OSError(f"no RAPL package zone under {root}")
        self.ranges = [int((zone / "max_energy_range_uj").read_text()) for zone in self.zones]

    def read(self) -> list[int]:
        """Return each package's counter in microjoules."""
        return [int((zone / "energy_uj").read_text()) for zone in self.zones]

    def joules_since(self, start: list[int]) -> float:
        """Return the joules used by all packages since ``start`` (one wrap at most)."""
        total_uj = 0
        for begin, end, wrap in zip(start, self.read(), self.ranges):
            total_uj += end - begin if end >= begin else end + wrap - begin
        return total_uj / 1e6


class PowerSampler:
    """Samples a power reading in a thread and integrates it over time.

    Arguments
    ---------
    read_watts : Callable[[], float]
        Returns the current power in watts; it is called once on start, every
        ``interval_s`` and once on stop. Sampling stops at its first exception.
    interval_s : float
        Seconds between samples.

    Example
    -------
    >>> sampler = PowerSampler(lambda: 50.0, interval_s=0.01)
    >>> sampler.start()
    >>> time.sleep(0.05)
    >>> 2.0 < sampler.stop() < 3.0  # 50 W for ~0.05 s
    True
    """

    def __init__(self, read_watts: Callable[[], float], interval_s: float) -> None:
        self.read_watts = read_watts
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []  # (monotonic seconds, watts)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.samples.append((time.monotonic(), self.read_watts()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._sample()
            except Exception:  # a failing source ends sampling, it must not end the run
                return

    def start(self) -> None:
        """Take the first sample and start the sampling thread."""
        self._sample()
        self._thread.start()

    def stop(self) -> float:
        """Stop sampling and return the integrated energy in joules."""
        self._stop.set()
        self._thread.join()
        try:
            self._sample()
        except Exception:  # keep the samples already taken
            pass
        return sum(
            (t1 - t0) * (w0 + w1) / 2
            for (t0, w0), (t1, w1) in zip(self.samples, self.samples[1:])
        )


def _nvml_handle(device: torch.device) -> Any:
    """Return the pynvml handle of a CUDA device (by UUID, so CUDA_VISIBLE_DEVICES is respected)."""
    import pynvml

    pynvml.nvmlInit()
    uuid = str(torch.cuda.get_device_properties(device).uuid)
    return pynvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")


def _nvidia_smi_reader(device: torch.device) -> Callable[[], float]:
    """Return a function reading the board power of a CUDA device with nvidia-smi."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        raise OSError("nvidia-smi not found")
    uuid = str(torch.cuda.get_device_properties(device).uuid)
    command = [
        executable,
        "--query-gpu=power.draw",
        "--format=csv,noheader,nounits",
        "-i",
        uuid if uuid.startswith("GPU-") else f"GPU-{uuid}",
    ]

    def read_watts() -> float:
        result = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
        return float(result.stdout.strip())

    read_watts()  # fails here, on entry, where the GPU reports no power
    return read_watts


class EnergyMeter:
    """Context manager: energy used during a block, in joules.

    The source is chosen on entry (see the module docstring); failures of a
    source mean falling back to the next one, never an exception.

    Arguments
    ---------
    device : str | torch.device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    cpu_watts_per_core : float | None
        Power per busy core for the CPU-time model (see :func:`resolve_cpu_watts_per_core`).
    sample_interval_s : float
        Sampling period of the GPU power-sampling methods.

    Attributes
    ----------
    joules : float | None
        Energy of the block (after exit); None when ``method`` is ``"unavailable"``.
    method : str
        How it was obtained, one of the names of the module docstring.

    Example
    -------
    >>> with EnergyMeter("cpu") as meter:
    ...     _ = sum(i * i for i in range(200_000))
    >>> meter.method in ("rapl", "cpu-time-model"), meter.joules > 0
    (True, True)
    """

    def __init__(
        self,
        device: str | torch.device = "cpu",
        cpu_watts_per_core: float | None = None,
        sample_interval_s: float = 0.1,
    ) -> None:
        self.device = resolve_device(device)
        self.watts_per_core = resolve_cpu_watts_per_core(cpu_watts_per_core)
        self.sample_interval_s = sample_interval_s
        self.joules: float | None = None
        self.method = "unavailable"
        self._finish: Callable[[], float] | None = None

    def __enter__(self) -> "EnergyMeter":
        self.joules = None
        starters = (
            (self._start_nvml_counter, self._start_nvml_sampling, self._start_nvidia_smi)
            if self.device.type == "cuda"
            else (self._start_rapl, self._start_cpu_model)
        )
        synchronize(self.device)
        for start in starters:
            try:
                self.method, self._finish = start()
                break
            except Exception:  # try the next source; the meter must never break a run
                continue
        else:
            self.method, self._finish = "unavailable", None
        return self

    def __exit__(self, *exc_info: Any) -> None:
        synchronize(self.device)
        if self._finish is None:
            return
        try:
            self.joules = self._finish()
        except Exception:  # a source that fails at the end gives no figure, not a crash
            self.method, self.joules = "unavailable", None
        self._finish = None

    def _start_nvml_counter(self) -> tuple[str, Callable[[], float]]:
        import pynvml

        handle = _nvml_handle(self.device)
        start_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)

        def finish() -> float:
            joules = (pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) - start_mj) / 1e3
            pynvml.nvmlShutdown()
            return joules

        return "nvml-energy-counter", finish

    def _start_nvml_sampling(self) -> tuple[str, Callable[[], float]]:
        import pynvml

        handle = _nvml_handle(self.device)
        sampler = PowerSampler(
            lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1e3,  # milliwatts
            self.sample_interval_s,
        )
        sampler.start()

        def finish() -> float:
            joules = sampler.stop()
            pynvml.nvmlShutdown()
            return joules

        return "nvml-power-sampling", finish

    def _start_nvidia_smi(self) -> tuple[str, Callable[[], float]]:
        sampler = PowerSampler(_nvidia_smi_reader(self.device), self.sample_interval_s)
        sampler.start()
        return "nvidia-smi-power-sampling", sampler.stop

    def _start_rapl(self) -> tuple[str, Callable[[], float]]:
        counters = RaplCounters(RAPL_ROOT)
        start = counters.read()
        return "rapl", lambda: counters.joules_since(start)

    def _start_cpu_model(self) -> tuple[str, Callable[[], float]]:
        start = time.process_time()
        return (
            "cpu-time-model",
            lambda: (time.process_time() - start) * self.watts_per_core,
        )
