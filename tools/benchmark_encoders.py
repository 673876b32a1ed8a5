"""Benchmark one pretraining-like step of encoders that differ only by their token mixer.

Models (identical initial weights apart from the mixer): the wav2vec 2.0 encoder of
``efficient_ssl.models.PretrainedEncoder`` at mini size: 80 log-mel + 2-layer CNN frontend
(20 ms frames), 6 Conformer layers, d_model 256, 4 heads, d_ffn 1024, batch 2. Mixers:
SummaryMixing, regularMHA (scaled_dot_product_attention) and speechbrain_mha (SpeechBrain's
MHSA, which materialises the T x T attention). Step: forward, mean-square loss on the output,
backward, AdamW step.

Measured side by side in one run, at 5, 10, 20, 30 and 60 s per utterance:
- step_time_s: median wall time of ``--repeats`` steps after a warm-up step, the mixers
  interleaved repeat by repeat so that load from other processes hits them alike;
- peak_mem_mb: parameters + optimiser state + the peak of tensor memory allocated during
  one step (by allocation, ``efficient_ssl.efficiency.PeakMemory``);
- flops: FLOPs of forward + backward (``efficient_ssl.efficiency.count_flops``). Where
  that counter does not count ``scaled_dot_product_attention`` (torch's CPU kernel), the
  regularMHA records say so with ``"flops_include_sdpa": false``.

Writes DIR/benchmark_encoders.json (one record per mixer and length), DIR/benchmark_encoders.png
(log-log time and memory against length), and prints a table with ratios to regularMHA and
the goals with PASS/FAIL.

Usage: python tools/benchmark_encoders.py --output DIR [--quick] [--repeats N] [--seconds 5 10 ...]
"""

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from efficient_ssl.efficiency import PeakMemory, Timer, count_flops, count_parameters  # noqa: E402
from efficient_ssl.models.wav2vec2 import PretrainedEncoder  # noqa: E402

MIXERS = ("SummaryMixing", "regularMHA", "speechbrain_mha")
REFERENCE = "regularMHA"
SAMPLE_RATE = 16000
BATCH = 2
ENCODER = dict(num_layers=6, d_model=256, nhead=4, d_ffn=1024, layer_type="conformer", kernel_size=31)
FRONTEND_CHANNELS = 256
MIB = 2**20


def build_model(attention_type: str, max_seconds: float) -> PretrainedEncoder:
    """The mini encoder with the given mixer; the same seed gives the same shared weights."""
    torch.manual_seed(0)
    max_frames = int(max_seconds * 50) + 10  # 20 ms frames
    return PretrainedEncoder(
        "mel_cnn",
        dict(ENCODER, attention_type=attention_type),
        frontend_kwargs={"channels": FRONTEND_CHANNELS},
        max_len=max_frames,
    ).train()


class Step:
    """One pretraining-like step of a model on a fixed batch.

    Arguments
    ---------
    model : PretrainedEncoder
        The model to train.
    """

    def __init__(self, model: PretrainedEncoder):
        self.model = model
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def forward_backward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> None:
        """Forward, loss on the output, backward. wav (B, S), wav_lens (B,)."""
        out, _, mask = self.model(wav, wav_lens)  # (B, T, d_model), _, (B, T)
        loss = out[mask].pow(2).mean()
        loss.backward()

    def __call__(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> None:
        """The whole step, optimiser included."""
        self.forward_backward(wav, wav_lens)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def state_mb(self) -> float:
        """Parameters + optimiser state in MiB: what a step starts with (gradients are
        allocated inside the step, so PeakMemory sees them)."""
        params = sum(p.numel() * p.element_size() for p in self.model.parameters())
        states = sum(
            t.numel() * t.element_size()
            for state in self.optimizer.state.values()
            for t in state.values()
            if torch.is_tensor(t)
        )
        return (params + states) / MIB


def measure_length(steps: dict[str, Step], seconds: float, repeats: int) -> list[dict]:
    """Time, memory and FLOPs of every step at one utterance length; one record per mixer."""
    torch.manual_seed(1)
    wav = 0.1 * torch.randn(BATCH, int(seconds * SAMPLE_RATE))
    wav_lens = torch.ones(BATCH)
    records = {}
    for mixer, step in steps.items():
        step(wav, wav_lens)  # warm-up (also creates the optimiser state)
        with PeakMemory("cpu") as memory:
            step(wav, wav_lens)
        flops = count_flops(lambda: step.forward_backward(wav, wav_lens))
        step.optimizer.zero_grad(set_to_none=True)
        records[mixer] = {
            "mixer": mixer,
            "seconds": seconds,
            "peak_mem_mb": round(step.state_mb() + memory.peak_mb, 1),
            "step_peak_alloc_mb": round(memory.peak_mb, 1),
            "flops": flops,
            "params": count_parameters(step.model),
            "step_times_s": [],
        }
    for _ in range(repeats):
        for mixer, step in steps.items():
            with Timer("cpu") as timer:
                step(wav, wav_lens)
            records[mixer]["step_times_s"].append(round(timer.seconds, 4))
    for record in records.values():
        record["step_time_s"] = round(statistics.median(record["step_times_s"]), 4)
        record["step_time_min_s"] = min(record["step_times_s"])
    return list(records.values())


def sdpa_is_counted() -> bool:
    """Whether ``count_flops`` counts ``scaled_dot_product_attention`` here."""
    q = torch.ones(1, 1, 4, 8)
    return count_flops(lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q)) > 0


def ratio(records: list[dict], key: str, seconds: float, mixer: str, reference: str) -> Optional[float]:
    """records[mixer][key] / records[reference][key] at ``seconds``; None if not measured."""
    values = {r["mixer"]: r[key] for r in records if r["seconds"] == seconds}
    if mixer not in values or reference not in values:
        return None
    return values[mixer] / values[reference]


def growth_per_doubling(records: list[dict], mixer: str) -> Optional[float]:
    """2 ** slope of the least-squares fit of log time against log length."""
    points = [
        (math.log2(r["seconds"]), math.log2(r["step_time_s"])) for r in records if r["mixer"] == mixer
    ]
    if len(points) < 2:
        return None
    mean_x = statistics.mean(x for x, _ in points)
    mean_y = statistics.mean(y for _, y in points)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = covariance / sum((x - mean_x) ** 2 for x, _ in points)
    return 2**slope


def goals(records: list[dict]) -> list[tuple[str, Optional[float], float]]:
    """(description, measured value or None, upper bound) of every goal."""
    sm, sb = "SummaryMixing", "speechbrain_mha"
    return [
        (f"time {sm} / {REFERENCE} at 20 s", ratio(records, "step_time_s", 20, sm, REFERENCE), 0.72),
        (f"time {sm} / {REFERENCE} at 60 s", ratio(records, "step_time_s", 60, sm, REFERENCE), 0.5),
        (f"{sm} time growth per doubling of length", growth_per_doubling(records, sm), 2.2),
        (f"peak memory {sm} / {REFERENCE} at 60 s", ratio(records, "peak_mem_mb", 60, sm, REFERENCE), 0.95),
        (f"peak memory {sm} / {sb} at 60 s", ratio(records, "peak_mem_mb", 60, sm, sb), 0.5),
    ]


def table(records: list[dict]) -> str:
    """Text table: one row per length and mixer (median and min step time), ratios to regularMHA."""
    lines = [
        f"{'seconds':>7} {'mixer':<16} {'step s':>8} {'(min)':>7} {'x MHA':>6} "
        f"{'peak MB':>9} {'x MHA':>6} {'GFLOPs':>8} {'x MHA':>6}"
    ]
    for r in records:
        s, m = r["seconds"], r["mixer"]
        lines.append(
            f"{s:>7g} {m:<16} {r['step_time_s']:>8.3f} {r['step_time_min_s']:>7.3f} "
            f"{ratio(records, 'step_time_s', s, m, REFERENCE):>6.2f} "
            f"{r['peak_mem_mb']:>9.1f} {ratio(records, 'peak_mem_mb', s, m, REFERENCE):>6.2f} "
            f"{r['flops'] / 1e9:>8.1f} {ratio(records, 'flops', s, m, REFERENCE):>6.2f}"
        )
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    """Log-log step time and peak memory against utterance length, one line per mixer."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for mixer in MIXERS:
        rows = [r for r in records if r["mixer"] == mixer]
        for axis, key in zip(axes, ("step_time_s", "peak_mem_mb")):
            axis.plot([r["seconds"] for r in rows], [r[key] for r in rows], marker="o", label=mixer)
    lengths = sorted({r["seconds"] for r in records})
    for axis, label in zip(axes, ("step time (s)", "peak memory (MiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(lengths, [f"{length:g}" for length in lengths])
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_xlabel("utterance length (s), batch of 2")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle("One pretraining step, 6-layer Conformer d_model 256: mixer comparison")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run(seconds: Sequence[float], repeats: int, log: Callable[[str], None] = print) -> list[dict]:
    """Measure every mixer at every length; returns the records."""
    steps = {mixer: Step(build_model(mixer, max(seconds))) for mixer in MIXERS}
    records = []
    for length in seconds:
        records.extend(measure_length(steps, length, repeats))
        log(f"measured {length:g} s")
    return records


def main(argv: Optional[Sequence[str]] = None) -> list[dict]:
    """Command-line entry point; returns the records."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, type=Path, help="folder for the JSON and PNG")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 and 2 s, one repeat")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per mixer and length")
    parser.add_argument("--seconds", type=float, nargs="+", default=[5, 10, 20, 30, 60])
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch threads (default: torch's default); 1 gives steadier timings on a shared CPU",
    )
    args = parser.parse_args(argv)
    seconds, repeats = ([1, 2], 1) if args.quick else (args.seconds, args.repeats)
    if repeats < 1 or min(seconds) <= 0:
        parser.error("--repeats must be >= 1 and --seconds positive")
    args.output.mkdir(parents=True, exist_ok=True)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; lengths {seconds} s, {repeats} repeats")
    records = run(seconds, repeats)
    sdpa_counted = sdpa_is_counted()
    for record in records:
        record["threads"] = torch.get_num_threads()
        if record["mixer"] == REFERENCE:
            record["flops_include_sdpa"] = sdpa_counted
    json_path = args.output / "benchmark_encoders.json"
    json_path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    plot(records, args.output / "benchmark_encoders.png")

    print(table(records))
    if not sdpa_counted:
        print(
            "note: count_flops does not count scaled_dot_product_attention here: "
            f"{REFERENCE}'s FLOPs miss its attention"
        )
    print("Goals:")
    for description, value, bound in goals(records):
        if value is None:
            print(f"  n/a   {description} <= {bound} (length not measured)")
        else:
            print(f"  {'PASS' if value <= bound else 'FAIL'}  {description}: {value:.2f} (<= {bound})")
    print(f"wrote {json_path} and {json_path.with_suffix('.png')}")
    return records


if __name__ == "__main__":
    main(sys.argv[1:])
