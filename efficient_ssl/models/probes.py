"""MP3S-style probing: a frozen encoder read through a learned weighted sum of its layers, and heads.

The benchmark (Zaiem et al., "Speech self-supervised representations benchmarking: a case for
larger probing heads") freezes an SSL encoder and trains only a small probe on a softmax-weighted
sum of every hidden state (the encoder input and each layer's output). The layer weights start
equal and train with their own learning rate; once trained they say which layers a task uses.

Pieces:

- :class:`WeightedLayerSum`: the softmax-weighted sum of L hidden states;
- :class:`FrozenEncoder`: any encoder with the project's interface
  (``out, hidden_states, mask = encoder(wavs, wav_lens)``, e.g. what
  ``efficient_ssl.models.load_pretrained_encoder`` returns), kept in eval mode without gradients,
  plus its ``WeightedLayerSum``; ``forward(wavs, wav_lens) -> (features, mask)``;
- probes, each ``forward(x, lengths)`` with ``x`` (B, T, D) and ``lengths`` (B,) relative, and an
  ``output_size``: :class:`BiLSTM` (frame-level, or time-pooled with ``pool=True``),
  :class:`MeanPooling`, :class:`XvectorEmbedding` and :class:`EcapaEmbedding` (speechbrain's
  lobes, returning (B, E) embeddings);
- classifiers on top, ``(.., input_size) -> (.., n_neurons)``: speechbrain's ``Linear`` or
  :class:`CosineClassifier` (cosine scores for an additive-margin softmax such as
  ``LogSoftmaxWrapper(AngularMargin(...))``).

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
from speechbrain.lobes.models.Xvector import Xvector
from speechbrain.nnet.pooling import StatisticsPooling
from speechbrain.nnet.RNN import LSTM
from torch import nn


class WeightedLayerSum(nn.Module):
    """Softmax-weighted sum of hidden states, the weights learned (they start equal).

    Arguments
    ---------
    num_layers : int
        Number of hidden states summed (encoder input + layers).
    layer_norm : bool
        Normalise every hidden state over its features (no affine) before the sum, so that
        layers of very different scales compete on their content only.

    Example
    -------
    >>> layer_sum = WeightedLayerSum(3)
    >>> hidden = [torch.full((2, 4, 8), float(i)) for i in range(3)]
    >>> layer_sum(hidden).mean().item()
    1.0
    >>> layer_sum.probabilities()
    tensor([0.3333, 0.3333, 0.3333])
    """

    def __init__(self, num_layers: int, layer_norm: bool = False):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"WeightedLayerSum needs at least one hidden state, got num_layers={num_layers}")
        self.weights = nn.Parameter(torch.zeros(num_layers))
        self.layer_norm = layer_norm

    def probabilities(self) -> torch.Tensor:
        """(L,) softmax of the weights: the share of each hidden state."""
        return self.weights.detach().softmax(dim=0)

    def forward(self, hidden_states: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Sums L hidden states.

        Arguments
        ---------
        hidden_states : sequence of torch.Tensor or torch.Tensor
            L tensors (B, T, D), or one (L, B, T, D) stack.

        Returns
        -------
        torch.Tensor
            (B, T, D).
        """
        stacked = torch.stack(list(hidden_states)) if not torch.is_tensor(hidden_states) else hidden_states
        if stacked.shape[0] != self.weights.shape[0]:
            raise ValueError(
                f"WeightedLayerSum has {self.weights.shape[0]} weights but got {stacked.shape[0]} hidden "
                "states; build it with num_layers equal to the encoder's number of hidden states"
            )
        if self.layer_norm:
            stacked = F.layer_norm(stacked, stacked.shape[-1:])
        shares = self.weights.softmax(dim=0).to(stacked.dtype)
        return torch.einsum("l,lbtd->btd", shares, stacked)


class FrozenEncoder(nn.Module):
    """A frozen encoder read through a learned :class:`WeightedLayerSum` of all its hidden states.

    The encoder's parameters never train and it always runs in eval mode under
    ``torch.no_grad`` (``train()`` leaves it alone); only ``layer_sum`` learns. With
    ``cache=True``, the hidden states of every utterance seen (by ID) are kept in memory in
    half precision, so later epochs skip the encoder: ``L x frames x D x 2`` bytes per
    utterance (5 x 50 x 144 x 2 = 72 kB per second of audio for the mini encoder).

    Arguments
    ---------
    encoder : nn.Module
        ``out, hidden_states, mask = encoder(wavs, wav_lens)`` with ``hidden_states`` a list of
        (B, T, D) tensors (input + every layer) and ``mask`` (B, T) bool, True = real frame.
    layer_norm : bool
        See :class:`WeightedLayerSum`.
    cache : bool
        Keep the hidden states of utterances passed with ``ids``.
    sample_rate : int
        Sample rate of the one-second probe input used to count the hidden states.

    Example
    -------
    >>> from efficient_ssl.models import PretrainedEncoder
    >>> enc = PretrainedEncoder("mel_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32},
    ...                         frontend_kwargs={"channels": 16})
    >>> frozen = FrozenEncoder(enc, cache=True)
    >>> x, mask = frozen(torch.randn(2, 16000), torch.tensor([1.0, 0.5]), ids=["a", "b"])
    >>> x.shape, mask.sum(dim=1), frozen.num_layers, frozen.output_size, x.requires_grad
    (torch.Size([2, 48, 16]), tensor([48, 23]), 3, 16, True)
    >>> [name for name, p in frozen.named_parameters() if p.requires_grad]
    ['layer_sum.weights']
    >>> x, mask = frozen(torch.zeros(1, 16000), torch.tensor([0.5]), ids=["b"])  # from the cache
    >>> x.shape
    torch.Size([1, 23, 16])
    """

    def __init__(self, encoder: nn.Module, layer_norm: bool = False, cache: bool = False, sample_rate: int = 16000):
        super().__init__()
        self.encoder = encoder.eval()
        for param in self.encoder.parameters():
            param.requires_grad_(False)
        self.cache: dict[str, torch.Tensor] | None = None
        device = next(encoder.parameters()).device
        hidden, _ = self.hidden_states(torch.zeros(1, sample_rate, device=device), torch.ones(1, device=device))
        self.num_layers, self.output_size = hidden.shape[0], hidden.shape[-1]
        self.layer_sum = WeightedLayerSum(self.num_layers, layer_norm)
        if cache:
            self.cache = {}

    def train(self, mode: bool = True) -> FrozenEncoder:
        """Sets the layer sum's mode; the encoder stays in eval mode (no dropout, frozen norms)."""
        super().train(mode)
        self.encoder.eval()
        return self

    @torch.no_grad()
    def hidden_states(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, ids: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every hidden state of the frozen encoder, without gradient (from the cache if it can).

        Arguments
        ---------
        wavs : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1].
        ids : sequence of str, optional
            Utterance IDs, the cache keys (needed for caching).

        Returns
        -------
        hidden : torch.Tensor
            (L, B, T, D): the encoder input then every layer's output.
        mask : torch.Tensor
            (B, T) bool, True = real frame.
        """
        if self.cache is None or ids is None:
            _, hidden, mask = self.encoder(wavs, wav_lens)
            return torch.stack(hidden), mask
        missing = [i for i, utt in enumerate(ids) if utt not in self.cache]
        if missing:
            _, hidden, mask = self.encoder(wavs[missing], wav_lens[missing])
            hidden = torch.stack(hidden)  # (L, M, T, D)
            for row, i in enumerate(missing):
                self.cache[ids[i]] = hidden[:, row, : int(mask[row].sum())].to(torch.float16).cpu()
        cached = [self.cache[utt] for utt in ids]  # each (L, T_i, D)
        frames = torch.tensor([c.shape[1] for c in cached])
        hidden = cached[0].new_zeros(self.num_layers, len(ids), int(frames.max()), self.output_size)
        for i, c in enumerate(cached):
            hidden[:, i, : c.shape[1]] = c
        mask = torch.arange(hidden.shape[2]) < frames.unsqueeze(1)  # (B, T)
        return hidden.to(device=wavs.device, dtype=wavs.dtype), mask.to(wavs.device)

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, ids: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted sum of the hidden states (differentiable in the layer weights only).

        Returns
        -------
        features : torch.Tensor
            (B, T, D).
        mask : torch.Tensor
            (B, T) bool, True = real frame.
        """
        hidden, mask = self.hidden_states(wavs, wav_lens, ids)
        return self.layer_sum(hidden), mask


class BiLSTM(nn.Module):
    """Bidirectional LSTM probe (speechbrain's ``LSTM``, packed by lengths), optionally time-pooled.

    Arguments
    ---------
    input_size : int
        Features of the input.
    hidden_size : int
        Units per direction.
    num_layers : int
        Stacked LSTM layers.
    dropout : float
        Dropout between layers and on the output.
    pool : bool
        Average the outputs over the real frames: (B, T, D) -> (B, 2 * hidden_size).

    Example
    -------
    >>> lstm = BiLSTM(8, hidden_size=4)
    >>> lstm(torch.rand(2, 5, 8), torch.tensor([1.0, 0.6])).shape, lstm.output_size
    (torch.Size([2, 5, 8]), 8)
    >>> BiLSTM(8, hidden_size=4, pool=True)(torch.rand(2, 5, 8), torch.tensor([1.0, 0.6])).shape
    torch.Size([2, 8])
    """

    def __init__(
        self, input_size: int, hidden_size: int = 256, num_layers: int = 2, dropout: float = 0.1, pool: bool = False
    ):
        super().__init__()
        self.lstm = LSTM(
            hidden_size, input_size=input_size, num_layers=num_layers, dropout=dropout, bidirectional=True
        )
        self.dropout = nn.Dropout(dropout)
        self.pooling = MeanPooling(2 * hidden_size) if pool else None
        self.output_size = 2 * hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D), (B,) relative lengths -> (B, T, 2H), or (B, 2H) when pooled."""
        out, _ = self.lstm(x, lengths=lengths)
        out = self.dropout(out)
        return out if self.pooling is None else self.pooling(out, lengths)


class MeanPooling(nn.Module):
    """Average over the real frames (speechbrain's ``StatisticsPooling``, which adds ~1e-5 noise): "time pooling".

    Arguments
    ---------
    input_size : int
        Features of the input (the output has as many).

    Example
    -------
    >>> pool = MeanPooling(3)
    >>> x = torch.tensor([[[1.0, 1, 1], [3, 3, 3]], [[2.0, 2, 2], [9, 9, 9]]])
    >>> pool(x, torch.tensor([1.0, 0.5])).round(decimals=3)
    tensor([[2., 2., 2.],
            [2., 2., 2.]])
    """

    def __init__(self, input_size: int):
        super().__init__()
        self.pooling = StatisticsPooling(return_mean=True, return_std=False)
        self.output_size = input_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D), (B,) relative lengths -> (B, D)."""
        return self.pooling(x, lengths=lengths).squeeze(1)


class XvectorEmbedding(Xvector):
    """speechbrain's x-vector TDNN on the probed features: (B, T, D) -> (B, lin_neurons).

    Arguments
    ---------
    input_size : int
        Features of the input.
    channels : int
        Channels of the first four TDNN layers; the fifth has three times as many.
    lin_neurons : int
        Embedding size.

    Example
    -------
    >>> xvector = XvectorEmbedding(8, channels=16, lin_neurons=6)
    >>> xvector(torch.rand(2, 20, 8), torch.ones(2)).shape, xvector.output_size
    (torch.Size([2, 6]), 6)
    """

    def __init__(self, input_size: int, channels: int = 512, lin_neurons: int = 512):
        super().__init__(
            in_channels=input_size, tdnn_channels=[channels] * 4 + [3 * channels], lin_neurons=lin_neurons
        )
        self.output_size = lin_neurons

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D), (B,) relative lengths -> (B, E)."""
        return super().forward(x, lengths).squeeze(1)


class EcapaEmbedding(ECAPA_TDNN):
    """speechbrain's ECAPA-TDNN on the probed features: (B, T, D) -> (B, lin_neurons).

    Arguments
    ---------
    input_size : int
        Features of the input.
    channels : int
        Channels of the four SE-Res2Net blocks; the last layer has three times as many.
    lin_neurons : int
        Embedding size.
    attention_channels : int
        Channels of the attentive statistics pooling.

    Example
    -------
    >>> ecapa = EcapaEmbedding(8, channels=16, lin_neurons=6, attention_channels=8)
    >>> ecapa(torch.rand(2, 20, 8), torch.ones(2)).shape, ecapa.output_size
    (torch.Size([2, 6]), 6)
    """

    def __init__(self, input_size: int, channels: int = 512, lin_neurons: int = 192, attention_channels: int = 128):
        super().__init__(
            input_size,
            lin_neurons=lin_neurons,
            channels=[channels] * 4 + [3 * channels],
            attention_channels=attention_channels,
            se_channels=min(128, channels),
        )
        self.output_size = lin_neurons

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D), (B,) relative lengths -> (B, E)."""
        return super().forward(x, lengths).squeeze(1)


class CosineClassifier(Classifier):
    """Cosine similarity to one learned vector per class (speechbrain's ECAPA ``Classifier``).

    Scores lie in [-1, 1]; train with an additive-margin softmax, e.g.
    ``LogSoftmaxWrapper(AngularMargin(margin=0.2, scale=30))``.

    Arguments
    ---------
    input_size : int
        Embedding size.
    n_neurons : int
        Number of classes.

    Example
    -------
    >>> scores = CosineClassifier(6, n_neurons=4)(torch.rand(3, 6))
    >>> scores.shape, bool(scores.abs().max() <= 1.0)
    (torch.Size([3, 4]), True)
    """

    def __init__(self, input_size: int, n_neurons: int):
        super().__init__(input_size, lin_blocks=0, out_neurons=n_neurons)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, E) -> (B, n_neurons) cosine scores."""
        return super().forward(x).squeeze(1)
