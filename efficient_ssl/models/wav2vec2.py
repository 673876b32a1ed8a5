"""wav2vec 2.0 pretraining (Baevski et al. 2020) with a pluggable context encoder.

Pieces and where they come from:

- ``PretrainedEncoder``: frontend (``efficient_ssl.nnet.frontends``) -> linear to d_model ->
  dropout -> learned mask embedding on masked frames -> sinusoidal positions (speechbrain's
  ``PositionalEncoding``) -> context encoder (``efficient_ssl.nnet.encoders.ContextEncoder``).
  speechbrain's ``EncoderWrapper`` does the same but calls its encoder with an inverted padding
  mask and drops the hidden states, so it does not fit the project's encoder contract
  (``out, hidden_states = encoder(x, mask)``, True = real frame). Built from a plain config
  dict, which is saved beside the weights so ``load_pretrained_encoder(path)`` needs nothing else.
- ``Wav2Vec2Pretrainer``: span masking (``compute_span_mask``), Gumbel quantiser of the
  frontend latents (speechbrain's ``GumbelVectorQuantizer``), negatives from the same
  utterance's masked frames (``sample_negatives``) and optionally from the whole batch's
  (``sample_cross_negatives``), contrastive loss on cosine
  similarity / temperature with -inf for negatives equal to the positive (speechbrain's
  ``ContrastiveLoss``) plus the diversity loss.

Checkpoints: a ``Wav2Vec2Pretrainer`` saved by a speechbrain ``Checkpointer`` writes, in the
checkpoint folder, its own file (pretraining heads only) and the encoder as ``encoder.ckpt``
(a plain ``state_dict``) + ``encoder_config.json`` (the ``PretrainedEncoder`` arguments).

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding
from speechbrain.nnet.losses import ContrastiveLoss
from speechbrain.nnet.quantisers import GumbelVectorQuantizer
from speechbrain.utils.checkpoints import (
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from torch import nn

from efficient_ssl.nnet.encoders import ContextEncoder
from efficient_ssl.nnet.fast_ops import Dropout
from efficient_ssl.nnet.frontends import build_frontend
from efficient_ssl.nnet.summary_mixing import SummaryMixing

logger = logging.getLogger(__name__)

ENCODER_WEIGHTS = "encoder.ckpt"
ENCODER_CONFIG = "encoder_config.json"


class PretrainedEncoder(nn.Module):
    """Waveform -> contextual representations: the part of wav2vec 2.0 kept after pretraining.

    Arguments
    ---------
    frontend : str
        Frontend name for ``efficient_ssl.nnet.frontends.build_frontend`` ("raw_cnn", "mel_cnn").
    encoder : dict
        Keyword arguments of ``efficient_ssl.nnet.encoders.ContextEncoder`` (``num_layers``,
        ``d_model``, ``nhead``, ``d_ffn``, ``layer_type``, ``attention_type``, ...).
    frontend_kwargs : dict, optional
        Keyword arguments of the frontend (e.g. ``{"channels": 512}``).
    input_dropout : float
        Dropout on the projected frontend features.
    max_len : int
        Longest sequence of frames the positional encoding covers (2500 = 50 s at 20 ms).

    Example
    -------
    >>> enc = PretrainedEncoder(
    ...     "raw_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32},
    ...     frontend_kwargs={"channels": 8},
    ... )
    >>> out, hidden_states, mask = enc(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> out.shape, len(hidden_states), mask.sum(dim=1)
    (torch.Size([2, 49, 16]), 3, tensor([49, 24]))
    """

    def __init__(
        self,
        frontend: str,
        encoder: dict,
        frontend_kwargs: dict | None = None,
        input_dropout: float = 0.1,
        max_len: int = 2500,
    ):
        super().__init__()
        self.config = {
            "frontend": frontend,
            "encoder": dict(encoder),
            "frontend_kwargs": dict(frontend_kwargs or {}),
            "input_dropout": input_dropout,
            "max_len": max_len,
        }
        try:
            json.dumps(self.config)
        except TypeError as error:
            raise TypeError(
                f"PretrainedEncoder: the config must hold only numbers, strings, lists and "
                f"dicts so it can be saved beside the weights ({error})"
            ) from error
        if "d_model" not in encoder:
            raise ValueError("PretrainedEncoder: the encoder kwargs need 'd_model'")
        d_model = encoder["d_model"]
        self.frontend = build_frontend(frontend, **self.config["frontend_kwargs"])
        self.input_proj = nn.Linear(self.frontend.out_dim, d_model)
        self.input_dropout = nn.Dropout(input_dropout)
        self.mask_emb = nn.Parameter(torch.empty(d_model).uniform_())
        self.positions = PositionalEncoding(d_model, max_len)
        self.context = ContextEncoder(**encoder)
        self.d_model = d_model
        self.max_len = max_len

    def features(
        self, wav: torch.Tensor, wav_lens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frontend latents and their frame mask.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1].

        Returns
        -------
        latents : torch.Tensor
            (B, T, frontend.out_dim).
        mask : torch.Tensor
            (B, T) bool, True = real frame.
        """
        latents = self.frontend(wav, wav_lens)
        return latents, self.frontend.frame_mask(wav_lens, wav.shape[1])

    def embed(self, latents: torch.Tensor, span_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Projects the frontend latents, masks them (optionally) and adds positions.

        Arguments
        ---------
        latents : torch.Tensor
            (B, T, frontend.out_dim) frontend output.
        span_mask : torch.Tensor, optional
            (B, T) bool, True = frame replaced by the learned mask embedding.

        Returns
        -------
        torch.Tensor
            (B, T, d_model), the context encoder's input (``hidden_states[0]``).
        """
        if latents.shape[1] > self.max_len:
            raise ValueError(
                f"PretrainedEncoder: {latents.shape[1]} frames exceed max_len={self.max_len}; "
                "raise max_len in the encoder config or drop longer utterances"
            )
        x = self.input_dropout(self.input_proj(latents))  # (B, T, d_model)
        if span_mask is not None:
            x = torch.where(span_mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        return x + self.positions(x)

    def contextualise(
        self,
        latents: torch.Tensor,
        mask: torch.Tensor,
        span_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """:meth:`embed` then the context encoder.

        Arguments
        ---------
        latents : torch.Tensor
            (B, T, frontend.out_dim) frontend output.
        mask : torch.Tensor
            (B, T) bool, True = real frame.
        span_mask : torch.Tensor, optional
            (B, T) bool, True = frame replaced by the learned mask embedding.

        Returns
        -------
        out : torch.Tensor
            (B, T, d_model).
        hidden_states : list of torch.Tensor
            Encoder input then every layer's output, each (B, T, d_model).
        """
        return self.context(self.embed(latents, span_mask), mask)

    def keep_layers(self, num_layers: int) -> None:
        """Drops the top layers, keeping the first ``num_layers`` (the saved config follows).

        Example
        -------
        >>> enc = PretrainedEncoder("mel_cnn", {"num_layers": 3, "d_model": 16, "nhead": 2, "d_ffn": 32})
        >>> enc.keep_layers(2)
        >>> len(enc.context.layers), enc.config["encoder"]["num_layers"]
        (2, 2)
        """
        total = len(self.context.layers)
        if not 1 <= num_layers <= total:
            raise ValueError(
                f"PretrainedEncoder.keep_layers: {num_layers} is not in [1, {total}] (the encoder's layers)"
            )
        self.context.layers = self.context.layers[:num_layers]
        self.context.num_layers = num_layers
        self.config["encoder"]["num_layers"] = num_layers

    def set_regularisation(
        self, dropout: float | None = None, layerdrop: float | None = None, input_dropout: float | None = None
    ) -> dict[str, tuple[float, float]]:
        """Sets the training regularisation of a loaded encoder (the saved config follows), so
        that a fine-tuning recipe's ``dropout`` / ``layerdrop`` replace the pretraining values.

        ``dropout`` is the rate of every dropout inside the layers (feed-forward, convolution
        module, residual, SummaryMixing's combiner); attention-probability dropout
        (``attention_dropout``) is left as built. None leaves a value unchanged.

        Returns
        -------
        dict
            ``{name: (before, after)}`` for every value that changed.

        Example
        -------
        >>> enc = PretrainedEncoder("mel_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32})
        >>> enc.set_regularisation(dropout=0.0, layerdrop=0.05)
        {'dropout': (0.1, 0.0), 'layerdrop': (0.0, 0.05)}
        >>> enc.context.layerdrop, enc.config["encoder"]["dropout"]
        (0.05, 0.0)
        """
        changed = {}
        encoder_config = self.config["encoder"]
        if dropout is not None and dropout != encoder_config.get("dropout", 0.1):
            changed["dropout"] = (encoder_config.get("dropout", 0.1), dropout)
            for module in self.context.modules():
                if isinstance(module, (Dropout, nn.Dropout)):
                    module.p = dropout
                elif isinstance(module, SummaryMixing):
                    module.dropout = dropout
            encoder_config["dropout"] = dropout
        if layerdrop is not None and layerdrop != self.context.layerdrop:
            if not 0.0 <= layerdrop < 1.0:
                raise ValueError(f"PretrainedEncoder: layerdrop={layerdrop} must be in [0, 1)")
            changed["layerdrop"] = (self.context.layerdrop, layerdrop)
            self.context.layerdrop = encoder_config["layerdrop"] = layerdrop
        if input_dropout is not None and input_dropout != self.input_dropout.p:
            changed["input_dropout"] = (self.input_dropout.p, input_dropout)
            self.input_dropout.p = self.config["input_dropout"] = input_dropout
        return changed

    def forward(
        self, wav: torch.Tensor, wav_lens: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """The unmasked path used by fine-tuning, probing and distillation.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1].

        Returns
        -------
        out : torch.Tensor
            (B, T, d_model) last layer.
        hidden_states : list of torch.Tensor
            Encoder input then every layer's output, each (B, T, d_model).
        mask : torch.Tensor
            (B, T) bool, True = real frame.
        """
        latents, mask = self.features(wav, wav_lens)
        out, hidden_states = self.contextualise(latents, mask)
        return out, hidden_states, mask

    def save(self, folder: str | Path) -> None:
        """Writes ``encoder.ckpt`` (state_dict) and ``encoder_config.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), folder / ENCODER_WEIGHTS)
        with open(folder / ENCODER_CONFIG, "w", encoding="utf-8") as f:
            json.dump(self.config, f, indent=2)


def _encoder_files(path: Path) -> tuple[Path, Path]:
    """(weights, config) for a file, a checkpoint folder or a save folder of checkpoints."""
    if path.is_file():
        weights = path
    elif (path / ENCODER_WEIGHTS).is_file():
        weights = path / ENCODER_WEIGHTS
    elif path.is_dir():
        checkpoint = Checkpointer(path).find_checkpoint()
        if checkpoint is None or not (checkpoint.path / ENCODER_WEIGHTS).is_file():
            raise FileNotFoundError(
                f"{path}: no {ENCODER_WEIGHTS} here nor in a CKPT+* checkpoint inside; pass the "
                "save folder of a wav2vec 2.0 pretraining run, one of its checkpoints, or the file"
            )
        weights = checkpoint.path / ENCODER_WEIGHTS
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")
    config = weights.parent / ENCODER_CONFIG
    if not config.is_file():
        raise FileNotFoundError(
            f"{config}: missing; {weights} needs the {ENCODER_CONFIG} written beside it by "
            "PretrainedEncoder.save (or a Wav2Vec2Pretrainer checkpoint)"
        )
    return weights, config


def load_pretrained_encoder(
    path: str | Path, device: str = "cpu", random_init: bool = False
) -> PretrainedEncoder:
    """Rebuilds a pretrained wav2vec 2.0 encoder (frontend + wrapper + context encoder).

    ``path`` may be:

    - the save folder of a pretraining run: its most recent ``CKPT+*`` checkpoint is used;
    - one checkpoint folder, or any folder holding ``encoder.ckpt`` + ``encoder_config.json``
      (as written by ``PretrainedEncoder.save``);
    - the ``encoder.ckpt`` file itself, with ``encoder_config.json`` beside it.

    The weights are read with ``torch.load(..., weights_only=True)``: tensors and plain
    containers only, so a file that holds pickled code is refused (``UnpicklingError``).

    Arguments
    ---------
    path : str or Path
        Where the encoder was saved.
    device : str
        Device to put the module on.
    random_init : bool
        Build the same architecture but keep its random initialisation (a control: same
        shape, no pretraining). The weights file must still exist.

    Returns
    -------
    PretrainedEncoder
        In eval mode; ``forward(wav, wav_lens) -> (out, hidden_states, mask)``. A transformers
        model folder (``config.json`` + weights) or a hub id in the local cache gives a
        ``efficient_ssl.models.public.PublicEncoder`` with the same interface.
    """
    from efficient_ssl.models import public  # transformers itself is imported only when needed

    if public.is_public_checkpoint(path):
        return public.load_public_encoder(path, device, random_init)
    weights, config = _encoder_files(Path(path))
    with open(config, encoding="utf-8") as f:
        encoder = PretrainedEncoder(**json.load(f))
    if not random_init:
        encoder.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return encoder.to(device).eval()


def encoder_from_config(config: dict) -> nn.Module:
    """An untrained encoder from a saved ``encoder.config``: ``PretrainedEncoder``, or
    ``PublicEncoder`` for a transformers one (its config holds ``"transformers"``)."""
    if "transformers" in config:
        from efficient_ssl.models.public import PublicEncoder

        return PublicEncoder.from_config(config)
    return PretrainedEncoder(**config)


def build_encoder(
    pretrained: str | Path | None = None, random_init: bool = False, **config
) -> PretrainedEncoder:
    """The encoder of a downstream recipe: a pretrained one, or a new one from ``config``.

    Lets one YAML serve fine-tuning (``pretrained`` = a pretraining save folder), its random
    control (``random_init=True``: the pretrained architecture, untrained) and training from
    scratch (``pretrained=None``: ``config`` holds the ``PretrainedEncoder`` arguments, which are
    ignored when ``pretrained`` is given), except the regularisation: ``input_dropout`` and the
    ``encoder``'s ``dropout`` / ``layerdrop`` replace the pretraining values
    (:meth:`PretrainedEncoder.set_regularisation`), and one log line says what changed.

    Arguments
    ---------
    pretrained : str or Path, optional
        Anything ``load_pretrained_encoder`` takes.
    random_init : bool
        With ``pretrained``: keep the random initialisation.
    **config
        ``PretrainedEncoder`` arguments (``frontend``, ``encoder``, ...), for ``pretrained=None``.

    Returns
    -------
    PretrainedEncoder

    Example
    -------
    >>> enc = build_encoder(None, frontend="mel_cnn", encoder={"num_layers": 1, "d_model": 8, "nhead": 2, "d_ffn": 16})
    >>> len(enc.context.layers)
    1
    """
    if pretrained is not None:
        encoder = load_pretrained_encoder(pretrained, random_init=random_init)
        _fine_tuning_regularisation(encoder, pretrained, config)
        return encoder
    if random_init:
        raise ValueError("random_init=True needs a pretrained encoder path (pretrained_encoder) to copy the shape of")
    return PretrainedEncoder(**config)


def _fine_tuning_regularisation(encoder: nn.Module, pretrained, config: dict) -> None:
    """Applies a downstream recipe's dropout / layerdrop to a loaded encoder and logs it."""
    wanted = {
        "dropout": config.get("encoder", {}).get("dropout"),
        "layerdrop": config.get("encoder", {}).get("layerdrop"),
        "input_dropout": config.get("input_dropout"),
    }
    wanted = {key: value for key, value in wanted.items() if value is not None}
    if not wanted:
        return
    if not hasattr(encoder, "set_regularisation"):  # a transformers checkpoint keeps its own
        logger.info("%s: dropout / layerdrop come from the checkpoint's own config; the recipe's %s are "
                    "not applied", pretrained, wanted)
        return
    changed = encoder.set_regularisation(**wanted)
    summary = ", ".join(f"{key} {before:g} -> {after:g}" for key, (before, after) in changed.items())
    logger.info("%s: fine-tuning regularisation %s", pretrained, summary or f"as pretrained ({wanted})")


def compute_span_mask(
    frame_mask: torch.Tensor, mask_prob: float, mask_length: int
) -> torch.Tensor:
    """Draws the wav2vec 2.0 span mask: the same number of masked frames in every utterance.

    For an utterance of n real frames, ``int(mask_prob * n / mask_length + u)`` span starts
    (u uniform in [0, 1), at least one) are drawn without replacement among the positions where a
    span fits, and the ``mask_length`` frames from each start are masked. Spans may overlap,
    so about ``1 - (1 - mask_prob / mask_length) ** mask_length`` of the frames end up masked
    (49% for 0.65 and 10, as in the paper). As in fairseq, every utterance then keeps a random
    subset of its masked frames, as many as the utterance with the fewest has, so the masked
    frames of a batch form a (B, M) grid. Padding is never masked. Written here rather than
    with speechbrain's ``compute_mask``, which fills span overlaps with random single frames,
    adds one span per utterance (over 80% masked on 1 s utterances) and fails on short ones.

    Arguments
    ---------
    frame_mask : torch.Tensor
        (B, T) bool, True = real frame; real frames come first (right padding).
    mask_prob : float
        Expected fraction of frames that start a span, times ``mask_length``.
    mask_length : int
        Frames per span.

    Returns
    -------
    torch.Tensor
        (B, T) bool, True = masked frame, on ``frame_mask``'s device.

    Example
    -------
    >>> frame_mask = torch.arange(100).unsqueeze(0) < torch.tensor([[100], [60]])
    >>> spans = compute_span_mask(frame_mask, mask_prob=0.65, mask_length=10)
    >>> bool((spans & ~frame_mask).any())
    False
    >>> bool(spans[0].sum() == spans[1].sum())
    True
    """
    lengths = frame_mask.sum(dim=1).tolist()
    spans = torch.zeros(frame_mask.shape, dtype=torch.bool)
    for row, n in enumerate(lengths):
        if n == 0:
            continue
        num_starts = max(n - mask_length + 1, 1)
        num_spans = int(mask_prob * n / mask_length + torch.rand(()).item())
        num_spans = min(max(num_spans, 1), num_starts)
        starts = torch.randperm(num_starts)[:num_spans]
        frames = (starts.unsqueeze(1) + torch.arange(mask_length)).flatten()  # (spans * L,)
        spans[row, frames.clamp(max=n - 1)] = True
    counts = spans.sum(dim=1)
    fewest = int(counts.min())
    for row in range(len(lengths)):
        masked = spans[row].nonzero().squeeze(1)
        spans[row, masked[torch.randperm(len(masked))[: len(masked) - fewest]]] = False
    return spans.to(frame_mask.device)


def gather_masked(x: torch.Tensor, span_mask: torch.Tensor) -> torch.Tensor:
    """The masked frames of every utterance, in time order.

    Arguments
    ---------
    x : torch.Tensor
        (B, T, C).
    span_mask : torch.Tensor
        (B, T) bool with the same number M of True in every row.

    Returns
    -------
    torch.Tensor
        (B, M, C).

    Example
    -------
    >>> x = torch.arange(6.0).view(2, 3, 1)
    >>> gather_masked(x, torch.tensor([[True, False, True], [False, True, True]])).squeeze(-1)
    tensor([[0., 2.],
            [4., 5.]])
    """
    return x[span_mask].view(x.shape[0], -1, x.shape[-1])  # (B * M, C) -> (B, M, C)


def sample_negatives(targets: torch.Tensor, num_negatives: int) -> torch.Tensor:
    """Draws distractors for every masked frame among the other masked frames of its utterance.

    Uniform with replacement over the M - 1 other frames (the positive's own index is skipped
    by shifting the indices above it, which keeps the draw uniform). Written here because
    speechbrain 1.1.2's ``sample_negatives`` offsets utterance b by b * (M - 1) instead of
    b * M in the flattened batch, so its negatives leak across utterances and can be the
    positive itself.

    Arguments
    ---------
    targets : torch.Tensor
        (B, M, C) targets of the masked frames, M >= 2.
    num_negatives : int
        Distractors N per masked frame.

    Returns
    -------
    torch.Tensor
        (N, B, M, C), the layout of speechbrain's ``ContrastiveLoss``.

    Example
    -------
    >>> targets = torch.arange(6.0).view(2, 3, 1)
    >>> negatives = sample_negatives(targets, 4)
    >>> negatives.shape
    torch.Size([4, 2, 3, 1])
    >>> bool((negatives[:, 1] >= 3).all() and (negatives != targets).all())
    True
    """
    batch, num_masked, channels = targets.shape
    with torch.no_grad():
        positive = torch.arange(num_masked, device=targets.device).view(1, -1, 1)  # (1, M, 1)
        index = torch.randint(
            0, num_masked - 1, (batch, num_masked, num_negatives), device=targets.device
        )
        index = index + (index >= positive).long()  # (B, M, N), never the positive
    index = index.view(batch, -1, 1).expand(-1, -1, channels)  # (B, M * N, C)
    negatives = targets.gather(1, index).view(batch, num_masked, num_negatives, channels)
    return negatives.permute(2, 0, 1, 3)  # (N, B, M, C)


def sample_cross_negatives(targets: torch.Tensor, num_negatives: int) -> torch.Tensor:
    """Draws distractors for every masked frame among all masked frames of the batch.

    fairseq's ``cross_sample_negatives``: uniform with replacement over the B * M - 1 other
    masked frames of the batch (``sample_negatives`` on the batch seen as one utterance). Most
    of them come from other utterances, so telling them from the positive takes what differs
    between utterances (the voice, the channel), which same-utterance negatives never ask for.

    Arguments
    ---------
    targets : torch.Tensor
        (B, M, C) targets of the masked frames, B * M >= 2.
    num_negatives : int
        Distractors N per masked frame.

    Returns
    -------
    torch.Tensor
        (N, B, M, C), the layout of speechbrain's ``ContrastiveLoss``.

    Example
    -------
    >>> targets = torch.arange(6.0).view(2, 3, 1)
    >>> negatives = sample_cross_negatives(targets, 50)
    >>> negatives.shape
    torch.Size([50, 2, 3, 1])
    >>> bool((negatives != targets).all()), bool((negatives[:, 0] >= 3).any())
    (True, True)
    """
    batch, num_masked, channels = targets.shape
    negatives = sample_negatives(targets.reshape(1, batch * num_masked, channels), num_negatives)
    return negatives.view(num_negatives, batch, num_masked, channels)


class PretrainOutput(NamedTuple):
    """What ``Wav2Vec2Pretrainer.forward`` returns (losses are means over the batch's
    ``num_masked`` masked frames; ``loss * num_masked`` is fairseq's summed loss)."""

    loss: torch.Tensor
    contrastive_loss: torch.Tensor
    diversity_loss: torch.Tensor
    accuracy: torch.Tensor
    code_perplexity: torch.Tensor
    prob_perplexity: torch.Tensor
    temperature: float
    num_masked: int


@register_checkpoint_hooks
class Wav2Vec2Pretrainer(nn.Module):
    """wav2vec 2.0 self-supervised objective around a ``PretrainedEncoder``.

    Loss per batch, with M masked frames per utterance and B utterances::

        loss = contrastive / (B * M) + diversity_weight * (G * V - perplexity) / (G * V)

    ``contrastive`` is the cross-entropy of the true quantised target among ``num_negatives``
    distractors (cosine similarity / ``logit_temperature``), summed over masked frames; dividing
    by their number keeps the loss comparable across batch sizes. This is the mean of ONE batch:
    when an optimiser step accumulates several (micro-)batches, ``PretrainBrain``'s
    ``loss_normalisation`` decides how they are weighted: "step" (default) backpropagates
    ``loss * num_masked`` and divides the step's gradient by the masked frames of the whole step
    over every process, as fairseq divides by its ``sample_size``; "micro_batch" averages the
    batches' means. The quantiser's Gumbel temperature decays per optimiser step through
    ``update_temperature``.

    Arguments
    ---------
    encoder : PretrainedEncoder
        Frontend + context encoder.
    final_dim : int
        Dimension in which predictions and targets are compared.
    mask_prob : float
        See ``compute_span_mask``.
    mask_length : int
        Frames per masked span.
    num_negatives : int
        Distractors per masked frame, drawn from the same utterance's masked frames.
    cross_sample_negatives : int
        Further distractors per masked frame, drawn from the whole batch's masked frames
        (``sample_cross_negatives``); 0, as in wav2vec 2.0's published configurations, for none.
    frontend_grad_scale : float
        Multiplies the gradient that reaches the frontend (fairseq's ``feature_grad_mult``,
        0.1 in wav2vec 2.0 base); 1.0 leaves it alone.
    quantiser_groups : int
        Codebooks G.
    quantiser_entries : int
        Entries V per codebook.
    temperature_decay : Sequence[float]
        (start, floor, factor per step) of the Gumbel-softmax temperature.
    diversity_weight : float
        Weight of the codebook diversity loss.
    logit_temperature : float
        Divides the cosine similarities.

    Example
    -------
    >>> enc = PretrainedEncoder(
    ...     "raw_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32},
    ...     frontend_kwargs={"channels": 8},
    ... )
    >>> model = Wav2Vec2Pretrainer(enc, final_dim=8, num_negatives=5,
    ...                            quantiser_entries=16)
    >>> out = model(torch.randn(2, 32000), torch.tensor([1.0, 0.8]))
    >>> out.loss.shape, out.num_masked > 0
    (torch.Size([]), True)
    """

    def __init__(
        self,
        encoder: PretrainedEncoder,
        final_dim: int = 256,
        mask_prob: float = 0.65,
        mask_length: int = 10,
        num_negatives: int = 100,
        cross_sample_negatives: int = 0,
        frontend_grad_scale: float = 1.0,
        quantiser_groups: int = 2,
        quantiser_entries: int = 320,
        temperature_decay: Sequence[float] = (2.0, 0.25, 0.999995),
        diversity_weight: float = 0.1,
        logit_temperature: float = 0.1,
    ):
        super().__init__()
        self.encoder = encoder
        self.quantiser = GumbelVectorQuantizer(
            encoder.frontend.out_dim,
            quantiser_entries,
            tuple(temperature_decay),
            quantiser_groups,
            final_dim,
        )
        self.target_proj = nn.Linear(final_dim, final_dim)
        self.context_proj = nn.Linear(encoder.d_model, final_dim)
        self.contrastive = ContrastiveLoss(logit_temperature)
        self.mask_prob = mask_prob
        self.mask_length = mask_length
        self.num_negatives = num_negatives
        self.cross_sample_negatives = cross_sample_negatives
        self.frontend_grad_scale = frontend_grad_scale
        self.diversity_weight = diversity_weight

    def update_temperature(self, step: int) -> None:
        """Sets the Gumbel temperature for optimiser step ``step`` (start * factor**step, floored)."""
        self.quantiser.update_temp(step)

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> PretrainOutput:
        """Masks spans, predicts their quantised latents, returns losses and statistics.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1].

        Returns
        -------
        PretrainOutput
            ``loss`` (scalar, to backpropagate) and the statistics to log.
        """
        latents, mask = self.encoder.features(wav, wav_lens)
        if self.frontend_grad_scale != 1.0:  # same values, gradient into the frontend scaled
            scale = self.frontend_grad_scale
            latents = latents * scale + latents.detach() * (1.0 - scale)
        span_mask = compute_span_mask(mask, self.mask_prob, self.mask_length)
        num_per_utt = int(span_mask[0].sum())
        if num_per_utt < 2:
            raise ValueError(
                f"Wav2Vec2Pretrainer: {num_per_utt} masked frame(s) per utterance in this batch "
                f"(shortest: {int(mask.sum(dim=1).min())} frames); drop utterances under 0.5 s"
            )
        out, _ = self.encoder.contextualise(latents, mask, span_mask)
        predictions = self.context_proj(gather_masked(out, span_mask))  # (B, M, final_dim)
        quantised = self.quantiser(gather_masked(latents, span_mask))
        targets = self.target_proj(quantised["x"])  # (B, M, final_dim)
        negatives = sample_negatives(targets, self.num_negatives)  # (N, B, M, final_dim)
        if self.cross_sample_negatives > 0:
            cross = sample_cross_negatives(targets, self.cross_sample_negatives)
            negatives = torch.cat([negatives, cross])  # (N + N_cross, B, M, final_dim)
        contrastive_sum, accuracy = self.contrastive(predictions, targets, negatives)
        num_masked = predictions.shape[0] * predictions.shape[1]
        contrastive = contrastive_sum / num_masked
        num_vars = quantised["num_vars"]
        diversity = (num_vars - quantised["prob_perplex"]) / num_vars
        return PretrainOutput(
            loss=contrastive + self.diversity_weight * diversity,
            contrastive_loss=contrastive.detach(),
            diversity_loss=diversity.detach(),
            accuracy=accuracy.detach(),
            code_perplexity=quantised["code_perplexity"].detach(),
            prob_perplexity=quantised["prob_perplex"].detach(),
            temperature=quantised["temp"],
            num_masked=num_masked,
        )

    def encode(
        self, wav: torch.Tensor, wav_lens: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """The unmasked path: ``(out, hidden_states, mask)``, see ``PretrainedEncoder.forward``."""
        return self.encoder(wav, wav_lens)

    @mark_as_saver
    def _save(self, path: Path) -> None:
        """Heads to ``path``; the encoder as ``encoder.ckpt`` + config in the same folder."""
        path = Path(path)
        if path.name == ENCODER_WEIGHTS:
            raise ValueError(
                f"Wav2Vec2Pretrainer: recoverable name 'encoder' collides with {ENCODER_WEIGHTS}; "
                "register the model under another name (e.g. 'wav2vec2')"
            )
        self.encoder.save(path.parent)
        heads = {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}
        torch.save(heads, path)

    @mark_as_loader
    def _load(self, path: Path, end_of_epoch: bool) -> None:
        """Restores the heads from ``path`` and the encoder from ``encoder.ckpt`` beside it."""
        del end_of_epoch
        path = Path(path)
        self.encoder.load_state_dict(
            torch.load(path.parent / ENCODER_WEIGHTS, map_location="cpu", weights_only=True)
        )
        missing, unexpected = self.load_state_dict(
            torch.load(path, map_location="cpu", weights_only=True), strict=False
        )
        missing = [k for k in missing if not k.startswith("encoder.")]
        if missing or unexpected:
            raise RuntimeError(
                f"{path}: does not match this Wav2Vec2Pretrainer (missing {missing}, "
                f"unexpected {unexpected}); was it saved with other hyperparameters?"
            )
