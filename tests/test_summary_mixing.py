"""Properties of SummaryMixing: shapes, padding invariance, lite, restricted context, heads,
recomputation and linear memory."""

import pytest
import torch

from efficient_ssl.efficiency import PeakMemory
from efficient_ssl.nnet.summary_mixing import (
    MODES,
    ParallelLinear,
    SummaryMixing,
    from_heads,
    to_heads,
)

D_MODEL = 8


def layer(mode: str = "SummaryMixing", nhead: int = 1, **kwargs) -> SummaryMixing:
    """A small SummaryMixing in eval mode with a fixed seed."""
    torch.manual_seed(0)
    return SummaryMixing(D_MODEL, nhead=nhead, mode=mode, **kwargs).eval()


def padded_batch(lengths: list[int], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (B, max_len, D) with garbage in the padding, and its (B, max_len) mask."""
    torch.manual_seed(1)
    x = torch.randn(len(lengths), max_len, D_MODEL)
    mask = torch.arange(max_len).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    x[~mask] = 1e3 * torch.randn(int((~mask).sum()), D_MODEL)
    return x, mask


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nhead", [1, 2, 4])
def test_shapes(mode, nhead):
    x, mask = padded_batch([6, 3], 6)
    mixer = layer(mode, nhead)
    assert mixer(x).shape == x.shape
    assert mixer(x, mask).shape == x.shape
    assert mixer(x, mask, context_mask=torch.ones(6, 6)).shape == x.shape
    mixer = layer(mode, nhead, local_proj_hid_dim=[16, 12], local_proj_out_dim=4,
                  summary_hid_dim=[], summary_out_dim=12)
    assert mixer(x, mask).shape == x.shape


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nhead", [1, 2])
def test_padding_never_leaks(mode, nhead):
    lengths = [7, 4, 1]
    x, mask = padded_batch(lengths, 9)
    mixer = layer(mode, nhead, summary_out_dim=4)
    with torch.no_grad():
        batched = mixer(x, mask)
        for b, length in enumerate(lengths):
            alone = mixer(x[b : b + 1, :length])  # the same utterance, unpadded
            torch.testing.assert_close(batched[b, :length], alone[0], rtol=1e-5, atol=1e-5)


def test_lite_is_the_summary_at_every_frame():
    x, mask = padded_batch([7, 4], 9)
    mixer = layer("SummaryMixing-lite", summary_out_dim=4)
    assert not hasattr(mixer, "combiner") and not hasattr(mixer, "local_layers")
    out = mixer(x, mask)
    for b, length in enumerate([7, 4]):
        torch.testing.assert_close(out[b, :length], out[b, :1].expand(length, D_MODEL))


@pytest.mark.parametrize("mode", MODES)
def test_full_context_mask_equals_global_mean(mode):
    x, mask = padded_batch([7, 4], 9)
    mixer = layer(mode, nhead=2)
    torch.testing.assert_close(mixer(x, mask, context_mask=torch.ones(9, 9)), mixer(x, mask))


def test_restricted_context_is_causal_with_a_causal_mask():
    x, _ = padded_batch([9], 9)
    mixer = layer()
    causal = torch.tril(torch.ones(9, 9))
    out = mixer(x, context_mask=causal)
    changed = x.clone()
    changed[:, 5:] += 1.0  # only the future of frame 4 changes
    torch.testing.assert_close(mixer(changed, context_mask=causal)[:, :5], out[:, :5])


def test_parallel_linear_is_block_diagonal():
    torch.manual_seed(0)
    linear = ParallelLinear(12, 6, nhead=3)
    with torch.no_grad():
        linear.bias.normal_()
    x = torch.randn(2, 5, 12)
    out = from_heads(linear(to_heads(x, 3)), batch=2)  # (2, 5, 6)
    for h in range(3):  # each head: its own chunk of features, its own weight
        chunk = x[..., 4 * h : 4 * (h + 1)] @ linear.weight[h] + linear.bias[h, 0]
        torch.testing.assert_close(out[..., 2 * h : 2 * (h + 1)], chunk)
    dense = torch.block_diag(*linear.weight)  # (12, 6)
    torch.testing.assert_close(out, x @ dense + linear.bias.flatten())


def test_biases_start_at_zero():
    for mode in MODES:
        mixer = layer(mode, nhead=2, summary_out_dim=4)
        biases = [p for name, p in mixer.named_parameters() if name.endswith("bias") and "norm" not in name]
        assert biases and all(torch.count_nonzero(b) == 0 for b in biases)


@pytest.mark.parametrize("mode", MODES)
def test_recompute_gives_the_same_gradients(mode):
    x, mask = padded_batch([7, 4], 9)
    grads = []
    for recompute in (False, True):
        mixer = layer(mode, nhead=2, recompute=recompute).train()
        torch.manual_seed(3)  # same dropout masks in both runs
        inputs = x.clone().requires_grad_()
        mixer(inputs, mask).pow(2).sum().backward()
        grads.append([inputs.grad] + [p.grad for p in mixer.parameters()])
    for without, with_recompute in zip(*grads):
        torch.testing.assert_close(with_recompute, without)


def peak_training_mb(mixer: torch.nn.Module, frames: int) -> float:
    """Peak tensor memory of one forward + backward at (2, frames, 64)."""
    x = torch.randn(2, frames, 64, requires_grad=True)
    with PeakMemory("cpu") as memory:
        mixer(x).sum().backward()
    return memory.peak_mb


def test_memory_grows_linearly_with_length():
    torch.manual_seed(0)
    mixer = SummaryMixing(64, nhead=4).train()
    m1, m2, m4 = (peak_training_mb(mixer, frames) for frames in (500, 1000, 2000))
    # Linear: each doubling adds twice the previous increment (quadratic would add 4x).
    assert 1.6 < (m4 - m2) / (m2 - m1) < 2.5


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="unknown mode"):
        SummaryMixing(8, mode="SummaryMixing-turbo")
    with pytest.raises(ValueError, match="divisible by nhead=3"):
        SummaryMixing(8, nhead=3)
    with pytest.raises(TypeError, match="lists"):
        SummaryMixing(8, local_proj_hid_dim=16)
