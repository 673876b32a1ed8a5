"""Frontends of the wav2vec 2.0 family: waveform (B, S) -> latent frames (B, T, C) at 20 ms.

Two frontends share one interface, so the pretraining model, fine-tuning and probing never
care which one runs:

- ``forward(wav, wav_lens)``: ``wav`` (B, S) float at 16 kHz, ``wav_lens`` (B,) relative lengths
  in [0, 1] -> latents (B, T, C), ``C = out_dim``.
- ``output_lengths(num_samples)``: absolute sample counts (B,) -> frame counts (B,).
- ``frame_mask(wav_lens, num_samples)``: (B, T) bool, True = real frame (the project's one mask
  convention). Real frames only ever see real samples: the convolutions are unpadded ("valid"),
  so a frame is real exactly when its receptive field ends inside the utterance.

``build_frontend(name, **kwargs)`` builds one by name ("raw_cnn" or "mel_cnn"), which is how
recipes switch frontends with one key (``--frontend=mel_cnn``).

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.convolution import ConvolutionFrontEnd
from speechbrain.lobes.models.wav2vec import W2VLatentExtractor
from speechbrain.nnet.CNN import Conv1d
from speechbrain.nnet.normalization import LayerNorm
from speechbrain.processing.features import STFT, spectral_magnitude
from torch import nn


class ConvFrontend(nn.Module, abc.ABC):
    """Shared length bookkeeping of a stack of unpadded strided convolutions.

    Subclasses say how many input steps the convolutions see for a number of samples
    (``input_steps``) and set ``kernel_sizes``, ``strides``, ``hop_samples`` and ``out_dim``.

    Arguments
    ---------
    kernel_sizes : Sequence[int]
        Kernel size of every convolution.
    strides : Sequence[int]
        Stride of every convolution.
    """

    def __init__(self, kernel_sizes: Sequence[int], strides: Sequence[int]):
        super().__init__()
        if len(kernel_sizes) != len(strides):
            raise ValueError(
                f"frontend: kernel_sizes {list(kernel_sizes)} and strides {list(strides)} "
                "must have one entry per convolution layer"
            )
        self.kernel_sizes = list(kernel_sizes)
        self.strides = list(strides)
        # Samples past a frame's last input step that the frame also reads (a centred STFT's half
        # window): a stream has the frame only once these samples have arrived.
        self.lookahead_samples = 0

    @abc.abstractmethod
    def input_steps(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Number of steps the convolution stack reads for ``num_samples`` samples (long)."""

    def output_lengths(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Number of output frames whose receptive field lies inside ``num_samples`` samples.

        Arguments
        ---------
        num_samples : torch.Tensor
            (B,) or scalar, absolute numbers of samples.

        Returns
        -------
        torch.Tensor
            Same shape, long: number of real frames (never negative).
        """
        lengths = self.input_steps(torch.as_tensor(num_samples).long())
        for kernel, stride in zip(self.kernel_sizes, self.strides):
            lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
        return lengths.clamp(min=0)

    def frame_mask(self, wav_lens: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Mask of real frames for a padded batch.

        Arguments
        ---------
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1] of the utterances in a batch padded to ``num_samples``.
        num_samples : int
            Padded number of samples S of the batch.

        Returns
        -------
        torch.Tensor
            (B, T) bool, True = real frame; T = ``output_lengths(num_samples)``.
        """
        real = self.output_lengths(torch.round(wav_lens * num_samples))  # (B,)
        total = int(self.output_lengths(torch.tensor(num_samples)))
        steps = torch.arange(total, device=wav_lens.device)
        return steps.unsqueeze(0) < real.to(wav_lens.device).unsqueeze(1)  # (B, T)


def sample_mask(wav_lens: torch.Tensor, num_steps: int) -> torch.Tensor:
    """(B, num_steps) bool mask, True on the first ``round(wav_lens * num_steps)`` steps.

    Example
    -------
    >>> sample_mask(torch.tensor([1.0, 0.5]), 4)
    tensor([[ True,  True,  True,  True],
            [ True,  True, False, False]])
    """
    real = torch.round(wav_lens * num_steps).long()  # (B,)
    steps = torch.arange(num_steps, device=wav_lens.device)
    return steps.unsqueeze(0) < real.unsqueeze(1)


def masked_normalise(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit variance over the real steps of every utterance; padding set to 0.

    Statistics are taken per utterance over time (dim 1), separately for every trailing
    channel, so a batch gives the same real values as each utterance alone.

    Arguments
    ---------
    x : torch.Tensor
        (B, T) or (B, T, F).
    mask : torch.Tensor
        (B, T) bool, True = real step.
    eps : float
        Added to the variance.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.

    Example
    -------
    >>> x = torch.tensor([[1.0, 3.0, 100.0]])
    >>> masked_normalise(x, torch.tensor([[True, True, False]]))
    tensor([[-1.0000,  1.0000,  0.0000]])
    """
    m = mask.to(x.dtype).reshape(mask.shape + (1,) * (x.dim() - 2))  # (B, T[, 1])
    count = m.sum(dim=1, keepdim=True).clamp(min=1.0)  # (B, 1[, 1])
    mean = (x * m).sum(dim=1, keepdim=True) / count
    var = ((x - mean) ** 2 * m).sum(dim=1, keepdim=True) / count
    return (x - mean) / torch.sqrt(var + eps) * m


MEL_NORMALISATIONS = ("utterance", "global")
RAW_NORMALISATIONS = ("utterance", "global", "none")


class RunningNormalisation(nn.Module):
    """Zero mean, unit variance per feature with statistics over every real training frame seen
    (global normalisation, like WeNet's global CMVN): a frame's output depends on that frame
    only, so a stream normalises exactly as the offline model does.

    Training forwards merge the batch's real frames into the running mean and variance
    (Chan et al.'s pairwise update, in float64) before normalising; eval forwards use the
    stored statistics. They are buffers: saved with the model, taken from rank 0 under DDP.

    Arguments
    ---------
    num_features : int
        Size of the last dimension.
    eps : float
        Added to the variance.

    Example
    -------
    >>> norm = RunningNormalisation(2)
    >>> x = torch.tensor([[[1.0, 10.0], [3.0, 30.0], [99.0, 99.0]]])
    >>> y = norm(x, torch.tensor([[True, True, False]]))  # training: the padded frame is ignored
    >>> norm.mean.tolist(), norm.var.tolist()
    ([2.0, 20.0], [1.0, 100.0])
    >>> norm.eval()(torch.tensor([[[2.0, 30.0]]]), torch.tensor([[True]]))
    tensor([[[0.0000, 1.0000]]])
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(num_features, dtype=torch.float64))
        self.register_buffer("var", torch.ones(num_features, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, F), mask (B, T) bool -> (B, T, F), padding set to 0."""
        m = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
        if self.training:
            with torch.no_grad():
                frames = x.reshape(-1, x.shape[-1])[mask.reshape(-1)].double()  # (N, F)
                if len(frames):
                    n = float(len(frames))
                    mean, var = frames.mean(dim=0), frames.var(dim=0, unbiased=False)
                    total = self.count + n
                    delta = mean - self.mean
                    self.var.copy_((self.var * self.count + var * n + delta**2 * self.count * n / total) / total)
                    self.mean.add_(delta * n / total)
                    self.count.fill_(total)
        mean, std = self.mean.to(x.dtype), torch.sqrt(self.var + self.eps).to(x.dtype)
        return (x - mean) / std * m


class RawWaveformCNN(ConvFrontend):
    """The classic wav2vec 2.0 feature encoder: 7 unpadded Conv1d on the raw waveform.

    Kernels 10,3,3,3,3,2,2 and strides 5,2,2,2,2,2,2 give one frame every 320 samples
    (20 ms at 16 kHz) with a 400-sample (25 ms) receptive field. Every layer is
    conv -> LayerNorm -> GELU (speechbrain's ``W2VLatentExtractor``, which this wraps), and
    the output gets a final LayerNorm. The waveform is normalised per utterance over its real
    samples only, so padding never changes the real frames.

    Arguments
    ---------
    channels : int
        Channels of every convolution (512 in the paper; fewer for the mini size).
    kernel_sizes : Sequence[int]
        Kernel of every layer.
    strides : Sequence[int]
        Stride of every layer; their product is the hop in samples.
    dropout : float
        Dropout after every layer.
    normalisation : str
        ``"utterance"`` (wav2vec 2.0's: each waveform to zero mean and unit variance over its
        real samples), ``"global"`` (running statistics of the training audio,
        :class:`RunningNormalisation`: what a stream can reproduce exactly) or ``"none"``.
    normalize_signal : bool, optional
        Older configs' name: False means ``normalisation="none"``.

    Example
    -------
    >>> frontend = RawWaveformCNN(channels=16)
    >>> wav, wav_lens = torch.randn(2, 16000), torch.tensor([1.0, 0.5])
    >>> frontend(wav, wav_lens).shape
    torch.Size([2, 49, 16])
    >>> frontend.frame_mask(wav_lens, 16000).sum(dim=1)
    tensor([49, 24])
    >>> frontend.hop_samples
    320
    """

    def __init__(
        self,
        channels: int = 512,
        kernel_sizes: Sequence[int] = (10, 3, 3, 3, 3, 2, 2),
        strides: Sequence[int] = (5, 2, 2, 2, 2, 2, 2),
        dropout: float = 0.0,
        normalisation: str = "utterance",
        normalize_signal: bool | None = None,
    ):
        super().__init__(kernel_sizes, strides)
        if normalize_signal is not None:
            normalisation = "utterance" if normalize_signal else "none"
        if normalisation not in RAW_NORMALISATIONS:
            raise ValueError(f"RawWaveformCNN: normalisation={normalisation!r} is not one of {RAW_NORMALISATIONS}")
        self.normalisation = normalisation
        if normalisation == "global":
            self.global_norm = RunningNormalisation(1)
        self.extractor = W2VLatentExtractor(
            out_channels=[channels] * len(self.kernel_sizes),
            kernel_sizes=self.kernel_sizes,
            strides=self.strides,
            dropout=dropout,
        )
        self.out_dim = channels
        self.hop_samples = math.prod(self.strides)

    def input_steps(self, num_samples: torch.Tensor) -> torch.Tensor:
        """The convolutions read the samples themselves."""
        return num_samples

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """Computes latent frames.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1].

        Returns
        -------
        torch.Tensor
            (B, T, out_dim) latents; see ``frame_mask`` for the real frames.
        """
        if self.normalisation == "utterance":
            wav = masked_normalise(wav, sample_mask(wav_lens, wav.shape[1]))
        elif self.normalisation == "global":
            wav = self.global_norm(wav.unsqueeze(-1), sample_mask(wav_lens, wav.shape[1])).squeeze(-1)
        return self.extractor(wav, normalize_signal=False)


class ConvSTFT(nn.Module):
    """speechbrain's ``STFT`` (centred, zero padding, one-sided, unnormalised) as a strided
    ``conv1d`` with a fixed windowed-DFT basis: real operations only, so the TorchScript ONNX
    exporter takes it (it cannot export ``torch.stft``'s complex output).

    Arguments
    ---------
    stft : speechbrain.processing.features.STFT
        The STFT to reproduce (``n_fft``, ``hop_length``, ``window``).

    Example
    -------
    >>> stft = Fbank(sample_rate=16000, n_mels=80).compute_STFT
    >>> wav = torch.randn(2, 8000)
    >>> power = lambda spec: spec.pow(2).sum(-1)
    >>> bool((power(ConvSTFT(stft)(wav)) - power(stft(wav))).abs().max() < 1e-5 * power(stft(wav)).max())
    True
    """

    def __init__(self, stft: STFT):
        super().__init__()
        if not stft.center or stft.pad_mode != "constant" or stft.normalized_stft or not stft.onesided:
            raise ValueError("ConvSTFT: reproduces a centred, zero-padded, one-sided, unnormalised STFT only")
        self.n_fft, self.hop = stft.n_fft, stft.hop_length
        window = stft.window.double()
        left = (self.n_fft - window.numel()) // 2  # torch.stft centres a shorter window in n_fft
        window = F.pad(window, (left, self.n_fft - window.numel() - left))
        bins = torch.arange(self.n_fft // 2 + 1, dtype=torch.float64).unsqueeze(1)  # (F, 1)
        angle = 2 * math.pi * bins * torch.arange(self.n_fft, dtype=torch.float64) / self.n_fft  # (F, n_fft)
        basis = torch.cat([angle.cos() * window, -angle.sin() * window])  # (2F, n_fft): real, imaginary
        self.register_buffer("basis", basis.float().unsqueeze(1), persistent=False)  # (2F, 1, n_fft)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, S) -> (B, T, n_fft // 2 + 1, 2), real and imaginary parts (``STFT``'s layout)."""
        padded = F.pad(wav.unsqueeze(1), (self.n_fft // 2, self.n_fft // 2))  # (B, 1, S + n_fft)
        spec = F.conv1d(padded, self.basis, stride=self.hop)  # (B, 2F, T)
        real, imag = spec.chunk(2, dim=1)  # each (B, F, T)
        return torch.stack([real, imag], dim=-1).transpose(1, 2)  # (B, T, F, 2)


class MelCNN(ConvFrontend):
    """The "mel_cnn_base" frontend of SummaryMixing wav2vec 2.0: log-mel filterbanks + 2 Conv1d.

    80 log-mel coefficients every 10 ms (25 ms windows, speechbrain's ``Fbank``) are computed
    in float32 without gradient (padding zeroed first, so the per-utterance dB floor and the
    real frames never depend on it) and normalised per utterance and per coefficient over the
    real frames (sentence-level normalisation; written here rather than with speechbrain's
    ``InputNormalization`` because that one rounds relative lengths to frames and can let a
    padded frame into the statistics). Two unpadded Conv1d (kernels 3, 3; strides 2, 1), each
    conv -> LayerNorm -> GELU, then a final LayerNorm, give one frame every 20 ms.

    Arguments
    ---------
    channels : int
        Channels of every convolution (512 in the paper).
    n_mels : int
        Number of mel filters.
    kernel_sizes : Sequence[int]
        Kernel of every convolution.
    strides : Sequence[int]
        Stride of every convolution.
    sample_rate : int
        Sampling rate of the waveform.
    win_length_ms : float
        Analysis window of the filterbank.
    hop_length_ms : float
        Hop of the filterbank.
    dropout : float
        Dropout after every convolution.
    normalisation : str
        ``"utterance"`` (the paper's: statistics of each utterance, so a stream can only
        approximate them over its window) or ``"global"`` (:class:`RunningNormalisation`,
        statistics of the training set, and a fixed -50 dB floor in place of the per-utterance
        floor of 80 dB below the utterance's peak): every filterbank frame then depends on its
        own 25 ms of audio only, so streaming equals the offline features. Use it for models
        that stream (``efficient_ssl.deploy.streaming``).

    The attribute ``stft_as_conv`` (default False) computes the STFT with :class:`ConvSTFT`
    instead of ``torch.stft``: ONNX export sets it (``efficient_ssl.deploy.export``).

    Example
    -------
    >>> frontend = MelCNN(channels=16)
    >>> wav, wav_lens = torch.randn(2, 16000), torch.tensor([1.0, 0.5])
    >>> frontend(wav, wav_lens).shape
    torch.Size([2, 48, 16])
    >>> frontend.frame_mask(wav_lens, 16000).sum(dim=1)
    tensor([48, 23])
    >>> frontend.hop_samples
    320
    """

    def __init__(
        self,
        channels: int = 512,
        n_mels: int = 80,
        kernel_sizes: Sequence[int] = (3, 3),
        strides: Sequence[int] = (2, 1),
        sample_rate: int = 16000,
        win_length_ms: float = 25.0,
        hop_length_ms: float = 10.0,
        dropout: float = 0.0,
        normalisation: str = "utterance",
    ):
        super().__init__(kernel_sizes, strides)
        if normalisation not in MEL_NORMALISATIONS:
            raise ValueError(f"MelCNN: normalisation={normalisation!r} is not one of {MEL_NORMALISATIONS}")
        self.normalisation = normalisation
        self.fbank = Fbank(
            sample_rate=sample_rate,
            n_mels=n_mels,
            win_length=win_length_ms,
            hop_length=hop_length_ms,
        )
        self.fbank_hop = self.fbank.compute_STFT.hop_length
        self.conv_stft = ConvSTFT(self.fbank.compute_STFT)
        self.stft_as_conv = False
        self.cnn = ConvolutionFrontEnd(
            input_shape=(None, None, n_mels),
            num_blocks=len(self.kernel_sizes),
            num_layers_per_block=1,
            out_channels=[channels] * len(self.kernel_sizes),
            kernel_sizes=self.kernel_sizes,
            strides=self.strides,
            dilations=[1] * len(self.kernel_sizes),
            residuals=[False] * len(self.kernel_sizes),
            conv_module=Conv1d,
            activation=nn.GELU,
            norm=LayerNorm,
            dropout=dropout,
            conv_bias=False,
            padding="valid",
            conv_init="kaiming",
        )
        self.norm = nn.LayerNorm(channels)
        self.out_dim = channels
        self.hop_samples = self.fbank_hop * math.prod(self.strides)
        self.lookahead_samples = self.fbank.compute_STFT.n_fft // 2
        if normalisation == "global":
            # One fixed floor for every frame, in place of "80 dB below the utterance's peak": -50 dB
            # (about 85 dB below speech at a usual level). Lower floors let float32 rounding of
            # near-silent bins through the log (ONNX vs PyTorch 3.6e-4 at -100 dB, 1.3e-4 at -50).
            self.fbank.compute_fbanks.top_db = math.inf
            self.fbank.compute_fbanks.amin = 1e-5
            self.global_norm = RunningNormalisation(n_mels)

    def input_steps(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Filterbank frames: centred STFT frames, one per hop plus one."""
        return torch.div(num_samples, self.fbank_hop, rounding_mode="floor") + 1

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """Computes latent frames.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1].

        Returns
        -------
        torch.Tensor
            (B, T, out_dim) latents; see ``frame_mask`` for the real frames.
        """
        with torch.no_grad(), torch.autocast(device_type=wav.device.type, enabled=False):
            wav = wav.float() * sample_mask(wav_lens, wav.shape[1])  # padding -> exact zeros
            stft = self.conv_stft(wav) if self.stft_as_conv else self.fbank.compute_STFT(wav)  # (B, T_fbank, F, 2)
            feats = self.fbank.compute_fbanks(spectral_magnitude(stft))  # (B, T_fbank, n_mels), = self.fbank(wav)
            real = self.input_steps(torch.round(wav_lens * wav.shape[1]).long())  # (B,)
            steps = torch.arange(feats.shape[1], device=wav.device)
            real_steps = steps.unsqueeze(0) < real.unsqueeze(1)  # (B, T_fbank)
            if self.normalisation == "global":
                feats = self.global_norm(feats, real_steps)
            else:
                feats = masked_normalise(feats, real_steps)
        return self.norm(self.cnn(feats))


FRONTENDS = {"raw_cnn": RawWaveformCNN, "mel_cnn": MelCNN}


def build_frontend(name: str, **kwargs) -> ConvFrontend:
    """Builds a frontend by name: "raw_cnn" (``RawWaveformCNN``), "mel_cnn" (``MelCNN``) or
    "progressive_stem" (``efficient_ssl.nnet.progressive.ProgressiveStem``, the sustainable model's).

    Arguments
    ---------
    name : str
        Key of ``FRONTENDS``.
    **kwargs
        Constructor arguments of that frontend (e.g. ``channels``).

    Returns
    -------
    ConvFrontend
        The frontend.

    Example
    -------
    >>> build_frontend("mel_cnn", channels=8).out_dim
    8
    """
    if name == "progressive_stem":  # imports the Transformer layers: loaded only when asked for
        from efficient_ssl.nnet.progressive import ProgressiveStem

        return ProgressiveStem(**kwargs)
    if name not in FRONTENDS:
        raise ValueError(
            f"frontend: unknown name {name!r}; use one of {sorted([*FRONTENDS, 'progressive_stem'])}"
        )
    return FRONTENDS[name](**kwargs)
