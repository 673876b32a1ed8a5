#!/usr/bin/env python3
"""Distillation side by side: teacher and students, measured in one run with the efficiency API.

For every model: parameters, MACs per second of audio at a short and a long utterance (5 s and
60 s: a linear-time encoder keeps the same MACs per second, attention's grow), CPU real-time
factor (median of 3 forwards of one utterance, this process's threads) and peak inference memory (peak of live tensor
bytes on CPU, ``efficient_ssl.efficiency.PeakMemory``), with ratios to the teacher of the same
configuration. Writes ``DIR/distill.json`` (a list of records ``{"model", "config", "params",
"macs_per_audio_s", ...}``; ``macs_per_audio_s`` is the short-utterance figure) and
``DIR/distill.md``, and prints the issue's targets with PASS / FAIL.

Two modes:

- ``--construct-only``: no training, no files: the teacher of each configuration (``base``: the
  12 x 768 pretraining configuration, ``mini``: 4 x 144; an MHSA teacher by default, as the
  distillation that turns attention into SummaryMixing) and its two students as the recipe
  builds them (``recipes/LibriSpeech/distill/hparams/distill_<config>.yaml``: ``num_layers``,
  ``teacher_layers``), one per mixer. Random weights: costs depend on shapes only.
- trained encoders: ``--encoder NAME=PATH`` (repeatable; a pretraining or distillation save
  folder, a ``student`` export, anything ``load_pretrained_encoder`` takes), with
  ``--teacher-name`` naming the one the ratios divide by; ``--probes DIR/probes.csv`` (from
  ``tools/run_probes.py`` with the same NAMEs; repeatable) adds their probe scores to the records.

Usage:
    python tools/distill_report.py --construct-only --output results/distill_report
    python tools/distill_report.py --output results/distill_mini \\
        --encoder teacher=results/wav2vec2_mini/regularMHA_mel_cnn/1234/save \\
        --encoder student_summarymixing=results/distill_mini/SummaryMixing_2/1234/student \\
        --probes results/probes/probes.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from ruamel.yaml import YAML
from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding

from efficient_ssl.efficiency import PeakMemory, Timer, count_flops, count_parameters, measure
from efficient_ssl.models import PretrainedEncoder, load_pretrained_encoder
from efficient_ssl.models.distill import build_student

ROOT = Path(__file__).resolve().parents[1]
RECIPE_HPARAMS = ROOT / "recipes" / "LibriSpeech" / "distill" / "hparams"
SIZES = ROOT / "hparams" / "sizes"
TARGETS = {"base": {"params_ratio": 0.25, "macs_ratio": 0.30}, "mini": {"macs_ratio": 0.50}}


def yaml_value(path: Path, key: str):
    """A top-level value of a recipe YAML, following its ``base_yaml`` chain (tags ignored)."""
    data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    if key in data:
        value = data[key]
        return list(value) if isinstance(value, list) else value
    if "base_yaml" in data:
        return yaml_value(path.parent / data["base_yaml"], key)
    raise KeyError(f"{path}: no key {key!r}")


def teacher_for(config: str, attention_type: str) -> PretrainedEncoder:
    """The pretraining recipe's encoder at size ``config`` (hparams/sizes/<config>.yaml), random weights."""
    size = YAML(typ="safe").load((SIZES / f"{config}.yaml").read_text(encoding="utf-8"))
    return PretrainedEncoder(
        "mel_cnn",
        {"num_layers": size["num_layers"], "d_model": size["d_model"], "nhead": size["nhead"],
         "d_ffn": size["d_ffn"], "kernel_size": size["kernel_size"], "attention_type": attention_type},
        frontend_kwargs={"channels": size["frontend_channels"]},
    )


def constructed_models(config: str, teacher_attention: str) -> dict[str, tuple[PretrainedEncoder, dict]]:
    """{name: (encoder, extra)}: the teacher and its students, one per mixer, as the recipe builds them."""
    yaml_file = RECIPE_HPARAMS / f"distill_{config}.yaml"
    num_layers = int(yaml_value(yaml_file, "num_layers"))
    heads = len(yaml_value(yaml_file, "teacher_layers"))
    teacher = teacher_for(config, teacher_attention)
    models = {"teacher": (teacher, {})}
    for name, mixer in (("student_mha", "regularMHA"), ("student_summarymixing", "SummaryMixing")):
        student = build_student(teacher, num_layers=num_layers, attention_type=mixer)
        models[name] = (student, {"head_params": heads * (student.d_model * teacher.d_model + teacher.d_model)})
    return models


def cover_length(encoder: PretrainedEncoder, seconds: float) -> None:
    """Extends the sinusoidal positions (deterministic, same first rows) to ``seconds`` if needed."""
    frames = int(seconds * 50) + 10  # 20 ms frames, with a margin
    if frames > encoder.max_len:
        encoder.positions = PositionalEncoding(encoder.d_model, frames)
        encoder.max_len = frames


def measure_encoder(encoder: PretrainedEncoder, short_s: float, long_s: float) -> dict:
    """Costs of one forward on one utterance of ``short_s`` and of ``long_s`` seconds."""
    encoder.eval()
    cover_length(encoder, max(short_s, long_s))
    record = {"params": count_parameters(encoder)}
    torch.manual_seed(0)
    with torch.no_grad():
        wav = torch.randn(1, int(16000 * short_s))
        report = measure(lambda: encoder(wav, torch.ones(1)), device="cpu", audio_seconds=short_s, module=encoder)
        times = []
        for _ in range(3):  # the median of 3 timed forwards (measure's timed pass is one)
            with Timer("cpu") as timer:
                encoder(wav, torch.ones(1))
            times.append(timer.seconds)
        record.update({
            "macs_per_audio_s": report.macs_per_audio_s,
            f"macs_per_audio_s_{short_s:g}s": report.macs_per_audio_s,
            f"rtf_cpu_{short_s:g}s": statistics.median(times) / short_s,
            f"peak_mem_mb_{short_s:g}s": report.peak_mem_mb,
        })
        wav = torch.randn(1, int(16000 * long_s))
        with PeakMemory("cpu") as peak:  # one pass: FLOPs and peak memory
            flops = count_flops(lambda: encoder(wav, torch.ones(1)))
        record[f"macs_per_audio_s_{long_s:g}s"] = flops / 2 / long_s
        record[f"peak_mem_mb_{long_s:g}s"] = peak.peak_mb
    record["macs_growth"] = record[f"macs_per_audio_s_{long_s:g}s"] / record["macs_per_audio_s"]
    record["num_layers"] = len(encoder.context.layers)
    record["d_model"] = encoder.d_model
    record["attention_type"] = encoder.config["encoder"].get("attention_type", "SummaryMixing")
    return record


def add_ratios(records: list[dict], teacher_name: str) -> None:
    """params_ratio and macs_ratio of every record to the teacher of its configuration."""
    teachers = {r["config"]: r for r in records if r["model"] == teacher_name}
    for record in records:
        teacher = teachers.get(record["config"])
        if teacher:
            record["params_ratio"] = record["params"] / teacher["params"]
            record["macs_ratio"] = record["macs_per_audio_s"] / teacher["macs_per_audio_s"]


def read_probes(path: Path) -> dict[str, dict[str, str]]:
    """{encoder name: {task: score}} from ``tools/run_probes.py``'s probes.csv (first column: encoder)."""
    with open(path, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return {}
    key = next(iter(rows[0]))
    return {row[key]: {f"probe_{k}": v for k, v in row.items() if k != key} for row in rows}


def table(records: list[dict], short_s: float, long_s: float) -> str:
    """The markdown table."""
    lines = [
        f"| config | model | mixer | layers x width | params (M) | params ratio | GMACs / audio s ({short_s:g} s) "
        f"| GMACs / audio s ({long_s:g} s) | MACs ratio | CPU RTF ({short_s:g} s) | peak MiB ({short_s:g} s) "
        f"| peak MiB ({long_s:g} s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['config']} | {r['model']} | {r['attention_type']} | {r['num_layers']} x {r['d_model']} "
            f"| {r['params'] / 1e6:.2f} | {r.get('params_ratio', float('nan')):.3f} "
            f"| {r['macs_per_audio_s'] / 1e9:.3f} | {r[f'macs_per_audio_s_{long_s:g}s'] / 1e9:.3f} "
            f"| {r.get('macs_ratio', float('nan')):.3f} | {r[f'rtf_cpu_{short_s:g}s']:.4f} "
            f"| {r[f'peak_mem_mb_{short_s:g}s']:.1f} | {r[f'peak_mem_mb_{long_s:g}s']:.1f} |"
        )
    probe_keys = sorted({k for r in records for k in r if k.startswith("probe_")})
    if probe_keys:
        lines += ["", "| config | model | " + " | ".join(k[len("probe_"):] for k in probe_keys) + " |",
                  "|---|---|" + "---|" * len(probe_keys)]
        lines += [f"| {r['config']} | {r['model']} | " + " | ".join(str(r.get(k, "")) for k in probe_keys) + " |"
                  for r in records]
    return "\n".join(lines) + "\n"


def targets(records: list[dict]) -> list[str]:
    """The issue's targets measured by construction, PASS / FAIL per student."""
    lines = []
    for r in records:
        if not r["model"].startswith("student") or r["config"] not in TARGETS:
            continue
        for key, limit in TARGETS[r["config"]].items():
            value = r.get(key)
            if value is not None:
                verdict = "PASS" if value <= limit else "FAIL"
                lines.append(f"{verdict} {r['config']} {r['model']}: {key} {value:.3f} <= {limit}")
        if r["attention_type"] == "SummaryMixing":
            verdict = "PASS" if r["macs_growth"] <= 1.05 else "FAIL"
            lines.append(f"{verdict} {r['config']} {r['model']}: MACs per audio second grow x{r['macs_growth']:.3f} "
                         "from the short to the long utterance (linear: <= 1.05)")
    return lines


def parse_args(argv: Sequence[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--construct-only", action="store_true", help="measure the base and mini configurations by construction")
    parser.add_argument("--configs", nargs="+", default=["base", "mini"], choices=["base", "mini"])
    parser.add_argument("--teacher-attention", default="regularMHA", help="mixer of the constructed teachers")
    parser.add_argument("--encoder", action="append", default=[], help="NAME=PATH of a trained encoder (repeatable)")
    parser.add_argument("--teacher-name", default="teacher", help="the --encoder the ratios divide by")
    parser.add_argument("--config-name", default="mini", help="the config column of trained encoders")
    parser.add_argument("--probes", type=Path, action="append", default=[],
                        help="probes.csv of tools/run_probes.py (rows named as --encoder; repeat for several)")
    parser.add_argument("--short-s", type=float, default=5.0)
    parser.add_argument("--long-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not args.construct_only and not args.encoder:
        parser.error("give --construct-only, or trained encoders with --encoder NAME=PATH")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    records = []
    if args.construct_only:
        for config in args.configs:
            for name, (encoder, extra) in constructed_models(config, args.teacher_attention).items():
                print(f"measuring {config} {name} ...", file=sys.stderr, flush=True)
                records.append({"model": name, "config": config, "measured": "construction",
                                **measure_encoder(encoder, args.short_s, args.long_s), **extra})
                del encoder
    for spec in args.encoder:
        name, _, path = spec.partition("=")
        if not path:
            raise SystemExit(f"error: --encoder {spec!r}: write NAME=PATH")
        encoder = load_pretrained_encoder(path)
        records.append({"model": name, "config": args.config_name, "measured": "trained", "path": path,
                        **measure_encoder(encoder, args.short_s, args.long_s)})
    add_ratios(records, "teacher" if args.construct_only and not args.encoder else args.teacher_name)
    if args.probes:
        probes = {name: row for path in args.probes for name, row in read_probes(path).items()}
        for record in records:
            record.update(probes.get(record["model"], {}))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "distill.json").write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    verdicts = targets(records)
    text = table(records, args.short_s, args.long_s)
    (args.output / "distill.md").write_text(
        f"{text}\n" + "".join(f"- {line}\n" for line in verdicts) + f"\nthreads: {torch.get_num_threads()}\n",
        encoding="utf-8",
    )
    print(text + "\n".join(verdicts))
    return records


if __name__ == "__main__":
    main()
