"""S3-Router (paper 4) on the mini corpus: mask against weight fine-tuning, learned masks against
magnitude pruning (unstructured and structured), and the router's benchmarks, side by side.

Fine-tunes through the recipe ``recipes/LibriSpeech/finetune`` (one subprocess per run,
resumable: a run whose ``results.json`` exists is not trained again):

    weights              finetune_mini.yaml: the encoder's weights fine-tuned (kept 1.0)
    router               route_mini.yaml from the pretrained encoder: masks over the frozen
                         weights (kaiming scores), at each ``--kept_router``
    then, pruning the fine-tuned encoder of the ``weights`` run, at each ``--kept_prune``
    (mask over the fine-tuned weights, the CTC head trained again with the same budget):
    magnitude            unstructured magnitude pruning (fixed mask: ``lr_scores=0``)
    router               unstructured learned masks starting there (``magnitude_scale`` init)
    magnitude_structured feed-forward hidden units pruned by magnitude (fixed)
    router_structured    learned hidden-unit masks starting there

Every exported model is then measured in this process on the same test batches (folded:
plain weights, pruned hidden units removed): MACs per second of audio, CPU real-time factor
(median of interleaved repeats), and ``bytes``: what the task stores on top of anything shared
(weight fine-tuning: the whole fp32 model; routing from the pretrained encoder: its packed masks
plus the CTC head; pruning: the folded fp32 model).

Benchmarks (``router_bench.json``, one process, same model and batch): a routing training step
against a weight fine-tuning step, folded against masked forward, the packed mask against the
fp32 encoder, and the encoder's CPU time with half of its feed-forward hidden units folded away.

Writes DIR/router.json (records {"mode", "kept", "from", "wer", "cer", "macs_per_audio_s",
"cpu_rtf", "bytes", ...}), DIR/router_bench.json, DIR/router.md and DIR/router.png (CER
against sparsity), and prints the targets with PASS/FAIL.

Usage:
    python tools/router_table.py --output results/router --pretrained <pretraining save folder> \
        [--data_folder data/mini/LibriSpeech] [--epochs 2] [--kept_router 0.9] [--kept_prune 0.5] \
        [--tiny] [-- recipe overrides]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from compare_strategies import measure_models, pretrain, run_all, test_batches

from efficient_ssl.data import make_dataset
from efficient_ssl.efficiency import Timer
from efficient_ssl.models import CTCModel, load_ctc_model, load_pretrained_encoder
from efficient_ssl.nnet import router
from plotting import pyplot

ROOT = Path(__file__).resolve().parents[1]
FINETUNE = ROOT / "recipes" / "LibriSpeech" / "finetune"
TARGETS = {"step_time_ratio": 1.5, "fold_max_abs_diff": 1e-5, "packed_mask_fraction": 1 / 30,
           "structured_time_ratio": 0.7, "structured_cer_delta": 3.0}


def run_specs(args) -> list[dict]:
    """The fine-tuning runs: {"key", "mode", "kept", "from", "yaml", "overrides"}."""
    specs = [{"key": "weights", "mode": "weights", "kept": 1.0, "from": "pretrained",
              "yaml": "finetune_mini.yaml", "overrides": []}]
    for kept in args.kept_router:
        specs.append({"key": f"router_{kept}", "mode": "router", "kept": kept, "from": "pretrained",
                      "yaml": "route_mini.yaml",
                      "overrides": ["--routing=unstructured", f"--kept={kept}", "--score_init=kaiming"]})
    for kept in args.kept_prune:
        for mode, routing, init in (("magnitude", "unstructured", "magnitude_scale"),
                                    ("router", "unstructured", "magnitude_scale"),
                                    ("magnitude_structured", "structured", "magnitude"),
                                    ("router_structured", "structured", "magnitude")):
            fixed = ["--lr_scores=0.0"] if mode.startswith("magnitude") else []
            specs.append({"key": f"prune_{mode}_{kept}", "mode": mode, "kept": kept, "from": "finetuned",
                          "yaml": "route_mini.yaml",
                          "overrides": [f"--routing={routing}", f"--kept={kept}", f"--score_init={init}", *fixed]})
    return specs


def commands(args, specs, encoders: dict[str, Path]) -> list[tuple[str, int, Path, list[str]]]:
    """(key, seed, run folder, command) for every run (run_all skips those with results)."""
    runs = []
    for spec in specs:
        folder = args.output / "runs" / spec["key"]
        cmd = [sys.executable, str(FINETUNE / "train.py"), str(FINETUNE / "hparams" / spec["yaml"]),
               f"--data_folder={args.data_folder}", f"--output_folder={folder}",
               f"--pretrained_encoder={encoders[spec['from']]}", f"--seed={args.seed}",
               f"--number_of_epochs={args.epochs}", *spec["overrides"], *args.recipe_overrides]
        runs.append((spec["key"], args.seed, folder, cmd))
    return runs


def task_bytes(spec: dict, model_folder: Path) -> tuple[int, int]:
    """(bytes the task stores, bytes of the folded fp32 model) of an exported model."""
    folded = router.tensor_bytes(load_ctc_model(model_folder))
    if spec["mode"] == "weights" or spec["from"] == "finetuned":
        return folded, folded
    routed = load_ctc_model(model_folder, fold_routing=False)
    head = sum(router.tensor_bytes(m) for name, m in routed.named_children() if name != "encoder")
    return router.packed_bytes(router.pack_masks(routed)) + head, folded


def train_batch(csv: Path, data_root: Path, batch_size: int):
    """One padded (wavs, lens) batch of the training manifest's shortest-but-typical utterances."""
    dataset = make_dataset(csv, data_root, output_keys=["id", "sig"]).filtered_sorted(sort_key="duration")
    middle = len(dataset) // 2
    items = [dataset[i]["sig"] for i in range(middle, min(middle + batch_size, len(dataset)))]
    longest = max(len(w) for w in items)
    wavs = torch.stack([torch.nn.functional.pad(w, (0, longest - len(w))) for w in items])
    return wavs, torch.tensor([len(w) / longest for w in items])


def step_times(pretrained: Path, batch, steps: int, kept: float) -> dict:
    """Median seconds of a training step (forward, backward, AdamW), weight fine-tuning against
    routing, same encoder and batch, interleaved."""
    models = {
        "weights": CTCModel(load_pretrained_encoder(pretrained), vocab_size=30),
        "router": CTCModel(load_pretrained_encoder(pretrained), vocab_size=30, routing="unstructured", kept=kept),
    }
    optimisers = {k: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
                  for k, m in models.items()}
    times = {key: [] for key in models}
    for step in range(steps + 1):  # the first step of each warms up
        for key, model in models.items():
            model.train()
            with Timer("cpu") as timer:
                loss = model(*batch).logits[-1].float().logsumexp(dim=-1).mean()
                loss.backward()
                optimisers[key].step()
                optimisers[key].zero_grad(set_to_none=True)
            if step:
                times[key].append(timer.seconds)
    weights, routed = statistics.median(times["weights"]), statistics.median(times["router"])
    return {"weights_step_s": weights, "router_step_s": routed, "step_time_ratio": routed / weights}


def forward_checks(pretrained: Path, batches, kept: float, repeats: int) -> dict:
    """Folded against masked forward, packed mask size, and structured 50% FFN encoder time."""
    encoder = load_pretrained_encoder(pretrained).eval()
    routed = copy.deepcopy(encoder)
    router.route_encoder(routed, kept=kept, score_init="kaiming")
    packed = router.pack_masks(routed)
    diff = 0.0
    with torch.no_grad():
        masked = [routed(w, lens)[0] for w, lens in batches]
        router.fold(routed)
        for (w, lens), out in zip(batches, masked):
            diff = max(diff, float((routed(w, lens)[0] - out).abs().max()))
    pruned = copy.deepcopy(encoder)
    router.route_ffn_units(pruned, kept=0.5, score_init="magnitude")
    router.fold(pruned)
    times = {"full": [], "ffn_half": []}
    with torch.no_grad():
        for _ in range(repeats + 1):
            for key, model in (("full", encoder), ("ffn_half", pruned)):
                with Timer("cpu") as timer:
                    for w, lens in batches:
                        model(w, lens)
                times[key].append(timer.seconds)
    full, half = statistics.median(times["full"][1:]), statistics.median(times["ffn_half"][1:])
    encoder_bytes = router.tensor_bytes(encoder)
    return {
        "fold_max_abs_diff": diff,
        "packed_mask_bytes": router.packed_bytes(packed),
        "encoder_fp32_bytes": encoder_bytes,
        "packed_mask_fraction": router.packed_bytes(packed) / encoder_bytes,
        "encoder_s_full": full,
        "encoder_s_ffn_half": half,
        "structured_time_ratio": half / full,
    }


def summarise(specs, runs, costs: dict[str, dict]) -> list[dict]:
    records = []
    for spec, (_, _, folder, _) in zip(specs, runs):
        result = json.loads((folder / "results.json").read_text())["test-clean"]
        stored, folded = task_bytes(spec, folder / "model")
        records.append({
            "mode": spec["mode"], "kept": spec["kept"], "sparsity": round(1 - spec["kept"], 4), "from": spec["from"],
            "wer": result["WER"], "cer": result["CER"], **costs[spec["key"]], "bytes": stored, "model_bytes": folded,
        })
    return records


def targets(records: list[dict], bench: dict) -> list[str]:
    lines = []
    for key in ("step_time_ratio", "fold_max_abs_diff", "packed_mask_fraction", "structured_time_ratio"):
        ok = bench[key] <= TARGETS[key]
        lines.append(f"{key} {bench[key]:.3g} (<= {TARGETS[key]:.3g}): {'PASS' if ok else 'FAIL'}")
    weights = next(r for r in records if r["mode"] == "weights")
    for r in records:
        if r["mode"] == "router" and r["from"] == "pretrained":
            lines.append(f"router kept {r['kept']} CER {r['cer']:.2f} vs weight fine-tuning {weights['cer']:.2f} "
                         f"({'masks win' if r['cer'] < weights['cer'] else 'weights win'})")
    for r in records:
        if r["mode"] != "router_structured":
            continue
        delta = r["cer"] - weights["cer"]
        lines.append(f"router_structured kept {r['kept']} CER {r['cer']:.2f} ({delta:+.2f} vs fine-tuned, <= "
                     f"+{TARGETS['structured_cer_delta']}): {'PASS' if delta <= TARGETS['structured_cer_delta'] else 'FAIL'}")
        magnitude = next((m for m in records if m["mode"] == "magnitude_structured" and m["kept"] == r["kept"]), None)
        if magnitude:
            lines.append(f"router_structured CER {r['cer']:.2f} < magnitude_structured {magnitude['cer']:.2f}: "
                         f"{'PASS' if r['cer'] < magnitude['cer'] else 'FAIL'}")
    return lines


def table(records: list[dict], bench: dict) -> str:
    lines = ["| mode | from | kept | WER | CER | MMACs / audio s | CPU RTF | task MB | folded model MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['mode']} | {r['from']} | {r['kept']} | {r['wer']:.2f} | {r['cer']:.2f} | "
                     f"{r['macs_per_audio_s'] / 1e6:.1f} | {r['cpu_rtf']:.4f} | {r['bytes'] / 1e6:.3f} | "
                     f"{r['model_bytes'] / 1e6:.3f} |")
    lines += ["", "| benchmark | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" for k, v in bench.items()]
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    markers = {"weights": "o", "router": "s", "magnitude": "x", "router_structured": "D", "magnitude_structured": "+"}
    for mode, marker in markers.items():
        points = [r for r in records if r["mode"] == mode]
        if points:
            ax.scatter([100 * r["sparsity"] for r in points], [r["cer"] for r in points], marker=marker, label=mode)
    ax.set_xlabel("sparsity (% of routed weights / hidden units removed)")
    ax.set_ylabel("test-clean CER (%)")
    ax.set_title("S3-Router: error against sparsity")
    ax.legend(fontsize=8)
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
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs of every run")
    parser.add_argument("--kept_router", nargs="*", type=float, default=[0.9])
    parser.add_argument("--kept_prune", nargs="*", type=float, default=[0.5])
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1, help="threads per run and for the measurements")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per model")
    parser.add_argument("--bench_steps", type=int, default=5, help="timed training steps per model")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--tiny", action="store_true", help="1 epoch, 1 repeat, 2 bench steps (tests)")
    parser.add_argument("recipe_overrides", nargs="*", help="after --: passed to every fine-tuning run")
    args = parser.parse_args(argv)
    if args.tiny:
        args.epochs, args.repeats, args.bench_steps, args.batch_size = 1, 1, 2, 4
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    pretrained = args.pretrained or pretrain(args.data_folder, args.output / "pretrain", args.pretrain_overrides)
    specs = run_specs(args)
    encoders = {"pretrained": Path(pretrained), "finetuned": args.output / "finetuned_encoder"}
    runs = commands(args, specs, encoders)
    run_all(runs[:1 + len(args.kept_router)], 1, args.threads)  # weights (+ routing) first
    if not (encoders["finetuned"] / "encoder.ckpt").is_file():
        load_ctc_model(runs[0][2] / "model").encoder.save(encoders["finetuned"])
    run_all(runs, 1, args.threads)

    first = runs[0][2]
    batches, audio_s = test_batches(first / "save" / "test-clean.csv", args.data_folder, args.batch_size)
    print(f"measuring {len(runs)} models on {audio_s:.0f} s of test-clean, {args.threads} thread(s)", flush=True)
    costs = measure_models({key: folder / "model" for key, _, folder, _ in runs}, batches, audio_s, args.repeats)
    records = summarise(specs, runs, costs)
    bench = {
        **step_times(Path(pretrained), train_batch(first / "save" / "train-clean-100.csv", args.data_folder,
                                                   args.batch_size), args.bench_steps, args.kept_router[0]
                     if args.kept_router else 0.9),
        **forward_checks(Path(pretrained), batches, 0.9, args.repeats),
    }
    (args.output / "router.json").write_text(json.dumps(records, indent=2))
    (args.output / "router_bench.json").write_text(json.dumps(bench, indent=2))
    report = table(records, bench) + "\n\n" + "\n".join(targets(records, bench)) + "\n"
    (args.output / "router.md").write_text(report)
    plot(records, args.output / "router.png")
    print(report)
    return records


if __name__ == "__main__":
    main()
