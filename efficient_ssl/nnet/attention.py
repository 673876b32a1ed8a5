"""Token mixers for the encoder layers: multi-head self-attention (MHSA) and a factory.

Two MHSA implementations with the same parameters (names and layout of
``torch.nn.MultiheadAttention``, so weights load from one into the other):

- :class:`MultiHeadSelfAttention` ("regularMHA") goes through
  ``torch.nn.functional.scaled_dot_product_attention``: fused kernels, no T x T weights kept.
- :class:`SpeechBrainMHSA` ("speechbrain_mha") is MHSA as SpeechBrain's encoder layers run
  it (``speechbrain.nnet.attention.MultiheadAttention`` returning its weights), which
  materialises the T x T attention matrix: the baseline of the SummaryMixing paper.

Every mixer maps (x (B, T, d_model), mask (B, T) True = real frame, or None) to (B, T, d_model).
:class:`MultiHeadSelfAttention` also takes a (T, T) ``context_mask`` (chunked attention with a
limited left context, :func:`~efficient_ssl.nnet.summary_mixing.chunk_context_mask` with
``left_chunks``) and streams chunk by chunk with a carried
key/value cache (:meth:`MultiHeadSelfAttention.forward_chunk`): the MHSA streaming baseline of
streaming SummaryMixing.

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
    left_chunks : int
        Streaming only (:meth:`forward_chunk`): past chunks whose keys and values the cache
        keeps; -1 = all (the cache, and the cost of a chunk, grow with the stream). Must match
        the ``left_chunks`` of the :func:`~efficient_ssl.nnet.summary_mixing.chunk_context_mask` the model was trained with.

    Example
    -------
    >>> mha = MultiHeadSelfAttention(d_model=8, nhead=2)
    >>> mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    >>> mha(torch.rand(2, 5, 8), mask).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0, left_chunks: int = -1):
        super().__init__()
        if d_model % nhead:
            raise ValueError(
                f"MultiHeadSelfAttention: d_model={d_model} is not divisible by nhead={nhead}"
            )
        self.nhead = nhead
        self.dropout = dropout
        self.left_chunks = left_chunks
        # Same names, layout and initialisation as torch.nn.MultiheadAttention.
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attend over the real frames of each utterance.

        Arguments
        ---------
        x : torch.Tensor
            (B, T, d_model).
        mask : torch.Tensor, optional
            (B, T) bool, True = real frame (keys outside it are ignored). None: all real.
        context_mask : torch.Tensor, optional
            (T, T) bool, row t = keys frame t may attend to (e.g. :func:`~efficient_ssl.nnet.summary_mixing.chunk_context_mask`).
            None: every frame.

        Returns
        -------
        torch.Tensor
            (B, T, d_model). Padded frames hold unspecified values.
        """
        batch, time, d_model = x.shape
        q, k, v = self._qkv(x)
        attn_mask = None if mask is None else mask.bool()[:, None, None, :]  # (B, 1, 1, T)
        if context_mask is not None:
            attn_mask = context_mask.bool() if attn_mask is None else attn_mask & context_mask.bool()
            if mask is not None:  # padded queries may see no real key: let them see all (no NaN)
                attn_mask = attn_mask | ~mask.bool()[:, None, :, None]  # (B, 1, T, T)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, D/H)
        out = out.transpose(1, 2).reshape(batch, time, d_model)  # (B, T, d_model)
        return self.out_proj(out)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values, each (B, H, T, D/H)."""
        batch, time, d_model = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3 * d_model)
        qkv = qkv.view(batch, time, 3, self.nhead, d_model // self.nhead)  # (B, T, 3, H, D/H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v

    def forward_chunk(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Streaming inference on one chunk with a carried key/value cache.

        Every frame of the chunk attends to the cached frames and the whole chunk: what
        :meth:`forward` gives with ``chunk_context_mask(T, T_chunk, left_chunks)``. The cache
        then keeps the last ``left_chunks * T_chunk`` frames (all of them if ``left_chunks`` < 0,
        so the cost of a chunk grows with the stream).

        Arguments
        ---------
        x : torch.Tensor
            (B, T_chunk, d_model), every frame real.
        cache : tuple of torch.Tensor, optional
            (keys, values), each (B, H, T_cache, D/H), from the previous chunk; None = start.

        Returns
        -------
        y : torch.Tensor
            (B, T_chunk, d_model).
        cache : tuple of torch.Tensor
            For the next chunk.

        Example
        -------
        >>> mha = MultiHeadSelfAttention(d_model=8, nhead=2, left_chunks=1).eval()
        >>> x = torch.rand(1, 6, 8)
        >>> from efficient_ssl.nnet.summary_mixing import chunk_context_mask
        >>> full = mha(x, context_mask=chunk_context_mask(6, 2, left_chunks=1))
        >>> outs, cache = [], None
        >>> for piece in x.split(2, dim=1):
        ...     out, cache = mha.forward_chunk(piece, cache)
        ...     outs.append(out)
        >>> torch.allclose(torch.cat(outs, dim=1), full, atol=1e-6), cache[0].shape
        (True, torch.Size([1, 2, 2, 4]))
        """
        batch, time, d_model = x.shape
        q, k, v = self._qkv(x)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)  # (B, H, T_cache + T, D/H)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, D/H)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, time, d_model))  # (B, T, d_model)
        if self.left_chunks >= 0:
            keep = self.left_chunks * time
            k, v = k[:, :, k.shape[2] - keep :], v[:, :, v.shape[2] - keep :]
        return out, (k, v)


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
    left_chunks: int = -1,
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
    left_chunks : int
        Streaming: past chunks the key/value cache of ``"regularMHA"`` keeps (-1 = all);
        SummaryMixing always summarises all past chunks.
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
        return MultiHeadSelfAttention(d_model, nhead, attention_dropout, left_chunks)
    if attention_type == "speechbrain_mha":
        return SpeechBrainMHSA(d_model, nhead, attention_dropout)
    raise ValueError(f"unknown attention_type {attention_type!r}; use one of {ATTENTION_TYPES}")
