"""Streaming SummaryMixing and the MHSA baseline: chunk-by-chunk inference with a carried state
equals the chunked, masked full-sequence forward of the same model (layer, encoder, whole CTC
model)."""

from pathlib import Path

import pytest
import torch

from efficient_ssl.deploy.streaming import StreamingCTC, stream_log_probs
from efficient_ssl.models import CTCModel, PretrainedEncoder
from efficient_ssl.nnet.encoders import ContextEncoder
from efficient_ssl.nnet.summary_mixing import MODES, SummaryMixing, chunk_context_mask


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nhead", [1, 2])
def test_summary_mixing_chunks_equal_masked_forward_on_padded_batch(mode, nhead):
    torch.manual_seed(0)
    layer = SummaryMixing(8, nhead=nhead, mode=mode, summary_out_dim=12 if mode.endswith("lite") else None).eval()
    lengths, chunk = [11, 7], 3
    x = torch.randn(2, 11, 8)
    mask = torch.arange(11).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    full = layer(x, mask, chunk_context_mask(11, chunk))
    for b, length in enumerate(lengths):
        state, outs = None, []
        for start in range(0, length, chunk):
            out, state = layer.forward_chunk(x[b : b + 1, start : min(start + chunk, length)], state)
            outs.append(out)
        torch.testing.assert_close(torch.cat(outs, dim=1)[0], full[b, :length], atol=1e-5, rtol=1e-5)
        assert float(state[1]) == length  # the count carried across chunk boundaries


def _stream_encoder(encoder, x, chunk):
    state, outs = None, []
    for piece in x.split(chunk, dim=1):
        out, state = encoder.forward_chunk(piece, state)
        outs.append(out)
    return torch.cat(outs, dim=1), state


@pytest.mark.parametrize(
    "layer_type, conv_norm", [("conformer", "layernorm"), ("conformer", "batchnorm"), ("transformer", "layernorm")]
)
def test_encoder_chunks_equal_chunked_full_forward(layer_type, conv_norm):
    torch.manual_seed(0)
    encoder = ContextEncoder(
        3, 16, 2, 32, layer_type=layer_type, kernel_size=5, conv_norm=conv_norm, chunk_size=4, causal=True
    )
    encoder.train()(torch.randn(2, 20, 16))  # batchnorm running statistics away from their init
    encoder.eval()
    x = torch.randn(1, 18, 16)  # the last chunk is partial
    full, _ = encoder(x)
    streamed, state = _stream_encoder(encoder, x, 4)
    torch.testing.assert_close(streamed, full, atol=1e-5, rtol=1e-5)
    # the state carries information across chunk boundaries: restarting it changes the output
    restarted, _ = encoder.forward_chunk(x[:, 4:8])
    assert not torch.allclose(restarted, full[:, 4:8], atol=1e-3)
    # a padded batch gives the same real frames
    padded, _ = encoder(torch.cat([x, torch.randn(1, 6, 16)], dim=1), torch.arange(24).unsqueeze(0) < 18)
    torch.testing.assert_close(padded[:, :18], full, atol=1e-5, rtol=1e-5)


def test_state_size_is_constant_in_stream_length():
    torch.manual_seed(0)
    encoder = ContextEncoder(2, 16, 2, 32, kernel_size=5, chunk_size=4, causal=True).eval()
    _, short = _stream_encoder(encoder, torch.randn(1, 8, 16), 4)
    _, long = _stream_encoder(encoder, torch.randn(1, 64, 16), 4)
    sizes = lambda state: [t.numel() for layer in state for v in layer.values() for t in (v if isinstance(v, tuple) else (v,))]
    assert sizes(short) == sizes(long)


def test_streaming_needs_a_streamable_mixer_and_causal_convolutions():
    with pytest.raises(ValueError, match="SummaryMixing"):
        ContextEncoder(1, 8, 2, 16, attention_type="speechbrain_mha", chunk_size=4)
    with pytest.raises(ValueError, match="left_chunks"):
        ContextEncoder(1, 8, 2, 16, chunk_size=4, left_chunks=2)  # SummaryMixing sees all past chunks
    with pytest.raises(ValueError, match="causal=True"):
        ContextEncoder(1, 8, 2, 16, kernel_size=3).forward_chunk(torch.randn(1, 4, 8))


@pytest.mark.parametrize("layer_type", ["conformer", "transformer"])
@pytest.mark.parametrize("left_chunks", [-1, 0, 2])
def test_mhsa_chunks_with_kv_cache_equal_masked_forward(layer_type, left_chunks):
    torch.manual_seed(0)
    encoder = ContextEncoder(
        3, 16, 2, 32, layer_type=layer_type, attention_type="regularMHA", kernel_size=5,
        chunk_size=4, causal=True, left_chunks=left_chunks,
    ).eval()
    x = torch.randn(1, 18, 16)  # the last chunk is partial
    full, _ = encoder(x)
    streamed, _ = _stream_encoder(encoder, x, 4)
    torch.testing.assert_close(streamed, full, atol=1e-5, rtol=1e-5)
    keys = _stream_encoder(encoder, x[:, :16], 4)[1][0]["mixer"][0]  # (B, H, T_cache, D/H)
    assert keys.shape[2] == (16 if left_chunks < 0 else 4 * left_chunks)  # all past frames, or L chunks
    # the left context matters: the full-context forward differs from the limited one
    if left_chunks >= 0:
        assert not torch.allclose(encoder(x, chunk_size=0)[0][:, 12:], full[:, 12:], atol=1e-3)
    padded, _ = encoder(torch.cat([x, torch.randn(1, 6, 16)], dim=1), torch.arange(24).unsqueeze(0) < 18)
    torch.testing.assert_close(padded[:, :18], full, atol=1e-5, rtol=1e-5)


def test_mhsa_cache_grows_with_the_stream_only_without_a_left_limit():
    torch.manual_seed(0)
    sizes = {}
    for left in (-1, 2):
        encoder = ContextEncoder(1, 16, 2, 32, attention_type="regularMHA", kernel_size=3, chunk_size=4,
                                 causal=True, left_chunks=left).eval()
        sizes[left] = [_stream_encoder(encoder, torch.randn(1, n, 16), 4)[1][0]["mixer"][0].shape[2] for n in (8, 64)]
    assert sizes == {-1: [8, 64], 2: [8, 8]}


def _ctc_model(chunk_size: int, **encoder_kwargs) -> CTCModel:
    torch.manual_seed(0)
    encoder = PretrainedEncoder(
        "raw_cnn",
        {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 5,
         "chunk_size": chunk_size, "causal": True, **encoder_kwargs},
        frontend_kwargs={"channels": 8, "normalisation": "none"},
    )
    return CTCModel(encoder, vocab_size=6).eval()


@pytest.mark.parametrize("mixer", [{}, {"attention_type": "regularMHA", "left_chunks": 2}])
def test_streaming_ctc_equals_offline_chunked_model(mixer):
    """Without the per-utterance signal normalisation the frontend is exact per window, so the
    streamed log-probs equal the offline forward of the same (chunked) model."""
    model = _ctc_model(chunk_size=8, **mixer)
    wav = torch.randn(16000)  # 49 frames, 1 s
    with torch.inference_mode():
        offline = model(wav.unsqueeze(0), torch.ones(1)).logits[-1][0].log_softmax(dim=-1)
    streamed, chunk_times = stream_log_probs(model, wav, chunk_ms=160, left_context_ms=200)
    assert streamed.shape == offline.shape
    torch.testing.assert_close(streamed, offline, atol=1e-4, rtol=1e-4)
    assert len(chunk_times) == 7  # 16000 samples in chunks of 2560


@pytest.mark.parametrize("normalisation", ["utterance", "global"])
def test_streaming_mel_frontend_equals_offline_with_global_normalisation(normalisation):
    """A mel frontend's centred STFT reads 12.5 ms past a frame: the stream waits for that audio.
    With training-set statistics (normalisation="global") the streamed log-probs then equal the
    offline ones; per-utterance statistics over the window cannot."""
    torch.manual_seed(0)
    encoder = PretrainedEncoder(
        "mel_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 5, "chunk_size": 8,
                    "causal": True}, frontend_kwargs={"channels": 8, "normalisation": normalisation})
    model = CTCModel(encoder, vocab_size=6)
    wav = torch.randn(2, 32000) * torch.linspace(0.1, 2.0, 32000)  # loudness changes over the utterance
    model.train()(wav, torch.tensor([1.0, 0.6]))  # one training forward: the running statistics
    model.eval()
    with torch.inference_mode():
        offline = model(wav[:1], torch.ones(1)).logits[-1][0].log_softmax(dim=-1)
    streamed, _ = stream_log_probs(model, wav[0], chunk_ms=160, left_context_ms=200)
    assert streamed.shape == offline.shape
    if normalisation == "global":
        torch.testing.assert_close(streamed, offline, atol=1e-4, rtol=1e-4)
    else:
        assert (streamed - offline).abs().max() > 1e-2


def test_running_normalisation_pools_the_real_frames_of_every_batch():
    from efficient_ssl.nnet.frontends import RunningNormalisation

    torch.manual_seed(0)
    norm = RunningNormalisation(3)
    frames = [torch.randn(2, 7, 3) * 4 + 1, torch.randn(3, 5, 3) - 2]
    masks = [torch.arange(7) < torch.tensor([[7], [4]]), torch.arange(5) < torch.tensor([[5], [2], [3]])]
    for x, mask in zip(frames, masks):
        out = norm(x, mask)
        assert torch.equal(out[~mask], torch.zeros_like(out[~mask]))
    real = torch.cat([x[mask] for x, mask in zip(frames, masks)]).double()  # (N, 3)
    torch.testing.assert_close(norm.mean, real.mean(dim=0))
    torch.testing.assert_close(norm.var, real.var(dim=0, unbiased=False))
    assert norm.count == len(real)
    before = norm.mean.clone()
    norm.eval()(torch.randn(1, 4, 3) * 100, torch.ones(1, 4, dtype=torch.bool))
    assert torch.equal(norm.mean, before)  # eval leaves the statistics alone


def test_streaming_ctc_refuses_downsampled_models():
    encoder = PretrainedEncoder("mel_cnn", {"num_layers": 1, "d_model": 8, "nhead": 2, "d_ffn": 16, "causal": True})
    with pytest.raises(ValueError, match="downsampl"):
        StreamingCTC(CTCModel(encoder, 5, downsampling="avgpool", downsampling_factor=2))


@pytest.mark.parametrize("mixer", [{}, {"attention_type": "regularMHA", "left_chunks": 1}])
def test_dynamic_chunk_training_smoke(mixer):
    torch.manual_seed(0)
    encoder = ContextEncoder(2, 16, 2, 32, kernel_size=3, causal=True, chunk_size=4, dynamic_chunks=[0, 2, 4], **mixer)
    optimizer = torch.optim.SGD(encoder.parameters(), lr=0.01)
    x, mask = torch.randn(2, 12, 16), torch.arange(12).unsqueeze(0) < torch.tensor([[12], [9]])
    drawn = set()
    for _ in range(3):
        out, _ = encoder.train()(x, mask)
        out[mask].pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    for _ in range(20):
        drawn.add(encoder.dynamic_chunks[int(torch.randint(3, (1,), generator=encoder._chunk_draws))])
    assert drawn == {0, 2, 4}
    encoder.eval()  # eval uses chunk_size: streaming still equals the chunked forward
    streamed, _ = _stream_encoder(encoder, x[:1], 4)
    torch.testing.assert_close(streamed, encoder(x[:1])[0], atol=1e-5, rtol=1e-5)


def test_recipe_trains_the_mhsa_streaming_baseline_with_one_key(tmp_path):
    """scratch_mini.yaml: attention_type=regularMHA + chunk_size + left_chunks give a streamable
    MHSA encoder (the baseline of the same recipe) whose chunks equal its masked forward."""
    from efficient_ssl.hparams import load_hparams

    recipe = Path(__file__).parents[1] / "recipes" / "LibriSpeech" / "finetune" / "hparams" / "scratch_mini.yaml"
    hparams = load_hparams(recipe, {
        "data_folder": str(tmp_path), "output_folder": str(tmp_path / "out"), "attention_type": "regularMHA",
        "chunk_size": 4, "causal_conv": True, "left_chunks": 2, "dynamic_chunks": [0, 4, 8],
        "num_layers": 1, "d_model": 16, "nhead": 2, "d_ffn": 32, "frontend_channels": 8,
    })
    context = hparams["encoder"].context.eval()
    assert (context.attention_type, context.left_chunks, context.dynamic_chunks) == ("regularMHA", 2, [0, 4, 8])
    x = torch.randn(1, 20, 16)
    torch.testing.assert_close(_stream_encoder(context, x, 4)[0], context(x)[0], atol=1e-5, rtol=1e-5)
