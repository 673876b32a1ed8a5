"""Sequence downsampling for faster inference (paper 5, Zaiem et al. 2023).

The sequence is shortened by ``factor`` so that every encoder layer sees ``factor`` times fewer
frames, at one of two places (``downsampling_at``):

- ``"waveform"`` (the paper's): before the frontend, with speechbrain's downsamplers
  (``speechbrain.lobes.downsampling``): signal resampling, average pooling, learned strided
  Conv1d. Right for a learned waveform CNN (raw_cnn, public checkpoints), which adapts to the
  new rate in fine-tuning.
- ``"frames"``: after the frontend, on its (B, T, C) latents (:class:`FrameDownsampler`: average
  pooling or a learned strided depthwise Conv1d). Right for log-mel frontends: a waveform at
  16 kHz / factor read by a filterbank built for 16 kHz has its spectrum stretched by
  ``factor`` (speech energy lands in the wrong mel bands), which no fine-tuning of the small
  CNN above it undoes.
- ``"auto"``: ``"frames"`` for the log-mel frontends (``MEL_FRONTENDS``) with avgpool / conv,
  ``"waveform"`` otherwise (signal resampling has no frame form) -- see :func:`resolve_placement`.

Low frame rates can leave fewer CTC frames than a transcript needs; :class:`UpsamplingCTCHead`
predicts ``factor`` tokens per frame and unfolds them back to the original rate.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from speechbrain.lobes.downsampling import (
    Conv1DDownsampler,
    PoolingDownsampler,
    SignalDownsampler,
)
from torch import nn

DOWNSAMPLERS = ("none", "signal", "avgpool", "conv")
DEFAULT_KERNELS = {"conv": 161, "avgpool": None}  # avgpool: None = a window of ``factor`` samples
PLACEMENTS = ("auto", "waveform", "frames")
FRAME_DOWNSAMPLERS = ("avgpool", "conv")
MEL_FRONTENDS = ("mel_cnn", "progressive_stem")  # frontends that start with a 16 kHz log-mel filterbank


def resolve_placement(at: str, kind: str, frontend: str | None) -> str:
    """Where a downsampler goes: ``"waveform"`` or ``"frames"``.

    Arguments
    ---------
    at : str
        ``"auto"``, ``"waveform"`` or ``"frames"``.
    kind : str
        The downsampler (``"none"``, ``"signal"``, ``"avgpool"``, ``"conv"``).
    frontend : str, optional
        The encoder's frontend name (``encoder.config["frontend"]``); None for encoders without
        one (public transformers checkpoints, whose CNN reads the waveform).

    Returns
    -------
    str
        ``at`` itself unless it is ``"auto"``: then ``"frames"`` for a log-mel frontend with
        avgpool / conv, else ``"waveform"``.

    Example
    -------
    >>> resolve_placement("auto", "conv", "mel_cnn"), resolve_placement("auto", "conv", "raw_cnn")
    ('frames', 'waveform')
    >>> resolve_placement("auto", "signal", "mel_cnn"), resolve_placement("frames", "conv", None)
    ('waveform', 'frames')
    """
    if at not in PLACEMENTS:
        raise ValueError(f"downsampling_at={at!r} is not one of {PLACEMENTS}")
    if at != "auto":
        return at
    return "frames" if frontend in MEL_FRONTENDS and kind in FRAME_DOWNSAMPLERS else "waveform"


def _check(kind: str, factor: int) -> None:
    """Refuses unknown kinds and factors that do not fit the kind."""
    if kind not in DOWNSAMPLERS:
        raise ValueError(f"downsampling={kind!r} is not one of {DOWNSAMPLERS}")
    if kind == "none" and factor != 1:
        raise ValueError(f"downsampling='none' needs downsampling_factor=1, not {factor}")
    if kind != "none" and factor < 2:
        raise ValueError(f"downsampling={kind!r} needs downsampling_factor >= 2, not {factor}")


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
    _check(kind, factor)
    if kind == "none":
        return None
    if kind == "signal":
        # Resampling depends only on the ratio: factor -> 1 Hz is decimation by ``factor`` with
        # its anti-aliasing filter, and stays exact where sample_rate / factor is no integer.
        return SignalDownsampler(factor, initial_sampling_rate=factor)
    kernel = kernel_size or DEFAULT_KERNELS[kind] or factor
    if kind == "avgpool":
        return PoolingDownsampler(factor, kernel, pool_type="avg")
    return Conv1DDownsampler(factor, kernel)


def build_frame_downsampler(
    kind: str, factor: int, channels: int, kernel_size: int | None = None
) -> FrameDownsampler | None:
    """A frame downsampler (B, T, channels) -> (B, ceil(T / factor), channels), or None for ``"none"``.

    Arguments
    ---------
    kind : str
        ``"none"``, ``"avgpool"`` or ``"conv"`` (``"signal"`` is refused: frames are no signal
        to resample; use avgpool, or ``downsampling_at=waveform``).
    factor : int
        Downsampling factor (2, 3, 4, ...).
    channels : int
        Latent channels (the frontend's ``out_dim``).
    kernel_size : int, optional
        Window in frames (default: ``factor``, non-overlapping windows).

    Returns
    -------
    FrameDownsampler or None

    Example
    -------
    >>> build_frame_downsampler("conv", 3, channels=8)(torch.rand(2, 10, 8))[0].shape
    torch.Size([2, 4, 8])
    """
    _check(kind, factor)
    if kind == "none":
        return None
    if kind == "signal":
        raise ValueError("downsampling='signal' with downsampling_at='frames': frames cannot be resampled; "
                         "use downsampling=avgpool or conv, or downsampling_at=waveform")
    return FrameDownsampler(kind, factor, channels, kernel_size or factor)


class FrameDownsampler(nn.Module):
    """Shortens frontend latents by ``factor``: window ``i`` reads frames ``[i * factor, i * factor
    + kernel_size)`` and gives output frame ``i``, for ``ceil(T / factor)`` output frames.

    Padded frames are zeroed first, and so are the ``kernel_size - 1`` frames appended on the
    right, so an utterance gives the same frames alone and padded in a batch. An output frame is
    real when its window starts on a real frame: ``ceil(real / factor)`` of them; the last one may
    read fewer real frames (``"avgpool"`` averages the real ones only, ``"conv"`` sees zeros).

    ``"conv"`` is a depthwise Conv1d (one learned filter per channel, the frame-level
    counterpart of the paper's single-channel waveform conv; ``channels * kernel_size``
    weights, negligible MACs), initialised to the average of the first ``factor`` frames of its
    window. Why: a pretrained encoder's projection and layers were trained on these latents. An
    average of neighbouring frames stays close to them (speech changes little within 20-80 ms),
    so fine-tuning starts from a working pretrained encoder at the lower rate; a random filter
    would rescale and blur each channel arbitrarily and the first updates would be spent undoing
    that. Training thus starts as ``"avgpool"`` and learns its way from there.

    Arguments
    ---------
    kind : str
        ``"avgpool"`` or ``"conv"``.
    factor : int
        Stride, in frames.
    channels : int
        Latent channels C.
    kernel_size : int
        Window, in frames (>= 1).

    Example
    -------
    >>> down = FrameDownsampler("conv", 2, channels=4, kernel_size=2)
    >>> x, mask = torch.rand(2, 5, 4), torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    >>> y, y_mask = down(x, mask)
    >>> y.shape, y_mask.sum(dim=1)
    (torch.Size([2, 3, 4]), tensor([3, 2]))
    >>> torch.allclose(y[0, 0], x[0, :2].mean(dim=0))  # starts as an average
    True
    """

    def __init__(self, kind: str, factor: int, channels: int, kernel_size: int):
        super().__init__()
        if kind not in FRAME_DOWNSAMPLERS or factor < 2 or kernel_size < 1:
            raise ValueError(f"FrameDownsampler: kind {kind!r} not in {FRAME_DOWNSAMPLERS}, or factor {factor} < 2, "
                             f"or kernel_size {kernel_size} < 1")
        self.kind, self.factor, self.kernel_size = kind, factor, kernel_size
        self.conv = None
        if kind == "conv":
            self.conv = nn.Conv1d(channels, channels, kernel_size, stride=factor, groups=channels)
            with torch.no_grad():
                taps = min(factor, kernel_size)
                self.conv.weight.zero_()
                self.conv.weight[:, :, :taps] = 1.0 / taps  # (C, 1, K): the mean of the first taps frames
                self.conv.bias.zero_()

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Downsamples latents and their mask.

        Arguments
        ---------
        x : torch.Tensor
            (B, T, C) latents.
        mask : torch.Tensor, optional
            (B, T) bool, True = real frame (real frames first); None = all real.

        Returns
        -------
        x : torch.Tensor
            (B, ceil(T / factor), C).
        mask : torch.Tensor or None
            (B, ceil(T / factor)) bool, or None if ``mask`` was None.
        """
        real = x.new_ones(x.shape[0], 1, x.shape[1]) if mask is None else mask.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        pad = (0, self.kernel_size - 1)  # static, so that the ONNX graph keeps a dynamic T
        real = F.pad(real, pad)  # (B, 1, T + K - 1)
        x = F.pad(x.transpose(1, 2), pad) * real  # (B, C, T + K - 1), padding zeroed
        if self.conv is not None:
            y = self.conv(x)  # (B, C, ceil(T / factor))
        else:
            total = F.avg_pool1d(x, self.kernel_size, self.factor)  # (B, C, T')
            count = F.avg_pool1d(real, self.kernel_size, self.factor)  # (B, 1, T')
            y = total / count.clamp(min=1.0 / self.kernel_size)  # mean over the real frames
        y = y.transpose(1, 2)  # (B, T', C)
        return y, None if mask is None else mask[:, :: self.factor]


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
