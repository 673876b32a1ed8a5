"""Benchmark one training step of wav2vec 2.0 models: token mixers, and ours against speechbrain's.

Two comparisons, measured side by side in one run at 5, 10, 20, 30 and 60 s per utterance
(batch 2), all at mini size: 80 log-mel + 2-layer CNN frontend (256 channels, 20 ms frames),
6 Conformer layers, d_model 256, 4 heads, d_ffn 1024, kernel 31, dropout 0.1.

1. Encoder step, the mixers (identical initial weights apart from the mixer): the encoder of
   ``efficient_ssl.models.PretrainedEncoder`` with SummaryMixing, regularMHA
   (scaled_dot_product_attention) or speechbrain_mha (SpeechBrain's MHSA, which materialises the
   T x T attention). Step: forward, mean-square loss on the output, backward, AdamW step.
   With ``--checkpointing`` both mixers are also measured the other way round, so that each
   runs with and without activation checkpointing: SummaryMixing recomputes its activations in
   the backward pass by default (``SummaryMixing(recompute=True)``) and ``SummaryMixing_no_ckpt``
   stores them; regularMHA stores them and ``regularMHA_ckpt`` wraps every layer's attention in
   ``torch.utils.checkpoint`` (the same scope: the mixer alone). A second table gives the
   with / without ratios of each mixer and SummaryMixing / regularMHA with both settings alike.
2. Full wav2vec 2.0 pretraining step (span masking, Gumbel quantiser, 100 negatives,
   contrastive + diversity loss, backward, AdamW step), since the encoder step above leaves
   out the pretraining heads:
   - regularMHA_w2v2: ours, ``efficient_ssl.models.Wav2Vec2Pretrainer`` with regularMHA;
   - speechbrain_w2v2: the same step assembled from speechbrain 1.1.2's own components as its
     LibriSpeech wav2vec 2.0 recipe wires them: ``compute_mask``, ``EncoderWrapper`` around
     speechbrain's ``ConformerEncoder`` with its regularMHA, ``W2VTargetQuantiser``,
     ``sample_negatives`` and ``ContrastiveLoss``, on the same mel frontend. speechbrain's
     Conformer applies its dropout to the attention weights too (ours keeps them at 0).

Figures per model and length:
- step_time_s: median wall time of ``--repeats`` steps after a warm-up step, the models
  interleaved repeat by repeat so that load from other processes hits them alike;
- peak_mem_mb: parameters + optimiser state + the peak of tensor memory allocated during
  one step (by allocation, ``efficient_ssl.efficiency.PeakMemory``);
- flops: FLOPs of forward + backward (``efficient_ssl.efficiency.count_flops``, attention
  included whichever kernel runs it).

Writes DIR/benchmark_encoders.json (one record per model and length), DIR/benchmark_encoders.png
(log-log time and memory against length), and prints a table with ratios to each
comparison's reference (regularMHA, regularMHA_w2v2) and the goals with PASS/FAIL.

Usage: python tools/benchmark_encoders.py --output DIR [--quick] [--repeats N] [--seconds 5 10 ...] [--floor]
    [--checkpointing] [--models SummaryMixing regularMHA ...] [--threads N]
"""

import argparse
import functools
import json
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from speechbrain.lobes.models.transformer.Conformer import ConformerEncoder
from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding
from speechbrain.lobes.models.wav2vec import (
    EncoderWrapper,
    W2VTargetQuantiser,
    compute_mask,
    sample_negatives,
)
from speechbrain.nnet.losses import ContrastiveLoss
from torch import nn
from torch.utils.checkpoint import checkpoint

from efficient_ssl.efficiency import (
    PeakMemory,
    Timer,
    count_flops,
    count_parameters,
    keep_freed_cpu_memory,
)
from efficient_ssl.models.wav2vec2 import PretrainedEncoder, Wav2Vec2Pretrainer
from efficient_ssl.nnet.frontends import build_frontend
from plotting import pyplot

MIXERS = ("SummaryMixing", "regularMHA", "speechbrain_mha")
OURS_W2V2, SPEECHBRAIN_W2V2 = "regularMHA_w2v2", "speechbrain_w2v2"
MODELS = MIXERS + (OURS_W2V2, SPEECHBRAIN_W2V2)
NO_MIXER = "no_mixer"  # --floor: the encoder step with a mixer that costs nothing
# --checkpointing: both mixers with and without activation checkpointing.
# name -> (attention_type, activations recomputed in the backward pass)
CHECKPOINTING = {
    "SummaryMixing": ("SummaryMixing", True),
    "SummaryMixing_no_ckpt": ("SummaryMixing", False),
    "regularMHA": ("regularMHA", False),
    "regularMHA_ckpt": ("regularMHA", True),
}
CHECKPOINTING_VARIANTS = ("SummaryMixing_no_ckpt", "regularMHA_ckpt")
REFERENCE = {
    **{mixer: "regularMHA" for mixer in MIXERS + CHECKPOINTING_VARIANTS + (NO_MIXER,)},
    OURS_W2V2: OURS_W2V2,
    SPEECHBRAIN_W2V2: OURS_W2V2,
}
SAMPLE_RATE = 16000
BATCH = 2
ENCODER = dict(
    num_layers=6, d_model=256, nhead=4, d_ffn=1024, layer_type="conformer", kernel_size=31, dropout=0.1
)
FRONTEND_CHANNELS = 256
INPUT_DROPOUT = 0.1
W2V2 = dict(
    final_dim=256, mask_prob=0.65, mask_length=10, num_negatives=100, quantiser_entries=320,
    diversity_weight=0.1, logit_temperature=0.1,
)
OURS_OVER_SPEECHBRAIN_BOUND = 1.05
MIN_SECONDS = 1.2  # speechbrain's compute_mask asks for more masked frames than shorter utterances have
MIB = 2**20


def max_frames(max_seconds: float) -> int:
    """Frames the positional encodings must cover: 20 ms frames, with a margin."""
    return int(max_seconds * 50) + 10


class NoMixer(nn.Module):
    """A token mixer that returns its input: what the rest of a layer costs, the floor of any
    mixer's step time."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, d_model) -> x."""
        return x


class Recomputed(nn.Module):
    """A token mixer whose activations are recomputed in the backward pass
    (``torch.utils.checkpoint``) when training with gradients: only its inputs are kept.

    Arguments
    ---------
    mixer : nn.Module
        Maps (x (B, T, d_model), mask (B, T) or None) to (B, T, d_model).
    """

    def __init__(self, mixer: nn.Module):
        super().__init__()
        self.mixer = mixer

    def forward(self, x: torch.Tensor, *args: torch.Tensor | None) -> torch.Tensor:
        """x (B, T, d_model), then the mixer's other arguments -> (B, T, d_model)."""
        if self.training and torch.is_grad_enabled():
            return checkpoint(self.mixer, x, *args, use_reentrant=False)
        return self.mixer(x, *args)


def build_encoder(model: str, max_seconds: float) -> PretrainedEncoder:
    """The mini encoder with the mixer of ``model``: one of ``MIXERS``, ``NO_MIXER`` or a
    checkpointing variant (``CHECKPOINTING``); the same seed gives the same shared weights."""
    attention_type, recompute = CHECKPOINTING.get(model, (model, None))
    torch.manual_seed(0)
    encoder = PretrainedEncoder(
        "mel_cnn",
        dict(ENCODER, attention_type="SummaryMixing" if attention_type == NO_MIXER else attention_type),
        frontend_kwargs={"channels": FRONTEND_CHANNELS},
        input_dropout=INPUT_DROPOUT,
        max_len=max_frames(max_seconds),
    ).train()
    for layer in encoder.context.layers:
        if attention_type == NO_MIXER:
            layer.mixer = NoMixer()
        elif attention_type == "SummaryMixing" and recompute is not None:
            layer.mixer.recompute = recompute
        elif recompute:
            layer.mixer = Recomputed(layer.mixer)
    return encoder


def recomputes(model: str) -> bool | None:
    """Whether the encoder step of ``model`` recomputes its mixer's activations; None for the
    full pretraining steps and ``NO_MIXER``."""
    if model in CHECKPOINTING:
        return CHECKPOINTING[model][1]
    return False if model == "speechbrain_mha" else None


class SpeechBrainWav2Vec2(nn.Module):
    """wav2vec 2.0 pretraining assembled from speechbrain 1.1.2's components, wired as in its
    LibriSpeech recipe (``train_sb_wav2vec2.py``), at the benchmark's configuration.

    Arguments
    ---------
    max_seconds : float
        Longest utterance the positional encodings must cover.

    Example
    -------
    >>> model = SpeechBrainWav2Vec2(max_seconds=1.0)
    >>> loss = model(torch.randn(2, 16000), torch.ones(2))
    >>> loss.shape
    torch.Size([])
    """

    def __init__(self, max_seconds: float):
        super().__init__()
        d_model, final_dim = ENCODER["d_model"], W2V2["final_dim"]
        self.frontend = build_frontend("mel_cnn", channels=FRONTEND_CHANNELS)
        conformer = ConformerEncoder(
            num_layers=ENCODER["num_layers"],
            d_model=d_model,
            d_ffn=ENCODER["d_ffn"],
            nhead=ENCODER["nhead"],
            kernel_size=ENCODER["kernel_size"],
            dropout=ENCODER["dropout"],
            attention_type="regularMHA",
        )
        self.wrapper = EncoderWrapper(
            FRONTEND_CHANNELS,
            d_model,
            conformer,
            positional_encoding=functools.partial(PositionalEncoding, max_len=max_frames(max_seconds)),
            dropout_encoder_input=INPUT_DROPOUT,
        )
        self.quantiser = W2VTargetQuantiser(FRONTEND_CHANNELS, final_dim, num_vars=W2V2["quantiser_entries"])
        self.feat_proj = nn.Linear(d_model, final_dim)
        self.loss = ContrastiveLoss(W2V2["logit_temperature"])

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """The loss to backpropagate. wav (B, S), wav_lens (B,) relative lengths."""
        batch = wav.shape[0]
        latents = self.frontend(wav, wav_lens)  # (B, T, C)
        frames = self.frontend.frame_mask(wav_lens, wav.shape[1]).sum(dim=1)  # (B,)
        mask = compute_mask(latents.shape[:2], frames.tolist(), W2V2["mask_prob"], W2V2["mask_length"])
        mask = torch.from_numpy(mask).to(wav.device)  # (B, T) bool, True = masked
        embeddings = self.wrapper(latents, wav_lens=wav_lens, mask=mask)["embeddings"]  # (B, T, d_model)
        predictions = self.feat_proj(embeddings[mask]).view(batch, -1, W2V2["final_dim"])  # (B, M, F)
        targets, meta = self.quantiser(latents[mask].view(batch, -1, latents.shape[-1]))  # (B, M, F)
        negatives = sample_negatives(targets, W2V2["num_negatives"])  # (N, B, M, F)
        loss, _ = self.loss(predictions, targets, negatives)
        return loss + meta["diversity_loss"] * W2V2["diversity_weight"] * mask.sum()


class Step:
    """One training step of a model on a fixed batch.

    Arguments
    ---------
    model : nn.Module
        The model to train.
    loss_fn : Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
        (wav (B, S), wav_lens (B,)) -> scalar loss, running ``model``.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def forward_backward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> None:
        """Forward, loss, backward. wav (B, S), wav_lens (B,)."""
        self.loss_fn(wav, wav_lens).backward()

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


def build_step(model: str, max_seconds: float) -> Step:
    """The training step of one of ``MODELS``."""
    if model == SPEECHBRAIN_W2V2:
        torch.manual_seed(0)
        speechbrain_w2v2 = SpeechBrainWav2Vec2(max_seconds).train()
        return Step(speechbrain_w2v2, speechbrain_w2v2)
    if model == OURS_W2V2:
        ours = Wav2Vec2Pretrainer(build_encoder("regularMHA", max_seconds), **W2V2).train()
        return Step(ours, lambda wav, wav_lens: ours(wav, wav_lens).loss)
    encoder = build_encoder(model, max_seconds)

    def encoder_loss(wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        out, _, mask = encoder(wav, wav_lens)  # (B, T, d_model), _, (B, T)
        return out[mask].pow(2).mean()

    return Step(encoder, encoder_loss)


def measure_length(steps: dict[str, Step], seconds: float, repeats: int) -> list[dict]:
    """Time, memory and FLOPs of every step at one utterance length; one record per model."""
    torch.manual_seed(1)
    wav = 0.1 * torch.randn(BATCH, int(seconds * SAMPLE_RATE))
    wav_lens = torch.ones(BATCH)
    records = {}
    for mixer, step in steps.items():
        step(wav, wav_lens)  # warm-up (also creates the optimiser state)
        with PeakMemory("cpu") as memory:
            step(wav, wav_lens)
        flops = count_flops(lambda: step.forward_backward(wav, wav_lens))  # noqa: B023 (called here)
        step.optimizer.zero_grad(set_to_none=True)
        records[mixer] = {
            "mixer": mixer,
            "seconds": seconds,
            "peak_mem_mb": round(step.state_mb() + memory.peak_mb, 1),
            "step_peak_alloc_mb": round(memory.peak_mb, 1),
            "flops": flops,
            "params": count_parameters(step.model),
            "activation_checkpointing": recomputes(mixer),
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


def ratio(records: list[dict], key: str, seconds: float, mixer: str, reference: str) -> float | None:
    """records[mixer][key] / records[reference][key] at ``seconds``; None if not measured."""
    values = {r["mixer"]: r[key] for r in records if r["seconds"] == seconds}
    if mixer not in values or reference not in values:
        return None
    return values[mixer] / values[reference]


def growth_per_doubling(records: list[dict], mixer: str) -> float | None:
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


def goals(records: list[dict]) -> list[tuple[str, float | None, float]]:
    """(description, measured value or None, upper bound) of every goal."""
    sm, mha, sb = "SummaryMixing", "regularMHA", "speechbrain_mha"
    ours_vs_speechbrain = [
        (
            f"time {OURS_W2V2} / {SPEECHBRAIN_W2V2} at {length:g} s (full pretraining step)",
            ratio(records, "step_time_s", length, OURS_W2V2, SPEECHBRAIN_W2V2),
            OURS_OVER_SPEECHBRAIN_BOUND,
        )
        for length in sorted({r["seconds"] for r in records})
    ]
    return [
        (f"time {sm} / {mha} at 20 s", ratio(records, "step_time_s", 20, sm, mha), 0.72),
        (f"time {sm} / {mha} at 60 s", ratio(records, "step_time_s", 60, sm, mha), 0.5),
        (f"{sm} time growth per doubling of length", growth_per_doubling(records, sm), 2.2),
        (f"peak memory {sm} / {mha} at 60 s", ratio(records, "peak_mem_mb", 60, sm, mha), 0.95),
        (f"peak memory {sm} / {sb} at 60 s", ratio(records, "peak_mem_mb", 60, sm, sb), 0.5),
        *ours_vs_speechbrain,
    ]


def table(records: list[dict]) -> str:
    """Text table: one row per length and model (median and min step time), ratios ("x ref") to
    the reference of the model's comparison (``REFERENCE``)."""
    lines = [
        f"{'seconds':>7} {'mixer':<21} {'step s':>8} {'(min)':>7} {'x ref':>6} "
        f"{'peak MB':>9} {'x ref':>6} {'GFLOPs':>8} {'x ref':>6}"
    ]
    for r in records:
        s, m = r["seconds"], r["mixer"]
        time, memory, flops = (
            format_ratio(ratio(records, key, s, m, REFERENCE[m])) for key in ("step_time_s", "peak_mem_mb", "flops")
        )
        lines.append(
            f"{s:>7g} {m:<21} {r['step_time_s']:>8.3f} {r['step_time_min_s']:>7.3f} {time} "
            f"{r['peak_mem_mb']:>9.1f} {memory} {r['flops'] / 1e9:>8.1f} {flops}"
        )
    return "\n".join(lines)


def format_ratio(value: float | None) -> str:
    """A ratio in 6 columns; n/a when its reference was not measured."""
    return f"{'n/a':>6}" if value is None else f"{value:>6.2f}"


def checkpointing_table(records: list[dict]) -> str:
    """Both mixers with and without activation checkpointing, side by side: the with / without
    ratios of each mixer, and SummaryMixing / regularMHA with both mixers set alike."""
    pairs = [
        ("SummaryMixing", "SummaryMixing_no_ckpt", "SummaryMixing ckpt / no ckpt"),
        ("regularMHA_ckpt", "regularMHA", "regularMHA ckpt / no ckpt"),
        ("SummaryMixing_no_ckpt", "regularMHA", "SummaryMixing / regularMHA, neither ckpt"),
        ("SummaryMixing", "regularMHA_ckpt", "SummaryMixing / regularMHA, both ckpt"),
        ("SummaryMixing", "regularMHA", "SummaryMixing / regularMHA, as built (SM ckpt)"),
    ]
    lines = [f"{'seconds':>7} {'ratio':<47} {'time':>6} {'peak MB':>7} {'FLOPs':>6}"]
    for length in sorted({r["seconds"] for r in records}):
        for model, reference, label in pairs:
            time, memory, flops = (
                ratio(records, key, length, model, reference) for key in ("step_time_s", "peak_mem_mb", "flops")
            )
            if None not in (time, memory, flops):
                lines.append(f"{length:>7g} {label:<47} {time:>6.2f} {memory:>7.2f} {flops:>6.2f}")
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    """Log-log step time and peak memory against utterance length, one line per model
    (dashed: full wav2vec 2.0 pretraining steps; dotted: no mixer)."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for model in dict.fromkeys(r["mixer"] for r in records):
        rows = [r for r in records if r["mixer"] == model]
        style = {NO_MIXER: ":"}.get(model, "-" if model in MIXERS else "-." if model in CHECKPOINTING else "--")
        for axis, key in zip(axes, ("step_time_s", "peak_mem_mb")):
            axis.plot([r["seconds"] for r in rows], [r[key] for r in rows], style, marker="o", label=model)
    lengths = sorted({r["seconds"] for r in records})
    for axis, label in zip(axes, ("step time (s)", "peak memory (MiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(lengths, [f"{length:g}" for length in lengths])
        axis.xaxis.set_minor_formatter(plt.NullFormatter())
        axis.set_xlabel("utterance length (s), batch of 2")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle(
        "One training step, 6-layer Conformer d_model 256: encoder (solid; dash-dot: other checkpointing), "
        "full wav2vec 2.0 (dashed)",
        fontsize="medium",
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run(
    seconds: Sequence[float], repeats: int, models: Sequence[str] = MODELS, log: Callable[[str], None] = print
) -> list[dict]:
    """Measure every model at every length; returns the records."""
    steps = {model: build_step(model, max(seconds)) for model in models}
    records = []
    for length in seconds:
        records.extend(measure_length(steps, length, repeats))
        log(f"measured {length:g} s")
    return records


def main(argv: Sequence[str] | None = None) -> list[dict]:
    """Command-line entry point; returns the records."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, type=Path, help="folder for the JSON and PNG")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1.5 and 3 s, one repeat")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per mixer and length")
    parser.add_argument("--seconds", type=float, nargs="+", default=[5, 10, 20, 30, 60])
    parser.add_argument(
        "--floor", action="store_true",
        help=f"also time the encoder step with a mixer that costs nothing ({NO_MIXER!r}): the floor of any mixer",
    )
    parser.add_argument(
        "--checkpointing", action="store_true",
        help="also time SummaryMixing without activation checkpointing and regularMHA with it "
        f"({', '.join(CHECKPOINTING_VARIANTS)}): both mixers both ways, with ratios",
    )
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), metavar="MODEL",
        help=f"models to time (default: all of {', '.join(MODELS)}); --floor and --checkpointing add theirs",
    )
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch threads (default: torch's default); 1 gives steadier timings on a shared CPU",
    )
    args = parser.parse_args(argv)
    seconds, repeats = ([1.5, 3], 1) if args.quick else (args.seconds, args.repeats)
    if repeats < 1 or min(seconds) < MIN_SECONDS:
        parser.error(
            f"--repeats must be >= 1 and --seconds >= {MIN_SECONDS} (speechbrain's compute_mask, "
            "used by the speechbrain_w2v2 step, fails on shorter utterances)"
        )
    args.output.mkdir(parents=True, exist_ok=True)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    keep_freed_cpu_memory()  # as Brain.fit does on CPU: steps reuse freed memory
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; lengths {seconds} s, {repeats} repeats")
    models = [*args.models, *(CHECKPOINTING_VARIANTS if args.checkpointing else ()), *((NO_MIXER,) if args.floor else ())]
    records = run(seconds, repeats, list(dict.fromkeys(models)))
    for record in records:
        record["threads"] = threads
    json_path = args.output / "benchmark_encoders.json"
    json_path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    plot(records, args.output / "benchmark_encoders.png")

    print(table(records))
    if args.checkpointing:
        print("Activation checkpointing (the mixer's activations recomputed in the backward pass):")
        print(checkpointing_table(records))
    print("Goals:")
    for description, value, bound in goals(records):
        if value is None:
            print(f"  n/a   {description} <= {bound} (model or length not measured)")
        else:
            print(f"  {'PASS' if value <= bound else 'FAIL'}  {description}: {value:.2f} (<= {bound})")
    for length in (20, 60) if args.floor else ():
        floor = ratio(records, "step_time_s", length, NO_MIXER, "regularMHA")
        if floor is not None:
            print(f"  floor: {NO_MIXER} / regularMHA time at {length} s: {floor:.2f} (no mixer can do better)")
    print(f"wrote {json_path} and {json_path.with_suffix('.png')}")
    return records


if __name__ == "__main__":
    main(sys.argv[1:])
