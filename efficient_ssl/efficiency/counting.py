"""Parameter and FLOP counts.

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode`,
which reads the shapes of every aten operator that runs (forward and, if the
counted code calls it, backward) and sums analytic counts for the operators
it knows: matrix products (mm, addmm, bmm, baddbmm, matmul), convolutions
and their backward, and scaled dot-product attention (all kernels, flash
included). A multiply-add counts as 2 FLOPs, so ``macs = flops // 2``
throughout this project (papers quoting "GMACs" divide our FLOPs by two).

Two fixes to torch's registry, in :data:`FLOP_FORMULAS`, passed to every counter as its
``custom_mapping`` (torch's global registry is left untouched):

- it lacks the CPU flash-attention kernel that ``scaled_dot_product_attention`` runs on
  CPU (``aten._scaled_dot_product_flash_attention_for_cpu`` and its backward); they are
  counted with torch's own SDPA formulas (``sdpa_flop_count``: 4*B*H*T*S*D forward, as the
  explicit ``softmax(q @ k^T) @ v``; ``sdpa_backward_flop_count``: the backward, which
  recomputes the scores);
- its ``convolution_backward`` formula ignores groups in the weight gradient, counting a
  depthwise convolution's backward as a dense one (256x too many FLOPs for the Conformer
  convolution module); :func:`conv_backward_flop` counts each gradient as one forward.

Not counted: elementwise and reduction operators (activations, additions,
bias, normalisation, softmax outside SDPA, pooling, FFT, STFT). For the
encoders of this project matrix products dominate, so this is the standard
convention of FLOP tables, but a feature extractor made of elementwise ops
counts as nearly free.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import (
    FlopCounterMode,
    conv_flop_count,
    sdpa_backward_flop_count,
    sdpa_flop_count,
)

aten = torch.ops.aten


def cpu_sdpa_flop(
    query_shape: torch.Size,
    key_shape: torch.Size,
    value_shape: torch.Size,
    *args: Any,
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    """FLOPs of ``aten._scaled_dot_product_flash_attention_for_cpu`` (no causal discount).

    Arguments
    ---------
    query_shape : torch.Size
        (B, H, T, D).
    key_shape : torch.Size
        (B, H_kv, S, D).
    value_shape : torch.Size
        (B, H_kv, S, D_v).
    *args, out_shape, **kwargs
        The operator's other arguments and output shapes, unused.

    Returns
    -------
    int
        ``2*B*H*T*S*D + 2*B*H*T*S*D_v``.

    Example
    -------
    >>> cpu_sdpa_flop(torch.Size([2, 4, 10, 8]), torch.Size([2, 4, 10, 8]), torch.Size([2, 4, 10, 8]))
    25600
    """
    del args, out_shape, kwargs
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def cpu_sdpa_backward_flop(
    grad_out_shape: torch.Size,
    query_shape: torch.Size,
    key_shape: torch.Size,
    value_shape: torch.Size,
    *args: Any,
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    """FLOPs of ``aten._scaled_dot_product_flash_attention_for_cpu_backward``.

    Arguments
    ---------
    grad_out_shape : torch.Size
        (B, H, T, D_v).
    query_shape : torch.Size
        (B, H, T, D).
    key_shape : torch.Size
        (B, H_kv, S, D).
    value_shape : torch.Size
        (B, H_kv, S, D_v).
    *args, out_shape, **kwargs
        The operator's other arguments and output shapes, unused.

    Returns
    -------
    int
        Five (B*H, T, S)-sized products: the recomputed scores and the four gradients
        (``10*B*H*T*S*D`` when all head sizes are D).

    Example
    -------
    >>> shape = torch.Size([2, 4, 10, 8])
    >>> cpu_sdpa_backward_flop(shape, shape, shape, shape)
    64000
    """
    del args, out_shape, kwargs
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def conv_backward_flop(
    grad_out_shape: torch.Size,
    x_shape: torch.Size,
    w_shape: torch.Size,
    _bias: Any,
    _stride: Any,
    _padding: Any,
    _dilation: Any,
    transposed: bool,
    _output_padding: Any,
    _groups: int,
    output_mask: list[bool],
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    """FLOPs of ``aten.convolution_backward``, grouped convolutions included.

    The input gradient and the weight gradient each take the multiply-adds of the forward
    convolution, whose count the weight shape (C_out, C_in / groups, *kernel) already
    gives. torch's own formula rebuilds the weight gradient as a dense convolution over
    all input channels, so for a depthwise convolution it counts C times too many.

    Arguments
    ---------
    grad_out_shape : torch.Size
        (B, C_out, *out) (for a transposed convolution, its output).
    x_shape : torch.Size
        (B, C_in, *in).
    w_shape : torch.Size
        (C_out, C_in / groups, *kernel) (transposed: (C_in, C_out / groups, *kernel)).
    _bias, _stride, _padding, _dilation, _output_padding, _groups : Any
        Unused.
    transposed : bool
        A transposed convolution.
    output_mask : list of bool
        Which of the input, weight and bias gradients are computed.
    out_shape, **kwargs : Any
        Unused.

    Returns
    -------
    int
        FLOPs.

    Example
    -------
    >>> depthwise = dict(grad_out_shape=[2, 256, 100], x_shape=[2, 256, 100], w_shape=[256, 1, 31])
    >>> conv_backward_flop(**depthwise, _bias=None, _stride=[1], _padding=[15], _dilation=[1],
    ...     transposed=False, _output_padding=[0], _groups=256, output_mask=[True, True, False])
    6348800
    """
    del out_shape, kwargs
    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


FLOP_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: cpu_sdpa_backward_flop,
    aten.convolution_backward: conv_backward_flop,
}


def count_parameters(module: torch.nn.Module, trainable_only: bool = False) -> int:
    """Return the number of parameters of ``module`` (shared ones once).

    Arguments
    ---------
    module : torch.nn.Module
        The module to count.
    trainable_only : bool
        Count only parameters with ``requires_grad=True``.

    Returns
    -------
    int
        The number of scalar parameters.

    Example
    -------
    >>> layer = torch.nn.Linear(4, 3)
    >>> count_parameters(layer)
    15
    >>> _ = layer.bias.requires_grad_(False)
    >>> count_parameters(layer, trainable_only=True)
    12
    """
    return sum(
        p.numel() for p in module.parameters() if p.requires_grad or not trainable_only
    )


class FlopCounter:
    """Context manager counting the FLOPs run inside it, total and per module.

    Per-module counts come free with the total: each count is added to every
    module whose forward (or backward) is running, so a parent includes its
    children. Module names are the class name of the outermost module
    followed by attribute paths, e.g. ``"Sequential.0"``.

    Attributes
    ----------
    flops : int
        Total FLOPs counted (after exit).
    macs : int
        ``flops // 2``.

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> with FlopCounter() as counter:
    ...     _ = net(torch.rand(5, 4))
    >>> counter.flops, counter.macs
    (480, 240)
    >>> counter.by_module()
    {'Sequential': 480, 'Sequential.0': 320, 'Sequential.2': 160}
    >>> counter.by_module(depth=0)
    {'Sequential': 480}
    """

    def __init__(self) -> None:
        self._mode = FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS)
        self.flops = 0

    def __enter__(self) -> "FlopCounter":
        self._mode.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._mode.__exit__(*exc_info)
        self.flops = self._mode.get_total_flops()

    @property
    def macs(self) -> int:
        """Multiply-accumulate operations: ``flops // 2``."""
        return self.flops // 2

    def by_module(self, depth: int | None = None) -> dict[str, int]:
        """Return FLOPs per module name, parents including their children.

        Arguments
        ---------
        depth : int | None
            Keep names with at most ``depth`` dots (0: the outermost module
            only); None keeps all.

        Returns
        -------
        dict[str, int]
            FLOPs per module name, sorted by name.
        """
        counts = {
            name: sum(per_op.values())
            for name, per_op in self._mode.get_flop_counts().items()
            if name != "Global"
        }
        return {
            name: counts[name]
            for name in sorted(counts)
            if depth is None or name.count(".") <= depth
        }


def count_flops(fn: Callable[[], Any]) -> int:
    """Run ``fn`` once and return the FLOPs it performed (see module docstring).

    Arguments
    ---------
    fn : Callable[[], Any]
        What to count: a forward, or a forward plus backward.

    Returns
    -------
    int
        Total FLOPs; MACs are half of it.

    Example
    -------
    >>> layer = torch.nn.Linear(16, 32)
    >>> count_flops(lambda: layer(torch.rand(4, 16)))  # 2 * B * in * out
    4096
    """
    with FlopCounter() as counter:
        fn()
    return counter.flops
