"""Sustainable student-teacher pretraining Brain (Lugo & Vielzeuf; ``efficient_ssl.models.sustainable``).

Trains ``modules.sustainable`` (the student, a ``SustainablePretrainer``) against
``modules.teacher`` (its ``EMATeacher``) on ``batch.sig``. The teacher has no trainable
parameter, so DDP never wraps it; after every optimiser step the Brain moves it towards the
unwrapped student (:meth:`EMATeacher.update`), which, the student being identical on every rank
after the step, keeps it identical on every rank. speechbrain's ``Brain`` provides gradient
accumulation, mixed precision and clipping; dynamic batching comes from the data pipeline.

Hparams read by the Brain (declare them in the recipe YAML):
    lr_scheduler    ``lr_scheduler(optimizer, num_updates)`` before every optimiser step
                    (``OneCycleSchedule``, the paper's OneCycle)
    num_negatives   distractors per frame of the contrastive loss
    temperature     of the contrastive loss
    log_interval, step_logger, train_logger   as in ``efficient_ssl.brains.pretrain``

Logged per step and per epoch: loss, contrastive accuracy, and the teacher-student agreement
(mean cosine similarity of the student's predictions and the teacher's targets on real frames).

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import math

import speechbrain as sb
import torch
import torch.nn.functional as F

from efficient_ssl.brains.base import StepwiseBrain
from efficient_ssl.brains.distributed import sum_over_ranks
from efficient_ssl.brains.pretrain import show_on_progress_bar
from efficient_ssl.models.sustainable import EMATeacher, SustainableOutput, frame_contrastive_loss


class OneCycleSchedule:
    """torch's ``OneCycleLR`` (cosine annealing) as a stateless ``scheduler(optimizer, step)``.

    From ``lr / div_factor`` up to ``lr`` over the first ``pct_start`` of ``total_steps``, then
    down to ``lr / div_factor / final_div_factor``; stateless, so nothing needs checkpointing.

    Example
    -------
    >>> schedule = OneCycleSchedule(lr=1.0, total_steps=10, pct_start=0.3)
    >>> [round(schedule.rate(s), 3) for s in (0, 3, 10)]
    [0.04, 1.0, 0.0]
    """

    def __init__(self, lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4):
        self.lr = lr
        self.total_steps = total_steps
        self.warmup = max(int(pct_start * total_steps), 1)
        self.initial = lr / div_factor
        self.final = self.initial / final_div_factor

    def rate(self, step: int) -> float:
        """Learning rate of optimiser step ``step``."""
        if step <= self.warmup:
            start, end, progress = self.initial, self.lr, step / self.warmup
        else:
            start, end = self.lr, self.final
            progress = min((step - self.warmup) / max(self.total_steps - self.warmup, 1), 1.0)
        return end + (start - end) * (1.0 + math.cos(math.pi * progress)) / 2.0

    def __call__(self, optimizer: torch.optim.Optimizer, num_updates: int) -> None:
        for group in optimizer.param_groups:
            group["lr"] = self.rate(num_updates)


class SustainableBrain(StepwiseBrain):
    """Pretrains ``modules.sustainable`` (student) against ``modules.teacher`` (EMA)."""

    @property
    def teacher(self) -> EMATeacher:
        return self.unwrapped("teacher")

    def compute_forward(self, batch, stage) -> tuple[SustainableOutput, torch.Tensor]:
        """Teacher targets (no gradient) and student predictions for ``batch.sig``."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        targets, _ = self.modules.teacher(wavs, wav_lens)
        return self.modules.sustainable(wavs, wav_lens), targets

    def compute_objectives(self, predictions, batch, stage) -> torch.Tensor:
        """Contrastive loss; accumulates accuracy and agreement over real frames."""
        student, targets = predictions
        loss, accuracy = frame_contrastive_loss(
            student.predictions, targets, student.mask, self.hparams.num_negatives, self.hparams.temperature
        )
        frames = int(student.mask.sum())
        with torch.no_grad():
            cosine = F.cosine_similarity(student.predictions.float(), targets.float(), dim=-1)  # (B, T)
            self.agreement += float((cosine * student.mask).sum())
        self.frames += frames
        self.correct += float(accuracy) * frames
        if stage == sb.Stage.TRAIN:
            self.step_loss += float(loss.detach()) * frames
        return loss

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.train_stats = None
        self._ema_step = self.optimizer_step

    def _reset_statistics(self) -> None:
        self.frames = 0
        self.correct = 0.0
        self.agreement = 0.0
        self.step_loss = 0.0

    def on_fit_batch_end(self, batch, outputs, loss, should_step: bool) -> None:
        """After an optimiser step: the EMA update of the teacher, then the step log."""
        if not should_step or self.optimizer_step == self._ema_step:  # no step, or a skipped one
            return
        self._ema_step = self.optimizer_step
        momentum = self.teacher.update(self.unwrapped("sustainable"), self.optimizer_step)
        frames = max(self.frames, 1)
        stats = {
            "loss": self.step_loss / frames,
            "accuracy": self.correct / frames,
            "agreement": self.agreement / frames,
            "momentum": momentum,
            "lr": self.optimizer.param_groups[0]["lr"],
        }
        self._reset_statistics()
        show_on_progress_bar(
            f"step {self.optimizer_step} acc={stats['accuracy']:.3f} agree={stats['agreement']:.3f} lr={stats['lr']:.2e}"
        )
        if self.optimizer_step % self.hparams.log_interval == 0:
            self.hparams.step_logger.log_stats(stats_meta={"step": self.optimizer_step, **stats}, verbose=False)

    def on_stage_end(self, stage, stage_loss, epoch=None) -> None:
        """Logs the epoch; after validation, checkpoints (keeping the latest and the best loss)."""
        stage_loss = self.stage_loss_over_ranks(stage, stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        correct, agreement, frames = sum_over_ranks([self.correct, self.agreement, self.frames])
        stats = {"loss": stage_loss, "accuracy": correct / max(frames, 1), "agreement": agreement / max(frames, 1)}
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                stats_meta={
                    "epoch": epoch,
                    "steps": self.optimizer_step,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "momentum": self.teacher.momentum(self.optimizer_step),
                },
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            if self.checkpointer is not None:
                self.checkpointer.save_and_keep_only(meta=stats, min_keys=["loss"])
        else:
            self.hparams.train_logger.log_stats(stats_meta={"steps": self.optimizer_step}, test_stats=stats)
