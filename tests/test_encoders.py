"""Properties of the context encoder and its layers: the contract, padding invariance for every
layer_type x attention_type, the two MHSA agreeing, layerdrop, linear memory."""

import itertools

import pytest
import torch

from efficient_ssl.efficiency import PeakMemory
from efficient_ssl.nnet.attention import ATTENTION_TYPES, MultiHeadSelfAttention, SpeechBrainMHSA
from efficient_ssl.nnet.conformer import ConvolutionModule
from efficient_ssl.nnet.encoders import LAYER_TYPES, ContextEncoder

D_MODEL = 16
COMBINATIONS = list(itertools.product(LAYER_TYPES, ATTENTION_TYPES))


def encoder(layer_type: str, attention_type: str, **kwargs) -> ContextEncoder:
    """A 2-layer encoder in eval mode with a fixed seed."""
    torch.manual_seed(0)
    options = dict(num_layers=2, d_model=D_MODEL, nhead=2, d_ffn=32, kernel_size=5)
    options.update(kwargs)
    return ContextEncoder(layer_type=layer_type, attention_type=attention_type, **options).eval()


def padded_batch(lengths: list[int], max_len: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (B, max_len, D) with large garbage in the padding, and its (B, max_len) mask."""
    torch.manual_seed(seed)
    x = torch.randn(len(lengths), max_len, D_MODEL)
    mask = torch.arange(max_len).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    x[~mask] = 100 * torch.randn(int((~mask).sum()), D_MODEL)
    return x, mask


@pytest.mark.parametrize("layer_type,attention_type", COMBINATIONS)
def test_contract(layer_type, attention_type):
    model = encoder(layer_type, attention_type, num_layers=3)
    assert (model.num_layers, model.d_model) == (3, D_MODEL)
    x, mask = padded_batch([7, 5], 7)
    out, hidden_states = model(x, mask)
    assert out.shape == x.shape
    assert len(hidden_states) == 4 and all(h.shape == x.shape for h in hidden_states)
    assert hidden_states[0] is x
    model(x.double().float(), mask.float())  # a 0/1 float mask is accepted


@pytest.mark.parametrize("layer_type,attention_type", COMBINATIONS)
def test_padding_never_leaks(layer_type, attention_type):
    lengths = [11, 6, 2]
    x, mask = padded_batch(lengths, 13)
    model = encoder(layer_type, attention_type)
    with torch.no_grad():
        out, hidden_states = model(x, mask)
        for b, length in enumerate(lengths):
            alone, alone_states = model(x[b : b + 1, :length])  # unpadded, no mask
            torch.testing.assert_close(out[b, :length], alone[0], rtol=1e-4, atol=1e-4)
            last_layer = hidden_states[-1][b, :length]
            torch.testing.assert_close(last_layer, alone_states[-1][0], rtol=1e-4, atol=1e-4)


def test_batchnorm_statistics_skip_padding():
    """In training, batch statistics must see real frames only: two paddings of one batch agree."""
    lengths = [9, 4]
    torch.manual_seed(0)
    model = encoder("conformer", "SummaryMixing", conv_norm="batchnorm", dropout=0.0).train()
    short_x, short_mask = padded_batch(lengths, 10, seed=1)
    long_x, long_mask = padded_batch(lengths, 16, seed=2)
    long_x[long_mask] = short_x[short_mask]  # same real frames, other padding
    out_short, _ = model(short_x, short_mask)
    out_long, _ = model(long_x, long_mask)
    torch.testing.assert_close(out_short[short_mask], out_long[long_mask], rtol=1e-4, atol=1e-4)


def test_sdpa_mhsa_equals_speechbrain_mhsa_on_the_same_weights():
    torch.manual_seed(0)
    sdpa, speechbrain_mha = MultiHeadSelfAttention(D_MODEL, 4), SpeechBrainMHSA(D_MODEL, 4)
    speechbrain_mha.attention.att.load_state_dict(sdpa.state_dict())
    x, mask = padded_batch([9, 5], 9)
    real = mask.unsqueeze(-1).expand_as(x)
    torch.testing.assert_close(sdpa(x, mask)[real], speechbrain_mha(x, mask)[real], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sdpa(x), speechbrain_mha(x), rtol=1e-5, atol=1e-5)


def test_layerdrop_skips_layers_in_training_only():
    model = encoder("transformer", "SummaryMixing", num_layers=3, layerdrop=0.999)
    x, mask = padded_batch([5, 3], 5)
    _, hidden_states = model(x, mask)  # eval: every layer runs
    assert all(not torch.equal(a, b) for a, b in zip(hidden_states, hidden_states[1:]))
    torch.manual_seed(0)
    _, hidden_states = model.train()(x, mask)
    assert all(h is x for h in hidden_states)  # a skipped layer passes its input on


def test_convolution_module_zeroes_padding_before_the_depthwise_conv():
    torch.manual_seed(0)
    conv = ConvolutionModule(D_MODEL, kernel_size=7).eval()
    x, mask = padded_batch([4], 8)
    torch.testing.assert_close(conv(x, mask)[0, :4], conv(x[:, :4])[0])


def peak_training_mb(model: ContextEncoder, frames: int) -> float:
    """Peak tensor memory of one forward + backward at (1, frames, D)."""
    x = torch.randn(1, frames, D_MODEL, requires_grad=True)
    with PeakMemory("cpu") as memory:
        model(x)[0].sum().backward()
    return memory.peak_mb


def test_summary_mixing_encoder_memory_is_linear_and_speechbrain_mha_is_not():
    growth = {}
    for attention_type in ("SummaryMixing", "speechbrain_mha"):
        model = encoder("conformer", attention_type, dropout=0.0).train()
        m1, m2, m4 = (peak_training_mb(model, frames) for frames in (400, 800, 1600))
        growth[attention_type] = (m4 - m2) / (m2 - m1)
    assert 1.6 < growth["SummaryMixing"] < 2.5
    assert growth["speechbrain_mha"] > 3.0


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="layer_type"):
        ContextEncoder(1, D_MODEL, 2, 32, layer_type="lstm")
    with pytest.raises(ValueError, match="attention_type"):
        ContextEncoder(1, D_MODEL, 2, 32, attention_type="linear")
    with pytest.raises(ValueError, match="mask shape"):
        model = encoder("transformer", "regularMHA")
        model(torch.rand(2, 5, D_MODEL), torch.ones(2, 4, dtype=torch.bool))
