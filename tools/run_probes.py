#!/usr/bin/env python3
"""Runs the MP3S-style probing suite for one or more frozen encoders and writes one table.

For every encoder (and, with ``--random-control``, the same architecture untrained) and every
task, runs the task's probe recipe (probe 1 of MP3S, mini size) as its own process with one
thread, ``--jobs`` at a time, then gathers each run's ``probe_result.json`` into:

- ``DIR/probes.md`` and ``DIR/probes.csv``: rows = encoders, columns = tasks (WER / EER in %,
  lower is better; accuracy in %, higher is better), plus the CPU time of each row;
- ``DIR/layer_weights.png``: the learned share of each hidden state, one panel per task.

A task may run with several seeds (``Task.seeds``, or ``--seeds N`` for every task): seeds
1234, 1235, ... each train a fresh probe (and, for the random control, draw a fresh untrained
encoder), and the table shows their mean, with the standard deviation beside it in
``probes.md`` (and in ``probes.csv``); CPU and wall times add up over seeds. CTC tasks also
report their CER.

Runs live in ``DIR/runs/<encoder>/<task>/<seed>``; a finished run (its ``probe_result.json``
exists) is not run again, so an interrupted suite resumes.

Usage:
    python tools/run_probes.py --encoder results/pt_SummaryMixing/save --random-control \\
        --output results/probes_mini
    python tools/run_probes.py --encoder sm=PATH1 --encoder mhsa=PATH2 --output DIR --tasks emotion intent
    python tools/run_probes.py --encoder PATH --output DIR --seeds 3   # every task averaged over 3 seeds
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from plotting import pyplot

ROOT = Path(__file__).resolve().parents[1]
RESULT_FILE = "probe_result.json"


@dataclass(frozen=True)
class Task:
    """One column of the table: a recipe, its YAML, the data folder under --data, extra overrides
    and how many seeds (1234, 1235, ...) are averaged by default."""

    recipe: str
    hparams: str
    data: str
    overrides: tuple[str, ...] = ()
    seeds: int = 1


FIRST_SEED = 1234
# Speaker verification (10 test speakers: the EER of one probe moves by several points with its
# seed) and intent (75 test commands: one utterance is 1.3 points) are averaged over 3 seeds.
TASKS = {
    "librispeech_asr": Task("recipes/LibriSpeech/probe", "bilstm_mini.yaml", "LibriSpeech"),
    "cv_cy_asr": Task("recipes/CommonVoice/probe", "bilstm_mini.yaml", "CommonVoice", ("--language=cy",)),
    "cv_eu_asr": Task("recipes/CommonVoice/probe", "bilstm_mini.yaml", "CommonVoice", ("--language=eu",)),
    "speaker_verification": Task("recipes/MiniCorpus/probe", "speaker_xvector.yaml", ".", seeds=3),
    "emotion": Task("recipes/MiniCorpus/probe", "emotion_pool.yaml", "."),
    "intent": Task("recipes/MiniCorpus/probe", "intent_pool.yaml", ".", seeds=3),
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


def run_folder(output: Path, encoder: Encoder, task: str, seed: int) -> Path:
    """Where one (encoder, task, seed) run lives."""
    slug = encoder.name.replace(" ", "_").replace("(", "").replace(")", "")
    return output / "runs" / slug / task / str(seed)


def task_overrides(overrides: list[str], task: str) -> list[str]:
    """The overrides of one task: ``--key=value`` go to every task, ``TASK:--key=value`` to TASK only.

    Example
    -------
    >>> task_overrides(["--number_of_epochs=2", "emotion:--lr_head=0.01", "librispeech_asr:--x=1"], "emotion")
    ['--number_of_epochs=2', '--lr_head=0.01']
    """
    chosen = []
    for override in overrides:
        name, sep, rest = override.partition(":")
        if not sep or name.startswith("-"):
            chosen.append(override)
        elif name not in TASKS:
            raise ValueError(f"--override {override!r}: no task {name!r}; tasks: {', '.join(TASKS)}")
        elif name == task:
            chosen.append(rest)
    return chosen


def run_one(encoder: Encoder, task: str, seed: int, data: Path, output: Path, overrides: list[str]) -> dict:
    """Runs one recipe (unless already finished) and returns its result with its CPU time."""
    folder = run_folder(output, encoder, task, seed)
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
            f"--seed={seed}",
            *spec.overrides,
            *task_overrides(overrides, task),
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


def average_seeds(runs: list[dict]) -> dict:
    """One cell from the runs of its seeds: mean (and std) of the value and of the CER when there
    is one, mean layer weights, summed times.

    Example
    -------
    >>> runs = [{"metric": "EER", "value": v, "layer_weights": [w, 1 - w], "cpu_s": 60.0, "wall_s": 61.0}
    ...         for v, w in ((10.0, 0.2), (14.0, 0.4))]
    >>> cell = average_seeds(runs)
    >>> cell["value"], round(cell["std"], 2), [round(w, 2) for w in cell["layer_weights"]], cell["cpu_s"]
    (12.0, 2.83, [0.3, 0.7], 120.0)
    """
    cell = {"metric": runs[0]["metric"], "seeds": len(runs)}
    for key in ("value", "CER"):
        if key in runs[0]:
            values = [r[key] for r in runs]
            cell[key] = statistics.fmean(values)
            cell["std" if key == "value" else f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    cell["layer_weights"] = [statistics.fmean(w) for w in zip(*(r["layer_weights"] for r in runs))]
    cell["cpu_s"] = sum(r["cpu_s"] for r in runs)
    cell["wall_s"] = sum(r["wall_s"] for r in runs)
    return cell


def format_cell(cell: dict, key: str = "value") -> str:
    """``12.00``, or ``12.00 ± 2.83`` over several seeds."""
    std = cell["std" if key == "value" else f"{key}_std"]
    return f"{cell[key]:.2f}" + (f" ± {std:.2f}" if cell["seeds"] > 1 else "")


def write_table(results: dict[str, dict[str, dict]], tasks: list[str], output: Path) -> None:
    """probes.csv and probes.md: rows = encoders, columns = tasks (then the CER of CTC tasks)."""
    first = next(iter(results.values()))
    metrics = {task: first[task]["metric"] for task in tasks}
    cer_tasks = [task for task in tasks if "CER" in first[task]]
    seeds = {task: first[task]["seeds"] for task in tasks}
    header = (
        ["encoder"]
        + [f"{task} ({metrics[task]})" for task in tasks]
        + [f"{task} (CER)" for task in cer_tasks]
        + [f"{task} (std)" for task in tasks if seeds[task] > 1]
        + [f"{task} (CER std)" for task in cer_tasks if seeds[task] > 1]
        + ["cpu_min", "wall_min"]
    )
    csv_rows, md_rows = [], []
    for name, by_task in results.items():
        cpu = sum(r["cpu_s"] for r in by_task.values()) / 60
        wall = sum(r["wall_s"] for r in by_task.values()) / 60
        times = [f"{cpu:.1f}", f"{wall:.1f}"]
        csv_rows.append(
            [name]
            + [f"{by_task[t]['value']:.2f}" for t in tasks]
            + [f"{by_task[t]['CER']:.2f}" for t in cer_tasks]
            + [f"{by_task[t]['std']:.2f}" for t in tasks if seeds[t] > 1]
            + [f"{by_task[t]['CER_std']:.2f}" for t in cer_tasks if seeds[t] > 1]
            + times
        )
        md_rows.append(
            [name]
            + [format_cell(by_task[t]) + (f" (CER {format_cell(by_task[t], 'CER')})" if t in cer_tasks else "") for t in tasks]
            + times
        )
    with open(output / "probes.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(csv_rows)
    arrows = ["↑" if metrics[t] in HIGHER_IS_BETTER else "↓" for t in tasks]
    names = [f"{t} {metrics[t]} {a}" + (f" ({seeds[t]} seeds)" if seeds[t] > 1 else "") for t, a in zip(tasks, arrows)]
    lines = ["| " + " | ".join(["encoder"] + names + ["CPU min", "wall min"]) + " |", "|" + "---|" * (len(tasks) + 3)]
    lines += ["| " + " | ".join(row) + " |" for row in md_rows]
    (output / "probes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot_layer_weights(results: dict[str, dict[str, dict]], tasks: list[str], path: Path) -> None:
    """One panel per task: the learned share of each hidden state, one bar series per encoder."""
    plt = pyplot()
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
    parser.add_argument("--override", action="append", default=[],
                        help="--key=value passed to every recipe, or TASK:--key=value to one task's")
    parser.add_argument(
        "--seeds", type=int, default=None, help=f"seeds {FIRST_SEED}, {FIRST_SEED + 1}, ... averaged per task "
        "(default: each task's own, see TASKS)"
    )
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    encoders = parse_encoders(args.encoder, args.random_control)
    args.output.mkdir(parents=True, exist_ok=True)
    seeds = {t: range(FIRST_SEED, FIRST_SEED + (args.seeds or TASKS[t].seeds)) for t in args.tasks}
    jobs = [(encoder, task, seed) for encoder in encoders for task in args.tasks for seed in seeds[task]]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {job: pool.submit(run_one, *job, args.data, args.output, args.override) for job in jobs}
        results = {
            e.name: {t: average_seeds([futures[(e, t, seed)].result() for seed in seeds[t]]) for t in args.tasks}
            for e in encoders
        }
    write_table(results, args.tasks, args.output)
    plot_layer_weights(results, args.tasks, args.output / "layer_weights.png")
    print((args.output / "probes.md").read_text(), end="")


if __name__ == "__main__":
    main()
