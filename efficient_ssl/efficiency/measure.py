"""measure(): run a function under all meters and return its CostReport;
measure_batches(): the same for a forward over a data set too large to hold or profile whole."""

from collections.abc import Callable, Iterable, Sequence
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


def spread_indices(n: int, k: int) -> list[int]:
    """``min(k, n)`` indices spread evenly over ``range(n)``, the last one always included.

    Example
    -------
    >>> spread_indices(10, 4), spread_indices(3, 8), spread_indices(5, 1)
    ([0, 3, 6, 9], [0, 1, 2], [4])
    """
    k = min(k, n)
    if k <= 0:
        return []
    if k == 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def measure_batches(
    forward: Callable[[Any], Any],
    *,
    make_loader: Callable[[list[Any]], Iterable[Any]],
    batch_indices: Sequence[Any],
    audio_seconds: Callable[[Any], float],
    device: str | torch.device,
    profile_batches: int = 4,
    name: str = "",
    module: torch.nn.Module | None = None,
    extra: dict[str, Any] | None = None,
) -> CostReport:
    """Measure a forward over a whole data set with bounded memory and profiling cost.

    1. counting pass over ``profile_batches`` batches spread over the set (its last batch
       included: with sets sorted by duration, the longest): FLOPs and, on CPU, peak tensor
       memory. The FLOPs are scaled to the whole set by audio duration
       (``extra["flops_profiled_audio_s"]`` says over how much audio they were counted).
    2. timed pass streaming every batch, one at a time: compute time of each forward (data
       loading excluded), energy (data loading included), process peak RSS and, on CUDA, peak
       tensor memory.

    Nothing is held beyond one batch, so the cost is bounded on test sets of any size.

    Arguments
    ---------
    forward : Callable
        Runs the model on one loaded batch (moves it to the device itself).
    make_loader : Callable
        ``make_loader(selected)`` iterates the loaded batches of ``selected`` (a list of
        items of ``batch_indices``), in that order.
    batch_indices : sequence
        Every batch of the set, as the sampler gives them (e.g. lists of dataset indices).
    audio_seconds : Callable
        Seconds of audio in one loaded batch.
    device : str | torch.device
        Where ``forward`` computes.
    profile_batches : int
        Batches of the counting pass.
    name, module, extra
        As for :func:`measure`.

    Returns
    -------
    CostReport
        ``audio_s`` and ``wall_time_s`` cover the whole set.

    Example
    -------
    >>> model = torch.nn.Linear(160, 10)
    >>> data = [torch.rand(2, 100 * (i + 1), 160) for i in range(5)]  # 100 frames per audio second
    >>> with torch.no_grad():
    ...     report = measure_batches(model, make_loader=lambda sel: [data[i] for i in sel],
    ...         batch_indices=list(range(5)), audio_seconds=lambda x: x.shape[0] * x.shape[1] / 100,
    ...         device="cpu", profile_batches=2, module=model)
    >>> report.audio_s, report.macs_per_audio_s, report.extra["profiled_batches"]
    (30.0, 160000.0, 2)
    """
    device = resolve_device(device)
    profiled = [batch_indices[i] for i in spread_indices(len(batch_indices), profile_batches)]
    profiled_audio = 0.0
    with FlopCounter() as counter, ExitStack() as stack:
        memory = stack.enter_context(PeakMemory(device)) if device.type == "cpu" else None
        for batch in make_loader(profiled):
            forward(batch)
            profiled_audio += audio_seconds(batch)

    rss = PeakMemory(device) if device.type == "cuda" else RssPeak()
    compute_s = audio_s = 0.0
    with rss, EnergyMeter(device) as energy:
        for batch in make_loader(list(batch_indices)):
            with Timer(device) as timer:
                forward(batch)
            compute_s += timer.seconds
            audio_s += audio_seconds(batch)
    peak_mem_mb = rss.peak_mb if isinstance(rss, PeakMemory) else memory.peak_mb
    flops = round(counter.flops * audio_s / profiled_audio) if profiled_audio else None
    return CostReport(
        name=name,
        device=str(device),
        device_name=device_name(device),
        num_threads=torch.get_num_threads() if device.type == "cpu" else None,
        params=count_parameters(module) if module is not None else None,
        trainable_params=count_parameters(module, trainable_only=True) if module is not None else None,
        flops=flops,
        peak_mem_mb=peak_mem_mb,
        rss_peak_mb=rss.rss_peak_mb,
        wall_time_s=compute_s,
        audio_s=audio_s,
        energy_j=energy.joules,
        energy_method=energy.method,
        extra={
            **(extra or {}),
            "profiled_batches": len(profiled),
            "flops_profiled_audio_s": profiled_audio,
            "wall_time": "forward compute only, every batch streamed",
        },
    )
