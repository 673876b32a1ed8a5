"""Behaviour shared by every Brain of the project: epoch-seeded batches and cost reports."""

from __future__ import annotations

import logging
from pathlib import Path

import speechbrain as sb
import torch

from efficient_ssl.efficiency import (
    CostReport,
    EnergyMeter,
    Timer,
    count_parameters,
    device_name,
    keep_freed_cpu_memory,
    measure,
    resolve_device,
)

logger = logging.getLogger(__name__)


class Brain(sb.Brain):
    """speechbrain's Brain with the project's cost accounting.

    - ``fit`` is timed and its energy estimated (on CPU, after :func:`keep_freed_cpu_memory`); ``cost_train.json`` (a
      :class:`~efficient_ssl.efficiency.CostReport`) is written to ``hparams.output_folder``.
    - :meth:`measure_inference` runs the TEST forward over a dataset under the cost meters and
      writes ``cost_<name>.json``: MACs per second of audio, real-time factor, peak memory, energy.
    - A ``DynamicBatchSampler`` given as ``batch_sampler`` is registered as ``train_sampler``,
      so speechbrain calls its ``set_epoch``: batches are drawn from (seed, epoch), and a run
      resumed from a checkpoint sees the batches the uninterrupted run would have seen
      (speechbrain registers samplers only for DDP or ``shuffle=True``).
    """

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """See speechbrain.core.Brain.make_dataloader."""
        batch_sampler = loader_kwargs.get("batch_sampler")
        loader = super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)
        if stage == sb.Stage.TRAIN and self.train_sampler is None and hasattr(batch_sampler, "set_epoch"):
            self.train_sampler = batch_sampler
        return loader

    def fit(self, epoch_counter, train_set, valid_set=None, *args, **kwargs):
        """speechbrain's fit, timed: writes ``cost_train.json`` (this invocation only).
        On CPU, freed memory is kept for the next steps (:func:`keep_freed_cpu_memory`)."""
        if resolve_device(self.device).type == "cpu":
            keep_freed_cpu_memory()
        start_epoch = epoch_counter.current
        with EnergyMeter(self.device) as energy, Timer(self.device) as timer:
            super().fit(epoch_counter, train_set, valid_set, *args, **kwargs)
        report = CostReport(
            name="train",
            device=str(self.device),
            device_name=device_name(resolve_device(self.device)),
            num_threads=torch.get_num_threads(),
            params=count_parameters(self.modules),
            trainable_params=count_parameters(self.modules, trainable_only=True),
            wall_time_s=timer.seconds,
            energy_j=energy.joules,
            energy_method=energy.method,
            extra={"epochs_run": epoch_counter.current - start_epoch, "optimizer_steps": self.optimizer_step},
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
    def measure_inference(self, dataset, loader_kwargs: dict | None = None, name: str = "inference") -> CostReport:
        """Measures the TEST forward (``compute_forward``) over every batch of ``dataset``.

        FLOPs and (on CPU) peak tensor memory come from a first, instrumented pass, time and
        energy from a second, clean one (see :func:`efficient_ssl.efficiency.measure`).

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
        CostReport
        """
        # Brain.evaluate adds its own "ckpt_prefix" to the kwargs it was given.
        kwargs = {k: v for k, v in (loader_kwargs or {}).items() if k != "ckpt_prefix"}
        loader = sb.dataio.dataloader.make_dataloader(dataset, **kwargs)
        batches = [batch.to(self.device) for batch in loader]
        sample_rate = getattr(self.hparams, "sample_rate", 16000)
        audio_s = sum(float((lens * wavs.shape[1]).sum()) for wavs, lens in (b.sig for b in batches)) / sample_rate
        self.modules.eval()

        def forward_all():
            for batch in batches:
                self.compute_forward(batch, sb.Stage.TEST)

        report = measure(
            forward_all,
            device=self.device,
            audio_seconds=audio_s,
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
