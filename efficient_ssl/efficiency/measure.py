"""measure(): run a function under all meters and return its CostReport."""

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import torch

from efficient_ssl.efficiency.counting import FlopCounter, count_parameters
from efficient_ssl.efficiency.device import device_name, resolve_device
from efficient_ssl.efficiency.energy import EnergyMeter
from efficient_ssl.efficiency.memory import PeakMemory, RssPeak
from efficient_ssl.efficiency.report import CostReport
from efficient_ssl.efficiency.timing import Timer


def measure(
    fn: Callable[[], Any],
    *,
    device: str | torch.device,
    audio_seconds: float | None = None,
    name: str = "",
    module: torch.nn.Module | None = None,
    count_flops: bool = True,
    measure_memory: bool = True,
    extra: dict[str, Any] | None = None,
) -> CostReport:
    """Measure what one call of ``fn`` costs.

    ``fn`` runs up to twice, so it must be repeatable (a forward on a fixed
    batch, or one training step: the optimizer then steps twice):

    1. counting pass, if ``count_flops`` or (CPU and ``measure_memory``):
       FLOPs (:class:`FlopCounter`) and, on CPU, peak tensor memory
       (:class:`PeakMemory`). Both add per-operator overhead, so they are
       kept out of the timed pass; this pass also warms up lazy
       initialisations and caches for the next one.
    2. timed pass: wall time (:class:`Timer`), energy (:class:`EnergyMeter`),
       process peak RSS and, on CUDA, peak tensor memory (allocator
       statistics, no overhead).

    Arguments
    ---------
    fn : Callable[[], Any]
        What to measure; its return value is discarded.
    device : str | torch.device
        Where ``fn`` computes: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    audio_seconds : float | None
        Seconds of audio one call of ``fn`` processes; gives the
        per-audio-second figures, RTF and throughput.
    name : str
        Name of the report (and of its file, ``cost_<name>.json``).
    module : torch.nn.Module | None
        The model, for parameter counts.
    count_flops : bool
        Count FLOPs / MACs.
    measure_memory : bool
        Measure peak tensor memory.
    extra : dict | None
        Copied into ``CostReport.extra`` (batch size, steps, ...).

    Returns
    -------
    CostReport
        Filled with everything measured; the rest is None.

    Example
    -------
    >>> model = torch.nn.Linear(160, 10)
    >>> batch = torch.rand(4, 100, 160)  # 4 utterances of 1 s at 100 frames/s
    >>> with torch.no_grad():
    ...     report = measure(lambda: model(batch), device="cpu", audio_seconds=4.0, module=model)
    >>> report.params, report.flops, report.macs_per_audio_s
    (1610, 1280000, 160000.0)
    >>> report.peak_mem_mb > 0, report.rtf == report.wall_time_s / 4.0
    (True, True)
    """
    device = resolve_device(device)
    flops = peak_mem_mb = None
    profile_cpu_memory = measure_memory and device.type == "cpu"
    if count_flops or profile_cpu_memory:
        with ExitStack() as stack:
            counter = stack.enter_context(FlopCounter()) if count_flops else None
            memory = stack.enter_context(PeakMemory(device)) if profile_cpu_memory else None
            fn()
        flops = counter.flops if counter is not None else None
        peak_mem_mb = memory.peak_mb if memory is not None else None

    # Outermost first: the memory meter's set-up, then energy, are not timed.
    rss = PeakMemory(device) if measure_memory and device.type == "cuda" else RssPeak()
    with rss, EnergyMeter(device) as energy, Timer(device) as timer:
        fn()
    if isinstance(rss, PeakMemory):
        peak_mem_mb = rss.peak_mb

    return CostReport(
        name=name,
        device=str(device),
        device_name=device_name(device),
        num_threads=torch.get_num_threads() if device.type == "cpu" else None,
        params=count_parameters(module) if module is not None else None,
        trainable_params=(
            count_parameters(module, trainable_only=True) if module is not None else None
        ),
        flops=flops,
        peak_mem_mb=peak_mem_mb,
        rss_peak_mb=rss.rss_peak_mb,
        wall_time_s=timer.seconds,
        audio_s=audio_seconds,
        energy_j=energy.joules,
        energy_method=energy.method,
        extra=dict(extra or {}),
    )
