"""Distillation Brain: a student encoder learns to predict a frozen teacher's hidden states.

Modules (built by :func:`load_distill_modules` from the recipe YAML):

    distiller   efficient_ssl.models.distill.Distiller: the student + one head per teacher layer
    teacher     efficient_ssl.models.distill.FrozenTeacher: frozen, eval mode, no gradients; it
                has no trainable parameter, so DDP never wraps it and only the distiller's
                gradients are reduced across ranks

Teacher targets come from the teacher on the fly, or from a :class:`TeacherCache` on disk (fp16,
``cache_teacher: True``): the first epoch computes and stores them, later epochs read them.

Hparams read (declare them in the recipe YAML): ``teacher`` (what ``load_pretrained_encoder``
takes: this project's save folders, or a transformers folder, see
``efficient_ssl.models.distill.teacher_config``), ``teacher_layers``, ``num_layers`` / ``d_model`` / ``nhead`` / ``d_ffn`` /
``attention_type`` / ``frontend`` (the student; null = the teacher's), ``init_from_teacher``,
``cos_weight``, ``cache_teacher``, ``cache_folder``, ``lr_scheduler``, ``log_interval``,
``step_logger``, ``train_logger``, ``checkpointer``, ``student_folder`` (where the student is
exported at the end).

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import speechbrain as sb
import torch

from efficient_ssl.brains.base import StepwiseBrain
from efficient_ssl.brains.distributed import sum_over_ranks
from efficient_ssl.brains.pretrain import show_on_progress_bar
from efficient_ssl.models.distill import (
    Distiller,
    DistillOutput,
    FrozenTeacher,
    TeacherCache,
    build_student,
)
from efficient_ssl.models.wav2vec2 import load_pretrained_encoder

logger = logging.getLogger(__name__)


def load_distill_modules(hparams: Mapping[str, Any]) -> dict[str, torch.nn.Module]:
    """Loads the teacher, builds the student (initialised from the teacher) and its heads.

    Arguments
    ---------
    hparams : mapping
        Loaded hyperparameters (see the module docstring).

    Returns
    -------
    dict
        {"distiller", "teacher"}; the distiller is registered with the checkpointer.
    """
    encoder = load_pretrained_encoder(hparams["teacher"])
    teacher = FrozenTeacher(encoder, hparams["teacher_layers"])
    student = build_student(
        encoder,
        init=hparams["init_from_teacher"],
        num_layers=hparams["num_layers"],
        d_model=hparams["d_model"],
        nhead=hparams["nhead"],
        d_ffn=hparams["d_ffn"],
        attention_type=hparams["attention_type"],
        frontend=hparams["frontend"],
    )
    distiller = Distiller(student, len(teacher.layers), teacher.d_model, cos_weight=hparams["cos_weight"])
    hparams["checkpointer"].add_recoverable("distiller", distiller)
    return {"distiller": distiller, "teacher": teacher}


class DistillBrain(StepwiseBrain):
    """Trains ``modules.distiller`` on targets of ``modules.teacher`` (see the module docstring).

    The batch needs ``id`` and ``sig`` (padded waveforms (B, S), relative lengths (B,)).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cache: TeacherCache | None = None
        if getattr(self.hparams, "cache_teacher", False):
            self.cache = TeacherCache(self.hparams.cache_folder, self.unwrapped("teacher"))

    @property
    def student(self) -> torch.nn.Module:
        """The student encoder (a ``PretrainedEncoder``), unwrapped from DDP."""
        return self.unwrapped("distiller").student

    def freeze_parameters(self) -> None:
        """The teacher, and the student's mask embedding (no span masking here: it gets no gradient)."""
        self.unwrapped("teacher").requires_grad_(False)
        self.student.mask_emb.requires_grad_(False)

    def teacher_targets(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, B, T, D) targets and (B, T) mask of the batch, from the cache or the teacher."""
        wavs, wav_lens = batch.sig
        if self.cache is not None:
            return self.cache.targets(batch.id, wavs, wav_lens)
        return self.modules.teacher(wavs, wav_lens)

    def compute_forward(self, batch, stage) -> DistillOutput:
        """Teacher targets, then the student's predictions and the loss."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        targets, mask = self.teacher_targets(batch)
        return self.modules.distiller(wavs, wav_lens, targets, mask)

    def compute_objectives(self, predictions: DistillOutput, batch, stage) -> torch.Tensor:
        """Returns the loss; accumulates per-head L1 and cosine weighted by frames."""
        frames = predictions.num_frames
        self.frames += frames
        self.l1 = self.l1 + predictions.l1.cpu() * frames
        self.cos = self.cos + predictions.cos.cpu() * frames
        if stage == sb.Stage.TRAIN:
            self.step_loss += float(predictions.loss.detach()) * frames
        return predictions.loss

    def _reset_statistics(self) -> None:
        num_heads = len(self.unwrapped("teacher").layers)
        self.frames = 0
        self.l1 = torch.zeros(num_heads)  # sums over frames, per head
        self.cos = torch.zeros(num_heads)
        self.step_loss = 0.0

    def _stats(self, frames: float, l1: torch.Tensor, cos: torch.Tensor) -> dict[str, float]:
        layers = self.unwrapped("teacher").layers
        frames = max(frames, 1)
        stats = {}
        for k, layer in enumerate(layers):
            stats[f"l1_{layer}"] = float(l1[k]) / frames
            stats[f"cos_{layer}"] = float(cos[k]) / frames
        return stats

    def on_fit_batch_end(self, batch, outputs: DistillOutput, loss, should_step: bool) -> None:
        """After an optimiser step: shows and logs the step statistics."""
        if not should_step:
            return
        stats = {"loss": self.step_loss / max(self.frames, 1), **self._stats(self.frames, self.l1, self.cos),
                 "lr": self.optimizer.param_groups[0]["lr"]}
        self._reset_statistics()
        show_on_progress_bar(f"step {self.optimizer_step} loss={stats['loss']:.3f} lr={stats['lr']:.2e}")
        if self.optimizer_step % self.hparams.log_interval == 0:
            self.hparams.step_logger.log_stats(stats_meta={"step": self.optimizer_step, **stats}, verbose=False)

    def on_stage_end(self, stage, stage_loss, epoch=None) -> None:
        """Logs the epoch; after validation, checkpoints (keeping the latest and the best loss)."""
        stage_loss = self.stage_loss_over_ranks(stage, stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        num_heads = len(self.l1)
        totals = sum_over_ranks([float(self.frames), *self.l1.tolist(), *self.cos.tolist()])
        frames, l1, cos = totals[0], torch.tensor(totals[1:1 + num_heads]), torch.tensor(totals[1 + num_heads:])
        stats = {"loss": stage_loss, **self._stats(frames, l1, cos)}
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "steps": self.optimizer_step, "lr": self.optimizer.param_groups[0]["lr"]},
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            if self.checkpointer is not None:
                self.checkpointer.save_and_keep_only(meta=stats, min_keys=["loss"])
        else:
            self.hparams.train_logger.log_stats(stats_meta={"steps": self.optimizer_step}, test_stats=stats)

    def export_student(self, folder: str | Path) -> Path | None:
        """Saves the student in the encoder format (``encoder.ckpt`` + ``encoder_config.json``),
        main process only; ``load_pretrained_encoder(folder)`` and every downstream recipe take it."""
        if not sb.utils.distributed.if_main_process():
            return None
        folder = Path(folder)
        self.student.save(folder)
        logger.info("Student encoder saved to %s", folder)
        return folder
