"""Sequence downsampling for faster inference (paper 5, Zaiem et al. 2023).

The waveform is shortened by ``factor`` before the SSL frontend, so every later layer sees
``factor`` times fewer frames. The three downsamplers are speechbrain's
(``speechbrain.lobes.downsampling``): signal resampling, average pooling, learned strided Conv1d.
Low frame rates can leave fewer CTC frames than a transcript needs; :class:`UpsamplingCTCHead`
predicts ``factor`` tokens per frame and unfolds them back to the original rate.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import torch
from speechbrain.lobes.downsampling import (
    Conv1DDownsampler,
    PoolingDownsampler,
    SignalDownsampler,
)
from torch import nn

DOWNSAMPLERS = ("none", "signal", "avgpool", "conv")
DEFAULT_KERNELS = {"conv": 161, "avgpool": None}  # avgpool: None = a window of ``factor`` samples


def build_downsampler(kind: str, factor: int, kernel_size: int | None = None) -> nn.Module | None:
    """A waveform downsampler (B, S) -> (B, about S / factor), or None for ``"none"``.

    Arguments
    ---------
    kind : str
        ``"none"``, ``"signal"`` (resampling to 1 / ``factor`` of the rate), ``"avgpool"``
        (average pooling, stride ``factor``) or ``"conv"`` (learned strided Conv1d).
    factor : int
        Downsampling factor (2, 3, 4, ...).
    kernel_size : int, optional
        Window of the conv (default 161, the paper's) or of the pooling (default ``factor``).

    Returns
    -------
    nn.Module or None

    Example
    -------
    >>> down = build_downsampler("conv", 3)
    >>> down(torch.rand(2, 16000)).shape
    torch.Size([2, 5280])
    >>> build_downsampler("avgpool", 4)(torch.rand(2, 16000)).shape
    torch.Size([2, 4000])
    >>> build_downsampler("none", 1) is None
    True
    """
    if kind not in DOWNSAMPLERS:
        raise ValueError(f"downsampling={kind!r} is not one of {DOWNSAMPLERS}")
    if kind == "none":
        if factor != 1:
            raise ValueError(f"downsampling='none' needs downsampling_factor=1, not {factor}")
        return None
    if factor < 2:
        raise ValueError(f"downsampling={kind!r} needs downsampling_factor >= 2, not {factor}")
    if kind == "signal":
        # Resampling depends only on the ratio: factor -> 1 Hz is decimation by ``factor`` with
        # its anti-aliasing filter, and stays exact where sample_rate / factor is no integer.
        return SignalDownsampler(factor, initial_sampling_rate=factor)
    kernel = kernel_size or DEFAULT_KERNELS[kind] or factor
    if kind == "avgpool":
        return PoolingDownsampler(factor, kernel, pool_type="avg")
    return Conv1DDownsampler(factor, kernel)


class UpsamplingCTCHead(nn.Module):
    """Linear CTC head giving ``factor`` output frames per input frame.

    Arguments
    ---------
    input_size : int
        Size of the encoder output.
    vocab_size : int
        CTC outputs per frame (blank included).
    factor : int
        Output frames per input frame (1 = a plain linear head).

    Example
    -------
    >>> head = UpsamplingCTCHead(16, 10, factor=3)
    >>> head(torch.rand(2, 7, 16)).shape
    torch.Size([2, 21, 10])
    """

    def __init__(self, input_size: int, vocab_size: int, factor: int = 1):
        super().__init__()
        if factor < 1:
            raise ValueError(f"UpsamplingCTCHead: factor {factor} must be >= 1")
        self.factor = factor
        self.vocab_size = vocab_size
        self.linear = nn.Linear(input_size, factor * vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, input_size) -> (B, T * factor, vocab_size) logits."""
        logits = self.linear(x)  # (B, T, factor * V)
        return logits.reshape(x.shape[0], x.shape[1] * self.factor, self.vocab_size)
