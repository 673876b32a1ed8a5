"""int8 and streaming timing of random-weight streamable CTC models, 1 CPU thread, side by side
in one run.

- ``mini`` / ``base``: ONNX fp32 vs PyTorch max |d log-prob|, PyTorch / ONNX fp32 / ONNX int8
  time on 10 s of audio (best of 3), file sizes (base = 12 x 768).
- ``streaming``: per-chunk compute over 60 s at 320 ms chunks of the mini model with
  SummaryMixing (carried running sum) against the MHSA baseline (carried key/value cache) with
  all past chunks (``left_chunks`` -1) and with a limited left context; the three streams are fed
  in turn, chunk by chunk, so machine load hits them alike. Median compute of chunks 2-11 against
  the last 10, for the whole chunk (frontend + encoder) and for the encoder step alone.
- ``int8``: onnxruntime ``quantize_dynamic`` options (operators, per-channel scales, reduced
  range) on the sizes of ``--int8_sizes``: time of each int8 file against ONNX fp32 (interleaved,
  best of 3) and its max |d log-prob| from fp32.
- ``profile``: where the time goes, by ONNX operator type (onnxruntime's profiler, 10 s of audio,
  1 thread, mean of 2 runs), in ONNX fp32 and the default int8 file, for ``--int8_sizes``.

``python tools/deploy_timing.py [mini] [base] [streaming] [int8] [profile] [--left_chunks 4]
[--int8_sizes mini base] [--frontend raw_cnn|mel_cnn] [--json out.json]`` (default: mini
streaming, raw_cnn; streaming always uses raw_cnn). Needs the ``deploy`` extra.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from efficient_ssl.deploy.export import OnnxCTC, export_onnx, quantize_int8
from efficient_ssl.deploy.streaming import StreamingCTC
from efficient_ssl.models import CTCModel, PretrainedEncoder

SIZES = {"mini": (4, 144, 576, 144, 4), "base": (12, 768, 3072, 512, 8)}


def build(
    layers: int, d_model: int, d_ffn: int, channels: int, nhead: int, frontend: str = "raw_cnn", **encoder_kwargs
) -> CTCModel:
    """A streamable Conformer CTC model (SummaryMixing unless ``encoder_kwargs`` say otherwise)
    with random weights."""
    torch.manual_seed(0)
    config = {"num_layers": layers, "d_model": d_model, "nhead": nhead, "d_ffn": d_ffn,
              "kernel_size": 15, "chunk_size": 16, "causal": True, **encoder_kwargs}
    encoder = PretrainedEncoder(frontend, config, frontend_kwargs={"channels": channels}, max_len=4000)
    return CTCModel(encoder, 30).eval()


def best(run, wav: torch.Tensor, repeats: int = 3) -> float:
    """Fastest of ``repeats`` calls of ``run(wav)``, seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(wav)
        times.append(time.perf_counter() - start)
    return min(times)


def export_timing(name: str, folder: Path, frontend: str) -> dict:
    """ONNX fidelity, PyTorch / ONNX fp32 / ONNX int8 time and bytes of one size."""
    model = build(*SIZES[name], frontend=frontend)
    fp32 = export_onnx(model, folder / f"{name}.onnx")
    int8 = quantize_int8(fp32, folder / f"{name}.int8.onnx")
    wav = torch.randn(1, 16000 * 10)
    with torch.inference_mode():
        reference = model(wav, torch.ones(1)).logits[-1].log_softmax(-1)
        t_torch = best(lambda w: model(w, torch.ones(1)), wav)
    onnx32, onnx8 = OnnxCTC(fp32), OnnxCTC(int8)
    result = {
        "size": name, "frontend": frontend, "max_abs_dlogp_onnx_fp32": (onnx32(wav) - reference).abs().max().item(),
        "seconds_10s_pytorch": t_torch, "seconds_10s_onnx_fp32": best(onnx32, wav),
        "seconds_10s_onnx_int8": best(onnx8, wav), "bytes_fp32": fp32.stat().st_size, "bytes_int8": int8.stat().st_size,
    }
    result["int8_over_fp32"] = result["seconds_10s_onnx_int8"] / result["seconds_10s_onnx_fp32"]
    print(f"{name} {frontend}: max|dlogp| onnx fp32 {result['max_abs_dlogp_onnx_fp32']:.2e}; 10 s audio, 1 thread: "
          f"pytorch {t_torch:.3f}s onnx fp32 {result['seconds_10s_onnx_fp32']:.3f}s "
          f"int8 {result['seconds_10s_onnx_int8']:.3f}s; int8/fp32 {result['int8_over_fp32']:.2f}; "
          f"bytes fp32 {result['bytes_fp32']} int8 {result['bytes_int8']}", flush=True)
    return result


INT8_VARIANTS = {
    "MatMul+Gemm": {},
    "MatMul+Gemm per-channel": {"per_channel": True},
    "MatMul+Gemm reduce-range": {"reduce_range": True},
    "MatMul+Gemm+Conv": {"op_types": ("MatMul", "Gemm", "Conv")},
    "MatMul+Gemm+Conv per-channel": {"op_types": ("MatMul", "Gemm", "Conv"), "per_channel": True},
}


def int8_variants(name: str, folder: Path, frontend: str) -> list[dict]:
    """ONNX fp32 against each int8 variant of one size, timed interleaved (best of 3)."""
    model = build(*SIZES[name], frontend=frontend)
    fp32 = export_onnx(model, folder / f"{name}.onnx")
    sessions, results = {"fp32": OnnxCTC(fp32)}, []
    wav = torch.randn(1, 16000 * 10)
    for variant, options in INT8_VARIANTS.items():
        path = quantize_int8(fp32, folder / f"{name}.{len(results) + len(sessions)}.int8.onnx", **options)
        try:
            session = OnnxCTC(path)
            session(wav[:, :16000])
        except Exception as error:  # e.g. per-channel scales on SummaryMixing's batched (H, in, out) weights
            results.append({"size": name, "variant": variant, "error": str(error).split("\n")[0][-200:]})
            print(f"{name} {frontend} int8 {variant}: fails in onnxruntime: {results[-1]['error']}", flush=True)
            continue
        session.bytes = path.stat().st_size
        sessions[variant] = session
    times = {variant: [] for variant in sessions}
    for _ in range(3):
        for variant, session in sessions.items():
            times[variant].append(best(session, wav, repeats=1))
    reference = sessions["fp32"](wav)
    for variant, session in list(sessions.items())[1:]:
        ratio = min(times[variant]) / min(times["fp32"])
        diff = (session(wav) - reference).abs().max().item()
        results.append({"size": name, "frontend": frontend, "variant": variant, "seconds_10s": min(times[variant]),
                        "seconds_10s_fp32": min(times["fp32"]), "int8_over_fp32": ratio,
                        "max_abs_dlogp_vs_fp32": diff, "bytes": session.bytes})
        print(f"{name} {frontend} int8 {variant}: {min(times[variant]):.3f}s vs fp32 {min(times['fp32']):.3f}s "
              f"({ratio:.2f}x), max|dlogp| vs fp32 {diff:.2e}, {session.bytes} bytes", flush=True)
    return results


def op_profile(name: str, folder: Path, frontend: str) -> dict:
    """Seconds per ONNX operator type in ONNX fp32 and the default int8 file of one size."""
    import onnxruntime

    model = build(*SIZES[name], frontend=frontend)
    fp32 = export_onnx(model, folder / f"{name}.profile.onnx")
    files = {"fp32": fp32, "int8": quantize_int8(fp32, folder / f"{name}.profile.int8.onnx")}
    wav = torch.randn(1, 16000 * 10).numpy()
    result = {"size": name, "frontend": frontend}
    for label, path in files.items():
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        options.enable_profiling, options.profile_file_prefix = True, str(folder / f"{name}_{label}")
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for _ in range(2):
            session.run(None, {"wav": wav})
        seconds: dict[str, float] = {}
        for event in json.loads(Path(session.end_profiling()).read_text()):
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                op = event["args"]["op_name"]
                seconds[op] = seconds.get(op, 0.0) + event["dur"] / 1e6 / 2
        total = sum(seconds.values())
        top = dict(sorted(seconds.items(), key=lambda item: -item[1])[:6])
        result[label] = {"total_s": total, "seconds_by_op": top}
        print(f"{name} {frontend} {label} profile: total {total:.3f}s; "
              + ", ".join(f"{op} {t:.3f}s ({100 * t / total:.0f}%)" for op, t in top.items()), flush=True)
    return result


def first_last(times: list[float]) -> dict:
    """Median ms of chunks 2-11 and of the last 10 (the final, partial one left out), and their ratio."""
    first, last = statistics.median(times[1:11]), statistics.median(times[-11:-1])
    return {"first_ms": 1000 * first, "last_ms": 1000 * last, "last_over_first": last / first}


def streaming_timing(left_chunks: int, seconds: float = 60.0, chunk_ms: float = 320.0) -> list[dict]:
    """Per-chunk compute of SummaryMixing vs MHSA (all past chunks, ``left_chunks``), interleaved."""
    variants = {
        "SummaryMixing": {},
        "MHSA left_chunks=-1 (all)": {"attention_type": "regularMHA", "left_chunks": -1},
        f"MHSA left_chunks={left_chunks}": {"attention_type": "regularMHA", "left_chunks": left_chunks},
    }
    streams = {name: StreamingCTC(build(*SIZES["mini"], **kwargs), chunk_ms) for name, kwargs in variants.items()}
    wav = torch.randn(int(16000 * seconds))
    for stream in streams.values():  # warm-up, then a fresh stream
        for piece in wav[: 16000 * 3].split(int(16 * chunk_ms)):
            stream.accept(piece)
        stream.reset()
    for piece in wav.split(int(16 * chunk_ms)):
        for stream in streams.values():
            stream.accept(piece)
    results = []
    for name, stream in streams.items():
        stream.finish()
        whole, encoder = first_last(stream.chunk_times), first_last(stream.encoder_times)
        results.append({"mixer": name, "chunks": len(stream.chunk_times), "chunk": whole, "encoder": encoder})
        print(f"streaming {chunk_ms:.0f} ms, {seconds:.0f} s, {name}: {len(stream.chunk_times)} chunks; whole chunk "
              f"median 2-11 {whole['first_ms']:.1f} ms, last 10 {whole['last_ms']:.1f} ms "
              f"({whole['last_over_first']:.2f}x); encoder step {encoder['first_ms']:.1f} -> "
              f"{encoder['last_ms']:.1f} ms ({encoder['last_over_first']:.2f}x)", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = ["mini", "base", "streaming", "int8", "profile"]
    parser.add_argument("parts", nargs="*", choices=[*parts, []], default=["mini", "streaming"])
    parser.add_argument("--int8_sizes", nargs="+", choices=list(SIZES), default=["mini"])
    parser.add_argument("--frontend", choices=["raw_cnn", "mel_cnn"], default="raw_cnn", help="of mini / base / int8")
    parser.add_argument("--left_chunks", type=int, default=4, help="the limited MHSA left context, in chunks")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp())
    results: dict = {"threads": 1, "frontend": args.frontend}
    results["export"] = [export_timing(name, folder, args.frontend) for name in ("mini", "base") if name in args.parts]
    if "int8" in args.parts:
        results["int8"] = [row for name in args.int8_sizes for row in int8_variants(name, folder, args.frontend)]
    if "profile" in args.parts:
        results["profile"] = [op_profile(name, folder, args.frontend) for name in args.int8_sizes]
    if "streaming" in args.parts:
        results["streaming"] = streaming_timing(args.left_chunks)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
