"""Progressive downsampling stem of the sustainable SSL model (Lugo & Vielzeuf, PAPERS.md section 3).

128 log-mel frames every 10 ms pass through convolutions that halve the frame rate three times,
with two Transformer layers at the middle rate::

    128 log-mel (20 ms windows, 10 ms hop, normalised per utterance, no gradient)
    -> conv(384, k5, s2) -> conv(512, k5, s2) -> conv(512, k1)         40 ms frames
    -> 2 Transformer layers (d 512, 8 heads; SDPA attention or SummaryMixing)
    -> conv(1536, k5, s2) -> conv(768, k1)                             80 ms frames

It has the frontend interface of ``efficient_ssl.nnet.frontends`` (``forward``,
``output_lengths``, ``frame_mask``, ``hop_samples``, ``out_dim``), so a ``PretrainedEncoder``
built with ``frontend="progressive_stem"`` runs its deep Transformer layers at 80 ms frames and
every downstream recipe (fine-tuning, probing) takes it unchanged. The convolutions are unpadded,
as in the other frontends: an output frame is real exactly when its receptive field ends inside
the utterance, and the Transformer layers in between mask the padded frames, so padding never
reaches a real frame. Each convolution is followed by a LayerNorm over channels and GELU (check:
the paper's normalisation and activation are not stated in PAPERS.md). The middle Transformer
layers get no absolute positions: the convolutions give them local order (check: the paper uses
gated relative positions, which the project's mixers do not have).

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from speechbrain.lobes.features import Fbank
from torch import nn

from efficient_ssl.nnet.frontends import ConvFrontend, masked_normalise, sample_mask
from efficient_ssl.nnet.transformer import TransformerLayer


class ConvBlock(nn.Module):
    """Unpadded Conv1d -> LayerNorm over channels -> GELU, on channel-last input.

    Example
    -------
    >>> ConvBlock(8, 16, kernel_size=5, stride=2)(torch.rand(2, 21, 8)).shape
    torch.Size([2, 9, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, bias=False)
        self.norm = nn.LayerNorm(out_channels)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, C_in) -> (B, T', C_out)."""
        return self.act(self.norm(self.conv(x.transpose(1, 2)).transpose(1, 2)))


class ProgressiveStem(ConvFrontend):
    """Log-mel + convolutions + Transformer layers, downsampling 10 ms frames to 80 ms.

    Arguments
    ---------
    channels : Sequence[int]
        Output channels of every convolution.
    kernel_sizes : Sequence[int]
        Kernel of every convolution.
    strides : Sequence[int]
        Stride of every convolution.
    split : int
        The Transformer layers run after the first ``split`` convolutions.
    num_layers : int
        Transformer layers at the middle rate.
    nhead : int
        Heads of their mixer.
    d_ffn : int
        Hidden size of their feed-forward blocks.
    attention_type : str
        Their mixer: ``"regularMHA"`` (scaled_dot_product_attention) or ``"SummaryMixing"``.
    mode : str
        SummaryMixing mode.
    dropout : float
        Dropout inside the Transformer layers.
    n_mels : int
        Mel filters.
    sample_rate : int
        Of the waveform.
    win_length_ms, hop_length_ms : float
        Filterbank window and hop.

    Example
    -------
    >>> stem = ProgressiveStem(channels=(8, 16, 16, 24, 32), nhead=2, d_ffn=32, n_mels=20)
    >>> wav, wav_lens = torch.randn(2, 16000), torch.tensor([1.0, 0.5])
    >>> stem(wav, wav_lens).shape, stem.hop_samples
    (torch.Size([2, 10, 32]), 1280)
    >>> stem.frame_mask(wav_lens, 16000).sum(dim=1)
    tensor([10,  3])
    """

    def __init__(
        self,
        channels: Sequence[int] = (384, 512, 512, 1536, 768),
        kernel_sizes: Sequence[int] = (5, 5, 1, 5, 1),
        strides: Sequence[int] = (2, 2, 1, 2, 1),
        split: int = 3,
        num_layers: int = 2,
        nhead: int = 8,
        d_ffn: int = 2048,
        attention_type: str = "regularMHA",
        mode: str = "SummaryMixing",
        dropout: float = 0.1,
        n_mels: int = 128,
        sample_rate: int = 16000,
        win_length_ms: float = 20.0,
        hop_length_ms: float = 10.0,
    ):
        super().__init__(kernel_sizes, strides)
        if len(channels) != len(self.kernel_sizes) or not 0 < split < len(channels):
            raise ValueError(
                f"ProgressiveStem: channels {list(channels)} need one entry per convolution "
                f"({len(self.kernel_sizes)}) and split={split} must lie strictly inside"
            )
        self.fbank = Fbank(sample_rate=sample_rate, n_mels=n_mels, win_length=win_length_ms, hop_length=hop_length_ms)
        self.fbank_hop = self.fbank.compute_STFT.hop_length
        inputs = [n_mels, *channels[:-1]]
        self.convs = nn.ModuleList(
            ConvBlock(i, o, k, s) for i, o, k, s in zip(inputs, channels, self.kernel_sizes, self.strides)
        )
        self.split = split
        middle = channels[split - 1]
        self.layers = nn.ModuleList(
            TransformerLayer(middle, nhead, d_ffn, attention_type=attention_type, mode=mode, dropout=dropout)
            for _ in range(num_layers)
        )
        self.middle_norm = nn.LayerNorm(middle)
        self.out_dim = channels[-1]
        self.hop_samples = self.fbank_hop * math.prod(self.strides)
        self.lookahead_samples = self.fbank.compute_STFT.n_fft // 2

    def input_steps(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Filterbank frames: centred STFT frames, one per hop plus one."""
        return torch.div(num_samples, self.fbank_hop, rounding_mode="floor") + 1

    def middle_mask(self, wav_lens: torch.Tensor, num_samples: int) -> torch.Tensor:
        """(B, T_middle) bool mask of the real frames seen by the middle Transformer layers."""
        def lengths(samples: torch.Tensor) -> torch.Tensor:
            steps = self.input_steps(samples.long())
            for kernel, stride in zip(self.kernel_sizes[: self.split], self.strides[: self.split]):
                steps = torch.div(steps - kernel, stride, rounding_mode="floor") + 1
            return steps.clamp(min=0)

        real = lengths(torch.round(wav_lens * num_samples))  # (B,)
        total = int(lengths(torch.tensor(num_samples)))
        return torch.arange(total, device=wav_lens.device).unsqueeze(0) < real.to(wav_lens.device).unsqueeze(1)

    @torch.no_grad()
    def filterbank(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """(B, S) waveforms -> (B, T_fbank, n_mels) log-mel, normalised over the real frames,
        padding set to 0. In float32, without gradient."""
        with torch.autocast(device_type=wav.device.type, enabled=False):
            wav = wav.float() * sample_mask(wav_lens, wav.shape[1])  # padding -> exact zeros
            feats = self.fbank(wav)  # (B, T_fbank, n_mels)
            real = self.input_steps(torch.round(wav_lens * wav.shape[1]).long())  # (B,)
            steps = torch.arange(feats.shape[1], device=wav.device)
            return masked_normalise(feats, steps.unsqueeze(0) < real.unsqueeze(1))

    def encode(self, feats: torch.Tensor, wav_lens: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Filterbank features (from :meth:`filterbank`, maybe perturbed) -> (B, T, out_dim) latents."""
        x = feats
        for block in self.convs[: self.split]:
            x = block(x)  # (B, T_middle, C)
        mask = self.middle_mask(wav_lens, num_samples)
        mask = None if mask.all() else mask
        for layer in self.layers:
            x = layer(x, mask)
        x = self.middle_norm(x)
        for block in self.convs[self.split :]:
            x = block(x)  # (B, T, out_dim)
        return x

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """(B, S) waveforms, (B,) relative lengths -> (B, T, out_dim) latents at ``hop_samples``."""
        return self.encode(self.filterbank(wav, wav_lens), wav_lens, wav.shape[1])
