"""Behaviour shared by every Brain of the project: scale-out, resumable runs, non-finite steps,
epoch-seeded batches and cost reports."""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from pathlib import Path

import speechbrain as sb
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from efficient_ssl.brains.checkpoints import RandomState
from efficient_ssl.brains.distributed import (
    rank,
    shard_loader_kwargs,
    sum_over_ranks,
    unwrap,
    world_size,
)
from efficient_ssl.efficiency import (
    CostReport,
    EnergyMeter,
    Timer,
    count_parameters,
    device_name,
    keep_freed_cpu_memory,
    measure_batches,
    resolve_device,
)

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """More non-finite steps in one epoch than ``nonfinite_patience`` allows."""


class Brain(sb.Brain):
    """speechbrain's Brain with the project's scale-out, fault handling and cost accounting.

    Scale-out (``torchrun``, speechbrain's DDP; see README "Many GPUs, many nodes"):

    - :meth:`unwrapped` is the one way to reach a module's attributes (DDP wraps modules);
    - :meth:`freeze_parameters` runs before DDP wraps the modules, so frozen parameters are
      never registered with DDP; ``find_unused_parameters`` is switched on only when a module
      says it may skip parameters (``skips_parameters``: layerdrop);
    - TRAIN batches are sharded by speechbrain (same number of batches on every rank);
      VALID / TEST batches are sharded here, batch r on rank r mod N, with no duplicates, and
      the Brains gather their statistics (:meth:`stage_loss_over_ranks` and
      ``efficient_ssl.brains.distributed``) so every rank logs what one process would;
    - checkpoints, cost reports and result files are written by rank 0 only; the train cost
      report sums the energy of every rank and records ``world_size``.

    Faults:

    - a non-finite loss (on any rank) or non-finite gradients skip the step on every rank and
      are counted (``nonfinite_skipped`` in ``cost_train.json``); more than speechbrain's
      ``nonfinite_patience`` in one epoch stops the run with :class:`NonFiniteLossError`
      naming the step and the utterances of the batch;
    - torch's random state is checkpointed (:class:`~efficient_ssl.brains.checkpoints.RandomState`),
      so a run resumed from an intra-epoch checkpoint (``ckpt_interval_steps`` /
      ``ckpt_interval_minutes``) continues as the uninterrupted run would have: DataLoaders
      draw their workers' seeds from a generator of their own (not from the checkpointed
      stream), and intra-epoch checkpoints are taken only after a batch that completes an
      optimiser step (accumulated gradients are not checkpointed). ``tools/fault_drill.py
      --only resume`` checks this with SIGKILLs.

    Costs: ``fit`` is timed and its energy estimated (on CPU, after :func:`keep_freed_cpu_memory`)
    into ``cost_train.json``; :meth:`measure_inference` measures the TEST forward over a dataset
    into ``cost_<name>.json``. A ``DynamicBatchSampler`` given as ``batch_sampler`` is registered
    as ``train_sampler``, so speechbrain calls its ``set_epoch``: batches are drawn from (seed,
    epoch), and a resumed run sees the batches the uninterrupted run would have seen.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(self.optimizer_step_limit, str):  # speechbrain 1.1.2 parses --optimizer_step_limit as str
            self.optimizer_step_limit = int(self.optimizer_step_limit)
        self.nonfinite_skipped = 0
        self._eval_loss = [0.0, 0]  # sum of finite batch losses, batches, in this evaluation
        self._batch_ids: list[str] = []
        if self.checkpointer is not None and "random_state" not in self.checkpointer.recoverables:
            # optional: checkpoints written before this existed still load
            self.checkpointer.add_recoverable("random_state", RandomState(), optional_load=True)

    # ----------------------------------------------------------------------------- scale-out
    def unwrapped(self, name: str) -> nn.Module:
        """``self.modules[name]`` without its DistributedDataParallel wrapper."""
        return unwrap(self.modules[name])

    def freeze_parameters(self) -> None:
        """Hook: set ``requires_grad=False`` on what must not train. Runs in ``on_fit_start``
        before DDP wraps the modules (DDP must never see a parameter that gets no gradient)."""

    def on_fit_start(self) -> None:
        """Freezes, decides ``find_unused_parameters``, then speechbrain's wrap / optimisers / recovery."""
        self.freeze_parameters()
        skipping = [type(m).__name__ for m in self.modules.modules() if getattr(m, "skips_parameters", False)]
        if self.distributed_launch and skipping and not self.find_unused_parameters:
            logger.info("find_unused_parameters=True: %s may skip layers (layerdrop)", ", ".join(sorted(set(skipping))))
            self.find_unused_parameters = True
        super().on_fit_start()

    def _wrap_distributed(self) -> None:
        """speechbrain's DDP wrapping; on CPU (gloo) without its SyncBatchNorm conversion, which
        works on CUDA only: BatchNorm then normalises with each process's batch statistics."""
        if not (self.distributed_launch and resolve_device(self.device).type == "cpu"):
            return super()._wrap_distributed()
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DistributedDataParallel(
                    module, device_ids=None, find_unused_parameters=self.find_unused_parameters
                )
        return None

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """See speechbrain.core.Brain.make_dataloader. Under DDP, VALID / TEST batches are
        sharded over the ranks (:func:`~efficient_ssl.brains.distributed.shard_loader_kwargs`)."""
        batch_sampler = loader_kwargs.get("batch_sampler")
        # Each iterator of a DataLoader draws its workers' base seed from `generator`, by default
        # torch's global one: a run resumed mid-epoch would draw it after restoring the random
        # state, shifting every later dropout / mask draw. A loader-owned generator keeps the
        # global stream for the model (the base seed only seeds workers).
        loader_kwargs.setdefault("generator", torch.Generator().manual_seed(torch.initial_seed()))
        if stage != sb.Stage.TRAIN and world_size() > 1:
            loader_kwargs = shard_loader_kwargs(dataset, loader_kwargs, rank(), world_size())
        loader = super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)
        if stage == sb.Stage.TRAIN and self.train_sampler is None and hasattr(batch_sampler, "set_epoch"):
            self.train_sampler = batch_sampler
        return loader

    @contextmanager
    def bare_modules(self):
        """Within: ``self.modules`` holds the modules without their DDP wrappers. Evaluation
        runs through it: ranks evaluate different numbers of batches, and a DDP forward may
        start a collective (buffer broadcast) that the other ranks would never join."""
        wrapped = {name: module for name, module in self.modules.items() if unwrap(module) is not module}
        for name, module in wrapped.items():
            self.modules[name] = unwrap(module)
        try:
            yield
        finally:
            for name, module in wrapped.items():
                self.modules[name] = module

    def evaluate_batch(self, batch, stage):
        """speechbrain's evaluation step on the bare modules; sums the finite losses for
        :meth:`stage_loss_over_ranks`."""
        with self.bare_modules():
            loss = super().evaluate_batch(batch, stage)
        if torch.isfinite(loss):
            self._eval_loss[0] += float(loss)
            self._eval_loss[1] += 1
        return loss

    def stage_loss_over_ranks(self, stage, stage_loss: float) -> float:
        """The stage's mean batch loss over every rank (``stage_loss`` itself in one process).

        TRAIN: the mean of the ranks' means (every rank ran the same number of batches).
        VALID / TEST: the mean over every evaluated batch, wherever it ran. Call it once per
        stage, in ``on_stage_end``, on every rank.
        """
        eval_sum, eval_batches = self._eval_loss
        self._eval_loss = [0.0, 0]
        if world_size() == 1:
            return float(stage_loss)
        if stage == sb.Stage.TRAIN:
            return sum_over_ranks([stage_loss])[0] / world_size()
        total, batches = sum_over_ranks([eval_sum, eval_batches])
        return total / batches if batches else float("nan")

    # ------------------------------------------------------------------------------- faults
    def fit_batch(self, batch):
        """speechbrain's training step, skipping a step whose loss is not finite on some rank."""
        self._batch_ids = list(getattr(batch, "id", []))
        should_step = (self.step % self.grad_accumulation_factor) == 0
        self.on_fit_batch_start(batch, should_step)
        with self.no_sync(not should_step):
            with self.training_ctx:
                outputs = self.compute_forward(batch, sb.Stage.TRAIN)
                loss = self.compute_objectives(outputs, batch, sb.Stage.TRAIN)
            nonfinite_ranks = sum_over_ranks([0.0 if torch.isfinite(loss) else 1.0])[0]
            if nonfinite_ranks:  # every rank skips, so every rank runs the same collectives
                self._skip_nonfinite("loss")
                return loss.detach().cpu()
            self.scaler.scale(self.loss_to_backward(loss, outputs)).backward()
        if should_step:
            self.optimizers_step()
        self.on_fit_batch_end(batch, outputs, loss, should_step)
        return loss.detach().cpu()

    def loss_to_backward(self, loss: torch.Tensor, outputs) -> torch.Tensor:
        """Hook: what :meth:`fit_batch` backpropagates for one batch. ``loss`` is what
        ``compute_objectives`` returned, which the progress bar and epoch statistics average
        whatever this returns. Default: ``loss / grad_accumulation_factor``, so an optimiser step
        follows the mean of its batches' losses."""
        return loss / self.grad_accumulation_factor

    def optimizers_step(self):
        """speechbrain's optimiser step (unscale, clip, step), skipped when a gradient norm is not
        finite (the gradients are already averaged over the ranks, so every rank agrees). With
        fp16 the GradScaler does its own skipping and this is speechbrain's step."""
        if self.scaler.is_enabled():
            return super().optimizers_step()
        if self.optimizers_dict is not None:
            optimizers = self.freeze_optimizers(self.optimizers_dict)
        elif self.opt_class is not None:
            optimizers = {"optimizer": self.optimizer}
        else:
            return None
        norms = [
            torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], self.max_grad_norm)
            for opt in optimizers.values()
        ]
        if not all(math.isfinite(float(norm)) for norm in norms):
            self._skip_nonfinite("gradients")
            return None
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        self.optimizer_step += 1
        return None

    def _should_save_intra_epoch_ckpt(self, last_ckpt_time, steps_since_ckpt) -> bool:
        """speechbrain's decision, taken only after a batch that completed an optimiser step: the
        gradients accumulated between two steps (``grad_accumulation_factor`` > 1) are not
        checkpointed, so a run resumed from there would lose them. Every rank has the same
        ``step``, so every rank joins speechbrain's broadcast of the decision or none does."""
        if self.step % self.grad_accumulation_factor != 0:
            return False
        return super()._should_save_intra_epoch_ckpt(last_ckpt_time, steps_since_ckpt)

    def _skip_nonfinite(self, what: str) -> None:
        """Drops the accumulated gradients of a non-finite step; stops past the patience."""
        self.zero_grad(set_to_none=True)
        self.on_fit_batch_skipped()
        self.nonfinite_count += 1
        self.nonfinite_skipped += 1
        ids = self._batch_ids
        where = (
            f"non-finite {what} at optimiser step {self.optimizer_step + 1} (batch {self.step} of epoch "
            f"{self.hparams.epoch_counter.current if hasattr(self.hparams, 'epoch_counter') else '?'}), "
            f"utterances {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"
        )
        if self.nonfinite_count > self.nonfinite_patience:
            raise NonFiniteLossError(
                f"{where}: {self.nonfinite_count} non-finite steps this epoch, more than "
                f"nonfinite_patience={self.nonfinite_patience}; check these files, lower the learning "
                "rate, or raise --nonfinite_patience"
            )
        logger.warning("Skipped the step: %s (%d this epoch, patience %d)", where, self.nonfinite_count,
                       self.nonfinite_patience)

    def on_fit_batch_skipped(self) -> None:
        """Hook: a training step was skipped (non-finite); reset what the step accumulated."""

    # -------------------------------------------------------------------------------- costs
    def fit(self, epoch_counter, train_set, valid_set=None, *args, **kwargs):
        """speechbrain's fit, timed: writes ``cost_train.json`` (this invocation only; rank 0's
        time, every rank's energy). On CPU, freed memory is kept for the next steps."""
        if resolve_device(self.device).type == "cpu":
            keep_freed_cpu_memory()
        start_epoch = epoch_counter.current
        with EnergyMeter(self.device) as energy, Timer(self.device) as timer:
            super().fit(epoch_counter, train_set, valid_set, *args, **kwargs)
        energy_j = energy.joules
        if energy_j is not None and world_size() > 1:
            energy_j = sum_over_ranks([energy_j])[0]
        report = CostReport(
            name="train",
            device=str(self.device),
            device_name=device_name(resolve_device(self.device)),
            num_threads=torch.get_num_threads(),
            params=count_parameters(self.modules),
            trainable_params=count_parameters(self.modules, trainable_only=True),
            wall_time_s=timer.seconds,
            energy_j=energy_j,
            energy_method=energy.method,
            extra={
                "epochs_run": epoch_counter.current - start_epoch,
                "optimizer_steps": self.optimizer_step,
                "nonfinite_skipped": self.nonfinite_skipped,
                "world_size": world_size(),
                "written_by": "rank 0",
            },
        )
        self._save_cost(report)

    def fit_bundle(self, data) -> None:
        """``fit`` on the train / valid sets of a DataBundle (``efficient_ssl.data.dataio_prepare``)
        for ``hparams.epoch_counter``: the call every recipe makes."""
        self.fit(
            self.hparams.epoch_counter,
            data.train,
            data.valid,
            train_loader_kwargs=data.train_loader_kwargs,
            valid_loader_kwargs=data.valid_loader_kwargs,
        )

    @torch.no_grad()
    def measure_inference(
        self, dataset, loader_kwargs: dict | None = None, name: str = "inference"
    ) -> CostReport | None:
        """Measures the TEST forward (``compute_forward``) over ``dataset``, on rank 0 only.

        Bounded for real test sets (see :func:`efficient_ssl.efficiency.measure_batches`): FLOPs
        and (on CPU) peak tensor memory come from ``hparams.measure_profile_batches`` batches
        (default 4) spread over the set, its last (longest) batch included; time, real-time
        factor and energy from one streamed pass over every batch (or the first
        ``hparams.measure_max_batches`` when set), one batch on the device at a time.

        Arguments
        ---------
        dataset : Dataset
            Yields batches with ``sig`` (waveforms, relative lengths).
        loader_kwargs : dict
            As given to ``evaluate``.
        name : str
            Report name; the file is ``cost_<name>.json`` in ``hparams.output_folder``.

        Returns
        -------
        CostReport on rank 0, None on the other ranks.
        """
        if not sb.utils.distributed.if_main_process():
            return None
        # Brain.evaluate adds its own "ckpt_prefix" to the kwargs it was given.
        kwargs = {k: v for k, v in (loader_kwargs or {}).items() if k != "ckpt_prefix"}
        batches = list(shard_loader_kwargs(dataset, kwargs, 0, 1)["batch_sampler"])
        max_batches = getattr(self.hparams, "measure_max_batches", None)
        if max_batches:
            batches = batches[:max_batches]
        kwargs.pop("batch_size", None)
        kwargs.pop("shuffle", None)

        def loader(selected: list[list[int]]):
            return sb.dataio.dataloader.make_dataloader(dataset, batch_sampler=selected, **{
                k: v for k, v in kwargs.items() if k != "batch_sampler"
            })

        sample_rate = getattr(self.hparams, "sample_rate", 16000)

        def audio_seconds(batch) -> float:
            wavs, lens = batch.sig
            return float((lens * wavs.shape[1]).sum()) / sample_rate

        self.modules.eval()

        def forward(batch):
            with self.bare_modules():
                return self.compute_forward(batch.to(self.device), sb.Stage.TEST)

        report = measure_batches(
            forward,
            make_loader=loader,
            batch_indices=batches,
            audio_seconds=audio_seconds,
            profile_batches=getattr(self.hparams, "measure_profile_batches", 4),
            device=self.device,
            name=name,
            module=self.modules,
            extra={"utterances": sum(len(b) for b in batches), "batches": len(batches)},
        )
        self._save_cost(report)
        return report

    def _save_cost(self, report: CostReport) -> None:
        folder = getattr(self.hparams, "output_folder", None)
        if folder is not None and sb.utils.distributed.if_main_process():
            path = report.save(Path(folder))
            logger.info("%s (%s)", report.summary(), path)


class StepwiseBrain(Brain):
    """A Brain scheduled per optimiser step that logs statistics accumulated over each step
    (wav2vec 2.0 pretraining, the sustainable model, distillation).

    ``hparams.lr_scheduler(optimizer, num_updates)`` sets the rate of the optimiser step a batch
    completes; subclasses define ``_reset_statistics``, called at the start of every stage and
    when a non-finite step is skipped (its statistics are dropped).
    """

    def _reset_statistics(self) -> None:
        raise NotImplementedError

    def on_stage_start(self, stage, epoch=None) -> None:
        """Resets the accumulated statistics."""
        self._reset_statistics()

    def on_fit_batch_skipped(self) -> None:
        """A non-finite step was skipped: its statistics are dropped."""
        self._reset_statistics()

    def on_fit_batch_start(self, batch, should_step: bool) -> None:
        """Sets the learning rate of the optimiser step this batch completes."""
        if should_step:
            self.hparams.lr_scheduler(self.optimizer, self.optimizer_step + 1)
