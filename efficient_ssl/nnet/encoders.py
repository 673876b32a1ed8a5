"""The context encoder: a stack of Conformer, Branchformer or Transformer layers whose token
mixer is SummaryMixing or multi-head self-attention.

Authors
 * efficient_ssl contributors 2026
"""


from collections.abc import Sequence

import torch
import torch.nn as nn

from efficient_ssl.nnet.branchformer import BranchformerLayer
from efficient_ssl.nnet.conformer import ConformerLayer
from efficient_ssl.nnet.summary_mixing import chunk_context_mask
from efficient_ssl.nnet.transformer import TransformerLayer

LAYER_TYPES = ("conformer", "branchformer", "transformer")
STREAMING_MIXERS = ("SummaryMixing", "regularMHA")


class ContextEncoder(nn.Module):
    """Stack of encoder layers with a pluggable mixer, layerdrop and a final LayerNorm.

    Arguments
    ---------
    num_layers : int
        Number of layers.
    d_model : int
        Input and output size.
    nhead : int
        Number of heads (parallel blocks for SummaryMixing).
    d_ffn : int
        Hidden size of the feed-forward blocks (of the cgMLP for Branchformer).
    layer_type : str
        ``"conformer"``, ``"branchformer"`` or ``"transformer"``.
    attention_type : str
        ``"SummaryMixing"``, ``"regularMHA"`` (scaled_dot_product_attention) or
        ``"speechbrain_mha"`` (SpeechBrain's MHSA, which materialises T x T weights).
    mode : str
        SummaryMixing mode (``"SummaryMixing"``, ``"SummaryMixing-lite"``,
        ``"SummaryMixing-fast"``); used by SummaryMixing only.
    dropout : float
        Dropout rate inside the layers.
    layerdrop : float
        Probability of skipping each layer at training time. The draws come from a generator
        of their own, seeded with torch's initial seed and counted in the ``layerdrop_draws``
        buffer: every process of a distributed run (all seeded alike) skips the same layers at
        the same step, whatever data it sees, and a resumed run continues the sequence.
    kernel_size : int
        Kernel size of the convolutions (Conformer, Branchformer).
    conv_norm : str
        Conformer only: ``"layernorm"`` or ``"batchnorm"`` after the depthwise convolution.
    chunk_size : int
        Streaming (SummaryMixing or regularMHA): 0 = full context; n > 0 = chunked causal
        context. SummaryMixing: the summary of a frame averages every frame up to the end of its
        chunk of n frames (``efficient_ssl.nnet.summary_mixing.chunk_context_mask``). regularMHA:
        a frame attends to its whole chunk and ``left_chunks`` past chunks
        (the same mask with ``left_chunks``), the MHSA streaming baseline.
        :meth:`forward_chunk` then gives the same outputs chunk by chunk with a carried state.
    left_chunks : int
        regularMHA streaming: past chunks each chunk attends to (-1 = all). The streaming state
        keeps their keys and values, so a chunk's cost grows with ``left_chunks`` (with the
        stream when -1). SummaryMixing takes only -1: its summary covers all past chunks at a
        constant cost.
    causal : bool
        Causal convolution modules (Conformer; nothing to change for Transformer layers), which
        streaming needs; Branchformer layers are not supported yet.
    dynamic_chunks : sequence of int, optional
        Dynamic chunk training: every training forward draws its chunk size from this list
        (0 = full context), so one model serves several chunk sizes. The draws come from a
        generator of their own seeded with torch's initial seed, so every rank of a distributed
        run draws the same (the chunk size changes no parameter's gradient path). Eval forwards
        use ``chunk_size``.
    **mixer_kwargs
        Further mixer arguments: for SummaryMixing ``local_proj_hid_dim``,
        ``local_proj_out_dim``, ``summary_hid_dim``, ``summary_out_dim``, ``activation``,
        ``recompute``; for the two MHSA ``attention_dropout`` (default 0, see
        ``efficient_ssl.nnet.attention.MultiHeadSelfAttention``). Each mixer ignores the
        other's, so one configuration can switch ``attention_type``.

    Example
    -------
    >>> encoder = ContextEncoder(num_layers=2, d_model=8, nhead=2, d_ffn=16, kernel_size=3)
    >>> mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    >>> out, hidden_states = encoder(torch.rand(2, 5, 8), mask)
    >>> out.shape, len(hidden_states), hidden_states[-1].shape
    (torch.Size([2, 5, 8]), 3, torch.Size([2, 5, 8]))
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        nhead: int,
        d_ffn: int,
        layer_type: str = "conformer",
        attention_type: str = "SummaryMixing",
        mode: str = "SummaryMixing",
        dropout: float = 0.1,
        layerdrop: float = 0.0,
        kernel_size: int = 31,
        conv_norm: str = "layernorm",
        chunk_size: int = 0,
        causal: bool = False,
        dynamic_chunks: Sequence[int] | None = None,
        left_chunks: int = -1,
        **mixer_kwargs,
    ):
        super().__init__()
        if (chunk_size or causal or dynamic_chunks) and attention_type not in STREAMING_MIXERS:
            raise ValueError(
                f"ContextEncoder: chunk_size / causal (streaming) need attention_type in {STREAMING_MIXERS}, "
                f"not {attention_type!r}"
            )
        if left_chunks >= 0 and attention_type != "regularMHA":
            raise ValueError(
                f"ContextEncoder: left_chunks={left_chunks} needs attention_type='regularMHA' "
                f"(SummaryMixing summarises all past chunks: use -1)"
            )
        if causal and layer_type == "branchformer":
            raise ValueError("ContextEncoder: causal=True supports layer_type 'conformer' or 'transformer'")
        if chunk_size < 0:
            raise ValueError(f"ContextEncoder: chunk_size={chunk_size} must be 0 (full context) or > 0 frames")
        if dynamic_chunks is not None and (not dynamic_chunks or min(dynamic_chunks) < 0):
            raise ValueError(f"ContextEncoder: dynamic_chunks={dynamic_chunks} must list chunk sizes >= 0")
        self.chunk_size = chunk_size
        self.left_chunks = left_chunks
        self.attention_type = attention_type
        self.causal = causal
        self.dynamic_chunks = list(dynamic_chunks) if dynamic_chunks else None
        self._chunk_draws = torch.Generator().manual_seed(torch.initial_seed() % 2**62 + 17)
        if layer_type not in LAYER_TYPES:
            raise ValueError(
                f"ContextEncoder: unknown layer_type {layer_type!r}; use one of {LAYER_TYPES}"
            )
        if not 0.0 <= layerdrop < 1.0:
            raise ValueError(f"ContextEncoder: layerdrop={layerdrop} must be in [0, 1)")
        self.num_layers = num_layers
        self.d_model = d_model
        self.layerdrop = layerdrop
        common = dict(
            d_model=d_model,
            nhead=nhead,
            d_ffn=d_ffn,
            attention_type=attention_type,
            mode=mode,
            dropout=dropout,
            left_chunks=left_chunks,
            **mixer_kwargs,
        )
        if layer_type == "conformer":
            layers = [
                ConformerLayer(kernel_size=kernel_size, conv_norm=conv_norm, causal=causal, **common)
                for _ in range(num_layers)
            ]
        elif layer_type == "branchformer":
            layers = [BranchformerLayer(kernel_size=kernel_size, **common) for _ in range(num_layers)]
        else:
            layers = [TransformerLayer(**common) for _ in range(num_layers)]
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(d_model)
        # (seed, training forwards so far): the layerdrop draws, identical on every rank
        self.register_buffer("layerdrop_draws", torch.tensor([torch.initial_seed() % 2**62, 0]))

    @property
    def skips_parameters(self) -> bool:
        """True when a training forward may leave some parameters without gradient (layerdrop):
        distributed training then needs ``find_unused_parameters`` (the Brain switches it on)."""
        return self.layerdrop > 0

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # encoders saved before layerdrop_draws existed load with a fresh sequence
        state_dict.setdefault(prefix + "layerdrop_draws", self.layerdrop_draws.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _layers_to_run(self) -> list[bool]:
        """Which layers this forward runs: all of them, or the layerdrop draw of this step."""
        if not (self.training and self.layerdrop > 0):
            return [True] * self.num_layers
        seed, count = self.layerdrop_draws.tolist()
        generator = torch.Generator().manual_seed((seed * 1_000_003 + count) % 2**63)
        self.layerdrop_draws[1] += 1
        return (torch.rand(self.num_layers, generator=generator) >= self.layerdrop).tolist()

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        chunk_size: int | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode a batch.

        Arguments
        ---------
        x : torch.Tensor
            (B, T, d_model), already position-encoded.
        mask : torch.Tensor, optional
            (B, T) bool or 0/1 float, True/1 = real frame. None: every frame is real.
        chunk_size : int, optional
            Overrides the ``chunk_size`` of the constructor (0 = full context).

        Returns
        -------
        output : torch.Tensor
            (B, T, d_model), after the final LayerNorm. Padded frames hold unspecified values.
        hidden_states : list of torch.Tensor
            ``num_layers + 1`` tensors (B, T, d_model): the input and every layer's output
            (a layer skipped by layerdrop passes its input on).
        """
        if mask is not None:
            if mask.shape != x.shape[:2]:
                raise ValueError(
                    f"ContextEncoder: mask shape {tuple(mask.shape)} must be (B, T) = "
                    f"{tuple(x.shape[:2])}"
                )
            mask = mask.bool()
            if mask.all():  # no padding: every layer takes its mask-free (fastest) path
                mask = None
        if chunk_size is None and self.training and self.dynamic_chunks:
            draw = torch.randint(len(self.dynamic_chunks), (1,), generator=self._chunk_draws)
            chunk_size = self.dynamic_chunks[int(draw)]
        chunk_size = self.chunk_size if chunk_size is None else chunk_size
        context = None if chunk_size == 0 else self.context_mask(x.shape[1], chunk_size, x.device)
        hidden_states = [x]
        for layer, run in zip(self.layers, self._layers_to_run()):
            if run:
                x = layer(x, mask) if context is None else layer(x, mask, context)
            hidden_states.append(x)
        return self.norm(x), hidden_states

    def context_mask(self, time: int, chunk_size: int, device: torch.device | None = None) -> torch.Tensor:
        """The (T, T) bool restricted context of chunked training (row t = frames frame t sees):
        ``chunk_context_mask`` with ``left_chunks`` (always -1, every past chunk, for SummaryMixing)."""
        return chunk_context_mask(time, chunk_size, self.left_chunks, device)

    def forward_chunk(
        self, x: torch.Tensor, state: list[dict] | None = None
    ) -> tuple[torch.Tensor, list[dict]]:
        """Streaming inference: encode one chunk given the state the previous chunk returned.

        Needs SummaryMixing or regularMHA and, for Conformer layers, ``causal=True``. The outputs
        of successive chunks equal :meth:`forward` with ``chunk_size`` = the chunk length (in
        eval mode). The state of a layer holds its mixer's under ``"mixer"`` and the last
        ``kernel_size - 1`` frames of its convolution under ``"conv"``. SummaryMixing's is a
        running sum and count, so each chunk costs the same whatever came before; regularMHA's
        is the keys and values of the last ``left_chunks`` chunks (all past frames when -1).

        Arguments
        ---------
        x : torch.Tensor
            (B, T_chunk, d_model), position-encoded, every frame real.
        state : list of dict, optional
            One per layer, from the previous call; None = start of the stream.

        Returns
        -------
        output : torch.Tensor
            (B, T_chunk, d_model), after the final LayerNorm.
        state : list of dict
            For the next chunk.

        Example
        -------
        >>> encoder = ContextEncoder(2, 8, 2, 16, kernel_size=3, chunk_size=2, causal=True).eval()
        >>> x = torch.rand(1, 6, 8)
        >>> full, _ = encoder(x)
        >>> outs, state = [], None
        >>> for start in range(0, 6, 2):
        ...     out, state = encoder.forward_chunk(x[:, start : start + 2], state)
        ...     outs.append(out)
        >>> torch.allclose(torch.cat(outs, dim=1), full, atol=1e-5)
        True
        """
        if self.layers and not hasattr(self.layers[0], "forward_chunk"):
            raise ValueError("ContextEncoder.forward_chunk: Branchformer layers cannot stream yet")
        if not self.causal and any(hasattr(layer, "conv") for layer in self.layers):
            raise ValueError("ContextEncoder.forward_chunk: build the encoder with causal=True to stream")
        state = state or [None] * len(self.layers)
        new_state = []
        for layer, layer_state in zip(self.layers, state):
            x, layer_state = layer.forward_chunk(x, layer_state)
            new_state.append(layer_state)
        return self.norm(x), new_state
