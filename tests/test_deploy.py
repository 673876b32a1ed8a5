"""Deployment: ONNX export round trip, int8 file transcribes, chunked ONNX with the streaming
state as explicit inputs/outputs, streaming transcribe command."""

import numpy
import pytest
import soundfile
import torch

from efficient_ssl.data.tokens import CharTokenizer
from efficient_ssl.models import CTCModel, PretrainedEncoder
from efficient_ssl.transcribe import main, transcribe

pytest.importorskip("onnxruntime")
from efficient_ssl.deploy.export import (  # noqa: E402
    INT8_FILE,
    ONNX_FILE,
    OnnxCTC,
    OnnxStreamingCTC,
    export_onnx,
    export_streaming,
    quantize_int8,
)
from efficient_ssl.deploy.streaming import StreamingCTC  # noqa: E402


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A tiny streamable CTC model (raw_cnn, chunked SummaryMixing, causal conv) + tokenizer + audio."""
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    encoder = PretrainedEncoder(
        "raw_cnn",
        {"num_layers": 2, "d_model": 32, "nhead": 2, "d_ffn": 64, "kernel_size": 5, "chunk_size": 16, "causal": True},
        frontend_kwargs={"channels": 16},
    )
    tokenizer = CharTokenizer.from_texts(["AB C"])
    model = CTCModel(encoder, tokenizer.vocab_size).eval()
    model.save(folder)
    tokenizer.save(folder / "tokenizer.json")
    soundfile.write(folder / "a.wav", numpy.random.default_rng(0).normal(0, 0.1, 24000), 16000)
    return folder, model


def test_onnx_export_matches_pytorch_and_int8_transcribes(model_folder):
    folder, model = model_folder
    onnx_path = export_onnx(model, folder / ONNX_FILE)
    wav = torch.randn(1, 27000)  # not the tracing length: the sample axis is dynamic
    with torch.inference_mode():
        reference = model(wav, torch.ones(1)).logits[-1].log_softmax(dim=-1)
    exported = OnnxCTC(onnx_path)(wav)
    assert exported.shape == reference.shape
    assert (exported - reference).abs().max() <= 1e-4
    int8 = quantize_int8(onnx_path, folder / INT8_FILE)
    assert int8.stat().st_size < onnx_path.stat().st_size
    (result,) = transcribe([folder / "a.wav"], int8, progress=False)
    assert result.error is None and isinstance(result.text, str)


def test_streaming_transcribe_command(model_folder, capsys):
    folder, _ = model_folder
    assert main(["--model", str(folder), "--streaming", "--chunk_ms", "320", str(folder / "a.wav")]) == 0
    out, err = capsys.readouterr()
    chunk_lines = [line for line in err.splitlines() if "\tchunk " in line]
    assert len(chunk_lines) == 5  # 1.5 s in chunks of 320 ms
    assert "ms / 320 ms" in chunk_lines[0]
    assert out.startswith(str(folder / "a.wav") + "\t")


def test_mel_cnn_exports_exactly_with_a_convolutional_stft(tmp_path):
    """mel_cnn: the STFT as a windowed-DFT convolution lets the TorchScript exporter take the
    model (torch.stft's complex output needed the dynamo exporter, max |d log-prob| 1.1e-4 on
    this model), and the exported log-probs equal PyTorch's."""
    torch.manual_seed(0)
    encoder = PretrainedEncoder("mel_cnn", {"num_layers": 2, "d_model": 32, "nhead": 2, "d_ffn": 64, "kernel_size": 5},
                                frontend_kwargs={"channels": 16})
    model = CTCModel(encoder, 6).eval()
    path = export_onnx(model, tmp_path / ONNX_FILE)
    assert encoder.frontend.stft_as_conv is False  # PyTorch inference keeps torch.stft
    wav = 0.1 * torch.randn(1, 27000)
    with torch.inference_mode():
        reference = model(wav, torch.ones(1)).logits[-1].log_softmax(dim=-1)
    exported = OnnxCTC(path)(wav)
    assert exported.shape == reference.shape
    assert (exported - reference).abs().max() <= 1e-4


def _stream(stream, wav: torch.Tensor, step: int) -> torch.Tensor:
    parts = [stream.accept(piece) for piece in wav.split(step)]
    return torch.cat([*parts, stream.finish()])


@pytest.mark.parametrize("mixer", ["SummaryMixing", "regularMHA"])
def test_chunked_onnx_with_explicit_state_equals_streaming_pytorch(model_folder, tmp_path, mixer):
    folder, model = model_folder
    if mixer == "regularMHA":  # the MHSA baseline: a key/value cache of one past chunk per layer
        torch.manual_seed(0)
        encoder = PretrainedEncoder(
            "raw_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 5, "chunk_size": 8,
                        "causal": True, "attention_type": "regularMHA", "left_chunks": 1},
            frontend_kwargs={"channels": 8},
        )
        model = CTCModel(encoder, 5).eval()
    frontend, step = export_streaming(model, tmp_path, chunk_frames=8)
    wav = torch.randn(21000)  # 65 frames: the last chunk is partial
    with torch.inference_mode():
        reference = _stream(StreamingCTC(model, chunk_ms=160), wav, 2560)
    onnx = OnnxStreamingCTC(model, tmp_path, chunk_ms=160)
    streamed = _stream(onnx, wav, 2560)
    assert streamed.shape == reference.shape == (65, model.config["vocab_size"])
    assert (streamed - reference).abs().max() <= 1e-4
    onnx.reset()  # a second stream starts from the empty state
    torch.testing.assert_close(_stream(onnx, wav, 2560), streamed, atol=1e-6, rtol=1e-6)
