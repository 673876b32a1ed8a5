"""wav2vec 2.0 pretraining Brain.

Trains ``modules.wav2vec2`` (an ``efficient_ssl.models.Wav2Vec2Pretrainer``) on ``batch.sig``.
speechbrain's ``Brain`` (through the project's ``efficient_ssl.brains.base.Brain``) already
provides gradient accumulation (``grad_accumulation_factor``), mixed precision (``precision``:
fp16 / bf16 on CUDA, bf16 on CPU), gradient-norm clipping (``max_grad_norm``) and intra-epoch
checkpoints (``ckpt_interval_minutes`` / ``_steps``); this Brain adds, per optimiser step, the
learning-rate schedule, the Gumbel temperature decay, the loss normalisation and the step log,
and per epoch the validation loss and contrastive accuracy.

Hparams read by the Brain (declare them in the recipe YAML):
    loss_normalisation
                   "step" (fairseq's, the default) or "micro_batch": what one optimiser step
                   averages over, see ``PretrainBrain``
    lr_scheduler   called as ``lr_scheduler(optimizer, num_updates)`` before every optimiser
                   step, e.g. ``WarmupDecayLR`` below
    log_interval   write the step statistics every this many optimiser steps
    step_logger    speechbrain train logger for the step statistics (loss, contrastive
                   accuracy, codebook perplexities, temperature, lr)
    train_logger   speechbrain train logger for the per-epoch statistics

Every checkpoint folder then holds ``encoder.ckpt`` + ``encoder_config.json`` (written by the
model's checkpoint hook), which ``efficient_ssl.models.load_pretrained_encoder`` reads.

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import math

import speechbrain as sb
import torch
from tqdm import tqdm

from efficient_ssl.brains.base import StepwiseBrain
from efficient_ssl.brains.distributed import sum_over_ranks, world_size
from efficient_ssl.models.wav2vec2 import PretrainOutput, Wav2Vec2Pretrainer


class WarmupDecayLR:
    """Linear warmup to ``lr``, then linear or cosine decay to ``final_lr`` at ``total_steps``.

    Called like speechbrain's ``WarmCoolDecayLRSchedule`` (``scheduler(optimizer, num_updates)``)
    and, like it, stateless: the rate depends on the step only, so nothing needs checkpointing.
    Written here because speechbrain 1.1.2 has no warmup + cosine schedule with that call, and
    one class makes the decay shape a one-key override (``--lr_decay=cosine``).

    Arguments
    ---------
    lr : float
        Peak learning rate, reached at the end of warmup.
    warmup_steps : int
        Optimiser steps of linear warmup from 0.
    total_steps : int
        Step at which the rate reaches ``final_lr`` (and stays).
    decay : str
        "linear" or "cosine".
    final_lr : float
        Rate at and after ``total_steps``.

    Example
    -------
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> schedule = WarmupDecayLR(lr=1.0, warmup_steps=2, total_steps=6, decay="cosine")
    >>> rates = []
    >>> for step in range(1, 8):
    ...     schedule(opt, step)
    ...     rates.append(round(opt.param_groups[0]["lr"], 3))
    >>> rates
    [0.5, 1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """

    def __init__(
        self,
        lr: float,
        warmup_steps: int,
        total_steps: int,
        decay: str = "linear",
        final_lr: float = 0.0,
    ):
        if decay not in ("linear", "cosine"):
            raise ValueError(f"WarmupDecayLR: decay={decay!r}; use 'linear' or 'cosine'")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"WarmupDecayLR: need 0 <= warmup_steps ({warmup_steps}) < total_steps ({total_steps})"
            )
        self.lr = lr
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.decay = decay
        self.final_lr = final_lr

    def rate(self, num_updates: int) -> float:
        """Learning rate of optimiser step ``num_updates`` (counted from 1)."""
        if num_updates < self.warmup_steps:
            return self.lr * num_updates / self.warmup_steps
        progress = min((num_updates - self.warmup_steps) / (self.total_steps - self.warmup_steps), 1.0)
        shape = 1.0 - progress if self.decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.final_lr + (self.lr - self.final_lr) * shape

    def __call__(self, optimizer: torch.optim.Optimizer, num_updates: int) -> None:
        """Sets the rate of every parameter group for step ``num_updates``."""
        for group in optimizer.param_groups:
            group["lr"] = self.rate(num_updates)


def show_on_progress_bar(text: str) -> None:
    """Shows ``text`` as the description of the live training progress bar.

    speechbrain's training loop owns its tqdm bar and resets the bar's postfix to the running
    loss after every batch; it leaves the description alone, so step statistics go there.
    Disabled bars (non-main processes) are not registered in tqdm and are left out.
    """
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.set_description_str(text, refresh=False)


class PretrainBrain(StepwiseBrain):
    """Pretrains a ``Wav2Vec2Pretrainer`` held in ``modules.wav2vec2``.

    The batch needs ``sig``: padded waveforms (B, S) and relative lengths (B,), as given by
    ``efficient_ssl.data.pipeline``. See the module docstring for the hparams it reads.

    ``hparams.loss_normalisation`` says what one optimiser step averages over, when it spans
    several micro-batches (``grad_accumulation_factor``, processes):

    - "step" (fairseq's ``sample_size`` normalisation; the default): each micro-batch
      backpropagates its summed loss (``loss * num_masked``: the contrastive sum plus the
      diversity term weighted by its masked frames, as fairseq's criterion weights its extra
      losses), and before clipping the gradients are multiplied by ``world_size / F``, F the
      masked frames of the whole step summed over micro-batches and ranks (DDP has already
      averaged the ranks' gradients). The step follows the mean loss per masked frame of the
      step: every masked frame counts the same, whatever the length of its batch.
    - "micro_batch": each micro-batch's mean is backpropagated divided by
      ``grad_accumulation_factor``; the step follows the mean of the micro-batches' means, so
      with dynamic batches a frame of a batch of few (short) utterances counts more.

    Either way the logged loss (progress bar, step log, epoch statistics) is per masked frame.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_normalisation = getattr(self.hparams, "loss_normalisation", "step")
        if self.loss_normalisation not in ("step", "micro_batch"):
            raise ValueError(
                f"PretrainBrain: loss_normalisation={self.loss_normalisation!r}; use 'step' or 'micro_batch'"
            )

    @property
    def model(self) -> Wav2Vec2Pretrainer:
        """The pretraining model, unwrapped from DistributedDataParallel."""
        return self.unwrapped("wav2vec2")

    def compute_forward(self, batch, stage) -> PretrainOutput:
        """Runs the masked prediction on ``batch.sig``."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        return self.modules.wav2vec2(wavs, wav_lens)

    def compute_objectives(self, predictions: PretrainOutput, batch, stage) -> torch.Tensor:
        """Returns the loss; accumulates the statistics of the step or of the evaluation."""
        self.masked_frames += predictions.num_masked
        self.correct += float(predictions.accuracy) * predictions.num_masked
        if stage == sb.Stage.TRAIN:
            self.step_loss += float(predictions.loss.detach()) * predictions.num_masked
        return predictions.loss

    def loss_to_backward(self, loss: torch.Tensor, outputs: PretrainOutput) -> torch.Tensor:
        """The micro-batch's summed loss in "step" mode (``optimizers_step`` divides by the
        step's masked frames); its mean / ``grad_accumulation_factor`` in "micro_batch" mode."""
        if self.loss_normalisation == "micro_batch":
            return super().loss_to_backward(loss, outputs)
        return loss * outputs.num_masked

    def optimizers_step(self):
        """In "step" mode, first divides the summed gradients by the step's masked frames (every
        micro-batch, every rank), then clips and steps. Every rank gets here together (a skipped
        micro-batch is skipped on every rank), so the all-reduce is matched."""
        if self.loss_normalisation == "step":
            masked_frames = sum_over_ranks([self.masked_frames])[0]
            scale = world_size() / masked_frames  # DDP averaged the ranks' summed gradients
            for param in self.modules.parameters():
                if param.grad is not None:
                    param.grad.mul_(scale)
        return super().optimizers_step()

    def on_fit_start(self) -> None:
        """Recovers the last checkpoint, then the temperature of the recovered step."""
        super().on_fit_start()
        self.model.update_temperature(self.optimizer_step)
        self.train_stats = None

    def _reset_statistics(self) -> None:
        self.masked_frames = 0
        self.correct = 0.0
        self.step_loss = 0.0

    def on_fit_batch_end(self, batch, outputs: PretrainOutput, loss, should_step: bool) -> None:
        """After an optimiser step: decays the temperature, shows and logs the step statistics."""
        if not should_step or not self.masked_frames:  # none after a skipped (non-finite) step
            return
        stats = {
            "loss": self.step_loss / self.masked_frames,
            "accuracy": self.correct / self.masked_frames,
            "code_perplexity": float(outputs.code_perplexity),
            "prob_perplexity": float(outputs.prob_perplexity),
            "temperature": outputs.temperature,
            "lr": self.optimizer.param_groups[0]["lr"],
        }
        self._reset_statistics()
        self.model.update_temperature(self.optimizer_step)
        show_on_progress_bar(
            f"step {self.optimizer_step} acc={stats['accuracy']:.3f} "
            f"ppl={stats['code_perplexity']:.0f} temp={stats['temperature']:.3f} lr={stats['lr']:.2e}"
        )
        if self.optimizer_step % self.hparams.log_interval == 0:
            self.hparams.step_logger.log_stats(
                stats_meta={"step": self.optimizer_step, **stats}, verbose=False
            )

    def on_stage_end(self, stage, stage_loss, epoch=None) -> None:
        """Logs the epoch; after validation, checkpoints (keeping the latest and the best loss)."""
        stage_loss = self.stage_loss_over_ranks(stage, stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        correct, masked_frames = sum_over_ranks([self.correct, self.masked_frames])
        stats = {"loss": stage_loss, "accuracy": correct / max(masked_frames, 1)}
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                stats_meta={
                    "epoch": epoch,
                    "steps": self.optimizer_step,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "temperature": self.model.quantiser.curr_temp,
                },
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            if self.checkpointer is not None:
                self.checkpointer.save_and_keep_only(meta=stats, min_keys=["loss"])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"steps": self.optimizer_step}, test_stats=stats
            )
