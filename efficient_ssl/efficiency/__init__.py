"""One cost-measurement API for every recipe and benchmark of efficient_ssl.

Parameters, FLOPs / MACs (``macs = flops // 2``), peak memory, wall time and
energy, gathered into a :class:`CostReport` saved as ``cost_<name>.json``.

Example
-------
>>> import torch
>>> from efficient_ssl.efficiency import measure
>>> model = torch.nn.Linear(80, 32)
>>> with torch.no_grad():
...     report = measure(lambda: model(torch.rand(2, 100, 80)), device="cpu", audio_seconds=2.0)
>>> report.flops, report.macs_per_audio_s
(1024000, 256000.0)
"""

from efficient_ssl.efficiency.counting import FlopCounter, count_flops, count_parameters
from efficient_ssl.efficiency.device import device_name, keep_freed_cpu_memory, resolve_device, synchronize
from efficient_ssl.efficiency.energy import (
    CPU_WATTS_PER_CORE_ENV,
    DEFAULT_CPU_WATTS_PER_CORE,
    EnergyMeter,
    PowerSampler,
    RaplCounters,
    resolve_cpu_watts_per_core,
)
from efficient_ssl.efficiency.measure import measure, measure_batches
from efficient_ssl.efficiency.memory import PeakMemory, RssPeak
from efficient_ssl.efficiency.report import COST_SCHEMA_VERSION, CostReport
from efficient_ssl.efficiency.timing import Timer

__all__ = [
    "COST_SCHEMA_VERSION",
    "CPU_WATTS_PER_CORE_ENV",
    "CostReport",
    "DEFAULT_CPU_WATTS_PER_CORE",
    "EnergyMeter",
    "FlopCounter",
    "PeakMemory",
    "PowerSampler",
    "RaplCounters",
    "RssPeak",
    "Timer",
    "count_flops",
    "count_parameters",
    "device_name",
    "keep_freed_cpu_memory",
    "measure",
    "measure_batches",
    "resolve_cpu_watts_per_core",
    "resolve_device",
    "synchronize",
]
