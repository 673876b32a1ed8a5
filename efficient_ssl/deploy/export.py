"""ONNX export of a fine-tuned CTC model, int8 dynamic quantisation, and onnxruntime inference.

Needs the ``deploy`` extra (``pip install -e .[deploy]``: onnx, onnxruntime, onnxscript),
imported only when these functions run. The exported graph maps a waveform (1, S) at the
model's rate to CTC log-probabilities (1, T, vocab) of the top head (no early exit), offline;
the sample axis is dynamic.

Usage::

    python -m efficient_ssl.deploy.export --model results/.../model --int8
    transcribe --model results/.../model/model.int8.onnx a.wav

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from efficient_ssl.models.asr import CTCModel, load_ctc_model

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"


def _need(module: str):
    """Imports an optional dependency of the ``deploy`` extra, or says how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{module} is missing: install the deploy extra (pip install -c constraints.txt -e .[deploy])"
        ) from error


class OfflineCTC(nn.Module):
    """The exported graph: waveform (1, S) -> log-probs (1, T, vocab) of the top CTC head."""

    def __init__(self, model: CTCModel):
        super().__init__()
        self.model = model

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (1, S) -> (1, T, vocab) log-probabilities."""
        model = self.model
        if model.downsampler is not None:
            wav = model.downsampler(wav)
        lens = torch.ones(wav.shape[0], device=wav.device)
        latents = model.encoder.frontend(wav, lens)  # (1, T, C)
        x = model.encoder.input_proj(latents)
        x = x + model.encoder.positions.pe[:, : x.shape[1]]
        out, _ = model.encoder.context(x)
        return model.heads[-1](out).log_softmax(dim=-1)


def export_onnx(model: CTCModel, path: str | Path, seconds: float = 2.0, opset: int = 18) -> Path:
    """Exports ``model`` (eval mode) to an ONNX file.

    Arguments
    ---------
    model : CTCModel
        A fine-tuned model (``load_ctc_model``).
    path : str or Path
        The ``.onnx`` file to write.
    seconds : float
        Length of the example waveform used for tracing (the sample axis stays dynamic).
    opset : int
        ONNX opset.

    Returns
    -------
    Path
        ``path``.
    """
    _need("onnx")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = OfflineCTC(model.eval()).eval()
    wav = torch.randn(1, int(seconds * model.config["sample_rate"]))
    names = dict(input_names=["wav"], output_names=["log_probs"], opset_version=opset)
    with torch.no_grad():
        try:  # the TorchScript exporter: fast, and exact for the raw_cnn frontend
            torch.onnx.export(
                wrapper, (wav,), str(path), dynamic_axes={"wav": {1: "samples"}, "log_probs": {1: "frames"}},
                dynamo=False, **names,
            )
        except torch.onnx.errors.SymbolicValueError:  # mel_cnn: its complex STFT needs the dynamo exporter
            samples = torch.export.Dim("samples", min=model.config["sample_rate"] // 2, max=model.config["sample_rate"] * 600)
            torch.onnx.export(
                wrapper, (wav,), str(path), dynamic_shapes=({1: samples},), dynamo=True, external_data=False, **names
            )  # one self-contained file
    return path


def quantize_int8(source: str | Path, target: str | Path) -> Path:
    """int8 dynamic quantisation of the MatMul / Gemm weights (onnxruntime's ``quantize_dynamic``).

    Arguments
    ---------
    source, target : str or Path
        fp32 ``.onnx`` file in, int8 file out.

    Returns
    -------
    Path
        ``target``.
    """
    quantization = _need("onnxruntime.quantization")
    quantization.quantize_dynamic(
        str(source), str(target), weight_type=quantization.QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"]
    )
    return Path(target)


class OnnxCTC:
    """onnxruntime inference of an exported file: waveform -> log-probs, on CPU.

    Arguments
    ---------
    path : str or Path
        An ``.onnx`` file from :func:`export_onnx` or :func:`quantize_int8`.
    threads : int
        Intra-op threads (1 = the single-core figures of the deploy table).
    """

    def __init__(self, path: str | Path, threads: int = 1):
        ort = _need("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (S,) or (1, S) float -> log-probs (1, T, vocab)."""
        array = wav.reshape(1, -1).float().numpy()
        (log_probs,) = self.session.run(["log_probs"], {"wav": array})
        return torch.from_numpy(log_probs)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m efficient_ssl.deploy.export --model FOLDER [--int8]``: writes model.onnx (and
    model.int8.onnx) into the model folder, beside the tokenizer, so ``transcribe`` takes them."""
    parser = argparse.ArgumentParser(description="Export a fine-tuned CTC model to ONNX (and int8).")
    parser.add_argument("--model", required=True, help="<output_folder>/model of a CTC recipe")
    parser.add_argument("--int8", action="store_true", help="also write the int8 dynamic-quantised file")
    args = parser.parse_args(argv)
    fp32 = export_onnx(load_ctc_model(args.model), Path(args.model) / ONNX_FILE)
    print(fp32)
    if args.int8:
        print(quantize_int8(fp32, Path(args.model) / INT8_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
