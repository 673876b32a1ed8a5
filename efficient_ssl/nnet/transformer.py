"""Pre-LN Transformer encoder layer with a pluggable token mixer, and its feed-forward block.

Authors
 * efficient_ssl contributors 2026
"""


import torch
import torch.nn as nn

from efficient_ssl.nnet.attention import build_mixer
from efficient_ssl.nnet.fast_ops import Dropout


class FeedForward(nn.Sequential):
    """Pre-LN position-wise feed-forward block: LN -> Linear -> act -> Dropout -> Linear -> Dropout.

    Arguments
    ---------
    d_model : int
        Input and output size.
    d_ffn : int
        Hidden size.
    activation : type
        Activation class.
    dropout : float
        Dropout after the activation and on the output.

    Example
    -------
    >>> FeedForward(8, 32)(torch.rand(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, d_model: int, d_ffn: int, activation: type = nn.GELU, dropout: float = 0.1):
        super().__init__(
            nn.LayerNorm(d_model),
            nn.Linear(d_model, d_ffn),
            activation(),
            Dropout(dropout),
            nn.Linear(d_ffn, d_model),
            Dropout(dropout),
        )


class TransformerLayer(nn.Module):
    """Pre-LN Transformer layer: x + mixer(LN(x)), then x + FFN(LN(x)).

    Arguments
    ---------
    d_model : int
        Input and output size.
    nhead : int
        Number of heads of the mixer.
    d_ffn : int
        Hidden size of the feed-forward block.
    attention_type : str
        ``"SummaryMixing"``, ``"regularMHA"`` or ``"speechbrain_mha"``.
    mode : str
        SummaryMixing mode.
    dropout : float
        Dropout rate.
    **mixer_kwargs
        Further SummaryMixing arguments.

    Example
    -------
    >>> layer = TransformerLayer(d_model=8, nhead=2, d_ffn=16)
    >>> layer(torch.rand(2, 5, 8), torch.ones(2, 5, dtype=torch.bool)).shape
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
        **mixer_kwargs,
    ):
        super().__init__()
        self.norm_mixer = nn.LayerNorm(d_model)
        self.mixer = build_mixer(attention_type, d_model, nhead, dropout, mode, **mixer_kwargs)
        self.dropout = Dropout(dropout)
        self.ffn = FeedForward(d_model, d_ffn, nn.GELU, dropout)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Arguments: x (B, T, d_model); mask (B, T) bool, True = real frame, or None;
        context_mask (T, T) restricted context of a SummaryMixing mixer, or None.
        Returns (B, T, d_model)."""
        mixer_args = (mask,) if context_mask is None else (mask, context_mask)
        x = x + self.dropout(self.mixer(self.norm_mixer(x), *mixer_args))
        return x + self.ffn(x)

    def forward_chunk(self, x: torch.Tensor, state: dict | None = None) -> tuple[torch.Tensor, dict]:
        """Streaming inference (SummaryMixing mixer): x (B, T_chunk, d_model), every frame real;
        state ``{"mixer": (sum, count) or (keys, values)}`` from the previous chunk or None. Returns the output
        (B, T_chunk, d_model) and the next state."""
        mixed, mixer_state = self.mixer.forward_chunk(self.norm_mixer(x), (state or {}).get("mixer"))
        x = x + mixed
        return x + self.ffn(x), {"mixer": mixer_state}
