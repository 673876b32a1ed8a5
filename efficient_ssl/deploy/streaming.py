"""Streaming CTC inference with a carried state: audio in, chunk by chunk, log-probs out.

A :class:`StreamingCTC` wraps a :class:`efficient_ssl.models.asr.CTCModel` whose encoder is
streamable (SummaryMixing or the regularMHA baseline with a key/value cache, ``causal=True``
convolutions, see :meth:`efficient_ssl.nnet.encoders.ContextEncoder.forward_chunk`). Per chunk it

1. runs the frontend on the new audio plus a fixed left context of audio (``left_context_ms``)
   and keeps the new frames whose whole receptive field has arrived (a mel frontend's centred
   STFT reads ``lookahead_samples`` past a frame; the rest come with the next audio, or at
   :meth:`StreamingCTC.finish`). The frontends' convolutions are unpadded, so the frame grid is
   the offline one. With ``normalisation="global"`` frontends the frames equal the offline ones;
   with the default per-utterance normalisation, statistics over the window approximate them;
2. adds the sinusoidal positions of those frames' absolute indices;
3. feeds whole chunks of ``chunk_frames`` frames to the encoder with its state (per layer: the
   running sum and count of the summary branch, the last ``kernel_size - 1`` frames of the
   convolution), so the cost of a chunk does not depend on the audio before it (with MHSA the
   state is the keys and values of the last ``left_chunks`` chunks, and the cost grows with them);
4. returns the CTC log-probabilities of the new frames.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import math
import time

import torch

from efficient_ssl.models.asr import CTCModel


def sinusoidal_positions(start: int, length: int, d_model: int, table: torch.Tensor | None = None) -> torch.Tensor:
    """Sinusoidal positions ``start .. start + length - 1`` (speechbrain's ``PositionalEncoding``),
    read from ``table`` (1, max_len, d_model) when it covers them, else computed.

    Example
    -------
    >>> from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding
    >>> table = PositionalEncoding(8, max_len=20).pe
    >>> torch.allclose(sinusoidal_positions(15, 10, 8), torch.cat([table[:, 15:], sinusoidal_positions(20, 5, 8)], 1))
    True
    """
    if table is not None and start + length <= table.shape[1]:
        return table[:, start : start + length]
    return positions(torch.tensor([start]), length, d_model)


def positions(start: torch.Tensor, length: int, d_model: int) -> torch.Tensor:
    """Sinusoidal positions ``start .. start + length - 1`` (1, T, d_model) computed from a
    tensor ``start`` (1,), so the ONNX export of a streaming step traces it.

    Example
    -------
    >>> positions(torch.tensor([3]), 2, 4)
    tensor([[[ 0.1411, -0.9900,  0.0300,  0.9996],
             [-0.7568, -0.6536,  0.0400,  0.9992]]])
    """
    steps = (start.float() + torch.arange(length, dtype=torch.float32)).unsqueeze(1)  # (T, 1)
    denominator = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
    angles = steps * denominator  # (T, D/2)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(1, length, d_model)  # sin/cos interleaved


class StreamingCTC:
    """Chunk-by-chunk CTC inference of one audio stream with a carried encoder state.

    Arguments
    ---------
    model : CTCModel
        In eval mode; a streamable encoder (SummaryMixing, causal convolutions), no
        downsampling.
    chunk_ms : float
        Encoder chunk (a multiple of the 20 ms frame hop): frames are fed to the encoder in
        chunks of this many milliseconds.
    left_context_ms : float
        Audio before the new samples that the frontend also reads (its normalisation window).

    Example
    -------
    >>> from efficient_ssl.models import PretrainedEncoder
    >>> enc = PretrainedEncoder("raw_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32,
    ...     "kernel_size": 3, "causal": True, "chunk_size": 8}, frontend_kwargs={"channels": 8})
    >>> stream = StreamingCTC(CTCModel(enc, vocab_size=5).eval(), chunk_ms=160)
    >>> parts = [stream.accept(chunk) for chunk in torch.randn(16000).split(2560)]
    >>> parts.append(stream.finish())
    >>> sum(part.shape[0] for part in parts), parts[0].shape[1]
    (49, 5)
    """

    def __init__(self, model: CTCModel, chunk_ms: float = 320.0, left_context_ms: float = 1000.0):
        if model.downsampler is not None:
            raise ValueError("StreamingCTC: downsampled models (downsampling != 'none') cannot stream yet")
        if not hasattr(model.encoder, "context") or not hasattr(model.encoder.context, "forward_chunk"):
            raise ValueError("StreamingCTC: the encoder has no streaming path (needs a ContextEncoder)")
        self.model = model.eval()
        self.frontend = model.encoder.frontend
        self.hop = self.frontend.hop_samples
        rate = model.config["sample_rate"]
        self.chunk_frames = max(1, round(chunk_ms / 1000 * rate / self.hop))
        self.left_context = int(round(left_context_ms / 1000 * rate / self.hop)) * self.hop
        self.chunk_times: list[float] = []  # seconds of compute per accept() call
        self.encoder_times: list[float] = []  # seconds per encoder chunk (encoder + head only)
        self.reset()

    def reset(self) -> None:
        """Starts a new stream."""
        self.buffer = torch.zeros(0)  # audio from absolute sample buffer_start on
        self.buffer_start = 0
        self.received = 0  # samples so far
        self.frames_done = 0  # frontend frames computed so far
        self.pending: list[torch.Tensor] = []  # frontend frames waiting for a whole chunk
        self.encoded = 0  # frames given to the encoder so far
        self.state = None
        self.chunk_times = []
        self.encoder_times = []

    @torch.inference_mode()
    def accept(self, samples: torch.Tensor) -> torch.Tensor:
        """Adds audio; returns the log-probs (T_new, vocab) of the frames it completes (possibly none)."""
        start = time.perf_counter()
        self.buffer = torch.cat([self.buffer, samples.float().reshape(-1)])
        self.received += samples.numel()
        self._frontend()
        out = self._encode(final=False)
        self.chunk_times.append(time.perf_counter() - start)
        return out

    @torch.inference_mode()
    def finish(self) -> torch.Tensor:
        """Ends the stream: log-probs (T_new, vocab) of the frames left in the last, partial chunk."""
        self._frontend(final=True)
        return self._encode(final=True)

    def _latents(self, wav: torch.Tensor) -> torch.Tensor:
        """The frontend on an audio window: wav (1, S) -> frames (1, T_window, C)."""
        return self.frontend(wav, torch.ones(1))

    def _step(self, latents: torch.Tensor, start: int) -> torch.Tensor:
        """One encoder chunk: frontend frames (1, T, C) whose first has absolute index ``start``
        -> log-probs (T * upsampling, vocab); updates ``self.state``."""
        encoder = self.model.encoder
        x = encoder.input_proj(latents)  # (1, T, D)
        x = x + sinusoidal_positions(start, x.shape[1], encoder.d_model, encoder.positions.pe).to(x)
        out, self.state = encoder.context.forward_chunk(x, self.state)
        return self.model.heads[-1](out)[0].float().log_softmax(dim=-1)  # (T*up, V)

    def _frontend(self, final: bool = False) -> None:
        """Frontend frames of the new audio, queued for the encoder (those that read samples not
        received yet wait, unless the stream has ended)."""
        complete = self.received if final else max(0, self.received - self.frontend.lookahead_samples)
        total = int(self.frontend.output_lengths(torch.tensor(complete)))
        if total <= self.frames_done:
            return
        first = self.buffer_start // self.hop  # absolute index of the buffer's first frame
        latents = self._latents(self.buffer.unsqueeze(0))  # (1, T_window, C)
        self.pending.append(latents[:, self.frames_done - first : total - first])
        self.frames_done = total
        # Keep the left context: audio from (the next frame to compute) - left_context on.
        keep_from = max(0, self.frames_done * self.hop - self.left_context)
        keep_from -= keep_from % self.hop
        if keep_from > self.buffer_start:
            self.buffer = self.buffer[keep_from - self.buffer_start :]
            self.buffer_start = keep_from

    def _encode(self, final: bool) -> torch.Tensor:
        """Runs the encoder on whole chunks of pending frames (and the remainder if ``final``)."""
        if not self.pending:
            return torch.zeros(0, self.model.config["vocab_size"])
        frames = torch.cat(self.pending, dim=1)  # (1, T_pending, C)
        ready = frames.shape[1] if final else frames.shape[1] - frames.shape[1] % self.chunk_frames
        self.pending = [frames[:, ready:]] if ready < frames.shape[1] else []
        outputs = []
        for chunk in frames[:, :ready].split(self.chunk_frames, dim=1) if ready else []:
            start = time.perf_counter()
            outputs.append(self._step(chunk, self.encoded))
            self.encoded += chunk.shape[1]
            self.encoder_times.append(time.perf_counter() - start)
        if not outputs:
            return torch.zeros(0, self.model.config["vocab_size"])
        return torch.cat(outputs)


def stream_log_probs(
    model: CTCModel, wav: torch.Tensor, chunk_ms: float = 320.0, left_context_ms: float = 1000.0
) -> tuple[torch.Tensor, list[float]]:
    """Streams a whole waveform through :class:`StreamingCTC` in chunks of ``chunk_ms``.

    Arguments
    ---------
    model : CTCModel
        Streamable (see :class:`StreamingCTC`).
    wav : torch.Tensor
        (S,) at the model's rate.
    chunk_ms : float
        Audio per call, and the encoder chunk.
    left_context_ms : float
        Frontend left context.

    Returns
    -------
    log_probs : torch.Tensor
        (T, vocab), all frames.
    chunk_times : list of float
        Compute seconds per chunk.
    """
    stream = StreamingCTC(model, chunk_ms, left_context_ms)
    step = int(round(chunk_ms / 1000 * model.config["sample_rate"]))
    parts = [stream.accept(piece) for piece in wav.reshape(-1).split(step)]
    parts.append(stream.finish())
    return torch.cat(parts), stream.chunk_times


def transcribe_streaming(path: str, model_folder: str, chunk_ms: float = 320.0, report=None) -> str:
    """Streams one audio file through a model folder's streamable CTC model, reporting a partial
    greedy hypothesis and the compute time of every chunk.

    Arguments
    ---------
    path : str
        Audio file (any format and rate libsndfile reads).
    model_folder : str
        ``<output_folder>/model`` of a CTC recipe (model + tokenizer).
    chunk_ms : float
        Audio per chunk.
    report : callable, optional
        Called with one line per chunk; default: print to stderr.

    Returns
    -------
    str
        The final (greedy) transcript.
    """
    import sys

    from efficient_ssl.brains.ctc import CTCDecoder
    from efficient_ssl.data.tokens import load_tokenizer
    from efficient_ssl.models.asr import load_ctc_model
    from efficient_ssl.transcribe import _read, find_tokenizer

    report = report or (lambda line: print(line, file=sys.stderr))
    model = load_ctc_model(model_folder)
    decode = CTCDecoder(load_tokenizer(find_tokenizer(model_folder)), "greedy")
    rate = model.config["sample_rate"]
    wav = _read(path, rate)
    stream = StreamingCTC(model, chunk_ms)
    step = int(round(chunk_ms / 1000 * rate))
    parts, text = [], ""
    pieces = list(wav.reshape(-1).split(step))
    for n, piece in enumerate(pieces):
        parts.append(stream.accept(piece))
        if n == len(pieces) - 1:
            parts.append(stream.finish())
        log_probs = torch.cat(parts).unsqueeze(0)  # (1, T, V)
        text = decode(log_probs, torch.ones(1))[0] if log_probs.shape[1] else ""
        latency = stream.chunk_times[-1] * 1000
        report(f"{path}\tchunk {n + 1}/{len(pieces)}\t{latency:.1f} ms / {chunk_ms:.0f} ms\t{text}")
    return text
