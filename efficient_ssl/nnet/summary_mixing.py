"""SummaryMixing: a linear-complexity replacement for multi-head self-attention.

Written from the equations of "Linear-Complexity Self-Supervised Learning for Speech
Processing" (Zhang, Parcollet et al., Interspeech 2024) and of the SummaryMixing paper it
builds on. For an input x (B, T, F) and a valid-frame mask m (B, T), 1 = real frame:

    local:    l_t = LN(f(x_t) * m_t)
    summary:  s   = LN(sum_t(s(x_t) * m_t) / sum_t(m_t))
    combiner: y_t = act(W [l_t ; s] + b)

f and s are MLPs with an activation after every linear layer. The combiner is computed as
``W_l l_t + (W_s s + b)``: the summary term is one vector per utterance, added by
broadcasting, never repeated T times. Cost and memory are O(T).

Authors
 * efficient_ssl contributors 2026
"""

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from efficient_ssl.nnet.fast_ops import apply_keep_mask, dropout_keep_mask

MODES = ("SummaryMixing", "SummaryMixing-lite", "SummaryMixing-fast")
SUMMARY_DROPOUTS = ("utterance", "frame")


class ParallelLinear(nn.Module):
    """Block-diagonal ("parallel") linear layer: one weight per head, applied to that
    head's chunk of features. Inputs and outputs are head-major, so that a chain of
    parallel layers never transposes between layers.

    Arguments
    ---------
    in_features : int
        Total input size, split in ``nhead`` chunks.
    out_features : int
        Total output size, split in ``nhead`` chunks.
    nhead : int
        Number of blocks on the diagonal.

    Example
    -------
    >>> layer = ParallelLinear(8, 6, nhead=2)
    >>> layer(torch.rand(2, 10, 4)).shape
    torch.Size([2, 10, 3])
    """

    def __init__(self, in_features: int, out_features: int, nhead: int):
        super().__init__()
        for name, size in (("in_features", in_features), ("out_features", out_features)):
            if size % nhead:
                raise ValueError(f"ParallelLinear: {name}={size} is not divisible by nhead={nhead}")
        fan_in = in_features // nhead
        bound = 1.0 / math.sqrt(fan_in)  # the default init of nn.Linear, per head
        self.weight = nn.Parameter(
            torch.empty(nhead, fan_in, out_features // nhead).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.zeros(nhead, 1, out_features // nhead))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply each head's weight to its chunk.

        Arguments
        ---------
        x : torch.Tensor
            (H, N, in_features / H), head-major features of N frames.

        Returns
        -------
        torch.Tensor
            (H, N, out_features / H).
        """
        return torch.baddbmm(self.bias, x, self.weight)


def parallel_layers(sizes: Sequence[int], nhead: int) -> nn.ModuleList:
    """One :class:`ParallelLinear` per consecutive pair of ``sizes``.

    Arguments
    ---------
    sizes : sequence of int
        Input size followed by the output size of every layer.
    nhead : int
        Number of parallel blocks.

    Returns
    -------
    nn.ModuleList
        ``len(sizes) - 1`` layers.

    Example
    -------
    >>> [tuple(layer.weight.shape) for layer in parallel_layers([8, 16, 4], nhead=2)]
    [(2, 4, 8), (2, 8, 2)]
    """
    return nn.ModuleList(ParallelLinear(i, o, nhead) for i, o in zip(sizes[:-1], sizes[1:]))


def to_heads(x: torch.Tensor, nhead: int) -> torch.Tensor:
    """Split features in ``nhead`` chunks, head-major, without copying.

    Arguments
    ---------
    x : torch.Tensor
        (B, T, F).
    nhead : int
        Number of chunks.

    Returns
    -------
    torch.Tensor
        (H, B * T, F / H), a view of ``x`` when ``x`` is contiguous.

    Example
    -------
    >>> to_heads(torch.rand(2, 5, 8), 4).shape
    torch.Size([4, 10, 2])
    """
    return x.reshape(x.shape[0] * x.shape[1], nhead, -1).transpose(0, 1)


def from_heads(x: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of :func:`to_heads`.

    Arguments
    ---------
    x : torch.Tensor
        (H, B * T, F / H).
    batch : int
        B.

    Returns
    -------
    torch.Tensor
        (B, T, F).

    Example
    -------
    >>> x = torch.rand(2, 5, 8)
    >>> torch.equal(from_heads(to_heads(x, 4), 2), x)
    True
    """
    nhead, frames, chunk = x.shape
    return x.transpose(0, 1).reshape(batch, frames // batch, nhead * chunk)  # (B, T, F)


def chunk_context_mask(
    time: int, chunk_size: int, left_chunks: int = -1, device: torch.device | None = None
) -> torch.Tensor:
    """Chunked causal context: frame t sees its own whole chunk and the ``left_chunks`` chunks
    before it (every past chunk when ``left_chunks`` < 0).

    With every past chunk, the restricted context of streaming SummaryMixing
    (``SummaryMixing.forward``'s ``context_mask``): the summary of a frame is the mean over all
    past chunks and the whole current chunk, which is what :meth:`SummaryMixing.forward_chunk`
    carries as a running sum. With a limited left context, the chunked attention of the MHSA
    streaming baseline (``efficient_ssl.nnet.attention.MultiHeadSelfAttention``).

    Arguments
    ---------
    time : int
        T, number of frames.
    chunk_size : int
        Frames per chunk (>= 1).
    left_chunks : int
        Past chunks each chunk sees; -1 = all of them.
    device : torch.device, optional
        Where to make the mask.

    Returns
    -------
    torch.Tensor
        (T, T) bool, row t = frames frame t sees.

    Example
    -------
    >>> chunk_context_mask(4, 2).int()
    tensor([[1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 1, 1],
            [1, 1, 1, 1]], dtype=torch.int32)
    >>> chunk_context_mask(6, 2, left_chunks=1).int()
    tensor([[1, 1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 1],
            [0, 0, 1, 1, 1, 1]], dtype=torch.int32)
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_context_mask: chunk_size={chunk_size} must be >= 1 frame")
    chunk = torch.arange(time, device=device) // chunk_size  # (T,), chunk index of each frame
    behind = chunk.unsqueeze(1) - chunk.unsqueeze(0)  # (T, T), row chunk - column chunk
    visible = behind >= 0
    return visible if left_chunks < 0 else visible & (behind <= left_chunks)


class SummaryMixing(nn.Module):
    """SummaryMixing layer (linear-complexity token mixer).

    Modes:
    - ``"SummaryMixing"``: local branch, summary branch and combiner. The first layers of
      f and s read the same input, so they run as one fused matrix product.
    - ``"SummaryMixing-fast"``: f and s are single layers, i.e. one fused projection of
      size ``local_proj_out_dim + summary_out_dim`` split in two halves; the hidden sizes
      are not used.
    - ``"SummaryMixing-lite"``: summary branch only (no local branch, no combiner, no
      dropout): the summary, linearly projected to ``d_model`` when ``summary_out_dim``
      differs, is the output of every frame.

    With ``nhead > 1`` every layer of f and s is block-diagonal (one weight per chunk of
    features); the combiner stays dense. Biases start at zero. Dropout "on the
    concatenation" is applied to the local and summary parts separately.

    During training with gradients enabled and ``recompute`` True, the layer is recomputed
    in the backward pass (``torch.utils.checkpoint``): only its input and the dropout masks
    (bool, drawn before, so recomputing draws nothing) stay in memory, at the price of one
    more forward pass of this cheap layer. That keeps its training memory below that of
    multi-head self-attention stored without checkpointing, whose flash kernels also keep only
    O(T) tensors (0.91x at 60 s in tools/benchmark_encoders.py; 1.12x without recomputing, and
    1.00x when the attention is checkpointed too: recipes/LibriSpeech/pretrain/BENCHMARK.md).

    Differences from the authors' published code (SamsungLabs/SummaryMixing,
    ``speechbrain/nnet/summary_mixing.py``). In eval mode, mode ``"SummaryMixing"`` with
    global context gives the same output as theirs for the same weights; the differences
    are:

    - Summary dropout, training only. Default ``summary_dropout="utterance"``: one mask per
      utterance on the summary vector. Theirs repeats the summary over time before dropout
      on the concatenation, so each frame gets its own mask: ``summary_dropout="frame"``.
      Reason for the default: the summary term of the combiner stays one row per utterance
      (``W_s s + b``, broadcast), so neither the (B, T, S) repeated summary, its mask nor
      its (B, T, d_model) product exists. Every element is still kept with probability
      1 - p and the local part keeps its per-frame mask; only the correlation of the summary's
      mask across frames differs. With a restricted ``context_mask`` the summary differs
      per frame anyway and the mask is per frame in both settings.
    - Mode ``"SummaryMixing-fast"`` with ``nhead > 1``: ours is block-diagonal, like f and s
      in the full mode, and keeps both LayerNorms; theirs ignores ``nhead`` (one dense
      projection) and has no LayerNorm. Reason: here the fast mode is the full mode with
      single-layer f and s (whose first layers the full mode fuses anyway), so it differs
      from it in depth only and keeps its normalisation and 1 / nhead projection cost.
      Theirs is ``nhead=1, layer_norm=False`` (their two halves are both
      ``local_proj_out_dim`` wide: set ``summary_out_dim`` equal to it).
    - Mode ``"SummaryMixing-lite"``: ours normalises the summary (LayerNorm) and projects it
      to ``d_model`` when ``summary_out_dim`` differs; theirs has neither (it requires
      ``summary_out_dim == d_model``). Reason: all modes share one normalised summary path
      (also :meth:`forward_chunk`'s), and the vector added to the residual stream at every
      frame has a bounded scale. Theirs is ``layer_norm=False`` with ``summary_out_dim``
      equal to ``d_model``.
    - Restricted context: the mean of a row counts only valid frames of that row, so a full
      ``context_mask`` gives the global mean and padding never changes valid outputs; theirs
      divides by the row's size, padded frames included.
    - Initialisation: ``nn.Linear``'s default bound per head and zero biases everywhere;
      theirs, with ``nhead > 1``, draws the block-diagonal weights with a bound from
      fan_in = (in / H) x (out / H) and their biases at random. Output size: ``d_model``
      (theirs: ``summary_out_dim``, which they set to ``d_model``). Their
      ``"SummaryMixing-expdecay"`` mode (exponentially decaying context) is not implemented.

    Arguments
    ---------
    d_model : int
        Input and output size.
    nhead : int
        Number of parallel blocks of f and s.
    local_proj_hid_dim : sequence of int, optional
        Hidden sizes of f (default: ``[d_model]``).
    local_proj_out_dim : int, optional
        Output size of f (default: ``d_model``).
    summary_hid_dim : sequence of int, optional
        Hidden sizes of s (default: ``[d_model]``).
    summary_out_dim : int, optional
        Output size of s (default: ``d_model``).
    activation : type
        Activation class used after every linear layer and in the combiner.
    mode : str
        One of ``"SummaryMixing"``, ``"SummaryMixing-lite"``, ``"SummaryMixing-fast"``.
    dropout : float
        Dropout on the input of the combiner.
    recompute : bool
        Recompute activations in the backward pass instead of storing them.
    summary_dropout : str
        ``"utterance"`` (one dropout mask per utterance on the summary) or ``"frame"`` (one
        per frame, as the authors' code).
    layer_norm : bool
        LayerNorm on the local branch and on the summary (the authors' ``use_layernorm``).

    Attributes
    ----------
    hidden_mask : nn.Module or None
        Applied to the activated outputs of the fused first layer, head-major (H, B*T,
        first_out / H), in every path (training, recomputed, eval, ``forward_chunk``); None
        (default) applies nothing. ``efficient_ssl.nnet.router`` puts its hidden-unit mask here
        and folds it into smaller first / next layers (``first_units`` gives the unit layout).

    Example
    -------
    >>> layer = SummaryMixing(d_model=8, nhead=2)
    >>> layer(torch.rand(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    >>> mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    >>> layer(torch.rand(2, 5, 8), mask).shape
    torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        d_model: int,
        nhead: int = 1,
        local_proj_hid_dim: Sequence[int] | None = None,
        local_proj_out_dim: int | None = None,
        summary_hid_dim: Sequence[int] | None = None,
        summary_out_dim: int | None = None,
        activation: type = nn.GELU,
        mode: str = "SummaryMixing",
        dropout: float = 0.1,
        recompute: bool = True,
        summary_dropout: str = "utterance",
        layer_norm: bool = True,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"SummaryMixing: unknown mode {mode!r}; use one of {MODES}")
        if isinstance(local_proj_hid_dim, int) or isinstance(summary_hid_dim, int):
            raise TypeError("SummaryMixing: hidden sizes are lists, e.g. local_proj_hid_dim=[512]")
        if summary_dropout not in SUMMARY_DROPOUTS:
            raise ValueError(
                f"SummaryMixing: unknown summary_dropout {summary_dropout!r}; use one of {SUMMARY_DROPOUTS}"
            )
        self.summary_dropout = summary_dropout
        self.nhead = nhead
        self.recompute = recompute
        self.dropout = dropout
        self.local_out = local_proj_out_dim or d_model
        summary_out = summary_out_dim or d_model
        local_hid = [d_model] if local_proj_hid_dim is None else list(local_proj_hid_dim)
        summary_hid = [d_model] if summary_hid_dim is None else list(summary_hid_dim)
        if mode == "SummaryMixing-fast":
            local_hid, summary_hid = [], []
        local_sizes = local_hid + [self.local_out]
        summary_sizes = summary_hid + [summary_out]
        for size in [d_model] + local_sizes + summary_sizes:
            if size % nhead:
                raise ValueError(
                    f"SummaryMixing: every layer size must be divisible by nhead={nhead}; got {size}"
                )
        self.lite = mode == "SummaryMixing-lite"
        # The first layers of f and s read the same input: one fused product whose output
        # holds, per head, [local chunk ; summary chunk].
        self.local_split = 0 if self.lite else local_sizes[0] // nhead
        first_out = summary_sizes[0] + (0 if self.lite else local_sizes[0])
        self.first = ParallelLinear(d_model, first_out, nhead)
        self.summary_layers = parallel_layers(summary_sizes, nhead)
        self.summary_norm = nn.LayerNorm(summary_out) if layer_norm else nn.Identity()
        self.summary_out = summary_out
        self.act = activation()
        if self.lite:
            self.out_proj = nn.Linear(summary_out, d_model) if summary_out != d_model else None
            if self.out_proj is not None:
                nn.init.zeros_(self.out_proj.bias)
        else:
            self.local_layers = parallel_layers(local_sizes, nhead)
            self.local_norm = nn.LayerNorm(self.local_out) if layer_norm else nn.Identity()
            self.combiner = nn.Linear(self.local_out + summary_out, d_model)
            nn.init.zeros_(self.combiner.bias)
        self.hidden_mask: nn.Module | None = None

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mix the frames of each utterance.

        Arguments
        ---------
        x : torch.Tensor
            (B, T, d_model).
        mask : torch.Tensor, optional
            (B, T) bool or 0/1 float, True/1 = real frame. None: every frame is real.
        context_mask : torch.Tensor, optional
            (T, T) 0/1: row t selects the frames averaged into the summary of frame t
            (restricted context, e.g. chunked streaming). None: the global mean.

        Returns
        -------
        torch.Tensor
            (B, T, d_model). Padded frames hold unspecified values.
        """
        keep_local = keep_summary = None
        if not self.lite and self.training and self.dropout > 0:
            # Drawn here, outside the recomputed part, so that recomputing draws nothing.
            batch, time, _ = x.shape
            keep_local = self._keep(x, (batch, time, self.local_out))
            per_utterance = context_mask is None and self.summary_dropout == "utterance"
            keep_summary = self._keep(x, (batch, 1 if per_utterance else time, self.summary_out))
        if self.recompute and self.training and torch.is_grad_enabled():
            return checkpoint(
                self._mix, x, mask, context_mask, keep_local, keep_summary,
                use_reentrant=False, preserve_rng_state=False,
            )
        return self._mix(x, mask, context_mask, keep_local, keep_summary)

    def _keep(self, x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
        """Dropout keep-mask of ``shape`` on the device of ``x``."""
        return dropout_keep_mask(shape, self.dropout, x.device)

    def _mix(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        context_mask: torch.Tensor | None,
        keep_local: torch.Tensor | None,
        keep_summary: torch.Tensor | None,
    ) -> torch.Tensor:
        """The whole layer; see :meth:`forward`. ``keep_*``: dropout masks or None."""
        local, s = self._branches(x)
        s = self.summary_norm(self._average(s, mask, context_mask, x.shape[0]))  # (B, 1 or T, S)
        return self._combine(local, s, x.shape, mask, keep_local, keep_summary)

    def _branches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head-major local hidden features (H, B*T, L0/H) and summary features (H, B*T, S/H)."""
        hidden = self.act(self.first(to_heads(x, self.nhead)))  # (H, B*T, first_out / H)
        if self.hidden_mask is not None:
            hidden = self.hidden_mask(hidden)
        local, s = hidden.split([self.local_split, hidden.shape[-1] - self.local_split], dim=-1)
        for layer in self.summary_layers:
            s = self.act(layer(s))
        return local, s

    def first_units(self) -> dict[str, tuple[int, nn.Module]]:
        """Per head, the outputs of ``first`` that are hidden units: the branches whose first
        layer another layer follows, by name (``"local"``, ``"summary"``), each with its number of
        units per head and the layer reading them. The other outputs of ``first`` (mode
        ``"SummaryMixing-fast"``, or an empty hidden-size list) are a branch's output, which its
        LayerNorm normalises over every feature: not hidden units.

        Returns
        -------
        dict
            {branch: (units per head, next ParallelLinear)}, in the order of ``first``'s outputs.

        Example
        -------
        >>> {k: n for k, (n, _) in SummaryMixing(d_model=8, nhead=2).first_units().items()}
        {'local': 4, 'summary': 4}
        >>> SummaryMixing(d_model=8, nhead=2, mode="SummaryMixing-fast").first_units()
        {}
        """
        units = {}
        if not self.lite and len(self.local_layers):
            units["local"] = (self.local_split, self.local_layers[0])
        if len(self.summary_layers):
            units["summary"] = (self.first.weight.shape[-1] - self.local_split, self.summary_layers[0])
        return units

    def forward_chunk(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Streaming inference on one chunk of frames, carrying the summary as a running sum.

        Every frame of the chunk gets the mean of ``s(x)`` over all frames seen so far (past
        chunks and this whole chunk): what :meth:`forward` gives with the chunked causal
        ``context_mask`` of :func:`chunk_context_mask`. The cost is that of the chunk alone.

        Arguments
        ---------
        x : torch.Tensor
            (B, T_chunk, d_model), every frame real.
        state : tuple of torch.Tensor, optional
            (sum (B, S), count (B, 1)) returned by the previous chunk; None = first chunk.

        Returns
        -------
        y : torch.Tensor
            (B, T_chunk, d_model).
        state : tuple of torch.Tensor
            The updated (sum, count).

        Example
        -------
        >>> layer = SummaryMixing(d_model=8, nhead=2).eval()
        >>> x = torch.rand(1, 6, 8)
        >>> full = layer(x, context_mask=chunk_context_mask(6, 3))
        >>> first, state = layer.forward_chunk(x[:, :3])
        >>> second, state = layer.forward_chunk(x[:, 3:], state)
        >>> torch.allclose(torch.cat([first, second], dim=1), full, atol=1e-6)
        True
        """
        batch, time, _ = x.shape
        local, s = self._branches(x)
        nhead, _, chunk = s.shape
        total = s.reshape(nhead, batch, time, chunk).sum(dim=2).transpose(0, 1).reshape(batch, -1)  # (B, S)
        count = torch.ones_like(total[:, :1]) * time  # a traced tensor op, so ONNX keeps it per chunk
        if state is not None:
            total, count = total + state[0], count + state[1]
        s = self.summary_norm((total / count).unsqueeze(1))  # (B, 1, S)
        return self._combine(local, s, x.shape, None, None, None), (total, count)

    def _combine(
        self,
        local: torch.Tensor,
        s: torch.Tensor,
        shape: torch.Size,
        mask: torch.Tensor | None,
        keep_local: torch.Tensor | None,
        keep_summary: torch.Tensor | None,
    ) -> torch.Tensor:
        """Local branch and combiner: head-major ``local``, normalised summary ``s`` (B, 1 or T, S)
        -> (B, T, d_model) for an input of ``shape`` (B, T, d_model)."""
        batch, time, _ = shape
        if self.lite:
            if self.out_proj is not None:
                s = self.out_proj(s)
            return s.expand(batch, time, s.shape[-1])  # (B, T, d_model), a broadcast view

        for layer in self.local_layers:
            local = self.act(layer(local))
        local = from_heads(local, batch)  # (B, T, L)
        if mask is not None:
            local = local * mask.unsqueeze(-1).to(local.dtype)
        local = self.local_norm(local)

        # W [l ; s] + b = W_l l + (W_s s + b): the summary term is one row per utterance.
        w_local = self.combiner.weight[:, : self.local_out]  # (d_model, L)
        w_summary = self.combiner.weight[:, self.local_out :]  # (d_model, S)
        if keep_local is not None:  # dropout; its 1 / (1 - p) scaling is applied to the weights
            scale = 1.0 / (1.0 - self.dropout)
            s = s.expand(batch, keep_summary.shape[1], s.shape[-1])  # (B, 1 or T, S): per-frame masks
            local, s = apply_keep_mask(local, keep_local), apply_keep_mask(s, keep_summary)
            w_local, w_summary = w_local * scale, w_summary * scale
        y = F.linear(local, w_local)  # (B, T, d_model)
        y += F.linear(s, w_summary, self.combiner.bias)  # (B, 1 or T, d_model)
        return self.act(y)

    @staticmethod
    def _average(
        s: torch.Tensor,
        mask: torch.Tensor | None,
        context_mask: torch.Tensor | None,
        batch: int,
    ) -> torch.Tensor:
        """Masked mean over time of head-major features.

        Arguments
        ---------
        s : torch.Tensor
            (H, B * T, S / H).
        mask : torch.Tensor, optional
            (B, T), True/1 = real frame.
        context_mask : torch.Tensor, optional
            (T, T) 0/1, row t = frames averaged for frame t.
        batch : int
            B.

        Returns
        -------
        torch.Tensor
            (B, 1, S) for the global mean, (B, T, S) with a context mask.
        """
        nhead, frames, chunk = s.shape
        time = frames // batch
        s = s.reshape(nhead, batch, time, chunk)  # (H, B, T, S/H)
        if mask is None:
            weights = s.new_ones(batch, time)
        else:
            weights = mask.to(s.dtype)  # (B, T)
        if context_mask is None:
            weights = weights / weights.sum(dim=1, keepdim=True)  # (B, T)
            weights = weights.expand(nhead, batch, time).reshape(nhead * batch, 1, time)  # (H*B, 1, T)
            mean = torch.bmm(weights, s.reshape(nhead * batch, time, chunk))  # (H*B, 1, S/H)
            mean = mean.view(nhead, batch, chunk).transpose(0, 1)  # (B, H, S/H)
            return mean.reshape(batch, 1, nhead * chunk)  # (B, 1, S)
        weights = context_mask.to(s.dtype).unsqueeze(0) * weights.unsqueeze(1)  # (B, T, T)
        weights = weights / weights.sum(dim=2, keepdim=True).clamp(min=1.0)
        mean = torch.einsum("hbtc,bqt->bqhc", s, weights)  # (B, T, H, S/H)
        return mean.reshape(batch, time, nhead * chunk)  # (B, T, S)
