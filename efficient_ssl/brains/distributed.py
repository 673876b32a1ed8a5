"""What the Brains need to run the same under ``torchrun`` with any number of processes.

speechbrain's DDP (``ddp_init_group`` + ``Brain``) wraps every trainable module and shards the
TRAIN batches (every rank gets the same number of batches: ``DistributedSampler`` pads). This
module adds what the project's Brains need beyond that:

* :func:`unwrap`: the model inside a ``DistributedDataParallel`` wrapper;
* evaluation sharded by batch (:class:`ShardedBatchSampler`, :func:`shard_loader_kwargs`):
  rank r evaluates batches r, r + N, r + 2N, ... of the single-process order, so every
  utterance is evaluated exactly once, with no padding duplicates;
* statistics gathered over ranks after an evaluation (:func:`all_gather`,
  :func:`sum_over_ranks`, :func:`merge_metric_over_ranks`), so valid / test figures equal
  those of a single-process run.

Every function is a no-op (or the identity) when ``torch.distributed`` is not initialised.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import speechbrain as sb
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel
from torch.utils.data import BatchSampler, Sampler, SequentialSampler


def world_size() -> int:
    """Number of processes of the run (1 without ``torch.distributed``)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without ``torch.distributed``)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def ddp_init_group(run_opts: dict) -> None:
    """speechbrain's ``ddp_init_group``, with a one-line fix when torchrun was asked for more
    nccl processes than this machine has GPUs (e.g. on CPU without ``--distributed_backend=gloo``).

    Every recipe's ``main()`` calls it right after ``sb.parse_arguments``. The group is destroyed
    when the process exits, so no gloo thread is still running while the interpreter shuts down
    (which aborted a rank now and then with "terminate called without an active exception").
    """
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    gpus = torch.cuda.device_count()
    if "RANK" in os.environ and run_opts.get("distributed_backend", "nccl") == "nccl" and gpus < local_world:
        raise SystemExit(
            f"error: torchrun started {local_world} processes per node with the nccl backend, but this "
            f"machine has {gpus} GPU(s): lower --nproc_per_node to {gpus}, or add "
            "--distributed_backend=gloo --device=cpu to train on CPU"
        )
    sb.utils.distributed.ddp_init_group(run_opts)
    if dist.is_available() and dist.is_initialized():
        atexit.register(_shutdown_process_group)


def _shutdown_process_group() -> None:
    """At exit: every rank waits for the others (at most a minute with gloo), then the group is
    destroyed, so no rank closes its connections while a peer's gloo thread still reads them."""
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=60))
        else:
            dist.barrier()
    except RuntimeError:  # a peer is gone: nothing left to wait for
        pass
    dist.destroy_process_group()


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a (Distributed)DataParallel wrapper, or ``module`` itself.

    Example
    -------
    >>> layer = nn.Linear(2, 2)
    >>> unwrap(layer) is layer, unwrap(DataParallel(layer)) is layer
    (True, True)
    """
    return module.module if isinstance(module, (DistributedDataParallel, DataParallel)) else module


class ShardedBatchSampler(Sampler[list[int]]):
    """Rank ``rank``'s share of a sequence of batches: batches rank, rank + N, rank + 2N, ...

    Unlike ``DistributedSampler`` nothing is padded or duplicated, so statistics gathered over
    the ranks equal those of one process; ranks may get one batch more than others, which is
    harmless in evaluation (no collective runs inside an evaluation step).

    Arguments
    ---------
    batches : iterable of list of int
        A batch sampler (e.g. ``DynamicBatchSampler``, ``BatchSampler``): lists of indices.
    rank : int
        This process's rank.
    num_replicas : int
        Number of processes.

    Example
    -------
    >>> batches = [[0, 1], [2], [3, 4], [5]]
    >>> [list(ShardedBatchSampler(batches, r, 3)) for r in range(3)]
    [[[0, 1], [5]], [[2]], [[3, 4]]]
    >>> len(ShardedBatchSampler(batches, 0, 3)), len(ShardedBatchSampler(batches, 2, 3))
    (2, 1)
    """

    def __init__(self, batches: Iterable[list[int]], rank: int, num_replicas: int):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"ShardedBatchSampler: rank {rank} is not in [0, {num_replicas})")
        self.batches = batches
        self.rank = rank
        self.num_replicas = num_replicas

    def __iter__(self) -> Iterator[list[int]]:
        for index, batch in enumerate(self.batches):
            if index % self.num_replicas == self.rank:
                yield list(batch)

    def __len__(self) -> int:
        return len(range(self.rank, len(self.batches), self.num_replicas))


def shard_loader_kwargs(dataset, loader_kwargs: dict[str, Any], rank: int, num_replicas: int) -> dict[str, Any]:
    """Evaluation loader kwargs of one rank: its share of the single-process batches.

    A ``batch_sampler`` is sharded as it is; fixed batches (``batch_size``) become a sequential
    ``BatchSampler`` first (evaluation never shuffles).

    Arguments
    ---------
    dataset : Dataset
        The evaluated set.
    loader_kwargs : dict
        As given to ``Brain.evaluate`` / ``Brain.fit`` (``batch_sampler`` or ``batch_size``).
    rank, num_replicas : int
        This process and the number of processes.

    Returns
    -------
    dict
        The kwargs with a ``batch_sampler`` of this rank's batches.

    Example
    -------
    >>> kwargs = shard_loader_kwargs(list(range(5)), {"batch_size": 2, "shuffle": False}, 1, 2)
    >>> list(kwargs["batch_sampler"]), sorted(kwargs)
    ([[2, 3]], ['batch_sampler'])
    """
    kwargs = dict(loader_kwargs)
    batches = kwargs.pop("batch_sampler", None)
    if batches is None:
        batch_size = kwargs.pop("batch_size", 1)
        kwargs.pop("shuffle", None)
        kwargs.pop("drop_last", None)
        batches = BatchSampler(SequentialSampler(range(len(dataset))), batch_size, drop_last=False)
    kwargs["batch_sampler"] = ShardedBatchSampler(batches, rank, num_replicas)
    return kwargs


def all_gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` in a single process."""
    if world_size() == 1:
        return [obj]
    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def sum_over_ranks(values: Sequence[float]) -> list[float]:
    """Element-wise sum of ``values`` over the ranks (float64), the values themselves in one process.

    Example
    -------
    >>> sum_over_ranks([1.0, 2.5])
    [1.0, 2.5]
    """
    if world_size() == 1:
        return [float(v) for v in values]
    # nccl reduces CUDA tensors only; gloo (CPU runs) CPU tensors
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    total = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.tolist()


def merge_metric_over_ranks(metric: Any) -> None:
    """Concatenates, in place, the per-utterance lists of a speechbrain metric over the ranks.

    Works for every ``speechbrain.utils.metric_stats.MetricStats`` that keeps its utterances in
    list attributes (``ErrorRateStats``: ids + scores; ``ClassificationStats``: ids,
    predictions, targets, categories). Afterwards ``summarize`` gives on every rank what one
    process that saw every utterance would give.

    Example
    -------
    >>> from speechbrain.utils.metric_stats import ErrorRateStats
    >>> stats = ErrorRateStats()
    >>> stats.append(["u1"], [["A", "B"]], [["A", "C"]])
    >>> merge_metric_over_ranks(stats)
    >>> stats.summarize("error_rate")
    50.0
    """
    if world_size() == 1:
        return
    names = sorted(name for name, value in vars(metric).items() if isinstance(value, list))
    gathered = all_gather({name: getattr(metric, name) for name in names})
    for name in names:
        setattr(metric, name, [item for part in gathered for item in part[name]])
