"""Branchformer encoder layer: a mixer branch and a convolutional gating MLP branch, merged.

Ref: Peng et al., "Branchformer: Parallel MLP-Attention Architectures to Capture Local and
Global Context for Speech Recognition and Understanding", ICML 2022.

Authors
 * efficient_ssl contributors 2026
"""


import torch
import torch.nn as nn

from efficient_ssl.nnet.attention import build_mixer
from efficient_ssl.nnet.conformer import zero_padding
from efficient_ssl.nnet.fast_ops import DepthwiseConv1d, Dropout


class ConvolutionalGatingMLP(nn.Module):
    """cgMLP branch: Linear -> GELU -> spatial gating (half the channels, LN, depthwise conv,
    times the other half) -> Dropout -> Linear. Padded frames are zeroed before the conv.

    The gate convolution starts with near-zero weights and unit bias, so the gate starts
    close to identity.

    Arguments
    ---------
    d_model : int
        Input and output size.
    d_ffn : int
        Hidden size (even: it is split in two halves).
    kernel_size : int
        Odd kernel size of the depthwise convolution.
    dropout : float
        Dropout on the gated features.

    Example
    -------
    >>> ConvolutionalGatingMLP(8, 16, kernel_size=3)(torch.rand(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, d_model: int, d_ffn: int, kernel_size: int = 31, dropout: float = 0.1):
        super().__init__()
        if d_ffn % 2 or kernel_size % 2 == 0:
            raise ValueError(
                f"ConvolutionalGatingMLP: d_ffn={d_ffn} must be even and kernel_size={kernel_size} odd"
            )
        half = d_ffn // 2
        self.proj_in = nn.Sequential(nn.Linear(d_model, d_ffn), nn.GELU())
        self.gate_norm = nn.LayerNorm(half)
        self.gate_conv = DepthwiseConv1d(half, kernel_size)
        nn.init.normal_(self.gate_conv.weight, std=1e-6)
        nn.init.ones_(self.gate_conv.bias)
        self.dropout = Dropout(dropout)
        self.proj_out = nn.Linear(half, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Arguments: x (B, T, d_model); mask (B, T) bool, True = real frame, or None.
        Returns (B, T, d_model)."""
        value, gate = self.proj_in(x).chunk(2, dim=-1)  # each (B, T, d_ffn / 2)
        gate = zero_padding(self.gate_norm(gate), mask)
        gate = self.gate_conv(gate)  # (B, T, d_ffn / 2)
        return self.proj_out(self.dropout(value * gate))


class BranchformerLayer(nn.Module):
    """Branchformer layer: x + Dropout(Linear([mixer(LN(x)) ; cgMLP(LN(x))])).

    Arguments
    ---------
    d_model : int
        Input and output size.
    nhead : int
        Number of heads of the mixer.
    d_ffn : int
        Hidden size of the cgMLP branch.
    attention_type : str
        ``"SummaryMixing"``, ``"regularMHA"`` or ``"speechbrain_mha"``.
    mode : str
        SummaryMixing mode.
    dropout : float
        Dropout rate.
    kernel_size : int
        Kernel size of the cgMLP convolution.
    **mixer_kwargs
        Further SummaryMixing arguments.

    Example
    -------
    >>> layer = BranchformerLayer(d_model=8, nhead=2, d_ffn=16, kernel_size=3)
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
        **mixer_kwargs,
    ):
        super().__init__()
        self.norm_mixer = nn.LayerNorm(d_model)
        self.mixer = build_mixer(attention_type, d_model, nhead, dropout, mode, **mixer_kwargs)
        self.norm_cgmlp = nn.LayerNorm(d_model)
        self.cgmlp = ConvolutionalGatingMLP(d_model, d_ffn, kernel_size, dropout)
        self.merge = nn.Linear(2 * d_model, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Arguments: x (B, T, d_model); mask (B, T) bool, True = real frame, or None.
        Returns (B, T, d_model)."""
        global_branch = self.dropout(self.mixer(self.norm_mixer(x), mask))
        local_branch = self.dropout(self.cgmlp(self.norm_cgmlp(x), mask))
        merged = torch.cat([global_branch, local_branch], dim=-1)  # (B, T, 2 * d_model)
        return x + self.dropout(self.merge(merged))
