"""Token mixers for the encoder layers: multi-head self-attention (MHSA) and a factory.

Two MHSA implementations with the same parameters (names and layout of
``torch.nn.MultiheadAttention``, so weights load from one into the other):

- :class:`MultiHeadSelfAttention` ("regularMHA") goes through
  ``torch.nn.functional.scaled_dot_product_attention``: fused kernels, no T x T weights kept.
- :class:`SpeechBrainMHSA` ("speechbrain_mha") is MHSA as SpeechBrain's encoder layers run
  it (``speechbrain.nnet.attention.MultiheadAttention`` returning its weights), which
  materialises the T x T attention matrix: the baseline of the SummaryMixing paper.

Every mixer maps (x (B, T, d_model), mask (B, T) True = real frame, or None) to (B, T, d_model).

Authors
 * efficient_ssl contributors 2026
"""


import torch
import torch.nn as nn
import torch.nn.functional as F
from speechbrain.nnet.attention import MultiheadAttention

from efficient_ssl.nnet.summary_mixing import SummaryMixing

ATTENTION_TYPES = ("SummaryMixing", "regularMHA", "speechbrain_mha")


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention``.

    Arguments
    ---------
    d_model : int
        Input and output size.
    nhead : int
        Number of heads; must divide ``d_model``.
    dropout : float
        Dropout on the attention probabilities (training only). Keep it at 0 on CPU:
        with dropout, ``scaled_dot_product_attention`` falls back there to its math kernel,
        which materialises the T x T weights.

    Example
    -------
    >>> mha = MultiHeadSelfAttention(d_model=8, nhead=2)
    >>> mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    >>> mha(torch.rand(2, 5, 8), mask).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0):
        super().__init__()
        if d_model % nhead:
            raise ValueError(
                f"MultiHeadSelfAttention: d_model={d_model} is not divisible by nhead={nhead}"
            )
        self.nhead = nhead
        self.dropout = dropout
        # Same names, layout and initialisation as torch.nn.MultiheadAttention.
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend over the real frames of each utterance.

        Arguments
        ---------
        x : torch.Tensor
            (B, T, d_model).
        mask : torch.Tensor, optional
            (B, T) bool, True = real frame (keys outside it are ignored). None: all real.

        Returns
        -------
        torch.Tensor
            (B, T, d_model). Padded frames hold unspecified values.
        """
        batch, time, d_model = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3 * d_model)
        qkv = qkv.view(batch, time, 3, self.nhead, d_model // self.nhead)  # (B, T, 3, H, D/H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, D/H)
        attn_mask = None if mask is None else mask.bool()[:, None, None, :]  # (B, 1, 1, T)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, D/H)
        out = out.transpose(1, 2).reshape(batch, time, d_model)  # (B, T, d_model)
        return self.out_proj(out)


class SpeechBrainMHSA(nn.Module):
    """MHSA as SpeechBrain's encoder layers compute it: the baseline that materialises the
    (B * H, T, T) attention matrix (``return_attn_weights=True``, the weights are dropped).

    Its parameters live in ``self.attention.att`` (a ``torch.nn.MultiheadAttention``) and
    have the names of :class:`MultiHeadSelfAttention`, so
    ``sb.attention.att.load_state_dict(sdpa.state_dict())`` shares weights.

    Arguments
    ---------
    d_model : int
        Input and output size.
    nhead : int
        Number of heads; must divide ``d_model``.
    dropout : float
        Dropout on the attention probabilities.

    Example
    -------
    >>> mha = SpeechBrainMHSA(d_model=8, nhead=2)
    >>> mha(torch.rand(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0):
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"SpeechBrainMHSA: d_model={d_model} is not divisible by nhead={nhead}")
        self.attention = MultiheadAttention(nhead=nhead, d_model=d_model, dropout=dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Arguments: x (B, T, d_model); mask (B, T) bool, True = real frame, or None.
        Returns (B, T, d_model); padded frames hold unspecified values."""
        key_padding_mask = None if mask is None else ~mask.bool()  # True = ignore
        out, _ = self.attention(x, x, x, key_padding_mask=key_padding_mask, return_attn_weights=True)
        return out


def build_mixer(
    attention_type: str,
    d_model: int,
    nhead: int,
    dropout: float = 0.0,
    mode: str = "SummaryMixing",
    attention_dropout: float = 0.0,
    **mixer_kwargs,
) -> nn.Module:
    """Build the token mixer of an encoder layer.

    Arguments
    ---------
    attention_type : str
        ``"SummaryMixing"``, ``"regularMHA"`` (SDPA) or ``"speechbrain_mha"``.
    d_model : int
        Input and output size.
    nhead : int
        Number of heads (parallel blocks for SummaryMixing).
    dropout : float
        Combiner dropout; used by SummaryMixing only.
    mode : str
        SummaryMixing mode; used by SummaryMixing only.
    attention_dropout : float
        Dropout on the attention probabilities; used by the two MHSA only (see
        :class:`MultiHeadSelfAttention` before raising it on CPU).
    **mixer_kwargs
        Further SummaryMixing arguments (``local_proj_hid_dim``, ...); used by
        SummaryMixing only, so that one configuration can switch ``attention_type``.

    Returns
    -------
    nn.Module
        A module mapping (x (B, T, d_model), mask (B, T) or None) to (B, T, d_model).

    Example
    -------
    >>> type(build_mixer("regularMHA", d_model=8, nhead=2)).__name__
    'MultiHeadSelfAttention'
    """
    if attention_type == "SummaryMixing":
        return SummaryMixing(d_model, nhead=nhead, mode=mode, dropout=dropout, **mixer_kwargs)
    if attention_type == "regularMHA":
        return MultiHeadSelfAttention(d_model, nhead, attention_dropout)
    if attention_type == "speechbrain_mha":
        return SpeechBrainMHSA(d_model, nhead, attention_dropout)
    raise ValueError(f"unknown attention_type {attention_type!r}; use one of {ATTENTION_TYPES}")
