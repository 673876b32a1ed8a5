"""S3-Router: fine-tuning an encoder's connections with learned binary masks, not its weights.

Written from "Losses Can Be Blessings: Routing Self-Supervised Speech Representations Towards
Efficient Multilingual and Multitask Speech Processing" (Fu et al., NeurIPS 2022). Every routed
weight ``w`` gets a real-valued score tensor ``s``; the forward uses ``w * m`` where the binary
mask ``m`` keeps the ``kept`` fraction of the largest ``|s|`` of that weight (a per-layer budget:
``kept=0.9`` is 10% sparsity). The backward pass is straight-through: ``m`` is treated as the
identity of ``|s|``, so the scores get ``dL/d(w*m) * w * sign(s)`` (``ste="sigmoid"``: the mask
keeps the largest ``s`` and the gradient is scaled by ``sigmoid'(s)``). The weights stay frozen
unless ``train_weights``.

What a routed encoder can hold:

- :class:`RoutedWeight`, a ``torch.nn.utils.parametrize`` parametrization of any weight tensor:
  unstructured top-k, or ``structure="rows"`` / ``"columns"``, which keeps whole output / input
  units ranked by the norm of their scores. A parametrization reaches every weight of the
  project's encoders the same way, including those read directly in a forward (the MHSA
  ``in_proj_weight``, SummaryMixing's block-diagonal weights and sliced combiner).
- :class:`MaskedUnits` (beyond the paper): one score per hidden unit, applied after the
  activation, in a feed-forward block (category ``ffn``) or over SummaryMixing's local and summary
  hidden units (category ``mixer``: the outputs of its fused first layer, the same number kept in
  every head). :func:`fold` turns it into SMALLER dense layers (the kept rows of the first linear,
  the kept columns of the next), so pruning gives a real speed-up (:func:`route_units`).

:func:`route_encoder` converts any project encoder (a ``PretrainedEncoder`` or a bare
``ContextEncoder``: Conformer, Branchformer, Transformer layers; SummaryMixing or MHSA mixers) in
place, and a public one (``efficient_ssl.models.public.PublicEncoder``: the transformers modules
of wav2vec 2.0, HuBERT, WavLM, data2vec-audio and wav2vec 2.0-Conformer, recognised by their
attribute names, so transformers is never imported here). What it routes (``select``), by
category: ``mixer`` (attention q/k/v/out: ``in_proj_weight`` / ``out_proj``, transformers'
``q_proj`` / ``k_proj`` / ``v_proj`` / ``out_proj`` or the Conformer's ``linear_q`` / ... /
``linear_out``; or every SummaryMixing linear), ``ffn`` (feed-forward and cgMLP linears,
transformers' ``intermediate_dense`` / ``output_dense``), ``conv`` (the Conformer convolution
module's pointwise linears / transformers' ``pointwise_conv1`` / ``pointwise_conv2``), ``merge``
(the Branchformer merge), ``proj`` (the projection after the frontend: ``input_proj``, or
transformers' ``feature_projection.projection``). Never routed: the frontend (CNN), the
depthwise / positional convolutions (and WavLM's relative-position gate), norms, biases and the
heads. Hidden-unit masks (:func:`route_units`, :func:`fold`) take transformers' feed-forward
blocks too.

Storage (paper 4's multilingual setting: one frozen shared encoder, one mask + head per task):
:func:`pack_masks` / :func:`load_masks` keep 1 bit per routed weight (or unit); :func:`pack_task`
/ :func:`load_task` hold one task's packed masks and every tensor outside the shared encoder,
tagged with :func:`frozen_fingerprint` of the encoder, so a task is refused on any other
encoder; :func:`task_sizes` counts their bytes (``efficient_ssl.models.asr.export_routing_task``
writes such a file after a routed fine-tuning run).

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from efficient_ssl.nnet.attention import MultiHeadSelfAttention
from efficient_ssl.nnet.branchformer import BranchformerLayer, ConvolutionalGatingMLP
from efficient_ssl.nnet.conformer import ConvolutionModule
from efficient_ssl.nnet.summary_mixing import ParallelLinear, SummaryMixing
from efficient_ssl.nnet.transformer import FeedForward

CATEGORIES = ("mixer", "ffn", "conv", "merge", "proj")
SELECTIONS = {"all": CATEGORIES, "ffn": ("ffn",)}
UNIT_CATEGORIES = ("ffn", "mixer")  # hidden units that fold: feed-forward blocks, SummaryMixing's f and s
SCORE_INITS = ("kaiming", "magnitude", "magnitude_rank", "magnitude_scale")
STRUCTURES = ("unstructured", "rows", "columns")
STES = ("ste", "sigmoid")
Kept = float | Mapping[str, float]
# transformers modules of the public encoders, by the attribute names of their linears
PUBLIC_ATTENTION = (("q_proj", "k_proj", "v_proj", "out_proj"), ("linear_q", "linear_k", "linear_v", "linear_out"))
PUBLIC_FFN = ("intermediate_dense", "intermediate_act_fn", "output_dense")  # first, activation, second
PUBLIC_CONV = ("pointwise_conv1", "pointwise_conv2")


def _has(module: nn.Module, names: Sequence[str], kind: type = nn.Linear) -> bool:
    return all(isinstance(getattr(module, name, None), kind) for name in names)


def ffn_parts(block: nn.Module) -> tuple[str, str, str] | None:
    """Attribute names (first linear, activation, second linear) of a feed-forward block: the
    project's :class:`FeedForward` or a transformers one; None for any other module.

    Example
    -------
    >>> ffn_parts(FeedForward(8, 16)), ffn_parts(nn.Linear(2, 2))
    (('1', '2', '4'), None)
    """
    if isinstance(block, FeedForward):
        return ("1", "2", "4")
    if _has(block, PUBLIC_FFN[::2]) and hasattr(block, PUBLIC_FFN[1]):
        return PUBLIC_FFN
    return None


class _StraightThroughTopK(torch.autograd.Function):
    """Binary mask of the ``k`` largest ``ranking`` values; the gradient passes unchanged."""

    @staticmethod
    def forward(ctx, ranking: torch.Tensor, k: int, per_row: bool) -> torch.Tensor:
        """ranking: any shape. Returns a 0/1 tensor of its shape and dtype with exactly k ones
        (per_row: k ones in every row along the last dim)."""
        if per_row:
            ranking = ranking.detach()
            return torch.zeros_like(ranking).scatter_(-1, ranking.topk(k, dim=-1, sorted=False).indices, 1.0)
        flat = ranking.detach().flatten()
        mask = torch.zeros_like(flat)
        mask[flat.topk(k, sorted=False).indices] = 1.0
        return mask.view_as(ranking)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None, None


def topk_mask(scores: torch.Tensor, k: int, ste: str = "ste", per_row: bool = False) -> torch.Tensor:
    """Binary mask keeping ``k`` elements of ``scores``, with a straight-through gradient.

    Arguments
    ---------
    scores : torch.Tensor
        Any shape.
    k : int
        How many ones, 1 <= k <= scores.numel().
    ste : str
        ``"ste"``: keep the largest ``|scores|``, gradient ``sign(scores)``;
        ``"sigmoid"``: keep the largest ``scores``, gradient ``sigmoid'(scores)``.
    per_row : bool
        False: ``k`` ones in the whole tensor; True: ``k`` ones in every row (last dim), with
        1 <= k <= scores.shape[-1].

    Returns
    -------
    torch.Tensor
        0/1, the shape and dtype of ``scores``.

    Example
    -------
    >>> topk_mask(torch.tensor([0.1, -3.0, 2.0, 0.5]), 2)
    tensor([0., 1., 1., 0.])
    >>> topk_mask(torch.tensor([[0.1, -3.0, 2.0], [5.0, 0.2, 0.3]]), 1, per_row=True)
    tensor([[0., 1., 0.],
            [1., 0., 0.]])
    """
    ranking = torch.sigmoid(scores) if ste == "sigmoid" else scores.abs()
    return _StraightThroughTopK.apply(ranking, k, per_row)


def kept_count(kept: float, total: int) -> int:
    """Elements kept out of ``total`` for a ratio: round(kept * total), at least 1.

    Example
    -------
    >>> kept_count(0.9, 1000), kept_count(0.0001, 10)
    (900, 1)
    """
    if not 0.0 < kept <= 1.0:
        raise ValueError(f"router: kept={kept} must be in (0, 1]")
    return max(1, min(total, round(kept * total)))


def init_scores(weight: torch.Tensor, score_init: str, fan_in: int) -> torch.Tensor:
    """Initial scores for ``weight`` (same shape).

    ``kaiming``: uniform in +-1/sqrt(fan_in) (the authors' default, the init of nn.Linear);
    ``magnitude``: |w|; ``magnitude_rank``: the rank of |w| divided by numel, in (0, 1];
    ``magnitude_scale``: |w| scaled so its largest value is the kaiming bound 1/sqrt(fan_in),
    so one score learning rate suits every layer. Every magnitude init starts from the
    magnitude-pruning mask.

    Example
    -------
    >>> init_scores(torch.tensor([[0.5, -2.0, 1.0]]), "magnitude_rank", fan_in=3)
    tensor([[0.3333, 1.0000, 0.6667]])
    """
    magnitude = weight.detach().abs().float()
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    if score_init == "kaiming":
        return torch.empty_like(magnitude).uniform_(-bound, bound)
    if score_init == "magnitude":
        return magnitude.clone()
    if score_init == "magnitude_rank":
        ranks = torch.empty_like(magnitude.flatten())
        ranks[magnitude.flatten().argsort()] = torch.arange(1, magnitude.numel() + 1, dtype=ranks.dtype)
        return (ranks / magnitude.numel()).view_as(magnitude)
    if score_init == "magnitude_scale":
        return magnitude * (bound / magnitude.max().clamp(min=1e-12))
    raise ValueError(f"router: unknown score_init {score_init!r}; use one of {SCORE_INITS}")


class RoutedWeight(nn.Module):
    """Parametrization ``w -> w * mask(scores)`` (register it with ``torch.nn.utils.parametrize``).

    Arguments
    ---------
    weight : torch.Tensor
        The weight to route (its scores get its shape).
    kept : float
        Fraction kept: of the elements (unstructured), or of the units (rows / columns).
    score_init : str
        One of ``SCORE_INITS``.
    structure : str
        ``"unstructured"``, ``"rows"`` (whole output units) or ``"columns"`` (whole input units),
        units ranked by the L2 norm of their scores.
    unit_dims : sequence of int
        Structured only: the dimensions that index a unit (for nn.Linear rows ``(0,)``).
    fan_in : int
        For the kaiming bound.
    ste : str
        ``"ste"`` or ``"sigmoid"`` (see :func:`topk_mask`).

    Example
    -------
    >>> layer = nn.Linear(10, 4)
    >>> _ = parametrize.register_parametrization(layer, "weight", RoutedWeight(layer.weight, 0.75, fan_in=10))
    >>> int((layer.weight != 0).sum())
    30
    """

    def __init__(
        self,
        weight: torch.Tensor,
        kept: float,
        score_init: str = "kaiming",
        structure: str = "unstructured",
        unit_dims: Sequence[int] = (0,),
        fan_in: int = 1,
        ste: str = "ste",
    ):
        super().__init__()
        if structure not in STRUCTURES:
            raise ValueError(f"router: unknown structure {structure!r}; use one of {STRUCTURES}")
        if ste not in STES:
            raise ValueError(f"router: unknown ste {ste!r}; use one of {STES}")
        self.structure = structure
        self.ste = ste
        self.unit_dims = tuple(d % weight.dim() for d in unit_dims)
        self.reduce_dims = tuple(d for d in range(weight.dim()) if d not in self.unit_dims)
        self.scores = nn.Parameter(init_scores(weight, score_init, fan_in).to(weight.device))
        units = self.scores.numel() if structure == "unstructured" else self._unit_shape().numel()
        self.k = kept_count(kept, units)

    def _unit_shape(self) -> torch.Size:
        return torch.Size([self.scores.shape[d] for d in self.unit_dims])

    def mask(self) -> torch.Tensor:
        """The 0/1 mask of the weight's shape (with the straight-through gradient)."""
        if self.structure == "unstructured":
            return topk_mask(self.scores, self.k, self.ste)
        unit_scores = self.scores.norm(dim=self.reduce_dims, keepdim=True)  # 1 along reduce_dims
        return topk_mask(unit_scores, self.k, self.ste).expand_as(self.scores)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        """Arguments: weight (the original). Returns weight * mask."""
        return weight * self.mask().to(weight.dtype)

    def set_mask(self, mask: torch.Tensor) -> None:
        """Sets the scores so that :meth:`mask` gives exactly ``mask`` (0/1 or bool)."""
        mask = mask.to(self.scores.device, torch.bool)
        if self.structure != "unstructured":
            mask = mask.amax(dim=self.reduce_dims, keepdim=True).expand_as(self.scores)
            count = int(mask.amax(dim=self.reduce_dims).sum())
        else:
            count = int(mask.sum())
        if count == 0:
            raise ValueError("router: a mask must keep at least one element")
        with torch.no_grad():
            self.scores.copy_(mask.to(self.scores.dtype) + 1.0)  # 2 kept, 1 dropped: any ste ranks them alike
        self.k = count


class MaskedUnits(nn.Module):
    """An activation followed by a learned keep-mask over its hidden units.

    Placed between the two linears of a :class:`FeedForward` (scores (units,)), it zeroes the
    output of the pruned hidden units, which is what removing the first linear's rows and the
    second one's columns does: :func:`fold` removes them. In a ``SummaryMixing`` (its
    ``hidden_mask``, activation ``nn.Identity``: the layer applies its own) the scores are
    (heads, units) over the head-major outputs of its fused first layer, split in
    ``segments`` (per head: the local then the summary hidden units): each segment keeps its
    own fraction, the same number in every head, so that folding leaves block-diagonal
    weights of one size per head.

    Arguments
    ---------
    activation : nn.Module
        The block's activation.
    scores : torch.Tensor
        (units,) or (heads, units) initial scores.
    kept : float
        Fraction of the units kept (of each segment, in each head).
    ste : str
        ``"ste"`` or ``"sigmoid"`` (see :func:`topk_mask`).
    segments : sequence of int, optional
        Sizes of consecutive groups of units along the last dim, each with its own budget;
        None: one group.

    Example
    -------
    >>> units = MaskedUnits(nn.ReLU(), torch.tensor([3.0, 0.1, 2.0, 0.2]), kept=0.5)
    >>> units(torch.ones(1, 4)).detach()
    tensor([[1., 0., 1., 0.]])
    >>> heads = MaskedUnits(nn.Identity(), torch.tensor([[3.0, 0.1, 0.2, 2.0], [0.1, 3.0, 2.0, 0.2]]),
    ...                     kept=0.5, segments=[2, 2])
    >>> heads(torch.ones(2, 1, 4)).detach()  # (heads, frames, units): one unit of each segment per head
    tensor([[[1., 0., 0., 1.]],
    <BLANKLINE>
            [[0., 1., 1., 0.]]])
    """

    def __init__(
        self,
        activation: nn.Module,
        scores: torch.Tensor,
        kept: float,
        ste: str = "ste",
        segments: Sequence[int] | None = None,
    ):
        super().__init__()
        if ste not in STES:
            raise ValueError(f"router: unknown ste {ste!r}; use one of {STES}")
        self.segments = [scores.shape[-1]] if segments is None else [int(size) for size in segments]
        if sum(self.segments) != scores.shape[-1] or scores.dim() > 2:
            raise ValueError(f"router: unit scores {tuple(scores.shape)} do not split in segments {self.segments}")
        self.activation = activation
        self.ste = ste
        self.scores = nn.Parameter(scores.detach().clone().float())
        self.k = [kept_count(kept, size) for size in self.segments]  # kept units per segment (and head)

    def mask(self) -> torch.Tensor:
        """0/1 mask of the scores' shape, straight-through gradient to the scores."""
        parts = self.scores.split(self.segments, dim=-1)
        return torch.cat([topk_mask(part, k, self.ste, per_row=True) for part, k in zip(parts, self.k)], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Arguments: x (..., units), or (heads, N, units) for (heads, units) scores. Returns
        activation(x) with the pruned units zeroed."""
        mask = self.mask().to(x.dtype)
        if mask.dim() == 2:
            mask = mask.unsqueeze(1)  # (heads, 1, units)
        return self.activation(x) * mask

    def set_mask(self, mask: torch.Tensor) -> None:
        """Sets the scores so that :meth:`mask` gives exactly ``mask`` (the scores' shape, 0/1 or
        bool; every head keeps the same number of units of a segment)."""
        mask = mask.to(self.scores.device, torch.bool).view_as(self.scores)
        counts = [part.sum(dim=-1).flatten() for part in mask.split(self.segments, dim=-1)]
        if any(int(c.min()) != int(c.max()) for c in counts):
            raise ValueError("router: a unit mask must keep as many units in every head")
        if any(int(c[0]) == 0 for c in counts):
            raise ValueError("router: a mask must keep at least one unit")
        with torch.no_grad():
            self.scores.copy_(mask.to(self.scores.dtype) + 1.0)
        self.k = [int(c[0]) for c in counts]


@dataclass
class Target:
    """A routable weight: ``getattr(module, name)``, its category and unit layout."""

    module: nn.Module
    name: str
    category: str
    rows: tuple[int, ...] = (0,)  # dims indexing an output unit
    columns: tuple[int, ...] = (1,)  # dims indexing an input unit

    def fan_in(self) -> int:
        weight = getattr(self.module, self.name)
        return math.prod(weight.shape[d] for d in range(weight.dim()) if d not in self.rows)


def find_targets(encoder: nn.Module) -> dict[str, Target]:
    """Every routable weight of a project encoder, by qualified parameter name.

    Arguments
    ---------
    encoder : nn.Module
        A ``PretrainedEncoder``, a ``ContextEncoder``, a layer, or any module holding them.

    Returns
    -------
    dict
        {qualified name: Target}, in module order.

    Example
    -------
    >>> from efficient_ssl.nnet.encoders import ContextEncoder
    >>> targets = find_targets(ContextEncoder(1, 8, 2, 16, layer_type="transformer", attention_type="regularMHA"))
    >>> {name: t.category for name, t in targets.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'layers.0.mixer.in_proj_weight': 'mixer', 'layers.0.mixer.out_proj.weight': 'mixer',
     'layers.0.ffn.1.weight': 'ffn', 'layers.0.ffn.4.weight': 'ffn'}
    """
    found: dict[str, Target] = {}

    def add(prefix: str, module: nn.Module, name: str, category: str, **dims) -> None:
        found[f"{prefix}{'.' if prefix else ''}{name}"] = Target(module, name.rsplit(".", 1)[-1], category, **dims)

    for prefix, module in encoder.named_modules():
        if isinstance(getattr(module, "input_proj", None), nn.Linear):  # PretrainedEncoder
            add(prefix, module.input_proj, "input_proj.weight", "proj")
        parts = ffn_parts(module)
        if parts is not None:  # FeedForward, transformers' feed-forward
            add(prefix, getattr(module, parts[0]), f"{parts[0]}.weight", "ffn")
            add(prefix, getattr(module, parts[2]), f"{parts[2]}.weight", "ffn")
        elif type(module).__name__.endswith("FeatureProjection") and _has(module, ["projection"]):  # transformers
            add(prefix, module.projection, "projection.weight", "proj")
        elif any(_has(module, names) for names in PUBLIC_ATTENTION):  # transformers' attention
            for name in next(names for names in PUBLIC_ATTENTION if _has(module, names)):
                add(prefix, getattr(module, name), f"{name}.weight", "mixer")
        elif _has(module, PUBLIC_CONV, nn.Conv1d):  # transformers' Conformer convolution module
            for name in PUBLIC_CONV:
                add(prefix, getattr(module, name), f"{name}.weight", "conv")
        elif isinstance(module, ConvolutionalGatingMLP):
            add(prefix, module.proj_in[0], "proj_in.0.weight", "ffn")
            add(prefix, module.proj_out, "proj_out.weight", "ffn")
        elif isinstance(module, ConvolutionModule):
            add(prefix, module.pointwise_in, "pointwise_in.weight", "conv")
            add(prefix, module.post[1], "post.1.weight", "conv")
        elif isinstance(module, BranchformerLayer):
            add(prefix, module.merge, "merge.weight", "merge")
        elif isinstance(module, (MultiHeadSelfAttention, nn.MultiheadAttention)):
            if getattr(module, "in_proj_weight", None) is not None:
                add(prefix, module, "in_proj_weight", "mixer")
            add(prefix, module.out_proj, "out_proj.weight", "mixer")
        elif isinstance(module, SummaryMixing):
            for name, sub in module.named_modules():
                if isinstance(sub, ParallelLinear):  # (H, in / H, out / H)
                    add(prefix, sub, f"{name}.weight", "mixer", rows=(0, 2), columns=(0, 1))
                elif isinstance(sub, nn.Linear):
                    add(prefix, sub, f"{name}.weight", "mixer")
    return found


def _kept_for(name: str, category: str, kept: Kept) -> float:
    """The kept ratio of one weight: ``kept`` itself, or the first key of a dict matching its
    category or (fnmatch) its qualified name, else the dict's ``"default"``."""
    if not isinstance(kept, Mapping):
        return float(kept)
    for key, value in kept.items():
        if key == category or fnmatch.fnmatchcase(name, key):
            return float(value)
    if "default" not in kept:
        raise ValueError(f"router: no kept ratio for {name} ({category}); add a 'default' key")
    return float(kept["default"])


def _categories(select: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(select, str):
        if select in SELECTIONS:
            return SELECTIONS[select]
        select = [select]
    chosen = tuple(select)
    unknown = set(chosen) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"router: unknown select {sorted(unknown)}; use {list(SELECTIONS)} or some of {CATEGORIES}")
    return chosen


def route_encoder(
    encoder: nn.Module,
    select: str | Iterable[str] = "all",
    kept: Kept = 0.9,
    score_init: str = "kaiming",
    structure: str = "unstructured",
    ste: str = "ste",
    train_weights: bool = False,
) -> dict[str, RoutedWeight]:
    """Routes the selected weights of ``encoder`` in place.

    Arguments
    ---------
    encoder : nn.Module
        A project encoder (see :func:`find_targets`).
    select : str or iterable of str
        ``"all"`` (the paper), ``"ffn"`` (the feed-forward layers only, as the authors' README
        commands) or categories among ``CATEGORIES``.
    kept : float or dict
        Fraction kept per weight; a dict maps categories or fnmatch patterns over qualified
        names (e.g. ``"layers.0.*"``) to ratios, first match wins, ``"default"`` otherwise.
    score_init : str
        One of ``SCORE_INITS``.
    structure : str
        ``"unstructured"``, ``"rows"`` or ``"columns"``.
    ste : str
        ``"ste"`` or ``"sigmoid"``.
    train_weights : bool
        False (the paper): every parameter of the encoder is frozen, only the scores train.
        True: co-training, nothing is frozen.

    Returns
    -------
    dict
        {qualified weight name: RoutedWeight}.

    Example
    -------
    >>> from efficient_ssl.nnet.encoders import ContextEncoder
    >>> encoder = ContextEncoder(2, 8, 2, 16, kernel_size=3)
    >>> routed = route_encoder(encoder, kept=0.5)
    >>> sparsity(encoder)["kept_fraction"]
    0.5
    >>> sorted({p.requires_grad for n, p in encoder.named_parameters() if not n.endswith("scores")})
    [False]
    """
    categories = _categories(select)
    if not train_weights:
        encoder.requires_grad_(False)
    routed = {}
    for name, target in find_targets(encoder).items():
        if target.category not in categories:
            continue
        if parametrize.is_parametrized(target.module, target.name):
            raise ValueError(f"router: {name} is routed already")
        weight = getattr(target.module, target.name)
        router = RoutedWeight(
            weight,
            _kept_for(name, target.category, kept),
            score_init,
            structure,
            target.rows if structure == "rows" else target.columns,
            target.fan_in(),
            ste,
        )
        parametrize.register_parametrization(target.module, target.name, router)
        routed[name] = router
    if not routed:
        raise ValueError(f"router: nothing to route in {type(encoder).__name__} for select={select!r}")
    return routed


def _unit_categories(select: str | Iterable[str]) -> tuple[str, ...]:
    chosen = UNIT_CATEGORIES if select == "all" else (select,) if isinstance(select, str) else tuple(select)
    unknown = set(chosen) - set(UNIT_CATEGORIES)
    if unknown:
        raise ValueError(f"router: hidden-unit masks take 'all' or some of {UNIT_CATEGORIES}, not {sorted(unknown)}")
    return chosen


def route_units(
    encoder: nn.Module,
    select: str | Iterable[str] = "all",
    kept: Kept = 0.5,
    score_init: str = "magnitude",
    ste: str = "ste",
    train_weights: bool = False,
) -> dict[str, MaskedUnits]:
    """Puts a learned hidden-unit mask (:class:`MaskedUnits`) into every selected block, in place;
    :func:`fold` then removes the pruned units.

    - ``ffn``: every feed-forward block (:class:`FeedForward`, or transformers' feed-forward of a
      public encoder: see :func:`ffn_parts`), over its hidden units (after the activation).
    - ``mixer``: every ``SummaryMixing`` over its local and summary hidden units (the activated
      outputs of its fused first layer, its ``hidden_mask``). Each branch keeps ``kept`` of its
      units in every head, the same number in each, so that folding leaves block-diagonal
      weights with one size per head. Skipped: a layer whose first layer's outputs are not all
      hidden units (mode ``"SummaryMixing-fast"``, or an empty hidden-size list), because those
      feed a LayerNorm, which sees every feature: zeroing them does not fold into smaller layers.
      Multi-head attention has no foldable hidden units.

    Arguments
    ---------
    encoder : nn.Module
        A project encoder.
    select : str or iterable of str
        ``"all"`` or some of ``UNIT_CATEGORIES`` (``"ffn"``, ``"mixer"``).
    kept : float or dict
        Fraction of each block's hidden units kept (a dict as in :func:`route_encoder`, over the
        blocks' qualified names, category ``"ffn"`` or ``"mixer"``).
    score_init : str
        ``"kaiming"`` (uniform), or a magnitude init applied to each unit's importance
        ``||its row of the first layer|| * ||its column of the next||``.
    ste : str
        ``"ste"`` or ``"sigmoid"``.
    train_weights : bool
        False: the encoder is frozen, only the unit scores train.

    Returns
    -------
    dict
        {qualified block name: MaskedUnits}.

    Example
    -------
    >>> from efficient_ssl.nnet.encoders import ContextEncoder
    >>> encoder = ContextEncoder(2, 8, 2, 16, layer_type="transformer")
    >>> list(route_units(encoder, kept=0.5))
    ['layers.0.mixer', 'layers.0.ffn', 'layers.1.mixer', 'layers.1.ffn']
    >>> encoder.layers[0].mixer.hidden_mask.mask().sum(dim=-1)  # per head: 2 of 4 local + 2 of 4 summary
    tensor([4., 4.], grad_fn=<SumBackward1>)
    """
    categories = _unit_categories(select)
    if not train_weights:
        encoder.requires_grad_(False)
    masked = {}
    for name, block in list(encoder.named_modules()):
        parts = ffn_parts(block)
        if parts is not None and "ffn" in categories:
            first, activation, second = (getattr(block, part) for part in parts)
            if isinstance(activation, MaskedUnits):
                raise ValueError(f"router: {name} has a unit mask already")
            importance = first.weight.detach().norm(dim=1) * second.weight.detach().norm(dim=0)  # (units,)
            units = _masked_units(name, "ffn", activation, importance, first.in_features, kept, score_init, ste)
            setattr(block, parts[1], units)
        elif isinstance(block, SummaryMixing) and "mixer" in categories:
            layout = block.first_units()
            weight = block.first.weight.detach()  # (H, d_model / H, first_out / H)
            if sum(size for size, _ in layout.values()) != weight.shape[-1]:
                continue  # outputs of `first` that feed a LayerNorm: nothing folds
            if block.hidden_mask is not None:
                raise ValueError(f"router: {name} has a unit mask already")
            column = torch.cat([nxt.weight.detach().norm(dim=2) for _, nxt in layout.values()], dim=-1)  # (H, U)
            importance = weight.norm(dim=1) * column  # (H, U): per head, [local units ; summary units]
            units = _masked_units(name, "mixer", nn.Identity(), importance, weight.shape[1], kept, score_init, ste,
                                  segments=[size for size, _ in layout.values()])
            block.hidden_mask = units
        else:
            continue
        masked[name] = units
    if not masked:
        raise ValueError(f"router: {type(encoder).__name__} has no hidden units to mask for select={select!r}: "
                         "feed-forward blocks (ffn) or SummaryMixing with hidden layers (mixer; not the -fast mode)")
    return masked


def _masked_units(
    name: str,
    category: str,
    activation: nn.Module,
    importance: torch.Tensor,
    fan_in: int,
    kept: Kept,
    score_init: str,
    ste: str,
    segments: Sequence[int] | None = None,
) -> MaskedUnits:
    """The unit mask of one block, scores initialised from the units' ``importance``."""
    scores = init_scores(importance, score_init, fan_in=fan_in).to(importance.device)
    return MaskedUnits(activation, scores, _kept_for(name, category, kept), ste, segments)


def route_ffn_units(
    encoder: nn.Module,
    kept: Kept = 0.5,
    score_init: str = "magnitude",
    ste: str = "ste",
    train_weights: bool = False,
) -> dict[str, MaskedUnits]:
    """:func:`route_units` over the feed-forward blocks only (``select="ffn"``).

    Example
    -------
    >>> from efficient_ssl.nnet.encoders import ContextEncoder
    >>> encoder = ContextEncoder(2, 8, 2, 16, layer_type="transformer")
    >>> list(route_ffn_units(encoder, kept=0.5))
    ['layers.0.ffn', 'layers.1.ffn']
    """
    return route_units(encoder, "ffn", kept, score_init, ste, train_weights)


def routers(model: nn.Module) -> dict[str, RoutedWeight | MaskedUnits]:
    """Every router of ``model`` by name: ``<weight name>`` for weights, ``<block>`` for units (the
    feed-forward block or the SummaryMixing layer)."""
    found = {}
    for name, module in model.named_modules():
        if isinstance(module, MaskedUnits):
            found[name.rsplit(".", 1)[0]] = module
        elif parametrize.is_parametrized(module):
            for tensor, plist in module.parametrizations.items():
                for p in plist:
                    if isinstance(p, RoutedWeight):
                        found[f"{name}{'.' if name else ''}{tensor}"] = p
    return found


def score_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The score tensors of every router of ``model`` (what the score optimiser trains)."""
    return [router.scores for router in routers(model).values()]


def sparsity(model: nn.Module) -> dict:
    """Kept and total counts of every router's mask (elements for weights, units for blocks).

    Returns
    -------
    dict
        ``{"kept": int, "total": int, "kept_fraction": float, "layers": {name: [kept, total]}}``.
    """
    layers = {}
    with torch.no_grad():
        for name, router in routers(model).items():
            mask = router.mask()
            layers[name] = [int(mask.sum()), mask.numel()]
    kept = sum(k for k, _ in layers.values())
    total = sum(t for _, t in layers.values())
    return {"kept": kept, "total": total, "kept_fraction": kept / max(total, 1), "layers": layers}


def fold(model: nn.Module) -> nn.Module:
    """Replaces every router of ``model`` by plain weights, in place (inference).

    Routed weights become ``w * mask`` (a plain ``Parameter``); hidden-unit masks become smaller
    dense layers holding only the kept units (a feed-forward block's first and second linears;
    a SummaryMixing's first layer and the next layer of each masked branch, still block-diagonal:
    every head keeps as many units). The result computes what the routed model computes, with no
    mask work and, for unit masks, fewer MACs; SummaryMixing's streaming state keeps its shape.

    Example
    -------
    >>> from efficient_ssl.nnet.encoders import ContextEncoder
    >>> encoder = ContextEncoder(1, 8, 2, 16, layer_type="transformer").eval()
    >>> _ = route_ffn_units(encoder, kept=0.5)
    >>> x = torch.rand(2, 5, 8)
    >>> masked = encoder(x)[0]
    >>> torch.allclose(fold(encoder)(x)[0], masked, atol=1e-6), encoder.layers[0].ffn[1].out_features
    (True, 8)
    >>> _ = route_units(encoder, "mixer", kept=0.5)
    >>> masked = encoder(x)[0]
    >>> torch.allclose(fold(encoder)(x)[0], masked, atol=1e-6), tuple(encoder.layers[0].mixer.first.weight.shape)
    (True, (2, 4, 4))
    """
    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for tensor in list(module.parametrizations.keys()):
                if any(isinstance(p, RoutedWeight) for p in module.parametrizations[tensor]):
                    parametrize.remove_parametrizations(module, tensor, leave_parametrized=True)
    for block in list(model.modules()):
        parts = ffn_parts(block)
        if parts is not None and isinstance(getattr(block, parts[1]), MaskedUnits):
            first, units, second = (getattr(block, part) for part in parts)
            keep = units.mask().detach().bool()
            setattr(block, parts[0], _linear_subset(first, rows=keep))
            setattr(block, parts[2], _linear_subset(second, columns=keep))
            setattr(block, parts[1], units.activation)
        elif isinstance(block, SummaryMixing) and isinstance(block.hidden_mask, MaskedUnits):
            _fold_summary_mixing(block)
    return model


def _fold_summary_mixing(mixer: SummaryMixing) -> None:
    """Removes the units pruned by ``mixer.hidden_mask``: outputs of ``first``, inputs of the next
    layer of each branch (per head), and the mask itself."""
    keep = mixer.hidden_mask.mask().detach().bool()  # (H, first_out / H), as many per head
    layout = mixer.first_units()
    mixer.first = _parallel_subset(mixer.first, outputs=keep)
    for (branch, (_, nxt)), part in zip(layout.items(), keep.split([size for size, _ in layout.values()], dim=-1)):
        layers = mixer.local_layers if branch == "local" else mixer.summary_layers
        layers[0] = _parallel_subset(nxt, inputs=part)
        if branch == "local":
            mixer.local_split = int(part[0].sum())
    mixer.hidden_mask = None


def _parallel_subset(layer: ParallelLinear, inputs=None, outputs=None) -> ParallelLinear:
    """A new ParallelLinear with the selected inputs / outputs of every head ((H, units) bool
    masks keeping as many units in every head)."""
    weight, bias = layer.weight.detach(), layer.bias.detach()  # (H, in, out), (H, 1, out)
    heads = weight.shape[0]
    if outputs is not None:
        weight = weight.transpose(1, 2)[outputs].view(heads, -1, weight.shape[1]).transpose(1, 2)  # (H, in, kept)
        bias = bias[:, 0][outputs].view(heads, 1, -1)
    if inputs is not None:
        weight = weight[inputs].view(heads, -1, weight.shape[2])  # (H, kept, out)
    new = ParallelLinear(heads * weight.shape[1], heads * weight.shape[2], heads)
    new.weight, new.bias = nn.Parameter(weight.contiguous()), nn.Parameter(bias.contiguous())
    return new


def _linear_subset(layer: nn.Linear, rows=None, columns=None) -> nn.Linear:
    """A new nn.Linear with the selected output rows / input columns of ``layer``."""
    weight = layer.weight.detach()
    bias = None if layer.bias is None else layer.bias.detach()
    if rows is not None:
        weight, bias = weight[rows], None if bias is None else bias[rows]
    if columns is not None:
        weight = weight[:, columns]
    new = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        new.weight.copy_(weight)
        if bias is not None:
            new.bias.copy_(bias)
    return new


def pack_mask(mask: torch.Tensor) -> torch.Tensor:
    """A mask packed 8 elements per byte (uint8, flat); :func:`unpack_mask` inverts it.

    Example
    -------
    >>> mask = torch.rand(3, 7) > 0.5
    >>> bits = pack_mask(mask)
    >>> bits.numel(), torch.equal(unpack_mask(bits, mask.shape), mask)
    (3, True)
    """
    return torch.from_numpy(np.packbits(mask.detach().bool().flatten().cpu().numpy()))


def unpack_mask(bits: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The bool mask of ``shape`` packed by :func:`pack_mask`."""
    count = math.prod(shape)
    return torch.from_numpy(np.unpackbits(bits.cpu().numpy(), count=count).astype(bool)).view(*shape)


def _unit_mask(router) -> torch.Tensor:
    """What identifies a router's mask: the elements, or for structured weights the units."""
    mask = router.mask().detach()
    if isinstance(router, RoutedWeight) and router.structure != "unstructured":
        mask = mask.amax(dim=router.reduce_dims)
    return mask.bool()


def pack_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every router's mask of ``model``, packed: {name: uint8 bits} (structured weights store one
    bit per unit). The storage of one task's routing; :func:`load_masks` applies it."""
    return {name: pack_mask(_unit_mask(router)) for name, router in routers(model).items()}


def load_masks(model: nn.Module, packed: Mapping[str, torch.Tensor]) -> None:
    """Applies masks from :func:`pack_masks` to a model routed the same way (scores are set so the
    masks come out exactly; a mask keeping k elements sets that router's k)."""
    found = routers(model)
    missing = set(found) ^ set(packed)
    if missing:
        raise ValueError(f"router: masks and routers differ on {sorted(missing)[:5]}")
    for name, router in found.items():
        shape = _unit_mask(router).shape
        mask = unpack_mask(packed[name], shape)
        if isinstance(router, RoutedWeight) and router.structure != "unstructured":
            for dim in router.reduce_dims:
                mask = mask.unsqueeze(dim)
            mask = mask.expand_as(router.scores)
        router.set_mask(mask)


def packed_bytes(packed: Mapping[str, torch.Tensor]) -> int:
    """Bytes of packed masks."""
    return sum(bits.numel() for bits in packed.values())


def tensor_bytes(module: nn.Module, exclude_scores: bool = True) -> int:
    """Bytes of a module's parameters and buffers as stored (scores left out by default)."""
    tensors = [(n, t) for n, t in module.state_dict().items()]
    return sum(t.numel() * t.element_size() for n, t in tensors if not (exclude_scores and n.endswith("scores")))


def build_router(
    encoder: nn.Module,
    routing: str | None,
    kept: Kept = 0.9,
    select: str | Iterable[str] = "all",
    score_init: str = "kaiming",
    ste: str = "ste",
    train_weights: bool = False,
) -> dict:
    """The routing of a recipe key: ``None`` (nothing), ``"unstructured"`` (the paper),
    ``"rows"`` / ``"columns"`` (structured weights) or ``"structured"`` (hidden units, which
    :func:`fold` makes smaller: see :func:`route_units`). Returns the routers made.

    With ``"structured"``, ``select`` names the unit categories: ``"ffn"``, ``"mixer"``
    (SummaryMixing's hidden units) or both (``["ffn", "mixer"]``). ``"all"`` keeps the meaning it
    had before SummaryMixing units could be masked, the feed-forward units only, so that models and
    task files saved with ``routing="structured"`` load unchanged."""
    if routing is None or routing == "none":
        return {}
    if routing == "structured":
        return route_units(encoder, "ffn" if select == "all" else select, kept, score_init, ste, train_weights)
    if routing in STRUCTURES:
        return route_encoder(encoder, select, kept, score_init, routing, ste, train_weights)
    raise ValueError(f"router: unknown routing {routing!r}; use null, structured or one of {STRUCTURES}")


# One task's routing over a shared frozen module (multilingual masks: one encoder, N small files)

TASK_FORMAT = "s3router-task/1"


def _canonical_name(name: str) -> str:
    """A state_dict name without parametrization wrapping: ``a.parametrizations.weight.original``
    -> ``a.weight``, so a routed module's frozen tensors carry the names of the plain module's."""
    return name.replace(".parametrizations.", ".").replace(".original", "") if ".parametrizations." in name else name


def frozen_fingerprint(module: nn.Module) -> str:
    """sha256 of a module's floating-point parameters and buffers (scores left out), under their
    plain names: the same for a module and for it routed, as long as its weights are unchanged.

    Example
    -------
    >>> from efficient_ssl.nnet.encoders import ContextEncoder
    >>> encoder = ContextEncoder(1, 8, 2, 16, layer_type="transformer")
    >>> before = frozen_fingerprint(encoder)
    >>> _ = route_encoder(encoder, kept=0.5)
    >>> frozen_fingerprint(encoder) == before
    True
    """
    import hashlib

    digest = hashlib.sha256()
    state = {_canonical_name(n): t for n, t in module.state_dict().items() if not n.endswith("scores")}
    for name in sorted(state):
        tensor = state[name]
        if tensor.is_floating_point():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def pack_task(model: nn.Module, shared: str = "encoder") -> dict:
    """One task's routing of ``model`` over its frozen submodule ``shared``: every router's mask
    packed into one bit string, and every tensor outside ``shared`` (the heads).

    Arguments
    ---------
    model : nn.Module
        Routed, with its routers inside ``getattr(model, shared)``.
    shared : str
        The attribute of the frozen module shared by every task (stored once, elsewhere).

    Returns
    -------
    dict
        ``{"format", "mask_names", "mask_sizes" (bits per router), "masks" (uint8, 8 bits a
        byte, all routers concatenated), "head" ({name: tensor}), "shared_fingerprint"}``:
        tensors and plain containers, for ``torch.save`` and ``torch.load(weights_only=True)``.
        :func:`load_task` applies it to a model routed the same way.

    Example
    -------
    >>> from efficient_ssl.nnet.encoders import ContextEncoder
    >>> model = nn.Module()
    >>> model.encoder, model.head = ContextEncoder(1, 8, 2, 16, layer_type="transformer"), nn.Linear(8, 3)
    >>> _ = route_encoder(model.encoder, kept=0.5)
    >>> task = pack_task(model)
    >>> sum(task["mask_sizes"]), task["masks"].numel(), sorted(task["head"])
    (512, 64, ['head.bias', 'head.weight'])
    """
    found = routers(getattr(model, shared))
    if not found:
        raise ValueError(f"router: {shared} of {type(model).__name__} is not routed: nothing to pack")
    units = [_unit_mask(r).flatten() for r in found.values()]
    prefix = f"{shared}."
    return {
        "format": TASK_FORMAT,
        "mask_names": list(found),
        "mask_sizes": [u.numel() for u in units],
        "masks": pack_mask(torch.cat(units)),
        "head": {n: t.detach().cpu().clone() for n, t in model.state_dict().items() if not n.startswith(prefix)},
        "shared_fingerprint": frozen_fingerprint(getattr(model, shared)),
    }


def load_task(model: nn.Module, task: Mapping, shared: str = "encoder", source: str = "task") -> None:
    """Applies :func:`pack_task`'s output to ``model``: its shared module (routed the same way,
    holding the shared weights) gets the task's masks, the rest of the model the task's tensors.

    Arguments
    ---------
    model : nn.Module
        Built like the packed one, around the shared module.
    task : dict
        From :func:`pack_task` (or ``torch.load`` of it).
    shared : str
        The attribute of the shared module.
    source : str
        Where the task came from, for error messages.
    """
    if task.get("format") != TASK_FORMAT:
        raise ValueError(f"{source}: not an S3-Router task (format {task.get('format')!r}, expected {TASK_FORMAT!r})")
    module = getattr(model, shared)
    if frozen_fingerprint(module) != task["shared_fingerprint"]:
        raise ValueError(f"{source}: made over other {shared} weights than the ones given; pass the shared "
                         f"{shared} the task was trained over")
    found = routers(module)
    if list(found) != list(task["mask_names"]):
        raise ValueError(f"{source}: masks and routers differ ({len(task['mask_names'])} masks, {len(found)} "
                         "routers); build the model with the task's routing options")
    bits = unpack_mask(task["masks"], (sum(task["mask_sizes"]),))
    offset = 0
    for (name, router), size in zip(found.items(), task["mask_sizes"]):
        shape = _unit_mask(router).shape
        if math.prod(shape) != size:
            raise ValueError(f"{source}: the mask of {name} has {size} bits, its router {math.prod(shape)}")
        mask = bits[offset:offset + size].view(shape)
        offset += size
        if isinstance(router, RoutedWeight) and router.structure != "unstructured":
            for dim in router.reduce_dims:
                mask = mask.unsqueeze(dim)
            mask = mask.expand_as(router.scores)
        router.set_mask(mask)
    missing, unexpected = model.load_state_dict(task["head"], strict=False)
    prefix = f"{shared}."
    missing = [n for n in missing if not n.startswith(prefix)]
    if missing or unexpected:
        raise ValueError(f"{source}: head tensors differ from the model's (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")


def task_sizes(task: Mapping) -> dict[str, int]:
    """Bytes of a packed task: ``mask_bytes`` (the bits), ``mask_file_bytes`` (the masks with
    their names and sizes, serialised alone by ``torch.save``) and ``head_bytes`` (the tensors)."""
    import io

    buffer = io.BytesIO()
    torch.save({k: task[k] for k in ("format", "mask_names", "mask_sizes", "masks")}, buffer)
    return {
        "mask_bytes": task["masks"].numel(),
        "mask_file_bytes": buffer.getbuffer().nbytes,
        "head_bytes": sum(t.numel() * t.element_size() for t in task["head"].values()),
    }
