#!/usr/bin/env python3
"""Runs the MP3S-style probing suite for one or more frozen encoders and writes one table.

For every encoder (and, with ``--random-control``, the same architecture untrained) and every
task, runs the task's probe recipe (probe 1 of MP3S, mini size) as its own process with one
thread, ``--jobs`` at a time, then gathers each run's ``probe_result.json`` into:

- ``DIR/probes.md`` and ``DIR/probes.csv``: rows = encoders, columns = tasks (WER / EER in %,
  lower is better; accuracy in %, higher is better), plus the CPU time of each row;
- ``DIR/layer_weights.png``: the learned share of each hidden state, one panel per task.

Runs live in ``DIR/runs/<encoder>/<task>``; a finished run (its ``probe_result.json`` exists)
is not run again, so an interrupted suite resumes.

Usage:
    python tools/run_probes.py --encoder results/pt_SummaryMixing/save --random-control \\
        --output results/probes_mini
    python tools/run_probes.py --encoder sm=PATH1 --encoder mhsa=PATH2 --output DIR --tasks emotion intent
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT_FILE = "probe_result.json"


@dataclass(frozen=True)
class Task:
    """One column of the table: a recipe, its YAML, the data folder under --data and extra overrides."""

    recipe: str
    hparams: str
    data: str
    overrides: tuple[str, ...] = ()


TASKS = {
    "librispeech_asr": Task("recipes/LibriSpeech/probe", "bilstm_mini.yaml", "LibriSpeech"),
    "cv_cy_asr": Task("recipes/CommonVoice/probe", "bilstm_mini.yaml", "CommonVoice", ("--language=cy",)),
    "cv_eu_asr": Task("recipes/CommonVoice/probe", "bilstm_mini.yaml", "CommonVoice", ("--language=eu",)),
    "speaker_verification": Task("recipes/MiniCorpus/probe", "speaker_xvector.yaml", "."),
    "emotion": Task("recipes/MiniCorpus/probe", "emotion_pool.yaml", "."),
    "intent": Task("recipes/MiniCorpus/probe", "intent_pool.yaml", "."),
}
HIGHER_IS_BETTER = {"accuracy"}


@dataclass(frozen=True)
class Encoder:
    """A row of the table."""

    name: str
    path: Path
    random_init: bool = False


def parse_encoders(specs: list[str], random_control: bool) -> list[Encoder]:
    """``NAME=PATH`` or ``PATH`` (named after the run folder) -> rows, each followed by its control.

    Example
    -------
    >>> [e.name for e in parse_encoders(["results/pt_sm/save", "b=x/y"], random_control=True)]
    ['pt_sm', 'pt_sm (random init)', 'b', 'b (random init)']
    """
    encoders = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path = spec
            folder = Path(path)
            name = (folder.parent if folder.name == "save" else folder).name
        encoders.append(Encoder(name, Path(path)))
        if random_control:
            encoders.append(Encoder(f"{name} (random init)", Path(path), random_init=True))
    if len({e.name for e in encoders}) != len(encoders):
        raise SystemExit("run_probes.py: two encoders have the same name; give them names as NAME=PATH")
    return encoders


def run_folder(output: Path, encoder: Encoder, task: str) -> Path:
    """Where one (encoder, task) run lives."""
    slug = encoder.name.replace(" ", "_").replace("(", "").replace(")", "")
    return output / "runs" / slug / task


def run_one(encoder: Encoder, task: str, data: Path, output: Path, overrides: list[str]) -> dict:
    """Runs one recipe (unless already finished) and returns its result with its CPU time."""
    folder = run_folder(output, encoder, task)
    result_file = folder / RESULT_FILE
    if not result_file.is_file():
        spec = TASKS[task]
        cmd = [
            sys.executable,
            str(ROOT / spec.recipe / "train.py"),
            str(ROOT / spec.recipe / "hparams" / spec.hparams),
            f"--data_folder={(data / spec.data).resolve()}",
            f"--pretrained_encoder={encoder.path.resolve()}",
            f"--random_init={encoder.random_init}",
            f"--output_folder={folder.resolve()}",
            *spec.overrides,
            *overrides,
        ]
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        wall = time.perf_counter()
        with open(folder / "stdout.txt", "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time, not its siblings'
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeError(f"{task} for {encoder.name} failed (exit {code}); see {folder / 'stdout.txt'}")
        timing = {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.perf_counter() - wall}
        (folder / "timing.json").write_text(json.dumps(timing))
    result = json.loads(result_file.read_text())
    timing_file = folder / "timing.json"
    result.update(json.loads(timing_file.read_text()) if timing_file.is_file() else {"cpu_s": 0.0, "wall_s": 0.0})
    return result


def write_table(results: dict[str, dict[str, dict]], tasks: list[str], output: Path) -> None:
    """probes.csv and probes.md: rows = encoders, columns = tasks."""
    metrics = {task: next(r[task]["metric"] for r in results.values()) for task in tasks}
    header = ["encoder"] + [f"{task} ({metrics[task]})" for task in tasks] + ["cpu_min", "wall_min"]
    rows = []
    for name, by_task in results.items():
        cpu = sum(r["cpu_s"] for r in by_task.values()) / 60
        wall = sum(r["wall_s"] for r in by_task.values()) / 60
        rows.append([name] + [f"{by_task[t]['value']:.2f}" for t in tasks] + [f"{cpu:.1f}", f"{wall:.1f}"])
    with open(output / "probes.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    arrows = ["↑" if metrics[t] in HIGHER_IS_BETTER else "↓" for t in tasks]
    lines = [
        "| " + " | ".join(["encoder"] + [f"{t} {metrics[t]} {a}" for t, a in zip(tasks, arrows)] + ["CPU min", "wall min"]) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    (output / "probes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot_layer_weights(results: dict[str, dict[str, dict]], tasks: list[str], path: Path) -> None:
    """One panel per task: the learned share of each hidden state, one bar series per encoder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(tasks))
    rows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    width = 0.8 / len(results)
    for ax, task in zip(axes.flat, tasks):
        for k, (name, by_task) in enumerate(results.items()):
            weights = by_task[task]["layer_weights"]
            ax.bar([i + k * width for i in range(len(weights))], weights, width, label=name)
        ax.set_title(task)
        ax.set_xlabel("hidden state (0 = encoder input)")
        ax.set_ylabel("weight")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", action="append", required=True, help="PATH or NAME=PATH (repeat)")
    parser.add_argument("--output", required=True, type=Path, help="folder of the table, plot and runs")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "mini", help="mini corpus root")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--random-control", action="store_true", help="add each encoder untrained (same shape)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    parser.add_argument("--override", action="append", default=[], help="--key=value passed to every recipe")
    args = parser.parse_args(argv)
    encoders = parse_encoders(args.encoder, args.random_control)
    args.output.mkdir(parents=True, exist_ok=True)
    jobs = [(encoder, task) for encoder in encoders for task in args.tasks]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {job: pool.submit(run_one, *job, args.data, args.output, args.override) for job in jobs}
        results = {e.name: {t: futures[(e, t)].result() for t in args.tasks} for e in encoders}
    write_table(results, args.tasks, args.output)
    plot_layer_weights(results, args.tasks, args.output / "layer_weights.png")
    print((args.output / "probes.md").read_text(), end="")


if __name__ == "__main__":
    main()
