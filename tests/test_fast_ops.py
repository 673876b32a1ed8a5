"""The fast layers compute what torch's stock layers compute: dropout statistics and scaling,
the depthwise convolution and its gradients."""

import pytest
import torch
import torch.nn as nn

from efficient_ssl.nnet.fast_ops import DepthwiseConv1d, Dropout, _DepthwiseConv1dCPU, dropout_keep_mask


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5])
def test_dropout_mask_keeps_one_minus_p_everywhere(p):
    keep = dropout_keep_mask((201, 999), p, torch.device("cpu")).float()  # odd size: a part draw
    assert keep.shape == (201, 999)
    assert abs(keep.mean().item() - (1 - p)) < 0.005
    quarters = keep.flatten()[:-3].view(-1, 4).mean(dim=0)  # the four 16-bit parts of every draw
    assert torch.allclose(quarters, torch.full((4,), 1 - p), atol=0.01)


def test_dropout_masks_follow_torch_seed_and_differ_between_calls():
    torch.manual_seed(5)
    first, second = (dropout_keep_mask((64, 64), 0.5, torch.device("cpu")) for _ in range(2))
    torch.manual_seed(5)
    assert torch.equal(dropout_keep_mask((64, 64), 0.5, torch.device("cpu")), first)
    assert not torch.equal(first, second)


def test_dropout_scales_kept_elements_and_their_gradients():
    torch.manual_seed(0)
    drop = Dropout(0.25)
    x = torch.ones(4000, requires_grad=True)
    y = drop(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.75))
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.75)
    assert drop.eval()(x) is x


@pytest.mark.parametrize("batch,time,channels,kernel", [(2, 9, 3, 3), (1, 5, 2, 5), (2, 4, 3, 7), (3, 40, 6, 31)])
def test_depthwise_gradients_pass_gradcheck(batch, time, channels, kernel):
    """Including utterances shorter than the kernel."""
    torch.manual_seed(0)
    x = torch.randn(batch, time, channels, dtype=torch.double, requires_grad=True)
    weight = torch.randn(channels, 1, kernel, dtype=torch.double, requires_grad=True)
    bias = torch.randn(channels, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_DepthwiseConv1dCPU.apply, (x, weight, bias))


def test_depthwise_matches_conv1d_forward_and_backward():
    torch.manual_seed(0)
    conv = DepthwiseConv1d(16, 31)
    reference = nn.Conv1d(16, 16, 31, padding=15, groups=16)
    reference.load_state_dict(conv.state_dict())
    x = torch.randn(2, 120, 16, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    grad = torch.randn(2, 120, 16)
    out = conv(x)
    out_ref = reference(x_ref.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    out.backward(grad)
    out_ref.backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(conv.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(conv.bias.grad, reference.bias.grad)


def test_depthwise_initialises_like_conv1d_and_rejects_even_kernels():
    torch.manual_seed(3)
    conv = DepthwiseConv1d(8, 5)
    torch.manual_seed(3)
    reference = nn.Conv1d(8, 8, 5, groups=8)
    assert torch.equal(conv.weight, reference.weight) and torch.equal(conv.bias, reference.bias)
    with pytest.raises(ValueError, match="must be odd"):
        DepthwiseConv1d(8, 4)


def test_depthwise_trains_under_cpu_bf16_autocast():
    torch.manual_seed(0)
    conv = DepthwiseConv1d(8, 5)
    x = torch.randn(2, 30, 8, requires_grad=True)
    conv(x).sum().backward()
    reference_grads = x.grad.clone(), conv.weight.grad.clone()
    x.grad = conv.weight.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert x.grad.dtype == conv.weight.grad.dtype == torch.float32
    for grad, reference in zip((x.grad, conv.weight.grad), reference_grads):
        torch.testing.assert_close(grad, reference, atol=0.1, rtol=0.05)
