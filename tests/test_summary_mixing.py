"""Properties of SummaryMixing: shapes, padding invariance, lite, restricted context, heads,
recomputation, linear memory, and fidelity to the equations (an independent implementation)."""

import pytest
import torch
import torch.nn.functional as F

from efficient_ssl.efficiency import PeakMemory
from efficient_ssl.nnet.summary_mixing import (
    MODES,
    SUMMARY_DROPOUTS,
    ParallelLinear,
    SummaryMixing,
    chunk_context_mask,
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
@pytest.mark.parametrize("summary_dropout", SUMMARY_DROPOUTS)
def test_recompute_gives_the_same_gradients(mode, summary_dropout):
    x, mask = padded_batch([7, 4], 9)
    grads = []
    for recompute in (False, True):
        mixer = layer(mode, nhead=2, recompute=recompute, summary_dropout=summary_dropout).train()
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
    with pytest.raises(ValueError, match="summary_dropout"):
        SummaryMixing(8, summary_dropout="token")


# --- Fidelity: the layer against an independent, plain implementation of the equations ---
#   local:    l_t = LN(f(x_t) * m_t)
#   summary:  s_t = LN(mean of s(x_u) over the valid frames u in the context of t)
#   combiner: y_t = act(W [l_t ; s_t] + b), dropout on the concatenation
# f and s are MLPs of dense matrices (block-diagonal with several heads), activation after
# every layer; lite: y_t = P s_t (P only when summary_out_dim differs from d_model).

FIDELITY_D = 16
SIZES = {
    "default": {},
    "custom": dict(local_proj_hid_dim=[24, 12], local_proj_out_dim=8, summary_hid_dim=[20], summary_out_dim=12),
}


def dense(layer: ParallelLinear, columns: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
    """A block-diagonal layer (or some of each head's output columns) as one dense (in, out)
    matrix and its (out,) bias."""
    weight = torch.block_diag(*[w[:, columns] for w in layer.weight])
    return weight, layer.bias[:, 0, columns].flatten()


def reference_weights(mixer: SummaryMixing) -> dict:
    """Our layer's parameters, copied out as the dense matrices of the equations."""
    split = mixer.local_split
    weights = {
        "s": [dense(mixer.first, slice(split, None))] + [dense(layer) for layer in mixer.summary_layers],
        "summary_norm": mixer.summary_norm,
    }
    if mixer.lite:
        proj = mixer.out_proj
        weights["out_proj"] = None if proj is None else (proj.weight.t(), proj.bias)
    else:
        weights["f"] = [dense(mixer.first, slice(0, split))] + [dense(layer) for layer in mixer.local_layers]
        weights["local_norm"] = mixer.local_norm
        weights["combiner"] = (mixer.combiner.weight.t(), mixer.combiner.bias)
    return {key: clone_weights(value) for key, value in weights.items()}


def clone_weights(value):
    """Detached copies: tensors, lists of (W, b), a LayerNorm as its (weight, bias), or None."""
    if isinstance(value, torch.nn.LayerNorm):
        return (value.weight.detach().clone(), value.bias.detach().clone(), value.eps)
    if isinstance(value, torch.nn.Identity) or value is None:
        return None
    if isinstance(value, list):
        return [clone_weights(item) for item in value]
    return tuple(t.detach().clone() for t in value)


def reference_forward(x, mask, weights, lite, context=None, keep=None, p=0.0):
    """The equations, frame by frame and utterance by utterance, in plain torch."""

    def mlp(layers, h):
        for w, b in layers:
            h = F.gelu(h @ w + b)
        return h

    def norm(h, params):
        return h if params is None else F.layer_norm(h, h.shape[-1:], params[0], params[1], params[2])

    batch, time, _ = x.shape
    summary_frames = mlp(weights["s"], x)  # (B, T, S)
    rows = []
    for b in range(batch):
        for t in range(time):
            visible = mask[b] if context is None else mask[b] & context[t]
            rows.append(summary_frames[b][visible].mean(dim=0))
    summary = norm(torch.stack(rows).view(batch, time, -1), weights["summary_norm"])
    if lite:
        if weights["out_proj"] is None:
            return summary
        return summary @ weights["out_proj"][0] + weights["out_proj"][1]
    local = norm(mlp(weights["f"], x) * mask.unsqueeze(-1).float(), weights["local_norm"])
    both = torch.cat([local, summary], dim=-1)  # (B, T, L + S)
    if keep is not None:
        both = both * keep.float() / (1.0 - p)
    return F.gelu(both @ weights["combiner"][0] + weights["combiner"][1])


def fidelity_layer(mode: str, nhead: int, sizes: str, **kwargs) -> SummaryMixing:
    """A layer with every parameter random (biases and LayerNorms included)."""
    torch.manual_seed(0)
    mixer = SummaryMixing(FIDELITY_D, nhead=nhead, mode=mode, **SIZES[sizes], **kwargs)
    with torch.no_grad():
        for name, param in mixer.named_parameters():
            if "bias" in name or "norm" in name:
                param.normal_()
    return mixer


def fidelity_batch(lengths=(9, 6, 1)) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded (B, T, D) batch with huge values in the padding, and its (B, T) mask."""
    torch.manual_seed(1)
    x = torch.randn(len(lengths), max(lengths), FIDELITY_D)
    mask = torch.arange(max(lengths)).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    x[~mask] = 1e3 * torch.randn(int((~mask).sum()), FIDELITY_D)  # padding must not leak
    return x, mask


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nhead", [1, 4])
@pytest.mark.parametrize("sizes", sorted(SIZES))
@pytest.mark.parametrize("layer_norm", [True, False])
@pytest.mark.parametrize("chunk", [None, 4])
def test_matches_an_independent_implementation_of_the_equations(mode, nhead, sizes, layer_norm, chunk):
    mixer = fidelity_layer(mode, nhead, sizes, layer_norm=layer_norm).eval()
    x, mask = fidelity_batch()
    context = None if chunk is None else chunk_context_mask(x.shape[1], chunk)
    with torch.no_grad():
        ours = mixer(x, mask, context_mask=context)
        expected = reference_forward(x, mask, reference_weights(mixer), mixer.lite, context)
    assert (ours - expected)[mask].abs().max() <= 1e-5


@pytest.mark.parametrize("mode", ["SummaryMixing", "SummaryMixing-fast"])
@pytest.mark.parametrize("summary_dropout", SUMMARY_DROPOUTS)
def test_training_dropout_is_on_the_concatenation(mode, summary_dropout):
    mixer = fidelity_layer(mode, 4, "custom", dropout=0.3, summary_dropout=summary_dropout).train()
    drawn, draw = [], mixer._keep

    def record(x, shape):  # the layer's own draw, kept for the reference
        drawn.append(draw(x, shape))
        return drawn[-1]

    mixer._keep = record
    x, mask = fidelity_batch()
    batch, time, _ = x.shape
    ours = mixer(x, mask)
    keep_local, keep_summary = drawn
    assert keep_summary.shape[1] == (1 if summary_dropout == "utterance" else time)
    keep = torch.cat([keep_local, keep_summary.expand(batch, time, -1)], dim=-1)
    with torch.no_grad():
        expected = reference_forward(x, mask, reference_weights(mixer), False, keep=keep, p=0.3)
    assert (ours.detach() - expected)[mask].abs().max() <= 1e-5

