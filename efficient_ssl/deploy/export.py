"""ONNX export of a fine-tuned CTC model, int8 dynamic quantisation, and onnxruntime inference.

Needs the ``deploy`` extra (``pip install -e .[deploy]``: onnx, onnxruntime, onnxscript),
imported only when these functions run.

Offline (:func:`export_onnx`, ``model.onnx``): a waveform (1, S) at the model's rate -> CTC
log-probabilities (1, T, vocab) of the top head (no early exit); the sample axis is dynamic.

Chunked (:func:`export_streaming`, ``frontend.onnx`` + ``step.onnx``), for a streamable model
(see :mod:`efficient_ssl.deploy.streaming`), with the encoder state as explicit inputs and
outputs: the frontend graph maps an audio window (1, S) to its frames (1, T, C); the step graph
maps one chunk of those frames (1, T_chunk, C), the absolute index of its first frame
``start`` (1,) int64 and the per-layer state tensors ``state_0 .. state_N`` to the log-probs
(1, T_chunk, vocab) and the new state ``new_state_0 ..``. :class:`OnnxStreamingCTC` drives them
with the same audio buffering as :class:`~efficient_ssl.deploy.streaming.StreamingCTC` (it
reads the frame geometry from the PyTorch model) and gives the same log-probs.

Usage::

    python -m efficient_ssl.deploy.export --model results/.../model --int8 [--streaming]
    transcribe --model results/.../model/model.int8.onnx a.wav

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy
import torch
from torch import nn

from efficient_ssl.deploy.streaming import StreamingCTC, positions
from efficient_ssl.models.asr import CTCModel, load_ctc_model

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
FRONTEND_FILE = "frontend.onnx"
STEP_FILE = "step.onnx"


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
        waveform = model.downsampling_at == "waveform"
        if model.downsampler is not None and waveform:
            wav = model.downsampler(wav)  # (1, ~S / factor)
        lens = torch.ones(wav.shape[0], device=wav.device)
        latents = model.encoder.frontend(wav, lens)  # (1, T, C)
        if model.downsampler is not None and not waveform:
            latents, _ = model.downsampler(latents)  # (1, ceil(T / factor), C)
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
    _export_audio_graph(wrapper, model.config["sample_rate"], seconds, path, "log_probs", opset)
    return path


def _export_audio_graph(module: nn.Module, rate: int, seconds: float, path: Path, output: str, opset: int) -> None:
    """Exports ``module``: wav (1, S) -> ``output`` (1, T, ...), both time axes dynamic, with the
    TorchScript exporter (fast and exact); mel_cnn frontends compute their STFT as a real
    convolution meanwhile (``MelCNN.stft_as_conv``: the exporter cannot take ``torch.stft``)."""
    wav = torch.randn(1, int(seconds * rate))
    mel = [m for m in module.modules() if hasattr(m, "stft_as_conv")]
    try:
        for frontend in mel:
            frontend.stft_as_conv = True
        with torch.no_grad():
            torch.onnx.export(
                module, (wav,), str(path), input_names=["wav"], output_names=[output], opset_version=opset,
                dynamic_axes={"wav": {1: "samples"}, output: {1: "frames"}}, dynamo=False,
            )
    finally:
        for frontend in mel:
            frontend.stft_as_conv = False


class FrontendGraph(nn.Module):
    """The exported frontend: audio window (1, S) -> frames (1, T, C)."""

    def __init__(self, model: CTCModel):
        super().__init__()
        self.frontend = model.encoder.frontend

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (1, S) -> (1, T, C) frontend frames."""
        return self.frontend(wav, torch.ones(wav.shape[0], device=wav.device))


def flatten_state(state: list[dict]) -> list[torch.Tensor]:
    """The encoder state of ``ContextEncoder.forward_chunk`` as a flat list of tensors: per layer,
    per key in sorted order, the tensor or the tensors of the tuple."""
    values = [layer[key] for layer in state for key in sorted(layer)]
    return [t for value in values for t in (value if isinstance(value, tuple) else (value,))]


def unflatten_state(flat: Sequence[torch.Tensor], template: list[dict]) -> list[dict]:
    """Inverse of :func:`flatten_state`, shaped like ``template`` (a state of the same encoder)."""
    flat, state = list(flat), []
    for layer in template:
        entry = {}
        for key in sorted(layer):
            size = len(layer[key]) if isinstance(layer[key], tuple) else 1
            values, flat = flat[:size], flat[size:]
            entry[key] = tuple(values) if isinstance(layer[key], tuple) else values[0]
        state.append(entry)
    return state


def initial_state(model: CTCModel) -> list[dict]:
    """The encoder state before the first chunk as tensors (zeros; empty key/value caches), which
    ``forward_chunk`` treats as it treats ``None``."""
    context = model.encoder.context
    with torch.no_grad():
        _, state = context.forward_chunk(torch.zeros(1, 1, context.d_model))
    empty = []
    for layer in state:
        entry = {}
        for key, value in layer.items():
            if key == "mixer" and context.attention_type == "regularMHA":  # (keys, values) (1, H, T, D/H)
                entry[key] = tuple(t[:, :, :0] for t in value)
            else:
                entry[key] = tuple(torch.zeros_like(t) for t in value) if isinstance(value, tuple) else torch.zeros_like(value)
        empty.append(entry)
    return empty


class EncoderStep(nn.Module):
    """The exported encoder step: (frames (1, T, C), start (1,) int64, *state) -> (log-probs
    (1, T * upsampling, vocab), *new state), the state flattened by :func:`flatten_state`."""

    def __init__(self, model: CTCModel):
        super().__init__()
        self.model = model
        self.template = initial_state(model)

    def forward(self, latents: torch.Tensor, start: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """See the class."""
        encoder = self.model.encoder
        x = encoder.input_proj(latents)  # (1, T, D)
        x = x + positions(start, x.shape[1], encoder.d_model)
        out, new_state = encoder.context.forward_chunk(x, unflatten_state(state, self.template))
        return (self.model.heads[-1](out).log_softmax(dim=-1), *flatten_state(new_state))


def export_streaming(model: CTCModel, folder: str | Path, chunk_frames: int = 16, opset: int = 18) -> tuple[Path, Path]:
    """Exports a streamable model's frontend and encoder step (state as explicit inputs and
    outputs) to ``folder/frontend.onnx`` and ``folder/step.onnx``.

    Arguments
    ---------
    model : CTCModel
        Streamable (see :class:`~efficient_ssl.deploy.streaming.StreamingCTC`), eval mode.
    folder : str or Path
        Where to write the two files.
    chunk_frames : int
        Chunk length used for tracing (the frame axis stays dynamic: the last chunk is shorter).
    opset : int
        ONNX opset.

    Returns
    -------
    tuple of Path
        The frontend and step files.
    """
    _need("onnx")
    StreamingCTC(model)  # refuses what cannot stream
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _export_audio_graph(FrontendGraph(model.eval()).eval(), model.config["sample_rate"], 1.0,
                        folder / FRONTEND_FILE, "frames", opset)
    step = EncoderStep(model).eval()
    latents = torch.randn(1, chunk_frames, model.encoder.frontend.out_dim)
    with torch.no_grad():  # a state from a few chunks in, so no size is traced as zero or one
        _, *state = step(latents, torch.zeros(1, dtype=torch.long), *flatten_state(step.template))
        _, *state = step(latents, torch.full((1,), chunk_frames), *state)
    names = [f"state_{n}" for n in range(len(state))]
    mhsa = model.encoder.context.attention_type == "regularMHA"
    axes = {"frames": {1: "frames"}, "log_probs": {1: "frames"}}
    for name, tensor in zip(names, state):
        if mhsa and tensor.dim() == 4:  # an MHSA key/value cache (1, H, T_cache, D/H) grows up to its left context
            axes[name] = axes[f"new_{name}"] = {2: f"{name}_frames"}
    with torch.no_grad():
        torch.onnx.export(
            step, (latents, torch.full((1,), 2 * chunk_frames), *state), str(folder / STEP_FILE),
            input_names=["frames", "start", *names], output_names=["log_probs", *[f"new_{name}" for name in names]],
            dynamic_axes=axes, opset_version=opset, dynamo=False,
        )
    return folder / FRONTEND_FILE, folder / STEP_FILE


def quantize_int8(
    source: str | Path,
    target: str | Path,
    op_types: Sequence[str] = ("MatMul", "Gemm"),
    per_channel: bool = False,
    reduce_range: bool = False,
) -> Path:
    """int8 dynamic quantisation of the weights of ``op_types`` (onnxruntime's ``quantize_dynamic``).

    Arguments
    ---------
    source, target : str or Path
        fp32 ``.onnx`` file in, int8 file out.
    op_types : sequence of str
        ONNX operators whose weights are quantised (``"Conv"`` adds the convolutions).
    per_channel : bool
        One scale per output channel instead of per tensor.
    reduce_range : bool
        7-bit weights (for CPUs without VNNI, where 8-bit products can saturate).

    Returns
    -------
    Path
        ``target``.
    """
    quantization = _need("onnxruntime.quantization")
    quantization.quantize_dynamic(
        str(source), str(target), weight_type=quantization.QuantType.QInt8, op_types_to_quantize=list(op_types),
        per_channel=per_channel, reduce_range=reduce_range,
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


class OnnxStreamingCTC(StreamingCTC):
    """:class:`~efficient_ssl.deploy.streaming.StreamingCTC` with the frontend and the encoder
    step run by onnxruntime from the files of :func:`export_streaming`; the state travels as
    explicit tensors. The PyTorch ``model`` only gives the frame geometry (hop, frame counts)
    and the vocabulary size; nothing of it runs.

    Arguments
    ---------
    model : CTCModel
        The exported model.
    folder : str or Path
        Holding ``frontend.onnx`` and ``step.onnx``.
    chunk_ms, left_context_ms : float
        As for :class:`~efficient_ssl.deploy.streaming.StreamingCTC`.
    threads : int
        Intra-op threads.
    """

    def __init__(self, model: CTCModel, folder: str | Path, chunk_ms: float = 320.0,
                 left_context_ms: float = 1000.0, threads: int = 1):
        self.frontend_session = OnnxCTC(Path(folder) / FRONTEND_FILE, threads).session
        self.step_session = OnnxCTC(Path(folder) / STEP_FILE, threads).session
        self.empty_state = [t.numpy() for t in flatten_state(initial_state(model))]
        super().__init__(model, chunk_ms, left_context_ms)

    def reset(self) -> None:
        """Starts a new stream."""
        super().reset()
        self.state = list(self.empty_state)

    def _latents(self, wav: torch.Tensor) -> torch.Tensor:
        (frames,) = self.frontend_session.run(["frames"], {"wav": wav.float().numpy()})
        return torch.from_numpy(frames)

    def _step(self, latents: torch.Tensor, start: int) -> torch.Tensor:
        feeds = {"frames": latents.float().numpy(), "start": numpy.array([start], dtype=numpy.int64)}
        feeds.update({f"state_{n}": tensor for n, tensor in enumerate(self.state)})
        log_probs, *self.state = self.step_session.run(None, feeds)
        return torch.from_numpy(log_probs)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m efficient_ssl.deploy.export --model FOLDER [--int8]``: writes model.onnx (and
    model.int8.onnx) into the model folder, beside the tokenizer, so ``transcribe`` takes them."""
    parser = argparse.ArgumentParser(description="Export a fine-tuned CTC model to ONNX (and int8).")
    parser.add_argument("--model", required=True, help="<output_folder>/model of a CTC recipe")
    parser.add_argument("--int8", action="store_true", help="also write the int8 dynamic-quantised file")
    parser.add_argument("--streaming", action="store_true", help="also write frontend.onnx + step.onnx (chunked)")
    args = parser.parse_args(argv)
    model = load_ctc_model(args.model)
    fp32 = export_onnx(model, Path(args.model) / ONNX_FILE)
    print(fp32)
    if args.int8:
        print(quantize_int8(fp32, Path(args.model) / INT8_FILE))
    if args.streaming:
        print(*export_streaming(model, args.model), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
