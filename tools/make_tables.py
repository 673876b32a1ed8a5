#!/usr/bin/env python3
"""One report from a results folder: every paper's table in its own form, and an efficiency frontier.

Reads whatever result files the tools and recipes left anywhere under RESULTS_DIR (found by
file name, so any layout works; several files of one kind give one table each, labelled by
their folder) and writes RESULTS_DIR/REPORT.md:

- one section per paper (``SECTIONS``: file name -> renderer), its rows and columns as the paper
  lays them out, each measured value beside the paper's published one where PAPERS.md gives
  one (``23.10 (paper 9.70)``), the tools' PNGs linked, and a ``Source:`` line with the
  relative path of the file every number comes from;
- a section whose input is missing says so, with the one command that makes it;
- an efficiency frontier: CER against MACs per second of audio (and against CPU real-time
  factor) over every record that has them, each labelled by method and folder, the
  Pareto-optimal ones marked, in a table and in ``frontier.png`` beside the report;
- for a main-job folder (``tools/main_job.py``), how long it ran: the wall time summed over the
  sittings it took, and each stage's time (tools/stages.py keeps both across kills).

Nothing is measured here and nothing is invented: a cell the inputs do not hold reads ``-``.

Usage:
    python tools/make_tables.py RESULTS_DIR [--output REPORT.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stages import run_time

from plotting import pyplot

# Published values, as the papers report them (the project notes' PAPERS.md).
PAPER1 = {"time": "0.82", "memory": "0.77"}  # SummaryMixing / MHSA: pretraining time, peak VRAM
MP3S_REFERENCE = {  # data2vec base, probe 1 (MP3S reference row)
    "librispeech_asr": "5.30", "buckeye_asr": "37.26", "cv_cy_asr": "54.00", "cv_eu_asr": "46.37",
    "speaker_verification": "5.43", "emotion": "63.0", "intent": "56.9",
}
# A CTC model at or above this CER still emits (almost) only blanks: a claim between two such runs
# says nothing (short schedules, e.g. the main job's quick budget)
PLATEAU_CER = 95.0
PAPER3 = {"memory": "~0.1 vs large SSL", "run_flops": "~0.001 vs large SSL"}  # the sustainable model's claim
PAPER5 = {  # strategy spec -> column -> published value (WavLM-Large, test-clean)
    "baseline": {"wer": "4.09", "macs_ratio": "1.00", "time_ratio": "1.00"},
    "conv:3": {"wer": "4.12 with LM", "macs_ratio": f"{134.9 / 386.5:.2f}", "time_ratio": f"{436 / 1128:.2f}"},
    "conv:2": {"macs_ratio": f"{193 / 386.5:.2f}"},
    "conv:4": {"wer": "21.88"},
}


@dataclass(frozen=True)
class Point:
    """One record on the efficiency frontier."""

    method: str
    source: str  # the folder of its file, relative to the results folder
    cer: float
    macs: float | None = None  # per second of audio
    rtf: float | None = None  # CPU real-time factor


# ------------------------------------------------------------------------------------ helpers
def num(value, spec: str = ".2f", per: float = 1.0) -> str:
    """``value / per`` formatted, ``-`` when absent.

    Example
    -------
    >>> num(3.14159), num(None), num(2e6, ".1f", per=1e6)
    ('3.14', '-', '2.0')
    """
    return "-" if value is None or value == "" else format(float(value) / per, spec)


def with_paper(text: str, paper: str | None) -> str:
    """A measured cell with the paper's value beside it, when there is one."""
    return text if paper is None else f"{text} (paper {paper})"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def pareto_optimal(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Which (cost, error) points no other point dominates (<= on both and < on one).

    Example
    -------
    >>> pareto_optimal([(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (2.0, 3.0), (4.0, 1.0)])
    [True, True, False, True, True]
    """
    return [not any(c <= x and e <= y and (c < x or e < y) for c, e in points) for x, y in points]


def mean_std(values: Sequence[float]) -> str:
    """``mean``, or ``mean ± std`` over several seeds."""
    text = f"{statistics.fmean(values):.2f}"
    return text + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")


# ------------------------------------------------------------------------------- paper 1
def render_benchmark(path: Path, records: list[dict]) -> list[str]:
    """Training-step time and memory against utterance length, SummaryMixing against MHSA."""
    by = {(r["seconds"], r["mixer"]): r for r in records}
    rows = []
    for seconds in sorted({r["seconds"] for r in records}):
        sm, mha = by.get((seconds, "SummaryMixing")), by.get((seconds, "regularMHA"))
        if sm and mha:
            rows.append([
                f"{seconds:g}", num(sm["step_time_s"], ".3f"), num(mha["step_time_s"], ".3f"),
                num(sm["step_time_s"] / mha["step_time_s"]), num(sm["peak_mem_mb"], ".0f"),
                num(mha["peak_mem_mb"], ".0f"), num(sm["peak_mem_mb"] / mha["peak_mem_mb"]),
                num(sm["flops"] / mha["flops"]),
            ])
    lines = md_table(
        ["utterance s", "SummaryMixing step s", "MHSA step s", f"time SM / MHSA (paper {PAPER1['time']}, whole pretraining)",
         "SM peak MB", "MHSA peak MB", f"memory SM / MHSA (paper {PAPER1['memory']})", "FLOPs SM / MHSA"],
        rows,
    ) if rows else ["(no length with both SummaryMixing and regularMHA measured)"]
    every = [[f"{r['seconds']:g}", r["mixer"], num(r["step_time_s"], ".3f"), num(r["peak_mem_mb"], ".1f"),
              num(r["flops"], ".1f", 1e9)] for r in records]
    return lines + ["", "<details><summary>every model measured</summary>", "",
                    *md_table(["utterance s", "model", "step s", "peak MB", "GFLOPs"], every), "", "</details>"]


# ------------------------------------------------------------------------------- paper 2
def read_probes(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def render_probes(path: Path, rows: list[dict]) -> list[str]:
    """MP3S: rows = encoders, columns = tasks (``task (METRIC)`` columns of run_probes.py)."""
    columns = [c for c in rows[0] if c.endswith(")") and not c.endswith(("(CER)", "std)"))]
    header = ["encoder"]
    for column in columns:
        task, metric = column[:-1].split(" (")
        header.append(f"{task} {metric} {'↑' if metric == 'accuracy' else '↓'}")
    table = []
    for row in rows:
        cells = [row["encoder"]]
        for column in columns:
            task = column.split(" (")[0]
            text = with_paper(row[column] + (f" ± {row[f'{task} (std)']}" if row.get(f"{task} (std)") else ""),
                              MP3S_REFERENCE.get(task))
            cells.append(text + (f", CER {row[f'{task} (CER)']}" if row.get(f"{task} (CER)") else ""))
        table.append(cells + [row.get("cpu_min", "-")])
    return md_table(header + ["CPU min"], table) + [
        "", "Paper values: the MP3S reference row (data2vec base, probe 1) of PAPERS.md, at full scale."]


# ------------------------------------------------------------------------------- paper 3
def render_costs(path: Path, records: list[dict]) -> list[str]:
    """Per model, per second of audio and per pretraining run, with ratios to wav2vec 2.0 base."""
    def ratio(r: dict, key: str) -> str:
        value = r.get(f"{key}_vs_wav2vec2_base")
        return "-" if value is None else f"{value:.3g}x"

    rows = []
    for r in records:
        paper = PAPER3 if r["model"] == "sustainable" else {}
        rows.append([
            r["model"], num(r["params"], ".1f", 1e6), num(r["flops_per_audio_s"], ".2f", 1e9),
            num(r["train_flops_per_audio_s"], ".2f", 1e9),
            with_paper(f"{r['peak_train_mem_mb_per_audio_s']:.1f} ({ratio(r, 'peak_train_mem_mb_per_audio_s')})",
                       paper.get("memory")),
            with_paper(f"{r['pretrain_run_flops']:.3g} ({ratio(r, 'pretrain_run_flops')})", paper.get("run_flops")),
            num(r.get("pretrain_run_energy_kwh_estimate"), ".0f"), r.get("pretrain_run", "-"),
        ])
    return md_table(["model", "params M", "GFLOPs / audio s", "train GFLOPs / audio s",
                     "peak train MB / audio s (x w2v2 base)", "pretraining run FLOPs (x w2v2 base)",
                     "run kWh (this CPU, estimate)", "pretraining run"], rows)


# ------------------------------------------------------------------------------- paper 4
def render_router(path: Path, records: list[dict]) -> list[str]:
    """Mask against weight fine-tuning, pruning, and (with ``language``) one mask per language."""
    claim = "Paper 4's claim (masks over the frozen model beat weight fine-tuning)"
    if any("language" in r for r in records):
        lines = md_table(
            ["language", "method", "kept", "WER", "CER", "stored MB", "packed mask / encoder fp32"],
            [[r["language"], r["mode"], r["kept"], num(r["wer"]), num(r["cer"]), num(r["bytes"], ".3f", 1e6),
              f"1/{1 / r['mask_fraction']:.1f}" if r.get("mask_fraction") else "-"] for r in records],
        )
        pairs = [(w, m) for w in records if w["mode"] == "weights"
                 for m in records if m["mode"] == "router" and m["language"] == w["language"]]
        wins = sum(m["cer"] <= w["cer"] for w, m in pairs)
        lines += ["", f"{claim}: masks reach weight fine-tuning's CER or better in {wins} of {len(pairs)} "
                      "(language, sparsity) pairs here."] if pairs else []
    else:
        lines = md_table(
            ["method", "from", "sparsity", "WER", "CER", "MMACs / audio s", "CPU RTF", "params M", "stored MB"],
            [[r["mode"], r.get("from", "-"), num(1 - r["kept"], ".0%"), num(r["wer"]), num(r["cer"]),
              num(r["macs_per_audio_s"], ".1f", 1e6), num(r.get("cpu_rtf"), ".4f"), num(r.get("params"), per=1e6),
              num(r["bytes"], ".3f", 1e6)] for r in records],
        )
    for sibling in ("router_bench.json", "router_storage.json"):
        extra = path.with_name(sibling)
        if extra.is_file():
            flat = flatten(json.loads(extra.read_text(encoding="utf-8")))
            lines += ["", f"From `{sibling}` beside it:", "",
                      *md_table(["figure", "value"], [[k, f"{v:.4g}" if isinstance(v, float) else v] for k, v in flat])]
    return lines


def flatten(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) pairs of a nested dict."""
    items = []
    for key, value in data.items():
        items += flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else [(f"{prefix}{key}", value)]
    return items


def router_points(records: list[dict]) -> list[tuple[str, dict]]:
    return [(f"router: {r['mode']} kept {r['kept']}" + (f" ({r['from']})" if "from" in r else ""), r)
            for r in records if "language" not in r]  # the languages' CERs are on other test sets


# ------------------------------------------------------------------------------- paper 5
def render_strategies(path: Path, records: list[dict]) -> list[str]:
    """Strategy, factor, error and cost, with ratios to the baseline."""
    rows = []
    for r in records:
        # the paper's downsamplers act on the waveform: its values sit beside waveform rows only
        on_frames = r.get("downsampling_at") == "frames"
        paper = {} if on_frames else PAPER5.get(r["spec"].partition("@")[0], {})
        label = r.get("row", r["spec"]) + (f" (mean exit {r['mean_exit_layer']:.2f})" if "mean_exit_layer" in r else "")
        rows.append([
            label, r["factor"], len(r.get("seeds", [])) or "-", with_paper(num(r["wer"]), paper.get("wer")),
            mean_std(r["cer_per_seed"]) if r.get("cer_per_seed") else num(r["cer"]),
            f"{r['cer_delta']:+.2f}" if "cer_delta" in r else "-", num(r["macs_per_audio_s"], ".1f", 1e6),
            with_paper(num(r.get("macs_ratio")), paper.get("macs_ratio")), num(r.get("cpu_rtf"), ".4f"),
            with_paper(num(r.get("time_ratio")), paper.get("time_ratio")), num(r.get("peak_mem_mb"), ".0f"),
        ])
    return md_table(["strategy", "factor", "seeds", "WER", "CER (± std over seeds)", "CER vs baseline",
                     "MMACs / audio s", "MACs ratio", "CPU RTF", "CPU time ratio (paper: with LM)", "peak MiB"], rows)


def strategy_points(records: list[dict]) -> list[tuple[str, dict]]:
    return [(f"strategy: {r.get('row', r['spec'])}", r) for r in records]


# ------------------------------------------------------------------------ survey: distillation
def render_distill(path: Path, records: list[dict]) -> list[str]:
    """Teacher and students: size, MACs at 5 s, their growth to 60 s, CPU time, probe scores."""
    probes = list(dict.fromkeys(k for r in records for k in r if k.startswith("probe_") and "_min" not in k))
    rows = [[r["model"], r.get("config", "-"), r.get("attention_type", "-"), num(r["params"], per=1e6),
             num(r["macs_per_audio_s"], ".1f", 1e6), num(r.get("macs_growth")), num(r.get("rtf_cpu_5s"), ".4f"),
             num(r.get("params_ratio")), num(r.get("macs_ratio"))] + [r.get(k, "-") for k in probes]
            for r in records]
    return md_table(["model", "config", "mixer", "params M", "MMACs / audio s (5 s)", "MACs growth 5 -> 60 s",
                     "CPU RTF (5 s)", "params x teacher", "MACs x teacher", *(k.removeprefix("probe_") for k in probes)],
                    rows) + ["", "PAPERS.md gives no DistilHuBERT numbers to set beside these."]


def distill_points(records: list[dict]) -> list[tuple[str, dict]]:
    return [(f"distill: {r['model']}", r) for r in records if "cer" in r]


# ---------------------------------------------------------------------------- deployment
def render_deploy(path: Path, result: dict) -> list[str]:
    """PyTorch, ONNX fp32 / int8 and streaming variants of one fine-tuned model."""
    rows = [[r["model"], num(r["cer"]), num(r["wer"]), num(r.get("macs_per_audio_s"), ".1f", 1e6), num(r["rtf"], ".4f"),
             num(r["bytes"], per=1e6), f"{r['chunk_ms_mean']:.1f} / {r['chunk_ms_max']:.1f}" if "chunk_ms_mean" in r else "-"]
            for r in result["rows"]]
    return [f"{result['utterances']} utterances ({result['audio_s']:.0f} s), CPU, {result['threads']} thread(s), "
            f"greedy CTC; model `{result['model']}`.", "",
            *md_table(["variant", "CER", "WER", "MMACs / audio s", "CPU RTF", "MB", "chunk compute ms (mean / max)"], rows)]


def deploy_points(result: dict) -> list[tuple[str, dict]]:
    model = Path(result["model"]).parent.name  # the fine-tuning run's folder: which model was deployed
    return [(f"deploy: {model}, {r['model']}", {"cer": r["cer"], "cpu_rtf": r["rtf"],
                                                 "macs_per_audio_s": r.get("macs_per_audio_s")})
            for r in result["rows"]]


# ----------------------------------------------------------------------------- training cost
def render_training(files: list[tuple[str, dict]]) -> list[str]:
    """One row per training run (``cost_train.json`` of efficient_ssl.brains.Brain.fit)."""
    rows = []
    for folder, r in files:
        extra = r.get("extra", {})
        energy = "-" if r.get("energy_j") is None else f"{r['energy_j'] / 3600:.3g} ({r.get('energy_method', '?')})"
        rows.append([f"`{folder}`", r.get("device_name") or r.get("device", "-"), extra.get("world_size", "-"),
                     extra.get("epochs_run", "-"), extra.get("optimizer_steps", "-"),
                     num(r.get("wall_time_s"), ".1f", 60), energy, num(r.get("params"), ".3g", 1e6),
                     num(r.get("trainable_params"), ".3g", 1e6)])
    total = sum(r.get("wall_time_s") or 0 for _, r in files) / 60
    return md_table(["run folder", "device", "world size", "epochs", "optimiser steps", "wall min", "energy Wh (method)",
                     "params M", "trainable M"], rows) + ["", f"{len(files)} runs, {total:.1f} wall minutes in all."]


# ----------------------------------------------------------------------- the mini-scale claims
def _seed_stats(a: Sequence[float], b: Sequence[float]) -> tuple[str | None, tuple[float, float], tuple[float, float]]:
    """(why not judged or None, (mean, std) of a, (mean, std) of b) for two lists of per-seed CERs."""
    if min(len(a), len(b)) < 2:
        means = " vs ".join(f"{statistics.fmean(v):.2f}" for v in (a, b))
        return f"not judged: 1 seed (CER {means}; the spread needs 2 or more: make reproduce)", (0, 0), (0, 0)
    sa, sb = ((statistics.fmean(v), statistics.stdev(v)) for v in (a, b))
    if min(sa[0], sb[0]) >= PLATEAU_CER:
        return f"not judged: both at the CTC blank plateau (CER >= {PLATEAU_CER:g}): train longer", sa, sb
    return None, sa, sb


def beats(better: Sequence[float], worse: Sequence[float]) -> str:
    """Whether the per-seed CERs ``better`` are lower than ``worse`` by more than the seeds' spread
    (the larger of the two standard deviations).

    Example
    -------
    >>> beats([40.0, 42.0], [60.0, 64.0])
    'holds: 41.00 ± 1.41 vs 62.00 ± 2.83, gap 21.00 > spread 2.83'
    >>> beats([40.0], [60.0])
    'not judged: 1 seed (CER 40.00 vs 60.00; the spread needs 2 or more: make reproduce)'
    >>> beats([98.0, 99.0], [99.0, 100.0])
    'not judged: both at the CTC blank plateau (CER >= 95): train longer'
    """
    why, (mb, sb), (mw, sw) = _seed_stats(better, worse)
    if why:
        return why
    gap, spread = mw - mb, max(sb, sw)
    verdict, relation = ("holds", ">") if gap > spread else ("does not hold", "<=")
    return f"{verdict}: {mb:.2f} ± {sb:.2f} vs {mw:.2f} ± {sw:.2f}, gap {gap:.2f} {relation} spread {spread:.2f}"


def within(candidate: Sequence[float], reference: Sequence[float], allowance: float | None = None) -> str:
    """Whether the per-seed CERs ``candidate`` are at most ``allowance`` above ``reference`` on the
    mean (None: the seeds' spread, the larger standard deviation), or lower.

    Example
    -------
    >>> within([52.0, 54.0], [50.0, 51.0], allowance=2.0)
    'does not hold: 53.00 ± 1.41 vs 50.50 ± 0.71, +2.50 > +2.00'
    >>> within([52.0, 53.0], [50.0, 54.0])
    'holds: 52.50 ± 0.71 vs 52.00 ± 2.83, +0.50 <= spread 2.83'
    """
    why, (mc, sc), (mr, sr) = _seed_stats(candidate, reference)
    if why:
        return why
    limit = max(sc, sr) if allowance is None else allowance
    delta = mc - mr
    bound = f"spread {limit:.2f}" if allowance is None else f"{limit:+.2f}"
    verdict = "holds" if delta <= limit else "does not hold"
    return f"{verdict}: {mc:.2f} ± {sc:.2f} vs {mr:.2f} ± {sr:.2f}, {delta:+.2f} {'<=' if delta <= limit else '>'} {bound}"


def per_seed(record: dict) -> list[float]:
    return record.get("cer_per_seed") or [record["cer"]]


def unconverged(*records: dict) -> str:
    """A caveat counting the runs whose valid CER had not settled at the end (still improving, or
    diverged: compare_strategies' ``converged_per_seed``), or ""."""
    flags = [flag for r in records for flag in r.get("converged_per_seed", [])]
    late = flags.count(False)
    return (f" (not converged: the best valid CER moved by 1 point or more in the last 2 epochs of {late} of "
            f"{len(flags)} runs)") if late else ""


def strategy_claims(strategies: list[dict]) -> list[list[str]]:
    """Pretrained against scratch, and learned conv x3 against the baseline (paper 5)."""
    by_spec = {r["spec"]: r for r in strategies}
    base, scratch = by_spec.get("baseline"), by_spec.get("scratch")
    rows = []
    if base and scratch:
        rows.append(["pretrained fine-tuning beats scratch (same epochs) by more than the seeds' spread",
                     beats(per_seed(base), per_seed(scratch)) + unconverged(base, scratch)])
    for spec, r in by_spec.items():
        if base and spec.partition("@")[0] in ("conv:3", "conv:3+up"):
            verdict, macs = within(per_seed(r), per_seed(base), allowance=2.0), r.get("macs_ratio")
            if macs is not None and macs > 0.40 and not verdict.startswith("not judged"):
                verdict = f"does not hold: MACs {macs:.2f}x > 0.40x; CER {verdict.partition(': ')[2]}"
            rows.append([f"learned conv x3 ({spec}, MACs {num(macs)}x) within +2.0 CER of the baseline at "
                         "<= 0.40x the MACs", verdict + unconverged(base, r)])
    return rows


def router_claims(router_files: list[tuple[Path, object]]) -> list[list[str]]:
    """Masks at 10% sparsity against weight fine-tuning (paper 4): one seed per router.json; the
    last cell lists the files that hold the compared rows."""
    cers, compared, used = {"weights": [], "router": []}, [], []
    for path, records in router_files:
        for r in records:
            pretrained = "language" not in r and r.get("from", "pretrained") == "pretrained"
            if pretrained and (r["mode"] == "weights" or (r["mode"] == "router" and abs(r["kept"] - 0.9) < 1e-6)):
                cers[r["mode"]].append(r["cer"])
                compared.append(r)
                used += [path] if path not in used else []
    if not all(cers.values()):
        return []
    return [["masks at 10% sparsity within the seeds' spread of weight fine-tuning, or better "
             f"({len(cers['router'])} router.json)", within(cers["router"], cers["weights"]) + unconverged(*compared),
             used]]


def probe_claims(rows: list[dict]) -> list[list[str]]:
    """Each of the distilled student and the sustainable model against its untrained control, on
    the LibriSpeech ASR probe (CER) and the emotion probe (accuracy): mean ± std from probes.csv."""
    by_name = {row["encoder"]: row for row in rows}
    claims = []
    for name in ("distilled", "sustainable"):
        model, control = by_name.get(name), by_name.get(f"{name} (random init)")
        if not (model and control):
            continue
        for task, column, higher in (("LibriSpeech ASR probe", "librispeech_asr (CER)", False),
                                     ("emotion probe", "emotion (accuracy)", True)):
            if not model.get(column):
                continue
            std_column = column.replace("(CER)", "(CER std)").replace("(accuracy)", "(std)")
            values = [(float(row[column]), float(row[std_column]) if row.get(std_column) else None)
                      for row in (model, control)]
            (m, sm), (c, sc) = values
            gap = (m - c) if higher else (c - m)
            metric = "accuracy" if higher else "CER"
            if sm is None or sc is None:
                verdict = f"not judged: 1 seed ({metric} {m:.2f} vs control {c:.2f}; make reproduce)"
            else:
                spread = max(sm, sc)
                verdict = (f"{'holds' if gap > spread else 'does not hold'}: {metric} {m:.2f} ± {sm:.2f} vs control "
                           f"{c:.2f} ± {sc:.2f}, gap {gap:.2f} {'>' if gap > spread else '<='} spread {spread:.2f}")
            claims.append([f"the {name} model beats its untrained control on the {task}", verdict])
    return claims


def claims_lines(results: Path) -> list[str]:
    """The mini-scale claims of the main job, each judged on the mean and spread of its seeds, with
    the file(s) it was judged from (relative to ``results``)."""
    def source(*paths: Path) -> str:
        return ", ".join(f"`{path.relative_to(results).as_posix()}`" for path in paths)

    rows = []
    for path, data in records_of(results, "strategies.json"):
        rows += [claim + [source(path)] for claim in strategy_claims(data)]
    rows += [[*claim[:2], source(*claim[2])] for claim in router_claims(records_of(results, "router.json"))]
    for path, data in records_of(results, "probes.csv"):
        rows += [claim + [source(path)] for claim in probe_claims(data)]
    if not rows:
        return ["No strategies, router or probe results here: the claims need them (commands below)."]
    return ["Each claim on the mean ± standard deviation over its seeds; \"holds\" needs the gap to exceed the seeds' "
            "spread (the larger of the two standard deviations). One seed, or both runs at the CTC blank plateau, "
            "judges nothing.", "", *md_table(["claim", "verdict (ours)", "judged from"], rows)]


def records_of(results: Path, pattern: str) -> list[tuple[Path, object]]:
    """(path, data) of every readable file of that name under results (an unreadable one is named in its section)."""
    found = []
    for path in sorted(p for p in results.rglob(pattern) if p.is_file()):
        try:
            found.append((path, load(path)))
        except (OSError, ValueError):
            continue
    return found


# ---------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Section:
    """One report section: the files it reads, how it renders them and the tool that makes them."""

    title: str
    pattern: str  # file name (glob) searched anywhere under the results folder
    command: str  # the one command that makes the input
    render: Callable  # (path, data) -> lines; with per_file=False: [(folder, data)] -> lines
    points: Callable | None = None  # data -> [(method, record with "cer" and macs / rtf)]
    pngs: tuple[str, ...] = ()  # figures beside the input to link (besides <input stem>.png)
    per_file: bool = True


SECTIONS = [
    Section("Paper 1 — SummaryMixing: training-step time and memory against utterance length",
            "benchmark_encoders*.json", "python tools/benchmark_encoders.py --output RESULTS_DIR/benchmark_encoders",
            render_benchmark),
    Section("Papers 1 and 2 — MP3S downstream probes (rows: encoders, columns: tasks)", "probes.csv",
            "python tools/run_probes.py --encoder NAME=SAVE_FOLDER --random-control --output RESULTS_DIR/probes",
            render_probes, pngs=("layer_weights.png",)),
    Section("Paper 3 — sustainable SSL: cost per model, per second of audio and per pretraining run",
            "cost_table*.json", "python tools/cost_table.py --output RESULTS_DIR/cost_table", render_costs),
    Section("Paper 4 — S3-Router: mask against weight fine-tuning, pruning, multilingual masks", "router.json",
            "python tools/router_table.py --output RESULTS_DIR/router --pretrained SAVE_FOLDER [--multilingual]",
            render_router, router_points),
    Section("Paper 5 — fine-tuning strategies for faster inference", "strategies.json",
            "python tools/compare_strategies.py --output RESULTS_DIR/strategies --pretrained SAVE_FOLDER",
            render_strategies, strategy_points),
    Section("Survey — distillation (DistilHuBERT-style students)", "distill*.json",
            "python tools/distill_report.py --construct-only --output RESULTS_DIR/distill", render_distill,
            distill_points),
    Section("Deployment — ONNX, int8 and streaming", "deploy_table*.json",
            "python tools/deploy_table.py --model FINETUNE_OUTPUT/model --output RESULTS_DIR/deploy",
            render_deploy, deploy_points),
    Section("Training cost of every run (cost_train.json: every recipe's training writes one)", "cost_train.json",
            "python recipes/LibriSpeech/finetune/train.py recipes/LibriSpeech/finetune/hparams/scratch_mini.yaml "
            "--data_folder=data/mini/LibriSpeech --output_folder=RESULTS_DIR/scratch",
            render_training, per_file=False),
]


# ------------------------------------------------------------------------------------ report
MALFORMED = (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError)  # a file of another format


def load(path: Path):
    return read_probes(path) if path.suffix == ".csv" else json.loads(path.read_text(encoding="utf-8"))


FRONTIER_AXES = {"macs": ("MMACs per second of audio", 1e6), "rtf": ("CPU real-time factor", 1.0)}  # cost -> label, unit


def pareto_marks(points: list[Point], cost: str) -> dict[int, bool]:
    """index -> Pareto-optimal, over the points that have the ``cost`` ("macs" or "rtf")."""
    chosen = [i for i, p in enumerate(points) if getattr(p, cost) is not None]
    return dict(zip(chosen, pareto_optimal([(getattr(points[i], cost), points[i].cer) for i in chosen])))


def frontier(points: list[Point], png: Path) -> list[str]:
    """The frontier table (numbered by CER, Pareto-optimal records marked) and its figure."""
    if not points:
        return ["No record has a CER with MACs or CPU time: run the paper 4 / 5 tools first (commands above)."]
    points = sorted(points, key=lambda p: p.cer)
    optimal = {cost: pareto_marks(points, cost) for cost in FRONTIER_AXES}

    def mark(cost: str, i: int) -> str:
        return {True: "★", False: ""}.get(optimal[cost].get(i), "-")

    rows = [[i + 1, p.method, f"`{p.source}`", num(p.cer), num(p.macs, ".1f", 1e6), num(p.rtf, ".4f"),
             mark("macs", i), mark("rtf", i)] for i, p in enumerate(points)]
    plot_frontier(points, optimal, png)
    return [
        "★ = Pareto-optimal: no other record has lower or equal CER and cost with one of them lower (`-`: that cost "
        "was not measured). CPU RTF comes from each tool's own measurement (threads and batching differ between "
        "tools); per-language CERs are left out (other test sets). The figure numbers the points as the table does.",
        "", *md_table(["#", "method", "folder", "CER", "MMACs / audio s", "CPU RTF", "Pareto (MACs)", "Pareto (RTF)"], rows),
        "", f"![frontier]({png.name})",
    ]


def plot_frontier(points: list[Point], optimal: dict[str, dict[int, bool]], path: Path) -> None:
    plt = pyplot()
    costs = [cost for cost in FRONTIER_AXES if optimal[cost]]
    families = list(dict.fromkeys(p.method.split(":")[0] for p in points))
    colours = dict(zip(families, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 3))
    fig, axes = plt.subplots(1, len(costs), figsize=(7 * len(costs), 5), squeeze=False)
    for ax, cost in zip(axes[0], costs):
        label, unit = FRONTIER_AXES[cost]
        for i, best in optimal[cost].items():
            p = points[i]
            x = getattr(p, cost) / unit
            ax.scatter(x, p.cer, marker="*" if best else "o", s=140 if best else 25, color=colours[p.method.split(":")[0]],
                       edgecolors="black" if best else "none", zorder=3)
            ax.annotate(f"{i + 1} {p.method}" if best else str(i + 1), (x, p.cer), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
        front = sorted((getattr(points[i], cost) / unit, points[i].cer) for i, best in optimal[cost].items() if best)
        ax.step(*zip(*front), where="post", color="black", alpha=0.4, zorder=2)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("CER (%)")
        ax.grid(alpha=0.3)
    for family, colour in colours.items():
        axes[0][0].scatter([], [], color=colour, label=family)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Efficiency frontier (★ Pareto-optimal; numbers as in the report's table)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def section_lines(section: Section, results: Path, here: Path, points: list[Point]) -> list[str]:
    """A section's markdown; appends its frontier records to ``points``."""
    files = sorted(p for p in results.rglob(section.pattern) if p.is_file())
    command = section.command.replace("RESULTS_DIR", results.as_posix())
    if not files:
        return [f"missing: run `{command}`"]

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, here)).as_posix()

    loaded, lines = [], []
    for path in files:
        try:
            loaded.append((path, load(path)))
        except (OSError, ValueError) as error:
            lines.append(f"could not read `{rel(path)}` ({error}): make it again with `{command}`")
    if not section.per_file:
        try:
            body = section.render([(rel(p.parent), data) for p, data in loaded])
        except MALFORMED as error:
            body = [f"one of these files is not in the format its writer gives ({type(error).__name__}: {error})"]
        return lines + [f"Source: {len(loaded)} `{section.pattern}` files, one in each run folder below "
                        "(paths relative to this report).", "", *body]
    for path, data in loaded:
        folder = path.parent.relative_to(results).as_posix()
        try:
            body = section.render(path, data)
            points += [Point(method, folder, r["cer"], r.get("macs_per_audio_s"), r.get("cpu_rtf"))
                       for method, r in (section.points(data) if section.points else [])
                       if r.get("cer") is not None and (r.get("macs_per_audio_s") or r.get("cpu_rtf"))]
        except MALFORMED as error:
            body = [f"`{rel(path)}` is not in the format its tool writes ({type(error).__name__}: {error}); "
                    f"make it again with `{command}`"]
        if len(loaded) > 1:
            lines += [f"### `{folder}`" + (f" — {path.name}" if len({p.name for p, _ in loaded}) > 1 else ""), ""]
        lines += [f"Source: [`{rel(path)}`]({rel(path)})", "", *body, ""]
        figures = [path.with_suffix(".png")] + [path.with_name(name) for name in section.pngs]
        lines += [f"![{png.stem}]({rel(png)})" for png in dict.fromkeys(figures) if png.is_file()]
        lines.append("")
    return lines


def render_run_time(timing: dict) -> list[str]:
    """The run time of a main-job folder (tools.stages.run_time), stages longest first."""
    hours = lambda s: f"{s / 3600:.2f} h"  # noqa: E731
    stages = sorted(timing["stage_s"].items(), key=lambda item: -item[1])
    return [f"Wall time {hours(timing['wall_s'])} over {timing['sittings']} sitting(s); the stages' own times add "
            f"up to {hours(sum(timing['stage_s'].values()))} (stages run side by side with `--jobs`). Source: "
            "`stages/sittings.json` and `stages/*.stage`.", "",
            *md_table(["stage", "time"], [[name, hours(seconds) + (" so far (not finished)" if name in
                                                 timing["unfinished"] else "")] for name, seconds in stages])]


def build_report(results: Path, output: Path) -> str:
    """The markdown of the whole report; writes ``frontier.png`` beside ``output``."""
    here = output.parent
    lines = [f"# Results report: `{results}`", "",
             "Built by `python tools/make_tables.py` from the files found under the results folder. Cells read "
             "\"ours (paper X)\" where PAPERS.md gives a published value (at the papers' full scale, on their data); "
             "`-` means the input does not hold that figure.", ""]
    try:
        claims = claims_lines(results)
    except MALFORMED as error:
        claims = [f"a strategies, router or probes file is not in its tool's format ({type(error).__name__}: {error})"]
    lines += ["## Mini-scale claims", "", *claims, ""]
    points: list[Point] = []
    for section in SECTIONS:
        lines += [f"## {section.title}", "", *section_lines(section, results, here, points), ""]
    lines += ["## Efficiency frontier: CER against MACs per second of audio and CPU time", "",
              *frontier(points, here / "frontier.png")]
    timing = run_time(results)
    if timing["sittings"]:  # a main-job folder
        lines += ["", "## Run time", "", *render_run_time(timing)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in lines)).strip() + "\n"


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results folder (searched recursively)")
    parser.add_argument("--output", type=Path, help="the report (default: RESULTS_DIR/REPORT.md)")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"{args.results} is not a folder: give the results folder the tools and recipes wrote into")
    output = args.output or args.results / "REPORT.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(build_report(args.results, output), encoding="utf-8")
    print(f"wrote {output} and {output.parent / 'frontier.png'}")
    return output


if __name__ == "__main__":
    main(sys.argv[1:])
