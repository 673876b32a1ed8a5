"""int8 and streaming timing of random-weight streamable CTC models, 1 CPU thread, best of 3:
ONNX fp32 vs PyTorch max |d log-prob|, PyTorch / ONNX fp32 / ONNX int8 time on 10 s of audio,
and per-chunk streaming compute over 60 s (first vs last chunks, mini only).
``python tools/deploy_timing.py [mini] [base]`` (default: mini; base = 12 x 768). Needs the ``deploy`` extra.

Authors
 * efficient_ssl contributors 2026
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from efficient_ssl.deploy.export import OnnxCTC, export_onnx, quantize_int8
from efficient_ssl.deploy.streaming import stream_log_probs
from efficient_ssl.models import CTCModel, PretrainedEncoder

SIZES = [("mini", (4, 144, 576, 144, 4)), ("base", (12, 768, 3072, 512, 8))]


def build(layers: int, d_model: int, d_ffn: int, channels: int, nhead: int) -> CTCModel:
    """A streamable raw_cnn SummaryMixing Conformer CTC model with random weights."""
    torch.manual_seed(0)
    config = {"num_layers": layers, "d_model": d_model, "nhead": nhead, "d_ffn": d_ffn,
              "kernel_size": 15, "chunk_size": 16, "causal": True}
    encoder = PretrainedEncoder("raw_cnn", config, frontend_kwargs={"channels": channels}, max_len=4000)
    return CTCModel(encoder, 30).eval()


def best(run, wav: torch.Tensor, repeats: int = 3) -> float:
    """Fastest of ``repeats`` calls of ``run(wav)``, seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(wav)
        times.append(time.perf_counter() - start)
    return min(times)


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp())
    for name, config in [size for size in SIZES if size[0] in names]:
        model = build(*config)
        fp32 = export_onnx(model, folder / f"{name}.onnx")
        int8 = quantize_int8(fp32, folder / f"{name}.int8.onnx")
        wav = torch.randn(1, 16000 * 10)
        with torch.inference_mode():
            reference = model(wav, torch.ones(1)).logits[-1].log_softmax(-1)
            t_torch = best(lambda w, m=model: m(w, torch.ones(1)), wav)
        onnx32, onnx8 = OnnxCTC(fp32), OnnxCTC(int8)
        diff = (onnx32(wav) - reference).abs().max().item()
        t32, t8 = best(onnx32, wav), best(onnx8, wav)
        print(f"{name}: max|dlogp| onnx fp32 {diff:.2e}; 10 s audio, 1 thread: pytorch {t_torch:.3f}s "
              f"onnx fp32 {t32:.3f}s int8 {t8:.3f}s; int8/fp32 {t8 / t32:.2f}; "
              f"bytes fp32 {fp32.stat().st_size} int8 {int8.stat().st_size}", flush=True)
        if name == "mini":
            _, times = stream_log_probs(model, torch.randn(16000 * 60), 320)
            first, last = statistics.median(times[1:11]), statistics.median(times[-11:-1])
            print(f"{name} streaming 320 ms, 60 s: {len(times)} chunks, median compute chunks 2-11 "
                  f"{1000 * first:.1f} ms, last 10 {1000 * last:.1f} ms, ratio {last / first:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["mini"])
