#!/usr/bin/env python3
"""The main job: every paper's pipeline on the mini corpus, as resumable stages, then REPORT.md.

Stages (each one recipe or tool, each its own folder under ``--output``; see tools/stages.py
for when a stage is skipped, resumed or re-run):

    corpus               the synthesised mini corpus (tools/synthesize_corpus.py)
    pretrain_sm          wav2vec 2.0 mini pretraining, SummaryMixing (paper 1)
    pretrain_mhsa        the same with MHSA (paper 1's baseline)
    pretrain_sustainable the sustainable student-teacher model (paper 3)
    distill              a 2-layer SummaryMixing student of pretrain_sm (DistilHuBERT-style)
    strategies           fine-tuning strategies of pretrain_sm (paper 5), the distilled student
                         and the sustainable model fine-tuned beside them
    router               S3-Router masks vs weight fine-tuning, and structured pruning (paper 4)
    router_seed<N>       masks vs weights again for each further seed (reproduce budget)
    probes               MP3S probes of every encoder and its untrained control (paper 2)
    distill_report       teacher against student: parameters, MACs, CPU time, probe scores
    benchmark            SummaryMixing vs MHSA time and memory by utterance length (paper 1)
    cost_table           the sustainable model's cost table against wav2vec 2.0 (paper 3)
    streaming            a streamable SummaryMixing CTC model (chunked, causal)
    deploy               its ONNX fp32 / int8 / streaming table
    combined             conv x3 + structured pruning of half the hidden units, fine-tuned together
    combined_deploy      its PyTorch / ONNX fp32 / ONNX int8 rows (on the efficiency frontier)
    report               tools/make_tables.py over all of it: <output>/REPORT.md

Budgets: ``quick`` (the default) runs short schedules and one seed so that every table is
filled (fine-tuning on a fixed half hour of train-clean-100: ``max_train_hours``); ``reproduce``
runs the recipes' own mini schedules and three seeds for the mini-scale claims, which REPORT.md
judges on the mean and spread of the seeds; ``smoke`` checks the pipeline itself on the tiny
corpus (tests/test_main_job.py).

Usage:
    python tools/main_job.py [--output results/mini] [--data data/mini] [--budget quick|reproduce]
    python tools/main_job.py --list                 # the stages and whether each is done
    python tools/main_job.py --only probes report   # one stage (its inputs must be done)
    python tools/main_job.py --jobs 1               # one stage at a time, on every core
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stages import Stage, clock, plan, run_stages, run_time

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# Per budget: schedules and seeds (recipe keys, passed as overrides).
BUDGETS = {
    "smoke": {  # the test of the pipeline itself (tiny corpus, a few steps): every stage, no meaning
        "corpus_size": "tiny", "pretrain_steps": 3, "sustainable_steps": 3, "distill_steps": 3,
        "finetune_epochs": 1, "seeds": [1234], "probe_seeds": 1, "router_epochs": 1, "streaming_epochs": 1,
        "benchmark": ["--quick"], "cost_table": ["--tiny"], "strategies": ["baseline", "conv:3"],
        "probe_tasks": ["emotion"], "deploy_utterances": 5, "repeats": 1,
    },
    "quick": {
        "corpus_size": "small", "pretrain_steps": 50, "sustainable_steps": 50, "distill_steps": 50,
        "finetune_epochs": 1, "seeds": [1234], "probe_seeds": 1, "router_epochs": 1, "streaming_epochs": 1,
        "benchmark": ["--seconds", "5", "20", "--repeats", "2"], "cost_table": ["--tiny"],
        "strategies": ["baseline", "scratch", "conv:3", "layer_removal", "early_exit"],
        "probe_tasks": ["librispeech_asr", "emotion"], "deploy_utterances": 50, "repeats": 1,
        "prune_modes": ["magnitude_structured", "router_structured"],
        # Fine-tuning on half an hour of train-clean-100 (a fixed subset), validating on 100 utterances.
        "finetune_overrides": ["--max_train_hours=0.5", "--max_valid_utterances=100"],
        "probe_overrides": ["--number_of_epochs=2", "librispeech_asr:--max_train_utterances=250"],
    },
    "reproduce": {
        # 2,000 wav2vec 2.0 steps (about an hour each on one core): contrastive accuracy 53% against 33% at
        # 300; better frozen features (linear CTC head 63.1 against 72.6 CER, masks 57.8 against 61.5) and a
        # gain over scratch with 10 min of labels (recipes/LibriSpeech/finetune/README.md)
        "corpus_size": "small", "pretrain_steps": 2000, "sustainable_steps": 300, "distill_steps": 300,
        "finetune_epochs": 12, "seeds": [1234, 1235, 1236], "probe_seeds": 3, "router_epochs": 6,
        "streaming_epochs": 15, "benchmark": ["--seconds", "5", "10", "20", "30", "60", "--checkpointing"],
        "cost_table": ["--seconds", "8"],
        "strategies": ["baseline", "scratch", "conv:3", "conv:3+up", "conv:3@waveform", "signal:3", "avgpool:3",
                       "conv:2", "conv:4", "conv:4+up", "layer_removal", "early_exit"],
        "probe_tasks": ["librispeech_asr", "emotion", "speaker_verification", "intent", "cv_cy_asr"],
        "deploy_utterances": 100, "repeats": 3,
    },
}


def recipe(path: str) -> str:
    return str(ROOT / "recipes" / path / "train.py")


def hparams(path: str, name: str) -> str:
    return str(ROOT / "recipes" / path / "hparams" / name)


def tool(name: str) -> str:
    return str(ROOT / "tools" / f"{name}.py")


def schedule(steps: int) -> list[str]:
    """Overrides of a warm-up + decay schedule of ``steps`` optimiser steps (10% warm-up)."""
    return [f"--total_steps={steps}", f"--warmup_steps={max(1, steps // 10)}"]


def build_stages(output: Path, data: Path, budget: dict) -> list[Stage]:
    """The main job as stages (absolute paths; order = dependencies first)."""
    out, librispeech = output.resolve(), (data / "LibriSpeech").resolve()

    def train(name, path, yaml, *overrides, after=("corpus",)):
        folder = out / name
        cmd = [PY, recipe(path), hparams(path, yaml), f"--data_folder={librispeech}", f"--output_folder={folder}",
               *overrides]
        return Stage(name, cmd, folder, "cost_train.json", after=after)

    steps, epochs, seeds = budget["pretrain_steps"], budget["finetune_epochs"], budget["seeds"]
    sm, mhsa, sustainable = (out / name / "save" for name in ("pretrain_sm", "pretrain_mhsa", "pretrain_sustainable"))
    student = out / "distill" / "student"
    stages = [
        Stage("corpus", [PY, tool("synthesize_corpus"), "--output", str(data.resolve()), "--size",
                         budget["corpus_size"], "--seed", "1234"], data.resolve(), ".synth_done.json"),
        train("pretrain_sm", "LibriSpeech/pretrain", "wav2vec2_mini.yaml", *schedule(steps)),
        train("pretrain_mhsa", "LibriSpeech/pretrain", "wav2vec2_mini.yaml", *schedule(steps),
              "--attention_type=regularMHA"),
        train("pretrain_sustainable", "LibriSpeech/pretrain", "sustainable_mini.yaml",
              f"--total_steps={budget['sustainable_steps']}"),
        train("distill", "LibriSpeech/distill", "distill_mini.yaml", f"--teacher={sm}",
              *schedule(budget["distill_steps"]), after=("corpus", "pretrain_sm")),
        Stage("strategies", [
            PY, tool("compare_strategies"), "--output", str(out / "strategies"), "--data_folder", str(librispeech),
            "--pretrained", str(sm), "--strategies", *budget["strategies"], "--seeds", *map(str, seeds),
            "--encoder", f"distilled={student}", "--encoder", f"sustainable={sustainable} --upsampling=2",
            "--jobs", "2", "--repeats", str(budget["repeats"]), "--", f"--number_of_epochs={epochs}",
            *budget.get("finetune_overrides", []),
        ], out / "strategies", "strategies.json", after=("corpus", "pretrain_sm", "distill", "pretrain_sustainable")),
        Stage("router", [
            PY, tool("router_table"), "--output", str(out / "router"), "--data_folder", str(librispeech),
            "--pretrained", str(sm), "--epochs", str(budget["router_epochs"]), "--seed", str(seeds[0]),
            "--repeats", str(budget["repeats"]), *(["--prune_modes", *budget["prune_modes"]] if "prune_modes" in budget else []),
            *(["--", *budget["finetune_overrides"]] if "finetune_overrides" in budget else []),
        ], out / "router", "router.json", after=("corpus", "pretrain_sm")),
        *(Stage(f"router_seed{seed}", [  # masks against weights for the other seeds (no pruning)
            PY, tool("router_table"), "--output", str(out / f"router_seed{seed}"), "--data_folder", str(librispeech),
            "--pretrained", str(sm), "--epochs", str(budget["router_epochs"]), "--seed", str(seed),
            "--repeats", str(budget["repeats"]), "--kept_prune",
            *(["--", *budget["finetune_overrides"]] if "finetune_overrides" in budget else []),
        ], out / f"router_seed{seed}", "router.json", after=("corpus", "pretrain_sm")) for seed in seeds[1:]),
        Stage("probes", [
            PY, tool("run_probes"), "--output", str(out / "probes"), "--data", str(data.resolve()),
            "--encoder", f"summarymixing={sm}", "--encoder", f"mhsa={mhsa}", "--encoder", f"sustainable={sustainable}",
            "--encoder", f"distilled={student}", "--random-control", "--seeds", str(budget["probe_seeds"]),
            "--tasks", *budget["probe_tasks"], *(f"--override={o}" for o in budget.get("probe_overrides", [])),
        ], out / "probes", "probes.csv",
            after=("corpus", "pretrain_sm", "pretrain_mhsa", "pretrain_sustainable", "distill")),
        Stage("distill_report", [
            PY, tool("distill_report"), "--output", str(out / "distill_report"), "--encoder", f"summarymixing={sm}",
            "--encoder", f"distilled={student}", "--teacher-name", "summarymixing",
            "--probes", str(out / "probes" / "probes.csv"),  # the same names as the probes' rows
        ], out / "distill_report", "distill.json", after=("pretrain_sm", "distill", "probes")),
        Stage("benchmark", [PY, tool("benchmark_encoders"), "--output", str(out / "benchmark"), "--threads", "1",
                            *budget["benchmark"]], out / "benchmark", "benchmark_encoders.json"),
        Stage("cost_table", [PY, tool("cost_table"), "--output", str(out / "cost_table"), *budget["cost_table"]],
              out / "cost_table", "cost_table.json"),
        train("streaming", "LibriSpeech/finetune", "scratch_mini.yaml", "--chunk_size=16", "--causal_conv=True",
              "--frontend_normalisation=global",
              "--dynamic_chunks=[0, 8, 16, 32]", f"--number_of_epochs={budget['streaming_epochs']}"),
        # A combination no paper tried: conv x3 downsampling and half of the feed-forward and SummaryMixing
        # hidden units pruned (learned unit masks, magnitude start, weights co-trained), then ONNX int8
        Stage("combined", [
            PY, recipe("LibriSpeech/finetune"), hparams("LibriSpeech/finetune", "route_mini.yaml"),
            f"--data_folder={librispeech}", f"--output_folder={out / 'combined'}", f"--pretrained_encoder={sm}",
            "--downsampling=conv", "--downsampling_factor=3", "--routing=structured", "--kept=0.5",
            "--score_init=magnitude", "--train_weights=True", "--route_select=[ffn, mixer]",
            f"--number_of_epochs={epochs}", f"--seed={seeds[0]}", *budget.get("finetune_overrides", []),
        ], out / "combined", "results.json", after=("corpus", "pretrain_sm")),
        Stage("combined_deploy", [
            PY, tool("deploy_table"), "--model", str(out / "combined" / "model"), "--output",
            str(out / "combined_deploy"), "--data_folder", str(librispeech), "--max_utterances",
            str(budget["deploy_utterances"]),
        ], out / "combined_deploy", "deploy_table.json", after=("corpus", "combined")),
        Stage("deploy", [
            PY, tool("deploy_table"), "--model", str(out / "streaming" / "model"), "--output", str(out / "deploy"),
            "--data_folder", str(librispeech), "--max_utterances", str(budget["deploy_utterances"]),
        ], out / "deploy", "deploy_table.json", after=("corpus", "streaming")),
    ]
    stages.append(Stage("report", [PY, tool("make_tables"), str(out), "--output", str(out / "REPORT.md")],
                        out / "report", str(out / "REPORT.md"), after=tuple(s.name for s in stages)))
    return stages


def parse_args(argv: Sequence[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "mini")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "mini",
                        help="where the corpus is synthesised (rebuilt if the corpus stage changes)")
    parser.add_argument("--budget", choices=list(BUDGETS), default="quick")
    parser.add_argument("--only", nargs="+", default=[], metavar="STAGE", help="run just these stages")
    parser.add_argument("--list", action="store_true", help="list the stages and their state, run nothing")
    parser.add_argument("--jobs", type=int, default=2,
                        help="stages at a time, one thread each (each starts once the stages it reads are done)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, str]:
    args = parse_args(argv)
    stages = build_stages(args.output, args.data, BUDGETS[args.budget])
    if args.list:
        for stage, state in zip(stages, plan(stages, args.output).values()):
            print(f"{stage.name:<22} {state:<8} {stage.folder}")
        timing = run_time(args.output)
        if timing["sittings"]:
            print(f"run time so far: {clock(timing['wall_s'])} over {timing['sittings']} sitting(s)")
        return {}
    print(f"main job ({args.budget} budget): {len(stages)} stages -> {args.output}, {args.jobs} at a time",
          flush=True)
    outcome = run_stages(stages, args.output, only=args.only, jobs=args.jobs)
    print(f"report: {args.output / 'REPORT.md'}")
    return outcome


if __name__ == "__main__":
    main()
