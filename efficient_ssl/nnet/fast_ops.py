"""Layers whose CPU training step is faster than torch's stock ones, with the same maths.

- :class:`Dropout` draws its mask from a faster generator than ``nn.Dropout`` on CPU and
  keeps it as bool, converted to float through uint8 (torch's bool-to-float conversion is
  an unvectorised loop) when applied.
- :class:`DepthwiseConv1d` runs a depthwise convolution over time on time-major
  (B, T, C) features without transposing them, and computes its weight gradient with a
  fast convolution instead of oneDNN's depthwise weight-gradient kernel, which on CPU
  takes as long as the rest of a Conformer convolution module.

They are used by every encoder layer (``efficient_ssl.nnet.conformer`` etc.); on other
devices they fall back to torch's own kernels.

Authors
 * efficient_ssl contributors 2026
"""

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def dropout_keep_mask(shape: Sequence[int], p: float, device: torch.device) -> torch.Tensor:
    """Bernoulli(1 - p) dropout mask, True = keep.

    On CPU, torch's dropout draws a 32-bit number per element from a serial Mersenne
    Twister, which costs more than the matrix products around it. Here numpy's SFC64
    generator, seeded by one draw from torch's default generator (so ``torch.manual_seed``
    makes runs repeatable), gives 64 bits per draw, i.e. 16 random bits per element, and p
    is resolved to 2**-16. Elsewhere ``bernoulli_`` is used.

    Arguments
    ---------
    shape : sequence of int
        Shape of the mask.
    p : float
        Probability of dropping an element.
    device : torch.device
        Where to make the mask.

    Returns
    -------
    torch.Tensor
        Bool mask of ``shape``.

    Example
    -------
    >>> keep = dropout_keep_mask((1000, 100), 0.25, torch.device("cpu"))
    >>> abs(keep.float().mean().item() - 0.75) < 0.01
    True
    """
    if device.type != "cpu":
        return torch.empty(shape, dtype=torch.bool, device=device).bernoulli_(1.0 - p)
    numel = math.prod(shape)
    seed = int(torch.randint(0, 2**62, (1,)))
    draws = np.random.SFC64(seed).random_raw((numel + 3) // 4)  # uint64, four elements each
    bits = torch.from_numpy(draws.view(np.int16)[:numel])  # uniform over [-2**15, 2**15)
    return (bits >= round(p * 2**16) - 2**15).view(shape)


class _ApplyKeepMask(torch.autograd.Function):
    """x * keep * scale for a bool mask, keeping the bool mask for the backward pass.

    A product with a bool tensor converts it element by element in a slow, unvectorised
    loop on CPU (about 7x the cost of a float product); viewed as uint8 it converts fast.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        """x (any shape), keep bool, broadcastable to x. Returns x * keep * scale."""
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x * _float_mask(keep, x.dtype, scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        """The gradient of x only."""
        (keep,) = ctx.saved_tensors
        return grad * _float_mask(keep, grad.dtype, ctx.scale), None, None


def _float_mask(keep: torch.Tensor, dtype: torch.dtype, scale: float) -> torch.Tensor:
    """The bool mask as 0 / ``scale`` values of ``dtype``."""
    mask = keep.view(torch.uint8).to(dtype)
    return mask.mul_(scale) if scale != 1.0 else mask


def apply_keep_mask(x: torch.Tensor, keep: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Dropout with a given mask: ``x * keep * scale``.

    Arguments
    ---------
    x : torch.Tensor
        Any shape.
    keep : torch.Tensor
        Bool, broadcastable to ``x``; True = keep.
    scale : float
        Factor of the kept elements, usually 1 / (1 - p).

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.

    Example
    -------
    >>> apply_keep_mask(torch.ones(3), torch.tensor([True, False, True]), 2.0)
    tensor([2., 0., 2.])
    """
    return _ApplyKeepMask.apply(x, keep, scale)


class Dropout(nn.Module):
    """Dropout (training only) drawing its mask with :func:`dropout_keep_mask` and applying it
    with :func:`apply_keep_mask` on CPU; ``nn.Dropout`` elsewhere.

    Arguments
    ---------
    p : float
        Probability of dropping an element.

    Example
    -------
    >>> drop = Dropout(0.5)
    >>> y = drop(torch.ones(1000))
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> torch.equal(drop.eval()(torch.ones(3)), torch.ones(3))
    True
    """

    def __init__(self, p: float = 0.1):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p={p} must be in [0, 1)")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Arguments: x, any shape. Returns x with dropped elements zeroed, others scaled."""
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        return apply_keep_mask(x, dropout_keep_mask(x.shape, self.p, x.device), 1.0 / (1.0 - self.p))


class _DepthwiseConv1dCPU(torch.autograd.Function):
    """Depthwise convolution over time of time-major features, "same" padding, stride 1.

    Forward and input gradient: oneDNN convolutions on a channels-last view of the
    (B, T, C) input, i.e. with no copy. Weight gradient: for channel c and tap k it is
    sum_{b,t} g[b, t, c] x[b, t + k - K//2, c], i.e. a convolution of x with g used as a
    kernel of length T, which is run as one grouped convolution over the B * C pairs
    (oneDNN's own depthwise weight-gradient kernel is several times slower on CPU).
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu")
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x (B, T, C) contiguous, weight (C, 1, K), bias (C,). Returns (B, T, C)."""
        ctx.save_for_backward(x, weight)
        return _depthwise_forward(x, weight, bias)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, grad: torch.Tensor):
        """grad (B, T, C). Returns the gradients of x, weight and bias (run under the
        forward's autocast state, so that bf16 autocast on CPU works)."""
        x, weight = ctx.saved_tensors
        batch, time, channels = x.shape
        kernel = weight.shape[-1]
        grad = grad.contiguous()
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # a correlation with the flipped kernel
            grad_x = _depthwise_forward(grad, weight.flip(-1), None)
        if ctx.needs_input_grad[1]:
            # Channels b * C + c, time-major (channels-last) layout: (1, B * C, 1, T).
            signal = x.transpose(0, 1).reshape(1, 1, time, batch * channels).permute(0, 3, 1, 2)
            taps = grad.permute(0, 2, 1).reshape(batch * channels, 1, 1, time)  # (B*C, 1, 1, T)
            taps = taps.contiguous(memory_format=torch.channels_last)
            out = F.conv2d(signal, taps, padding=(0, kernel // 2), groups=batch * channels)  # (1, B*C, 1, K)
            grad_weight = out.view(batch, channels, kernel).sum(dim=0).unsqueeze(1)  # (C, 1, K)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum(dim=(0, 1))
        return grad_x, grad_weight, grad_bias


def _depthwise_forward(x: torch.Tensor, weight: torch.Tensor, bias) -> torch.Tensor:
    """Depthwise "same" convolution of time-major x (B, T, C) as a channels-last conv2d."""
    channels, kernel = weight.shape[0], weight.shape[-1]
    image = x.transpose(1, 2).unsqueeze(2)  # (B, C, 1, T), channels-last in memory
    out = F.conv2d(image, weight.unsqueeze(2), bias, padding=(0, kernel // 2), groups=channels)
    return out.squeeze(2).transpose(1, 2)  # (B, T, C), contiguous


class DepthwiseConv1d(nn.Module):
    """Depthwise 1-D convolution over the time axis of (B, T, C) features, "same" padding.

    The parameters are those of ``nn.Conv1d(C, C, K, padding=K // 2, groups=C)`` (same names,
    shapes and initialisation), so checkpoints of either load into the other.

    Arguments
    ---------
    channels : int
        C.
    kernel_size : int
        Odd kernel size K.

    Example
    -------
    >>> conv = DepthwiseConv1d(4, 3)
    >>> x = torch.rand(2, 5, 4)
    >>> reference = nn.Conv1d(4, 4, 3, padding=1, groups=4)
    >>> _ = reference.load_state_dict(conv.state_dict())
    >>> torch.allclose(conv(x), reference(x.transpose(1, 2)).transpose(1, 2), atol=1e-6)
    True

    With ``causal=True`` frame t sees frames t - K + 1 .. t (K - 1 zeros on the left), so the
    output can be computed chunk by chunk with :meth:`forward_chunk`, carrying the last K - 1
    input frames:

    >>> causal = DepthwiseConv1d(4, 3, causal=True)
    >>> first, cache = causal.forward_chunk(x[:, :2])
    >>> second, cache = causal.forward_chunk(x[:, 2:], cache)
    >>> torch.allclose(torch.cat([first, second], dim=1), causal(x), atol=1e-6)
    True
    """

    def __init__(self, channels: int, kernel_size: int, causal: bool = False):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"DepthwiseConv1d: kernel_size={kernel_size} must be odd")
        self.causal = causal
        reference = nn.Conv1d(channels, channels, kernel_size, groups=channels)
        self.weight = nn.Parameter(reference.weight.detach().clone())  # (C, 1, K)
        self.bias = nn.Parameter(reference.bias.detach().clone())  # (C,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Arguments: x (B, T, C). Returns (B, T, C)."""
        if self.causal:
            return self.forward_chunk(x)[0]
        return self._same(x)

    def forward_chunk(
        self, x: torch.Tensor, cache: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal convolution of one chunk given the previous K - 1 input frames.

        Arguments
        ---------
        x : torch.Tensor
            (B, T_chunk, C).
        cache : torch.Tensor, optional
            (B, K - 1, C), the last input frames before this chunk; None = zeros (start).

        Returns
        -------
        y : torch.Tensor
            (B, T_chunk, C).
        cache : torch.Tensor
            (B, K - 1, C) for the next chunk.
        """
        kernel = self.weight.shape[-1]
        if cache is None:
            cache = x.new_zeros(x.shape[0], kernel - 1, x.shape[2])
        joined = torch.cat([cache, x], dim=1)  # (B, K - 1 + T, C)
        # A "same" convolution of the joined frames, centred K // 2 frames later, is causal on x.
        y = self._same(joined)[:, kernel // 2 : kernel // 2 + x.shape[1]]  # (B, T, C)
        return y, joined[:, joined.shape[1] - (kernel - 1) :]

    def _same(self, x: torch.Tensor) -> torch.Tensor:
        """The "same" convolution of (B, T, C) features."""
        if x.device.type == "cpu":
            return _DepthwiseConv1dCPU.apply(x.contiguous(), self.weight, self.bias)
        kernel = self.weight.shape[-1]
        out = F.conv1d(x.transpose(1, 2), self.weight, self.bias, padding=kernel // 2, groups=x.shape[-1])
        return out.transpose(1, 2)

