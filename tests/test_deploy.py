"""Deployment: ONNX export round trip, int8 file transcribes, streaming transcribe command."""

import numpy
import pytest
import soundfile
import torch

from efficient_ssl.data.tokens import CharTokenizer
from efficient_ssl.models import CTCModel, PretrainedEncoder
from efficient_ssl.transcribe import main, transcribe

pytest.importorskip("onnxruntime")
from efficient_ssl.deploy.export import INT8_FILE, ONNX_FILE, OnnxCTC, export_onnx, quantize_int8  # noqa: E402


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
