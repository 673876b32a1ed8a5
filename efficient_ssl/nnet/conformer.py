"""Conformer encoder layer with a pluggable token mixer and a padding-safe convolution module.

Authors
 * efficient_ssl contributors 2026
"""


import torch
import torch.nn as nn

from efficient_ssl.nnet.attention import build_mixer
from efficient_ssl.nnet.fast_ops import DepthwiseConv1d, Dropout
from efficient_ssl.nnet.transformer import FeedForward

CONV_NORMS = ("layernorm", "batchnorm")


def zero_padding(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Set padded frames to zero, so that a convolution sees what an unpadded input shows.

    Arguments
    ---------
    x : torch.Tensor
        (B, T, F).
    mask : torch.Tensor, optional
        (B, T) bool, True = real frame. None: returns ``x``.

    Returns
    -------
    torch.Tensor
        (B, T, F).

    Example
    -------
    >>> zero_padding(torch.ones(1, 3, 2), torch.tensor([[True, True, False]]))[0, :, 0]
    tensor([1., 1., 0.])
    """
    if mask is None:
        return x
    return x.masked_fill(~mask.unsqueeze(-1), 0.0)


class ConvolutionModule(nn.Module):
    """Conformer convolution module: LN -> pointwise (2x) -> GLU -> depthwise conv -> norm ->
    Swish -> pointwise -> Dropout.

    Padded frames are zeroed before the depthwise convolution, and with
    ``norm="batchnorm"`` the batch statistics are computed over real frames only, so that
    padding never changes the real frames' outputs.

    Arguments
    ---------
    d_model : int
        Input and output size.
    kernel_size : int
        Odd kernel size of the depthwise convolution.
    norm : str
        ``"layernorm"`` (SpeechBrain's choice) or ``"batchnorm"`` (the original Conformer).
    dropout : float
        Dropout on the output.
    causal : bool
        Causal depthwise convolution (frame t sees frames t - K + 1 .. t), for streaming:
        :meth:`forward_chunk` then gives the same output chunk by chunk.

    Example
    -------
    >>> conv = ConvolutionModule(8, kernel_size=3, norm="batchnorm")
    >>> conv(torch.rand(2, 5, 8), torch.tensor([[True] * 5, [True] * 4 + [False]])).shape
    torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        d_model: int,
        kernel_size: int = 31,
        norm: str = "layernorm",
        dropout: float = 0.1,
        causal: bool = False,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"ConvolutionModule: kernel_size={kernel_size} must be odd")
        if norm not in CONV_NORMS:
            raise ValueError(f"ConvolutionModule: unknown norm {norm!r}; use one of {CONV_NORMS}")
        self.pre_norm = nn.LayerNorm(d_model)
        self.pointwise_in = nn.Linear(d_model, 2 * d_model)
        self.glu = nn.GLU(dim=-1)
        self.depthwise = DepthwiseConv1d(d_model, kernel_size, causal=causal)
        self.norm = nn.LayerNorm(d_model) if norm == "layernorm" else nn.BatchNorm1d(d_model)
        self.post = nn.Sequential(nn.SiLU(), nn.Linear(d_model, d_model), Dropout(dropout))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Arguments: x (B, T, d_model); mask (B, T) bool, True = real frame, or None.
        Returns (B, T, d_model)."""
        x = self.glu(self.pointwise_in(self.pre_norm(x)))  # (B, T, D)
        x = zero_padding(x, mask)
        x = self.depthwise(x)  # (B, T, D)
        return self._finish(x, mask)

    def forward_chunk(
        self, x: torch.Tensor, cache: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Streaming inference (causal convolution only): x (B, T_chunk, d_model), every frame
        real; cache (B, K - 1, d_model) from the previous chunk or None. Returns the output
        (B, T_chunk, d_model) and the next cache."""
        if not self.depthwise.causal:
            raise ValueError("ConvolutionModule.forward_chunk: needs causal=True (a causal convolution)")
        x = self.glu(self.pointwise_in(self.pre_norm(x)))  # (B, T, D)
        x, cache = self.depthwise.forward_chunk(x, cache)
        return self._finish(x, None), cache

    def _finish(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Norm, Swish, pointwise and dropout after the depthwise convolution."""
        if isinstance(self.norm, nn.BatchNorm1d) and mask is not None:
            normed = torch.zeros_like(x)
            normed[mask] = self.norm(x[mask])  # statistics over the (N_real, D) real frames
            x = normed
        elif isinstance(self.norm, nn.BatchNorm1d):
            x = self.norm(x.transpose(1, 2)).transpose(1, 2)  # (B, T, D)
        else:
            x = self.norm(x)
        return self.post(x)


class ConformerLayer(nn.Module):
    """Conformer layer: x + 1/2 FFN -> x + mixer(LN(x)) -> x + conv module -> LN(x + 1/2 FFN).

    Arguments
    ---------
    d_model : int
        Input and output size.
    nhead : int
        Number of heads of the mixer.
    d_ffn : int
        Hidden size of the two feed-forward blocks.
    attention_type : str
        ``"SummaryMixing"``, ``"regularMHA"`` or ``"speechbrain_mha"``.
    mode : str
        SummaryMixing mode.
    dropout : float
        Dropout rate.
    kernel_size : int
        Kernel size of the depthwise convolution.
    conv_norm : str
        Normalisation after the depthwise convolution: ``"layernorm"`` or ``"batchnorm"``.
    causal : bool
        Causal convolution module, for streaming (see :meth:`forward_chunk`).
    **mixer_kwargs
        Further SummaryMixing arguments.

    Example
    -------
    >>> layer = ConformerLayer(d_model=8, nhead=2, d_ffn=16, kernel_size=3)
    >>> layer(torch.rand(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        d_ffn: int,
        attention_type: str = "SummaryMixing",
        mode: str = "SummaryMixing",
        dropout: float = 0.1,
        kernel_size: int = 31,
        conv_norm: str = "layernorm",
        causal: bool = False,
        **mixer_kwargs,
    ):
        super().__init__()
        self.ffn_in = FeedForward(d_model, d_ffn, nn.SiLU, dropout)
        self.norm_mixer = nn.LayerNorm(d_model)
        self.mixer = build_mixer(attention_type, d_model, nhead, dropout, mode, **mixer_kwargs)
        self.dropout = Dropout(dropout)
        self.conv = ConvolutionModule(d_model, kernel_size, conv_norm, dropout, causal)
        self.ffn_out = FeedForward(d_model, d_ffn, nn.SiLU, dropout)
        self.norm_out = nn.LayerNorm(d_model)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Arguments: x (B, T, d_model); mask (B, T) bool, True = real frame, or None;
        context_mask (T, T) restricted context of a SummaryMixing mixer, or None.
        Returns (B, T, d_model)."""
        x = torch.add(x, self.ffn_in(x), alpha=0.5)
        mixer_args = (mask,) if context_mask is None else (mask, context_mask)
        x = x + self.dropout(self.mixer(self.norm_mixer(x), *mixer_args))
        x = x + self.conv(x, mask)
        return self.norm_out(torch.add(x, self.ffn_out(x), alpha=0.5))

    def forward_chunk(self, x: torch.Tensor, state: dict | None = None) -> tuple[torch.Tensor, dict]:
        """Streaming inference on one chunk (SummaryMixing mixer, causal convolution).

        Arguments
        ---------
        x : torch.Tensor
            (B, T_chunk, d_model), every frame real.
        state : dict, optional
            ``{"mixer": (sum, count) or (keys, values), "conv": cache}`` from the previous chunk; None = start.

        Returns
        -------
        y : torch.Tensor
            (B, T_chunk, d_model).
        state : dict
            For the next chunk.
        """
        state = state or {}
        x = torch.add(x, self.ffn_in(x), alpha=0.5)
        mixed, mixer_state = self.mixer.forward_chunk(self.norm_mixer(x), state.get("mixer"))
        x = x + mixed
        conv, cache = self.conv.forward_chunk(x, state.get("conv"))
        x = x + conv
        return self.norm_out(torch.add(x, self.ffn_out(x), alpha=0.5)), {"mixer": mixer_state, "conv": cache}
