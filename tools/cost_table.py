#!/usr/bin/env python3
"""Cost table: wav2vec 2.0 base, SummaryMixing wav2vec 2.0 base and the sustainable model (paper 3),
measured side by side in one run with ``efficient_ssl.efficiency``.

Models (``--tiny``: the same four, a few hundred kB each, for the tests):

- ``wav2vec2_base``: raw-waveform CNN (512 ch) + 12 x 768 Transformer layers, 12 heads of MHSA
  (scaled_dot_product_attention), d_ffn 3072; the wav2vec 2.0 objective (Gumbel quantiser 2 x 320,
  100 negatives), ``Wav2Vec2Pretrainer`` with ``frontend_grad_scale`` 0.1 as in the paper;
- ``summarymixing_w2v2_base``: paper 1, mel_cnn (80 log-mel + 2 Conv1d) + 12 x 768 Conformer
  layers with SummaryMixing (``recipes/LibriSpeech/pretrain/hparams/wav2vec2_base.yaml``);
- ``sustainable``: paper 3 (``sustainable_base.yaml``): progressive stem + 10 x 768 Transformer
  layers (MHSA), student + EMA teacher;
- ``sustainable_summarymixing``: the same with SummaryMixing in place of MHSA.

Layerdrop is off while measuring (a draw would change the counts from one step to the next).
For each model, on one batch of ``--seconds`` of audio (one utterance) on CPU:

- ``params``: parameters of everything a training step holds (the teacher included);
- ``flops_per_audio_s``: FLOPs of the encoder's forward (eval, no gradient) per second of audio;
- ``train_flops_per_audio_s``: FLOPs of a training step (forward of the student or model, the
  teacher's forward, the loss, the backward) per second of audio (``count_flops``);
- ``peak_train_mem_mb_per_audio_s``: peak tensor memory of a training step's forward and
  backward from the allocator's records (``PeakMemory``), per second of audio, with the model
  state already allocated (weights, gradients, AdamW moments: ``model_state_mb``), so only what
  grows with the audio is counted; ``peak_train_step_mb`` is the peak of a whole step with the
  gradients freed before it (gradients, AdamW's temporaries and activations), not per second;
- ``pretrain_run_flops``: ``train_flops_per_audio_s x steps x audio seconds per step`` of the
  pretraining run as each paper configures it (``PRETRAIN_RUNS``);
- ``step_energy_kwh`` / ``step_co2_kg``: energy and CO2 of one measured training step, from
  codecarbon (``OfflineEmissionsTracker``, ``--country``); where codecarbon is not installed
  (the ``energy`` extra), the project's ``EnergyMeter`` gives the energy and no CO2 is given.
  ``energy_method`` says which. ``pretrain_run_energy_kwh_estimate`` / ``..._co2_kg_estimate``
  scale the step's energy by the audio of the whole run: estimates of the run AT THIS CPU'S
  SPEED, not of the GPU run of the paper.

Writes ``cost_table.json`` (a list of records, one per model, with ratios to wav2vec2_base) and
``cost_table.md``. Usage::

    python tools/cost_table.py --output results/cost_table [--seconds 8] [--country FRA] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from efficient_ssl.efficiency import EnergyMeter, PeakMemory, Timer, count_flops, count_parameters
from efficient_ssl.models import PretrainedEncoder, Wav2Vec2Pretrainer
from efficient_ssl.models.sustainable import EMATeacher, SustainablePretrainer, frame_contrastive_loss

MODELS = ("wav2vec2_base", "summarymixing_w2v2_base", "sustainable", "sustainable_summarymixing")
REFERENCE = "wav2vec2_base"

# Pretraining runs as the papers configure them: optimiser steps x seconds of audio per step.
PRETRAIN_RUNS = {
    "wav2vec2_base": (400_000, 5760.0, "wav2vec 2.0 base: 400k steps x 1.6 h"),
    "summarymixing_w2v2_base": (300_000, 5760.0, "paper 1: 300k steps x 1.6 h"),
    "sustainable": (15_000, 4320.0, "paper 3: 15k steps x 18 x 60 s x 4 accumulation"),
    "sustainable_summarymixing": (15_000, 4320.0, "paper 3's run, SummaryMixing mixer"),
}

# Targets of issue 14: the sustainable model against wav2vec2_base, "at most".
TARGETS = {
    "flops_per_audio_s": 0.2,
    "train_flops_per_audio_s": 0.25,
    "peak_train_mem_mb_per_audio_s": 0.12,
    "pretrain_run_flops": 0.01,
}

SIZES = {  # (d_model, layers, heads, d_ffn, frontend channels, stem channels, stem d_ffn, final_dim)
    "real": dict(d=768, layers=12, sus_layers=10, heads=12, sm_heads=8, ffn=3072, ch=512,
                 stem=[384, 512, 512, 1536, 768], stem_heads=8, stem_ffn=2048, final=256, entries=320, kernel=31),
    "tiny": dict(d=32, layers=2, sus_layers=2, heads=2, sm_heads=2, ffn=64, ch=32,
                 stem=[16, 24, 24, 48, 32], stem_heads=2, stem_ffn=48, final=16, entries=16, kernel=7),
}


class Step:
    """One training step of a model: ``loss(wav, wav_lens)`` + backward + AdamW, and its encoder."""

    def __init__(self, encoder: PretrainedEncoder, modules: torch.nn.ModuleList,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        self.encoder = encoder
        self.modules = modules
        self.loss = loss
        self.optimizer = torch.optim.AdamW([p for p in modules.parameters() if p.requires_grad], lr=1e-6)

    def forward_backward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> None:
        self.loss(wav, wav_lens).backward()

    def __call__(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.forward_backward(wav, wav_lens)
        self.optimizer.step()


def build_step(name: str, size: str = "real") -> Step:
    """The training step of model ``name`` (one of ``MODELS``) at size "real" or "tiny"."""
    s = SIZES[size]
    if name in ("wav2vec2_base", "summarymixing_w2v2_base"):
        if name == "wav2vec2_base":
            encoder = PretrainedEncoder("raw_cnn", {
                "num_layers": s["layers"], "d_model": s["d"], "nhead": s["heads"], "d_ffn": s["ffn"],
                "layer_type": "transformer", "attention_type": "regularMHA"}, frontend_kwargs={"channels": s["ch"]})
            grad_scale = 0.1
        else:
            encoder = PretrainedEncoder("mel_cnn", {
                "num_layers": s["layers"], "d_model": s["d"], "nhead": s["sm_heads"], "d_ffn": s["ffn"],
                "layer_type": "conformer", "attention_type": "SummaryMixing", "kernel_size": s["kernel"]},
                frontend_kwargs={"channels": s["ch"]})
            grad_scale = 1.0
        model = Wav2Vec2Pretrainer(encoder, final_dim=s["final"], quantiser_entries=s["entries"],
                                   frontend_grad_scale=grad_scale).train()
        return Step(encoder, torch.nn.ModuleList([model]), lambda wav, lens: model(wav, lens).loss)
    attention = "SummaryMixing" if name.endswith("summarymixing") else "regularMHA"
    encoder = PretrainedEncoder("progressive_stem", {
        "num_layers": s["sus_layers"], "d_model": s["d"], "nhead": s["heads"], "d_ffn": s["ffn"],
        "layer_type": "transformer", "attention_type": attention},
        frontend_kwargs={"channels": s["stem"], "nhead": s["stem_heads"], "d_ffn": s["stem_ffn"],
                         "attention_type": attention})
    student = SustainablePretrainer(encoder, final_dim=s["final"]).train()
    teacher = EMATeacher(student)

    def loss(wav: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        targets, _ = teacher(wav, lens)
        out = student(wav, lens)
        return frame_contrastive_loss(out.predictions, targets, out.mask, 100, 0.3)[0]

    return Step(encoder, torch.nn.ModuleList([student, teacher]), loss)


def step_energy(step: Step, wav: torch.Tensor, lens: torch.Tensor, country: str) -> dict:
    """Wall time, energy and CO2 of one training step (codecarbon, else the project's meter)."""
    try:
        from codecarbon import OfflineEmissionsTracker
    except ImportError:
        OfflineEmissionsTracker = None
    if OfflineEmissionsTracker is None:
        with EnergyMeter("cpu") as meter, Timer("cpu") as timer:
            step(wav, lens)
        return {"step_time_s": timer.seconds, "step_energy_kwh": (meter.joules or 0.0) / 3.6e6,
                "step_co2_kg": None, "energy_method": f"efficient_ssl EnergyMeter ({meter.method}); codecarbon not installed"}
    tracker = OfflineEmissionsTracker(country_iso_code=country, save_to_file=False, log_level="error")
    tracker.start()
    with Timer("cpu") as timer:
        step(wav, lens)
    co2_kg = tracker.stop()
    data = tracker.final_emissions_data
    return {"step_time_s": timer.seconds, "step_energy_kwh": float(data.energy_consumed),
            "step_co2_kg": float(co2_kg), "energy_method": f"codecarbon {data.codecarbon_version} offline, "
            f"country {country}, CPU {data.cpu_power:.1f} W ({data.cpu_model})"}


def model_state_mb(step: Step) -> float:
    """MiB of the weights (teacher included), gradients and AdamW moments: the memory that does
    not grow with the audio."""
    weights = sum(p.numel() * p.element_size() for p in step.modules.parameters())
    trainable = sum(p.numel() * p.element_size() for p in step.modules.parameters() if p.requires_grad)
    return (weights + 3 * trainable) / 2**20


def measure_model(name: str, seconds: float, size: str, country: str) -> dict:
    """The record of one model (see the module docstring)."""
    torch.manual_seed(0)
    step = build_step(name, size)
    wav = 0.1 * torch.randn(1, int(seconds * 16000))
    lens = torch.ones(1)
    step(wav, lens)  # warm-up: optimiser state allocated outside the measurements
    with PeakMemory("cpu") as whole_step:  # gradients, AdamW's temporaries and activations
        step(wav, lens)
    step.optimizer.zero_grad(set_to_none=False)  # gradients kept: what the audio adds on top
    with PeakMemory("cpu") as memory:
        step.forward_backward(wav, lens)
    train_flops = count_flops(lambda: step.forward_backward(wav, lens))
    step.encoder.eval()
    with torch.no_grad():
        forward_flops = count_flops(lambda: step.encoder(wav, lens))
    step.encoder.train()
    energy = step_energy(step, wav, lens, country)
    steps, audio_per_step, source = PRETRAIN_RUNS[name]
    run_audio_s = steps * audio_per_step
    record = {
        "model": name,
        "params": count_parameters(step.modules),
        "trainable_params": count_parameters(step.modules, trainable_only=True),
        "flops_per_audio_s": forward_flops / seconds,
        "train_flops_per_audio_s": train_flops / seconds,
        "peak_train_mem_mb_per_audio_s": memory.peak_mb / seconds,
        "peak_train_mem_mb": memory.peak_mb,
        "peak_train_step_mb": whole_step.peak_mb,
        "model_state_mb": model_state_mb(step),
        "pretrain_run_flops": train_flops / seconds * run_audio_s,
        "pretrain_run": source,
        "pretrain_steps": steps,
        "pretrain_audio_s_per_step": audio_per_step,
        "measured_audio_s": seconds,
        **energy,
    }
    per_audio_kwh = energy["step_energy_kwh"] / seconds
    record["pretrain_run_energy_kwh_estimate"] = per_audio_kwh * run_audio_s
    record["pretrain_run_co2_kg_estimate"] = (
        None if energy["step_co2_kg"] is None else energy["step_co2_kg"] / seconds * run_audio_s
    )
    return record


def add_ratios(records: list[dict]) -> None:
    """Adds ``<key>_vs_wav2vec2_base`` ratios to every record."""
    reference = next(r for r in records if r["model"] == REFERENCE)
    for record in records:
        for key in TARGETS:
            record[f"{key}_vs_{REFERENCE}"] = record[key] / reference[key] if reference[key] else None


def goals(records: list[dict]) -> list[tuple[str, float | None, float, bool]]:
    """(what, measured ratio, target, met) for the sustainable model's targets."""
    sustainable = next((r for r in records if r["model"] == "sustainable"), None)
    out = []
    for key, target in TARGETS.items():
        ratio = None if sustainable is None else sustainable.get(f"{key}_vs_{REFERENCE}")
        out.append((key, ratio, target, ratio is not None and ratio <= target))
    return out


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if value == 0 or 1e-2 <= abs(value) < 1e5:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}e}"


def table(records: list[dict], seconds: float, size: str) -> str:
    """The markdown report."""
    lines = [
        f"# Cost table ({size} sizes; one training step each on CPU, one utterance of {seconds:g} s)",
        "",
        "| model | params (M) | forward GFLOPs / audio s | train GFLOPs / audio s | peak train MiB / audio s "
        "| model state MiB | pretraining run (PFLOPs) | step time (s) | step energy (Wh) "
        "| run energy (kWh, estimate) | run CO2 (kg, estimate) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['model']} | {r['params'] / 1e6:.1f} | {_fmt(r['flops_per_audio_s'] / 1e9)} "
            f"({_fmt(r['flops_per_audio_s_vs_wav2vec2_base'])}x) | {_fmt(r['train_flops_per_audio_s'] / 1e9)} "
            f"({_fmt(r['train_flops_per_audio_s_vs_wav2vec2_base'])}x) | {_fmt(r['peak_train_mem_mb_per_audio_s'])} "
            f"({_fmt(r['peak_train_mem_mb_per_audio_s_vs_wav2vec2_base'])}x) | {_fmt(r['model_state_mb'])} "
            f"| {_fmt(r['pretrain_run_flops'] / 1e15)} "
            f"({_fmt(r['pretrain_run_flops_vs_wav2vec2_base'])}x) | {r['step_time_s']:.2f} "
            f"| {_fmt(r['step_energy_kwh'] * 1e3)} | {_fmt(r['pretrain_run_energy_kwh_estimate'])} "
            f"| {_fmt(r['pretrain_run_co2_kg_estimate'])} |"
        )
    lines += ["", "Pretraining runs: " + "; ".join(f"{r['model']}: {r['pretrain_run']}" for r in records) + ".",
              "", "Energy: " + records[0]["energy_method"] + ". The run energy and CO2 scale the measured CPU step "
              "by the run's audio: estimates at this CPU's speed, not of the papers' GPU runs.", "",
              "## Targets (sustainable / wav2vec2_base)", "", "| quantity | measured | target | met |", "|---|---|---|---|"]
    for key, ratio, target, met in goals(records):
        lines.append(f"| {key} | {_fmt(ratio)} | <= {target} | {'yes' if met else 'no'} |")
    lines += ["", "Paper 3 claims about 10x less memory and about 1000x less compute than LARGE SSL models "
              "(~300M parameters); the reference here is wav2vec 2.0 BASE. Step times and energies come from "
              "one step on a CPU that may be shared: FLOPs and memory are the comparable figures.", ""]
    return "\n".join(lines)


def run(output: Path, seconds: float = 8.0, size: str = "real", country: str = "FRA",
        models: Sequence[str] = MODELS) -> list[dict]:
    """Measures ``models`` and writes ``cost_table.json`` + ``cost_table.md`` into ``output``."""
    if REFERENCE not in models:
        raise ValueError(f"cost_table: the models must include {REFERENCE}, the reference of every ratio")
    records = []
    for name in models:
        records.append(measure_model(name, seconds, size, country))
        print(f"{name}: {records[-1]['params'] / 1e6:.1f}M params, "
              f"{records[-1]['train_flops_per_audio_s'] / 1e9:.1f} train GFLOPs / audio s", flush=True)
    add_ratios(records)
    output.mkdir(parents=True, exist_ok=True)
    (output / "cost_table.json").write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    (output / "cost_table.md").write_text(table(records, seconds, size), encoding="utf-8")
    return records


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="folder for cost_table.json / .md")
    parser.add_argument("--seconds", type=float, default=8.0, help="audio of the measured batch (one utterance)")
    parser.add_argument("--country", default="FRA", help="ISO 3166 alpha-3 country of codecarbon's carbon intensity")
    parser.add_argument("--tiny", action="store_true", help="tiny models, for tests")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args(argv)
    if not math.isfinite(args.seconds) or args.seconds <= 0:
        parser.error("--seconds must be positive")
    records = run(args.output, args.seconds, "tiny" if args.tiny else "real", args.country, args.models)
    print(table(records, args.seconds, "tiny" if args.tiny else "real"))
    return records


if __name__ == "__main__":
    main()
