"""Faster-inference fine-tuning strategies (paper 5) side by side: WER / CER against cost.

Fine-tunes a pretrained encoder with each strategy through the recipe
``recipes/LibriSpeech/finetune`` (``hparams/finetune_mini.yaml`` by default; one subprocess per
run, resumable: a run whose ``results.json`` exists is not trained again), then measures every
exported model side by side in this process, on the same test set with the same threads:
MACs per second of audio (torch's flop counter), CPU real-time factor (median of interleaved
repeats) and peak tensor memory. Strategies (name[:factor][+up][@placement]):

    baseline        the pretrained encoder, full frame rate
    scratch         same architecture and schedule, random initialisation (``random_init``)
    signal:F        waveform resampled to 1/F before the encoder
    avgpool:F       average pooling, stride F
    conv:F          learned strided Conv1d, stride F (kernel 161 samples on the waveform,
                    F frames on frames)
    conv:F+up       the same with the CTC "upsampling" head (F outputs per frame)
                    (signal:F+up, avgpool:F+up likewise)
    ...@waveform    avgpool / conv placed before the frontend (paper 5's placement)
    ...@frames      placed after the frontend, on its latents (not signal); without @, the
                    recipe's ``downsampling_at: auto``: frames for log-mel frontends, else waveform.
                    The table names every downsampling row with its placement (conv:3@frames).
    layer_removal   top encoder layer removed (keep_layers = layers - 1)
    early_exit      CTC heads after every layer, exit below an output entropy of 0.1 nats
    NAME            another encoder, ``--encoder "NAME=PATH [--key=value ...]"``, fine-tuned as
                    baseline with its own overrides: paper 5's distilled model (the ``student``
                    folder of recipes/LibriSpeech/distill), the sustainable model
                    (``--upsampling=2``: its 80 ms frames are fewer than fast speech's characters)

Writes DIR/strategies.json (one record per strategy), DIR/strategies.md (the table) and
DIR/strategies.png (CER against MACs), and prints the paper-5 targets with PASS/FAIL.
Without ``--pretrained``, first pretrains one with the pretraining recipe's mini YAML on all
the training audio (train-clean-100 + train-clean-360) into DIR/pretrain.

Usage:
    python tools/compare_strategies.py --output results/strategies \
        [--pretrained results/wav2vec2_mini/SummaryMixing_mel_cnn/1234/save] \
        [--seeds 1234 1235] [--jobs 2] [--strategies baseline scratch conv:3 ...] [-- recipe overrides]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import speechbrain as sb
import torch
from make_tables import beats, per_seed
from plot_train_logs import parse_log

from efficient_ssl.data import make_dataset
from efficient_ssl.efficiency import Timer, measure
from efficient_ssl.models import load_ctc_model, load_pretrained_encoder
from plotting import pyplot

ROOT = Path(__file__).resolve().parents[1]
FINETUNE = ROOT / "recipes" / "LibriSpeech" / "finetune"
PRETRAIN = ROOT / "recipes" / "LibriSpeech" / "pretrain"
DEFAULT_STRATEGIES = [
    "baseline", "scratch", "conv:3", "conv:3+up", "signal:3", "avgpool:3", "conv:2", "conv:4",
    "conv:4+up", "conv:3@waveform", "layer_removal", "early_exit",
]
FACTOR_STRATEGIES = ("signal", "avgpool", "conv")
PLACEMENTS = ("waveform", "frames")
MULTI_SEED = ("baseline", "scratch", "conv:3", "conv:3+up")  # the runs the targets compare, every seed
EXIT_ENTROPY = 0.1  # the paper's threshold (nats)
TARGETS = {"macs_ratio": 0.40, "time_ratio": 0.5, "cer_delta": 2.0}


def parse_encoders(specs: Sequence[str]) -> dict[str, tuple[Path, list[str]]]:
    """``--encoder`` values -> {name: (save folder, recipe overrides)}.

    Example
    -------
    >>> parse_encoders(["distilled=a/student", "sustainable=b/save --upsampling=2"])["sustainable"]
    (PosixPath('b/save'), ['--upsampling=2'])
    """
    encoders = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        path, *overrides = rest.split()
        if not sep or not path or name in DEFAULT_STRATEGIES or name.partition(":")[0] in FACTOR_STRATEGIES:
            raise SystemExit(f"error: --encoder {spec!r}: give NAME=PATH [--key=value ...], NAME not a strategy")
        encoders[name] = (Path(path), overrides)
    return encoders


def strategy_overrides(spec: str, num_layers: int, encoders: dict | None = None) -> tuple[str, int, list[str]]:
    """(strategy name, factor, recipe overrides) for a ``name[:factor][+up][@placement]`` spec,
    or the name of an ``--encoder``.

    Example
    -------
    >>> strategy_overrides("conv:4+up", 4)
    ('conv', 4, ['--downsampling=conv', '--downsampling_factor=4', '--upsampling=4'])
    >>> strategy_overrides("avgpool:3@frames", 4)[2]
    ['--downsampling=avgpool', '--downsampling_factor=3', '--downsampling_at=frames']
    >>> strategy_overrides("early_exit", 4)[2]
    ['--exit_layers=[1, 2, 3]', '--exit_entropy=0.1']
    >>> strategy_overrides("sustainable", 4, {"sustainable": (Path("b"), ["--upsampling=2"])})
    ('sustainable', 1, ['--upsampling=2'])
    """
    if encoders and spec in encoders:
        return spec, 1, encoders[spec][1]
    spec, _, placement = spec.partition("@")
    name, _, factor_text = spec.partition(":")
    if placement and (name not in FACTOR_STRATEGIES or placement not in PLACEMENTS):
        raise ValueError(f"strategy {spec}@{placement}: @ takes one of {PLACEMENTS}, after a downsampling "
                         "strategy (e.g. conv:3@frames, conv:3+up@waveform)")
    if name == "signal" and placement == "frames":
        raise ValueError(f"strategy {spec}@frames: frames cannot be resampled; use avgpool or conv @frames, "
                         "or signal@waveform")
    upsampled = factor_text.endswith("+up")
    factor = int(factor_text.removesuffix("+up")) if factor_text else 1
    if name == "baseline":
        return name, 1, []
    if name == "scratch":
        return name, 1, ["--random_init=True"]
    if name in FACTOR_STRATEGIES:
        if factor < 2:
            raise ValueError(f"strategy {spec!r}: give a factor >= 2, e.g. {name}:3")
        extra = [f"--upsampling={factor}"] if upsampled else []
        extra += [f"--downsampling_at={placement}"] if placement else []
        return name, factor, [f"--downsampling={name}", f"--downsampling_factor={factor}", *extra]
    if name == "layer_removal":
        return name, 1, [f"--keep_layers={num_layers - 1}"]
    if name == "early_exit":
        return name, 1, [f"--exit_layers={list(range(1, num_layers))}", f"--exit_entropy={EXIT_ENTROPY}"]
    raise ValueError(f"unknown strategy {spec!r}; use some of {DEFAULT_STRATEGIES}, or --encoder NAME=PATH")


def pretrain(data_folder: Path, output: Path, overrides: Sequence[str]) -> Path:
    """Runs the mini pretraining recipe on all training audio; returns its save folder."""
    cmd = [
        sys.executable, str(PRETRAIN / "train.py"), str(PRETRAIN / "hparams" / "wav2vec2_mini.yaml"),
        f"--data_folder={data_folder}", f"--output_folder={output}", *overrides,
    ]
    print("pretraining:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return output / "save"


def run_dir(output: Path, spec: str, seed: int) -> Path:
    return output / "runs" / spec.replace(":", "").replace("+", "_").replace("@", "_") / str(seed)


def finetune_commands(args, pretrained: Path, num_layers: int) -> list[tuple[str, int, Path, list[str]]]:
    """(spec, seed, run folder, command) of every fine-tuning run that has no results yet."""
    runs = []
    for spec in args.strategies:
        _, _, overrides = strategy_overrides(spec, num_layers, args.encoders)
        seeds = args.seeds if spec.partition("@")[0] in MULTI_SEED else args.seeds[:1]  # either placement
        for seed in seeds:
            folder = run_dir(args.output, spec, seed)
            cmd = [
                sys.executable, str(FINETUNE / "train.py"), str(args.hparams),
                f"--data_folder={args.data_folder}", f"--output_folder={folder}",
                f"--pretrained_encoder={args.encoders[spec][0] if spec in args.encoders else pretrained}",
                f"--seed={seed}", *overrides,
                *args.recipe_overrides,
            ]
            runs.append((spec, seed, folder, cmd))
    return runs


def _claim(folder: Path) -> bool:
    """Takes the run in ``folder`` for this process (a ``.running`` file holding our pid).

    Several instances of this tool (or machines sharing the folder) can then split the runs;
    a claim whose process is gone is taken over.
    """
    lock = folder / ".running"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            os.kill(int(lock.read_text() or 0), 0)
            return False  # another live process holds it
        except (ProcessLookupError, ValueError):
            lock.unlink(missing_ok=True)  # stale: its process died
            return _claim(folder)
        except PermissionError:
            return False
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def run_all(runs, jobs: int, threads: int) -> None:
    """Runs the commands without results, ``jobs`` at a time, each with ``threads`` threads.

    Logs go to ``run.log`` beside each run. Runs claimed by another instance are waited for.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    pending = list(runs)
    active: list[tuple[subprocess.Popen, str, Path]] = []
    while pending or active:
        pending = [r for r in pending if not (r[2] / "results.json").is_file()]
        for run in list(pending):
            if len(active) >= jobs:
                break
            spec, seed, folder, cmd = run
            if not _claim(folder):
                continue
            pending.remove(run)
            log = open(folder / "run.log", "a", encoding="utf-8")
            print(f"fine-tuning {spec} (seed {seed}) -> {folder}", flush=True)
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            (folder / ".running").write_text(str(process.pid))  # the claim follows the run
            active.append((process, spec, folder))
        if not active:
            time.sleep(10)  # the rest are claimed by other instances: wait for their results
            continue
        finished = [a for a in active if a[0].poll() is not None]
        if not finished:
            time.sleep(2)
            continue
        for process, spec, folder in finished:
            active.remove((process, spec, folder))
            (folder / ".running").unlink(missing_ok=True)
            if process.returncode != 0:
                raise SystemExit(f"{spec}: the recipe failed (exit {process.returncode}); see {folder / 'run.log'}")


def test_batches(csv: Path, data_root: Path, batch_size: int) -> tuple[list, float]:
    """Padded (wavs, lens) batches of a manifest, shortest first, and their seconds of audio."""
    dataset = make_dataset(csv, data_root, output_keys=["id", "sig"]).filtered_sorted(sort_key="duration")
    loader = sb.dataio.dataloader.make_dataloader(dataset, batch_size=batch_size)
    batches = [batch.sig for batch in loader]
    seconds = sum(float((lens * wavs.shape[1]).sum()) for wavs, lens in batches) / 16000
    return batches, seconds


def measure_models(models: dict[str, Path], batches, audio_s: float, repeats: int) -> dict[str, dict]:
    """MACs, peak memory and CPU time of each exported model on the same batches, side by side."""
    loaded = {key: load_ctc_model(folder) for key, folder in models.items()}
    costs, times = {}, {key: [] for key in loaded}

    def forward_all(model):
        with torch.no_grad():
            for wavs, lens in batches:
                model(wavs, lens)

    for key, model in loaded.items():
        report = measure(lambda m=model: forward_all(m), device="cpu", audio_seconds=audio_s, module=model, name=key)
        costs[key] = {"macs_per_audio_s": report.macs_per_audio_s, "peak_mem_mb": report.peak_mem_mb,
                      "params": report.params}
        times[key].append(report.wall_time_s)
    for _ in range(repeats - 1):  # interleaved, so that load from elsewhere hits every model alike
        for key, model in loaded.items():
            with Timer("cpu") as timer:
                forward_all(model)
            times[key].append(timer.seconds)
    for key in loaded:
        costs[key]["cpu_rtf"] = statistics.median(times[key]) / audio_s
    return costs


def row_name(spec: str, folder: Path) -> tuple[str, str | None]:
    """(row name, placement) of a run: the placement the saved model resolved (``downsampling_at``,
    None without downsampling) appended to a downsampling spec that does not give it.

    Example
    -------
    >>> row_name("conv:3@waveform", Path("nowhere"))
    ('conv:3@waveform', 'waveform')
    """
    if "@" in spec:
        return spec, spec.partition("@")[2]
    config = json.loads((folder / "model" / "ctc_model.json").read_text())
    if config["downsampling"] == "none":
        return spec, None
    placement = config.get("downsampling_at", "waveform")
    return f"{spec}@{placement}", placement


def valid_curve(folder: Path) -> list[float]:
    """A run's valid CER after every epoch (its ``train_log.txt``), or [] without one."""
    log = folder / "train_log.txt"
    return [row["valid CER"] for row in parse_log(log) if "epoch" in row and "valid CER" in row] if log.is_file() else []


def converged(curve: Sequence[float], window: int = 2, tolerance: float = 1.0) -> bool:
    """Whether the valid CER has settled: the best of the last ``window`` epochs is within
    ``tolerance`` points of the best before them. A run still improving has not converged, nor has
    one that diverged (its last epochs worse); a run of ``window`` epochs or fewer cannot say.

    Example
    -------
    >>> converged([90.0, 60.0, 45.0, 44.8, 44.5]), converged([90.0, 60.0, 50.0, 45.0]), converged([60.0, 59.0])
    (True, False, False)
    >>> converged([100.0, 72.9, 100.0, 100.0])  # diverged after its best epoch
    False
    """
    return len(curve) > window and abs(min(curve[:-window]) - min(curve[-window:])) < tolerance


def summarise(args, runs, costs: dict[str, dict]) -> list[dict]:
    """One record per strategy: mean WER / CER over its seeds, per-seed values, costs."""
    records = []
    for spec in args.strategies:
        name, factor, _ = strategy_overrides(spec, args.num_layers, args.encoders)
        folders = [folder for s, _, folder, _ in runs if s == spec]
        results = [json.loads((folder / "results.json").read_text())["test-clean"] for folder in folders]
        row, placement = row_name(spec, folders[0])
        record = {
            "strategy": name, "factor": factor, "spec": spec, "row": row, "downsampling_at": placement,
            "upsampling": factor if spec.partition("@")[0].endswith("+up") else 1,
            "wer": statistics.mean(r["WER"] for r in results), "cer": statistics.mean(r["CER"] for r in results),
            "cer_per_seed": [r["CER"] for r in results], "wer_per_seed": [r["WER"] for r in results],
            "seeds": [seed for s, seed, _, _ in runs if s == spec], **costs[spec],
            "valid_cer_per_seed": [valid_curve(folder) for folder in folders],
        }
        record["converged_per_seed"] = [converged(curve) for curve in record["valid_cer_per_seed"]]
        if "mean_exit_layer" in results[0]:
            record["mean_exit_layer"] = statistics.mean(r["mean_exit_layer"] for r in results)
        records.append(record)
    base = next((r for r in records if r["spec"] == "baseline"), None)
    for record in records:
        if base is not None:
            record["macs_ratio"] = record["macs_per_audio_s"] / base["macs_per_audio_s"]
            record["time_ratio"] = record["cpu_rtf"] / base["cpu_rtf"]
            record["cer_delta"] = record["cer"] - base["cer"]
    return records


def table(records: list[dict]) -> str:
    lines = [
        "| strategy | factor | seeds | WER | CER | CER vs baseline | MMACs / audio s | MACs ratio | CPU RTF | time ratio "
        "| peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        label = r["row"] + (f" (mean exit {r['mean_exit_layer']:.2f})" if "mean_exit_layer" in r else "")
        lines.append(
            f"| {label} | {r['factor']} | {len(r['seeds'])} | {r['wer']:.2f} | {r['cer']:.2f} | "
            f"{r.get('cer_delta', 0):+.2f} | {r['macs_per_audio_s'] / 1e6:.1f} | {r.get('macs_ratio', 1):.2f} | "
            f"{r['cpu_rtf']:.4f} | {r.get('time_ratio', 1):.2f} | {r['peak_mem_mb']:.0f} |"
        )
    return "\n".join(lines)


def targets(records: list[dict]) -> list[str]:
    """The paper-5 targets on the mini corpus, PASS / FAIL with the measured values."""
    by_spec = {r["spec"]: r for r in records}
    lines = []
    for conv3 in records:  # conv:3 and conv:3+up, at every placement asked for
        if conv3["spec"].partition("@")[0] in ("conv:3", "conv:3+up") and "macs_ratio" in conv3:
            for key, bound in TARGETS.items():
                ok = conv3[key] <= bound
                lines.append(f"{conv3['row']} {key} {conv3[key]:.2f} (<= {bound}): {'PASS' if ok else 'FAIL'}")
    up = by_spec.get("conv:4+up")
    if up and "cer_delta" in up:
        ok = up["cer"] < 90.0 and up["cer_delta"] <= 10.0
        verdict = "PASS" if ok else "FAIL"
        lines.append(f"conv:4+up CER {up['cer']:.2f} ({up['cer_delta']:+.2f} vs baseline), no collapse: {verdict}")
    if "baseline" in by_spec and "scratch" in by_spec:  # judged as REPORT.md does: mean and spread
        verdict = beats(per_seed(by_spec["baseline"]), per_seed(by_spec["scratch"]))
        lines.append(f"pretrained beats scratch by more than the seeds' spread: {verdict}")
    return lines


def plot(records: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for r in records:
        ax.scatter(r["macs_per_audio_s"] / 1e6, r["cer"], s=30)
        ax.annotate(r["row"], (r["macs_per_audio_s"] / 1e6, r["cer"]), fontsize=8, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel("MMACs per second of audio")
    ax.set_ylabel("test-clean CER (%)")
    ax.set_title("Fine-tuning strategies: error against inference cost")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--data_folder", type=Path, default=ROOT / "data" / "mini" / "LibriSpeech")
    parser.add_argument("--pretrained", type=Path, help="a pretraining save folder (default: pretrain one)")
    parser.add_argument("--pretrain_overrides", nargs="*", default=[], help="e.g. --total_steps=600")
    parser.add_argument("--hparams", type=Path, default=FINETUNE / "hparams" / "finetune_mini.yaml")
    parser.add_argument("--strategies", nargs="+", default=DEFAULT_STRATEGIES)
    parser.add_argument("--encoder", action="append", default=[], metavar="NAME=PATH [--key=value ...]",
                        help="another encoder fine-tuned as a row of its own (repeat): a distilled student, ...")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1234, 1235],
                        help=f"every seed for {', '.join(MULTI_SEED)}; the first for the others")
    parser.add_argument("--jobs", type=int, default=1, help="fine-tuning runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="threads per run and for the measurements")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the test set per model")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("recipe_overrides", nargs="*", help="after --: passed to every fine-tuning run")
    args = parser.parse_args(argv)
    args.encoders = parse_encoders(args.encoder)
    args.strategies += [name for name in args.encoders if name not in args.strategies]
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    pretrained = args.pretrained or pretrain(args.data_folder, args.output / "pretrain", args.pretrain_overrides)
    args.num_layers = len(load_pretrained_encoder(pretrained).context.layers)
    runs = finetune_commands(args, Path(pretrained), args.num_layers)
    run_all(runs, args.jobs, args.threads)

    first = runs[0][2]
    batches, audio_s = test_batches(first / "save" / "test-clean.csv", args.data_folder, args.batch_size)
    print(f"measuring {len(args.strategies)} models on {audio_s:.0f} s of test-clean, {args.threads} thread(s)")
    models = {spec: folder / "model" for spec, seed, folder, _ in runs if seed == args.seeds[0]}
    costs = measure_models(models, batches, audio_s, args.repeats)
    records = summarise(args, runs, costs)
    (args.output / "strategies.json").write_text(json.dumps(records, indent=2))
    report = table(records) + "\n\n" + "\n".join(targets(records)) + "\n"
    (args.output / "strategies.md").write_text(report)
    plot(records, args.output / "strategies.png")
    print(report)
    return records


if __name__ == "__main__":
    main()
