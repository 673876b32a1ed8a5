"""The sustainable single-GPU SSL model (Lugo & Vielzeuf; PAPERS.md section 3): a SPIRAL-style
student-teacher pair whose encoder downsamples progressively.

Pieces:

- the encoder is a ``PretrainedEncoder`` with ``frontend="progressive_stem"``
  (``efficient_ssl.nnet.progressive.ProgressiveStem``: 128 log-mel -> convs -> 2 Transformer
  layers of 512 -> convs, 80 ms frames) and a context encoder of 10 Transformer layers of 768
  (``layer_type="transformer"``; ``attention_type`` "regularMHA" = scaled_dot_product_attention,
  or "SummaryMixing": one key). It saves and loads in the common encoder format, so
  ``load_pretrained_encoder`` and every downstream recipe take it unchanged; its hidden states
  are the deep layers' input and outputs, all at 80 ms. (The ``PretrainedEncoder`` wrapper adds a
  768 x 768 input projection and sinusoidal positions before the deep layers; the paper uses
  gated relative positions, which the project's mixers do not have.)
- :class:`SustainablePretrainer`, the student: perturbs its input (additive noise, SpecAugment on
  the log-mel, a random shift of the positions), encodes, projects to ``final_dim`` and predicts
  the teacher's outputs with a convolutional predictor.
- :class:`EMATeacher`: a copy of the student's encoder and projection, never trained by the
  optimiser (``requires_grad`` False, always in eval mode), moved towards the student after every
  optimiser step with a momentum rising from 0.995 to 1.0 on a cosine schedule. It is its own
  module in a Brain's ``modules`` (no parameter needs a gradient, so DDP never wraps it), and its
  update depends only on the student's weights and the step, so it is identical on every rank.
- :func:`frame_contrastive_loss`: the student's prediction of each real frame against the
  teacher's output for that frame among ``num_negatives`` distractors, other frames of the same
  utterance's teacher output (cosine similarity / temperature 0.3).

Choices marked (check) in PAPERS.md and made here: noise is white Gaussian noise at a random SNR
(the paper mixes recorded noise, which this project cannot download) added to a ``noise_ratio``
share of the utterances; the loss covers every real frame; the student's encoder is the one
exported for downstream use.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from torch import nn

from efficient_ssl.models.wav2vec2 import ENCODER_WEIGHTS, PretrainedEncoder
from efficient_ssl.nnet.progressive import ProgressiveStem


def sinusoidal_positions(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """Sinusoidal encodings of integer positions, as speechbrain's ``PositionalEncoding``.

    Arguments
    ---------
    positions : torch.Tensor
        (B, T) long.
    d_model : int
        Even encoding size.

    Returns
    -------
    torch.Tensor
        (B, T, d_model) float32.

    Example
    -------
    >>> from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding
    >>> ours = sinusoidal_positions(torch.arange(7).unsqueeze(0), 8)
    >>> torch.allclose(ours, PositionalEncoding(8, 10)(torch.zeros(1, 7, 8)), atol=1e-6)
    True
    """
    freqs = torch.exp(torch.arange(0, d_model, 2, device=positions.device).float() * -(math.log(10000.0) / d_model))
    angles = positions.unsqueeze(-1).float() * freqs  # (B, T, d_model / 2)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(2)  # interleaved sin, cos


def spec_augment(
    feats: torch.Tensor, time_mask_prob: float, time_mask_width: int, freq_masks: int, freq_mask_width: int
) -> torch.Tensor:
    """Zeroes random time spans and frequency bands of normalised log-mel features (0 = the mean).

    Each frame starts a time mask of 1..``time_mask_width`` frames with probability
    ``time_mask_prob``; ``freq_masks`` bands of 0..``freq_mask_width`` bins per utterance.

    Example
    -------
    >>> out = spec_augment(torch.ones(2, 100, 20), 0.05, 10, 2, 5)
    >>> out.shape, bool((out == 0).any()), bool((out == 1).any())
    (torch.Size([2, 100, 20]), True, True)
    """
    batch, frames, bins = feats.shape
    keep = torch.ones(batch, frames, bins, dtype=torch.bool, device=feats.device)
    if time_mask_prob > 0 and time_mask_width > 0:
        starts = torch.rand(batch, frames, device=feats.device) < time_mask_prob  # (B, T)
        widths = torch.randint(1, time_mask_width + 1, (batch, frames), device=feats.device)
        ends = torch.where(starts, torch.arange(frames, device=feats.device) + widths, 0)  # (B, T)
        covered = ends.cummax(dim=1).values > torch.arange(frames, device=feats.device)  # (B, T)
        keep &= ~covered.unsqueeze(-1)
    bin_index = torch.arange(bins, device=feats.device)
    for _ in range(freq_masks):
        width = torch.randint(0, freq_mask_width + 1, (batch, 1), device=feats.device)
        start = (torch.rand(batch, 1, device=feats.device) * (bins - width + 1)).long()
        band = (bin_index >= start) & (bin_index < start + width)  # (B, bins)
        keep &= ~band.unsqueeze(1)
    return feats * keep


class ConvPredictor(nn.Module):
    """The student's predictor: Conv1d ('same' padding) -> GELU -> ... -> Conv1d, padding zeroed
    before every convolution so it never reaches a real frame.

    Example
    -------
    >>> pred = ConvPredictor(8, num_layers=2, kernel_size=5)
    >>> mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    >>> x = torch.rand(2, 6, 8)
    >>> y = pred(x, mask)
    >>> torch.allclose(y[1, :3], pred(x[1:, :3], mask[1:, :3])[0], atol=1e-6)
    True
    """

    def __init__(self, dim: int, num_layers: int = 2, kernel_size: int = 5):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, dim), mask (B, T) True = real -> (B, T, dim)."""
        keep = mask.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        x = x.transpose(1, 2)  # (B, dim, T)
        for n, conv in enumerate(self.convs):
            x = conv(x * keep)
            if n < len(self.convs) - 1:
                x = F.gelu(x)
        return x.transpose(1, 2)


def frame_contrastive_loss(
    predictions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, num_negatives: int, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Contrastive loss of every real frame's prediction against its target among distractors.

    Distractors are drawn uniformly with replacement among the other real frames of the same
    utterance's targets. Similarities are cosine / ``temperature``; computed from one (B, T, T)
    similarity matrix, so memory grows with T^2, not with T x ``num_negatives`` x dim.

    Arguments
    ---------
    predictions, targets : torch.Tensor
        (B, T, C) student predictions and teacher targets.
    mask : torch.Tensor
        (B, T) bool, True = real frame; every utterance needs at least 2.
    num_negatives : int
        Distractors per frame.
    temperature : float
        Divides the cosine similarities.

    Returns
    -------
    loss : torch.Tensor
        Scalar, mean cross-entropy over the real frames.
    accuracy : torch.Tensor
        Scalar, share of real frames whose target scores above every distractor.

    Example
    -------
    >>> x = torch.randn(2, 10, 4)
    >>> mask = torch.arange(10) < torch.tensor([[10], [6]])
    >>> loss, acc = frame_contrastive_loss(x, x, mask, 20, 0.3)
    >>> bool(acc > 0.5), loss.shape
    (True, torch.Size([]))
    """
    lengths = mask.sum(dim=1)  # (B,)
    if int(lengths.min()) < 2:
        raise ValueError(
            f"frame_contrastive_loss: an utterance has {int(lengths.min())} real frame(s), need 2; "
            "drop utterances shorter than 0.5 s"
        )
    batch, frames, _ = predictions.shape
    sim = torch.einsum(
        "btc,bsc->bts", F.normalize(predictions.float(), dim=-1), F.normalize(targets.float(), dim=-1)
    ) / temperature  # (B, T, T)
    with torch.no_grad():
        draw = torch.rand(batch, frames, num_negatives, device=sim.device)
        index = (draw * (lengths - 1).view(-1, 1, 1)).long()  # (B, T, N) in [0, len - 2]
        index = index + (index >= torch.arange(frames, device=sim.device).view(1, -1, 1)).long()
        index = index.clamp(max=frames - 1)  # padded rows only
    positive = sim.diagonal(dim1=1, dim2=2).unsqueeze(-1)  # (B, T, 1)
    logits = torch.cat([positive, sim.gather(2, index)], dim=-1)  # (B, T, 1 + N)
    losses = F.cross_entropy(
        logits.flatten(0, 1), logits.new_zeros(batch * frames, dtype=torch.long), reduction="none"
    ).view(batch, frames)
    real = mask.to(losses.dtype)
    count = real.sum()
    loss = (losses * real).sum() / count
    accuracy = ((logits.argmax(dim=-1) == 0).to(losses.dtype) * real).sum() / count
    return loss, accuracy.detach()


class SustainableOutput(NamedTuple):
    """What ``SustainablePretrainer.forward`` returns."""

    predictions: torch.Tensor  # (B, T, final_dim)
    mask: torch.Tensor  # (B, T) bool, True = real frame


@register_checkpoint_hooks
class SustainablePretrainer(nn.Module):
    """The student: perturbed input -> encoder -> projection -> convolutional predictor.

    Arguments
    ---------
    encoder : PretrainedEncoder
        With a ``progressive_stem`` frontend.
    final_dim : int
        Size of the projection (and of the teacher's targets).
    predictor_layers, predictor_kernel : int
        Convolutions of the predictor and their kernel.
    noise_ratio : float
        Share of the utterances that get additive noise (training only).
    noise_snr_db : Sequence[float]
        (low, high) of the uniform SNR draw, in dB.
    time_mask_prob, time_mask_width, freq_masks, freq_mask_width
        SpecAugment of the log-mel (see :func:`spec_augment`; training only).
    max_position_shift : int
        The positions of the deep layers start at a random offset in [0, this] frames for each
        utterance (training only), so the student cannot match the teacher by absolute position.

    Example
    -------
    >>> enc = PretrainedEncoder("progressive_stem", {"num_layers": 1, "d_model": 16, "nhead": 2,
    ...     "d_ffn": 32, "layer_type": "transformer"}, frontend_kwargs={"channels": [8, 8, 8, 16, 16],
    ...     "nhead": 2, "d_ffn": 16, "n_mels": 20})
    >>> student = SustainablePretrainer(enc, final_dim=8)
    >>> out = student(torch.randn(2, 16000), torch.tensor([1.0, 0.8]))
    >>> out.predictions.shape, out.mask.sum(dim=1)
    (torch.Size([2, 10, 8]), tensor([10,  7]))
    """

    def __init__(
        self,
        encoder: PretrainedEncoder,
        final_dim: int = 256,
        predictor_layers: int = 2,
        predictor_kernel: int = 5,
        noise_ratio: float = 0.5,
        noise_snr_db: Sequence[float] = (5.0, 20.0),
        time_mask_prob: float = 0.02,
        time_mask_width: int = 20,
        freq_masks: int = 2,
        freq_mask_width: int = 20,
        max_position_shift: int = 25,
    ):
        super().__init__()
        if not isinstance(encoder.frontend, ProgressiveStem):
            raise TypeError("SustainablePretrainer: the encoder needs frontend='progressive_stem'")
        self.encoder = encoder
        encoder.mask_emb.requires_grad_(False)  # no span masking here: never gets a gradient
        self.projection = nn.Linear(encoder.d_model, final_dim)
        self.predictor = ConvPredictor(final_dim, predictor_layers, predictor_kernel)
        self.noise_ratio = noise_ratio
        self.noise_snr_db = tuple(noise_snr_db)
        self.spec_augment = (time_mask_prob, time_mask_width, freq_masks, freq_mask_width)
        self.max_position_shift = max_position_shift

    def add_noise(self, wav: torch.Tensor) -> torch.Tensor:
        """Adds white noise at a random SNR to a ``noise_ratio`` share of the utterances."""
        batch = wav.shape[0]
        chosen = torch.rand(batch, 1, device=wav.device) < self.noise_ratio  # (B, 1)
        low, high = self.noise_snr_db
        snr_db = low + (high - low) * torch.rand(batch, 1, device=wav.device)
        power = wav.pow(2).mean(dim=1, keepdim=True).clamp(min=1e-10)  # (B, 1), padding included
        scale = torch.sqrt(power / 10 ** (snr_db / 10)) * chosen
        return wav + scale * torch.randn_like(wav)

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> SustainableOutput:
        """(B, S) waveforms, (B,) relative lengths -> predictions of the teacher's outputs."""
        stem: ProgressiveStem = self.encoder.frontend
        if self.training and self.noise_ratio > 0:
            wav = self.add_noise(wav)
        feats = stem.filterbank(wav, wav_lens)  # (B, T_fbank, n_mels)
        if self.training:
            feats = spec_augment(feats, *self.spec_augment)
        latents = stem.encode(feats, wav_lens, wav.shape[1])  # (B, T, C)
        mask = stem.frame_mask(wav_lens, wav.shape[1])
        enc = self.encoder
        x = enc.input_dropout(enc.input_proj(latents))  # (B, T, d_model)
        positions = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)  # (B, T)
        if self.training and self.max_position_shift > 0:
            positions = positions + torch.randint(0, self.max_position_shift + 1, (x.shape[0], 1), device=x.device)
        x = x + sinusoidal_positions(positions, enc.d_model).to(x.dtype)
        out, _ = enc.context(x, mask)
        predictions = self.predictor(self.projection(out), mask)
        return SustainableOutput(predictions, mask)

    @mark_as_saver
    def _save(self, path: Path) -> None:
        """Heads to ``path``; the encoder as ``encoder.ckpt`` + ``encoder_config.json`` beside it."""
        path = Path(path)
        if path.name == ENCODER_WEIGHTS:
            raise ValueError("SustainablePretrainer: register it under another name than 'encoder'")
        self.encoder.save(path.parent)
        torch.save({k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}, path)

    @mark_as_loader
    def _load(self, path: Path, end_of_epoch: bool) -> None:
        """Restores the heads from ``path`` and the encoder from ``encoder.ckpt`` beside it."""
        del end_of_epoch
        path = Path(path)
        self.encoder.load_state_dict(torch.load(path.parent / ENCODER_WEIGHTS, map_location="cpu", weights_only=True))
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=False)


class EMATeacher(nn.Module):
    """Exponential moving average of the student's encoder and projection.

    ``update(student, step)`` after optimiser step ``step``: every parameter moves to
    ``m * teacher + (1 - m) * student`` with ``m = end - (end - start) * (1 + cos(pi * step /
    total_steps)) / 2`` (``start`` at step 0, ``end`` from ``total_steps`` on); buffers are copied.

    Arguments
    ---------
    student : SustainablePretrainer
        Copied at construction.
    momentum_start, momentum_end : float
        The cosine schedule's ends.
    total_steps : int
        Steps over which the momentum rises.

    Example
    -------
    >>> enc = PretrainedEncoder("progressive_stem", {"num_layers": 1, "d_model": 16, "nhead": 2,
    ...     "d_ffn": 32, "layer_type": "transformer"}, frontend_kwargs={"channels": [8, 8, 8, 16, 16],
    ...     "nhead": 2, "d_ffn": 16, "n_mels": 20})
    >>> teacher = EMATeacher(SustainablePretrainer(enc, final_dim=8), total_steps=100)
    >>> teacher.momentum(0), teacher.momentum(50), teacher.momentum(100)
    (0.995, 0.9975, 1.0)
    >>> any(p.requires_grad for p in teacher.parameters()), teacher.train().training
    (False, False)
    """

    def __init__(
        self, student: SustainablePretrainer, momentum_start: float = 0.995, momentum_end: float = 1.0, total_steps: int = 15000
    ):
        super().__init__()
        self.encoder = copy.deepcopy(student.encoder)
        self.projection = copy.deepcopy(student.projection)
        self.requires_grad_(False)
        self.momentum_start = momentum_start
        self.momentum_end = momentum_end
        self.total_steps = total_steps
        self.eval()

    def train(self, mode: bool = True) -> EMATeacher:
        """Always in eval mode (no dropout, no layerdrop), whatever the Brain asks."""
        del mode
        return super().train(False)

    def momentum(self, step: int) -> float:
        """The EMA momentum after optimiser step ``step``."""
        progress = min(max(step / self.total_steps, 0.0), 1.0)
        gap = self.momentum_end - self.momentum_start
        return round(self.momentum_end - gap * (1.0 + math.cos(math.pi * progress)) / 2.0, 12)

    @torch.no_grad()
    def update(self, student: SustainablePretrainer, step: int) -> float:
        """Moves the teacher towards ``student`` (unwrapped from DDP); returns the momentum used."""
        m = self.momentum(step)
        for mine, theirs in ((self.encoder, student.encoder), (self.projection, student.projection)):
            for t, s in zip(mine.parameters(), theirs.parameters()):
                t.lerp_(s.detach(), 1.0 - m)
            for t, s in zip(mine.buffers(), theirs.buffers()):
                t.copy_(s)
        return m

    @torch.no_grad()
    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unperturbed targets: (B, T, final_dim) and the (B, T) mask of real frames."""
        out, _, mask = self.encoder(wav, wav_lens)
        return self.projection(out), mask
