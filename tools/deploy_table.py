"""Deployment table of a fine-tuned CTC model, measured side by side in one run on CPU (1 thread):
PyTorch fp32, ONNX fp32, ONNX int8 (onnxruntime dynamic quantisation), streaming at several
chunk sizes (PyTorch) and chunked ONNX (frontend.onnx + step.onnx, the state as explicit
inputs/outputs): CER / WER on test-clean, real-time factor, model bytes, per-chunk latency.

Usage::

    python tools/deploy_table.py --model <output_folder>/model --output DIR \\
        [--data_folder data/mini/LibriSpeech] [--max_utterances 100] [--chunks_ms 160 320 640] \\
        [--onnx_chunks_ms 320]

Writes DIR/deploy_table.json, DIR/deploy_table.md, DIR/deploy_table.png (CER and RTF per
variant; skipped without matplotlib) and the ONNX files into DIR. Streaming needs a
streamable model (SummaryMixing or regularMHA, chunk_size > 0, causal convolutions); otherwise
those rows are skipped. Needs the ``deploy`` extra.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import soundfile
import torch

from efficient_ssl.brains.ctc import CTCDecoder
from efficient_ssl.data.tokens import load_tokenizer
from efficient_ssl.deploy.export import OnnxCTC, OnnxStreamingCTC, export_onnx, export_streaming, quantize_int8
from efficient_ssl.deploy.streaming import StreamingCTC
from efficient_ssl.efficiency.counting import count_flops
from efficient_ssl.models.asr import load_ctc_model
from efficient_ssl.transcribe import find_tokenizer
from plotting import pyplot


def edit_distance(ref: list, hyp: list) -> int:
    """Levenshtein distance of two token lists."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def read_test_set(folder: Path, limit: int) -> list[tuple[torch.Tensor, str]]:
    """(waveform, transcript) pairs of a LibriSpeech-layout split, sorted by utterance id."""
    pairs = []
    for trans in sorted(folder.rglob("*.trans.txt")):
        for line in trans.read_text(encoding="utf-8").splitlines():
            uid, text = line.split(" ", 1)
            audio = next(trans.parent.glob(uid + ".*"))
            wav, _ = soundfile.read(audio, dtype="float32")
            pairs.append((torch.from_numpy(wav), text.strip()))
    return pairs[:limit]


def score(texts: list[str], refs: list[str]) -> tuple[float, float]:
    """CER and WER in percent."""
    chars = sum(edit_distance(list(r), list(h)) for r, h in zip(refs, texts)) / sum(len(r) for r in refs)
    words = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, texts)) / sum(len(r.split()) for r in refs)
    return 100 * chars, 100 * words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--data_folder", type=Path, default=Path("data/mini/LibriSpeech"))
    parser.add_argument("--max_utterances", type=int, default=100)
    parser.add_argument("--chunks_ms", type=float, nargs="+", default=[160, 320, 640])
    parser.add_argument("--onnx_chunks_ms", type=float, nargs="*", default=[320], help="chunked ONNX rows")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.output.mkdir(parents=True, exist_ok=True)
    model = load_ctc_model(args.model)
    decode = CTCDecoder(load_tokenizer(find_tokenizer(args.model)), "greedy")
    data = read_test_set(args.data_folder / "test-clean", args.max_utterances)
    refs = [text for _, text in data]
    audio_s = sum(wav.numel() for wav, _ in data) / model.config["sample_rate"]
    fp32 = export_onnx(model, args.output / "model.onnx")
    int8 = quantize_int8(fp32, args.output / "model.int8.onnx")
    torch_bytes = sum(p.numel() * p.element_size() for p in model.state_dict().values())

    def pytorch(wav):
        with torch.inference_mode():
            return model(wav.unsqueeze(0), torch.ones(1)).logits[-1].log_softmax(dim=-1)

    def full_context(wav):  # the same model, its summary over the whole utterance
        context = model.encoder.context
        chunk_size, context.chunk_size = context.chunk_size, 0
        try:
            return pytorch(wav)
        finally:
            context.chunk_size = chunk_size

    chunked = getattr(model.encoder.context, "chunk_size", 0) > 0
    # MACs per second of audio of the offline model (fp32 and int8 run the same graph; int8 MACs are integer ones)
    macs = count_flops(lambda: [pytorch(wav) for wav, _ in data]) / 2 / audio_s
    rows = []
    for name, run, size in (
        *([("PyTorch fp32, full context", full_context, torch_bytes)] if chunked else []),
        ("PyTorch fp32", pytorch, torch_bytes),
        ("ONNX fp32", OnnxCTC(fp32, threads=1), fp32.stat().st_size),
        ("ONNX int8", OnnxCTC(int8, threads=1), int8.stat().st_size),
    ):
        start, texts = time.perf_counter(), []
        for wav, _ in data:
            texts.append(decode(run(wav), torch.ones(1))[0])
        seconds = time.perf_counter() - start
        cer, wer = score(texts, refs)
        rows.append({"model": name, "cer": cer, "wer": wer, "rtf": seconds / audio_s, "bytes": size,
                     **({} if "full context" in name else {"macs_per_audio_s": macs})})
    onnx_fp32 = OnnxCTC(fp32)
    max_diff = max((onnx_fp32(wav) - pytorch(wav)).abs().max().item() for wav, _ in data)
    streamable = getattr(model.encoder.context, "causal", False) and model.downsampler is None
    variants = []
    if streamable:
        variants = [(f"streaming {ms:.0f} ms", ms, lambda ms: StreamingCTC(model, ms), torch_bytes) for ms in args.chunks_ms]
    if streamable and args.onnx_chunks_ms:
        onnx_bytes = sum(path.stat().st_size for path in export_streaming(model, args.output))
        variants += [(f"ONNX chunked {ms:.0f} ms", ms, lambda ms: OnnxStreamingCTC(model, args.output, ms), onnx_bytes)
                     for ms in args.onnx_chunks_ms]
    streamed: dict[float, list[torch.Tensor]] = {}  # PyTorch streaming log-probs per chunk size
    for name, chunk_ms, make, size in variants:
        start, texts, chunk_times, outputs = time.perf_counter(), [], [], []
        step = int(round(chunk_ms / 1000 * model.config["sample_rate"]))
        for wav, _ in data:
            stream = make(chunk_ms)
            parts = [stream.accept(piece) for piece in wav.split(step)]
            outputs.append(torch.cat([*parts, stream.finish()]))
            texts.append(decode(outputs[-1].unsqueeze(0), torch.ones(1))[0])
            chunk_times += stream.chunk_times
        seconds = time.perf_counter() - start
        cer, wer = score(texts, refs)
        rows.append({
            "model": name, "cer": cer, "wer": wer, "rtf": seconds / audio_s,
            "bytes": size, "chunk_ms_mean": 1000 * sum(chunk_times) / len(chunk_times),
            "chunk_ms_max": 1000 * max(chunk_times),
        })
        if name.startswith("ONNX") and chunk_ms in streamed:  # chunked ONNX vs PyTorch streaming
            diff = max((a - b).abs().max().item() for a, b in zip(outputs, streamed[chunk_ms]))
            rows[-1]["max_abs_dlogp_vs_pytorch_streaming"] = diff
        elif not name.startswith("ONNX"):
            streamed[chunk_ms] = outputs
    result = {
        "model": str(args.model), "utterances": len(data), "audio_s": audio_s, "threads": 1,
        "onnx_fp32_max_abs_log_prob_diff": max_diff, "rows": rows,
    }
    (args.output / "deploy_table.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    lines = [
        f"{len(data)} test-clean utterances ({audio_s:.0f} s), CPU, 1 thread, greedy CTC. "
        f"ONNX fp32 vs PyTorch, max |log-prob difference| over these utterances: {max_diff:.1e}.", "",
        "| model | CER % | WER % | MMACs / audio s | RTF | MB | chunk compute ms (mean / max) |", "|---|---|---|---|---|---|---|",
    ]
    lines[0] += "".join(
        f" {row['model']} vs PyTorch streaming: max |log-prob difference| {row['max_abs_dlogp_vs_pytorch_streaming']:.1e}."
        for row in rows if "max_abs_dlogp_vs_pytorch_streaming" in row
    )
    for row in rows:
        chunk = f"{row['chunk_ms_mean']:.1f} / {row['chunk_ms_max']:.1f}" if "chunk_ms_mean" in row else "-"
        macs = f"{row['macs_per_audio_s'] / 1e6:.1f}" if "macs_per_audio_s" in row else "-"
        lines.append(f"| {row['model']} | {row['cer']:.1f} | {row['wer']:.1f} | {macs} | {row['rtf']:.4f} | "
                     f"{row['bytes'] / 1e6:.2f} | {chunk} |")
    (args.output / "deploy_table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    plot(rows, args.output / "deploy_table.png")


def plot(rows: list[dict], path: Path) -> None:
    """Two bar charts side by side: CER and real-time factor of every variant."""
    try:
        plt = pyplot()
    except ImportError as error:
        print(f"deploy_table: no figure ({error})")
        return
    names = [row["model"] for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, key, label in ((axes[0], "cer", "CER %"), (axes[1], "rtf", "real-time factor (1 thread)")):
        axis.barh(names, [row[key] for row in rows])
        axis.set_xlabel(label)
        axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
