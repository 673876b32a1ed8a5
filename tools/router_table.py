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
fp32 encoder, and the encoder's CPU time and MACs with half of its feed-forward hidden units folded
away, and with half of its feed-forward and SummaryMixing hidden units folded away.

Writes DIR/router.json (records {"mode", "kept", "from", "wer", "cer", "macs_per_audio_s",
"cpu_rtf", "bytes", ...}), DIR/router_bench.json, DIR/router.md and DIR/router.png (CER
against sparsity), and prints the targets with PASS/FAIL.

``--multilingual``: Common Voice (paper 4's multilingual setting), through the recipe
``recipes/CommonVoice/finetune``, for each language of ``--languages`` (default: the 6 mini
languages): weight fine-tuning (finetune_mini.yaml: one fine-tuned copy per language) and mask
fine-tuning (route_mini.yaml: one mask + CTC head per language over the frozen shared encoder,
saved once as DIR/shared_encoder), same head, data and epochs. Without ``--pretrained`` the
shared encoder is first pretrained on every language's training audio with
``recipes/CommonVoice/pretrain``'s mini YAML (``--pretrain_steps``). Each language's model is
reassembled from the shared encoder + its task file and checked against the routed model.
Records get "language"; ``bytes`` is what a language stores: its fine-tuned fp32 copy, or its
packed masks + CTC head; DIR/router_storage.json and the table add the shared encoder's fp32
bytes, the totals of both ways and each packed mask's fraction of the encoder (target <= 1/30).
The per-language BPE tokenizer is the same in both ways and is left out (``tokenizer_bytes``).

Usage:
    python tools/router_table.py --output results/router --pretrained <pretraining save folder> \
        [--data_folder data/mini/LibriSpeech] [--epochs 2] [--kept_router 0.9] [--kept_prune 0.5] \
        [--tiny] [-- recipe overrides]
    python tools/router_table.py --multilingual --output results/router_multilingual \
        [--pretrained <save folder>] [--data_folder data/mini/CommonVoice] [--languages cy de ...] \
        [--epochs 3] [--kept_router 0.9] [--jobs 2] [--pretrain_steps 100] [--tiny] [-- recipe overrides]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from compare_strategies import converged, measure_models, pretrain, run_all, test_batches, valid_curve

from efficient_ssl.data import make_dataset
from efficient_ssl.efficiency import Timer, count_flops
from efficient_ssl.models import CTCModel, load_ctc_model, load_pretrained_encoder, load_routing_task
from efficient_ssl.nnet import router
from plotting import pyplot

ROOT = Path(__file__).resolve().parents[1]
FINETUNE = ROOT / "recipes" / "LibriSpeech" / "finetune"
CV_FINETUNE = ROOT / "recipes" / "CommonVoice" / "finetune"
CV_PRETRAIN = ROOT / "recipes" / "CommonVoice" / "pretrain"
CV_LANGUAGES = ["cy", "de", "en", "es", "eu", "fr"]
# pruning of the fine-tuned encoder: (mode, routing, score init); magnitude modes keep their init (lr_scores 0)
PRUNE_MODES = (("magnitude", "unstructured", "magnitude_scale"), ("router", "unstructured", "magnitude_scale"),
               ("magnitude_structured", "structured", "magnitude"), ("router_structured", "structured", "magnitude"))
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
        for mode, routing, init in PRUNE_MODES:
            if mode not in args.prune_modes:
                continue
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
    """Folded against masked forward, packed mask size, and the encoder's time and MACs with 50% of
    its hidden units folded away: of the feed-forward blocks (``ffn_half``), and of the
    feed-forward blocks and SummaryMixing layers (``all_half``; the same as ``ffn_half`` for an
    attention encoder), timed side by side with the full one; the target reads the whole encoder
    (frontend included), ``context_time_ratio_*`` the context network alone (where the masks are)."""
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
    pruned_all = copy.deepcopy(encoder)
    router.route_units(pruned_all, "all", kept=0.5, score_init="magnitude")
    router.fold(pruned_all)
    models = (("full", encoder), ("ffn_half", pruned), ("all_half", pruned_all))
    times = {key: [] for key, _ in models}
    macs = {}
    with torch.no_grad():
        for key, model in models:
            macs[key] = count_flops(lambda model=model: [model(w, lens) for w, lens in batches]) // 2
        for _ in range(repeats + 1):
            for key, model in models:
                with Timer("cpu") as timer:
                    for w, lens in batches:
                        model(w, lens)
                times[key].append(timer.seconds)
        # the context network alone (the layers the masks prune), on each model's own frontend output
        features = {key: [model.features(w, lens) for w, lens in batches] for key, model in models}
        context_times = {key: [] for key, _ in models}
        for _ in range(repeats + 1):
            for key, model in models:
                with Timer("cpu") as timer:
                    for latents, mask in features[key]:
                        model.contextualise(latents, mask)
                context_times[key].append(timer.seconds)
    full, half, all_half = (statistics.median(times[key][1:]) for key, _ in models)
    context = {key: statistics.median(values[1:]) for key, values in context_times.items()}
    encoder_bytes = router.tensor_bytes(encoder)
    return {
        "fold_max_abs_diff": diff,
        "packed_mask_bytes": router.packed_bytes(packed),
        "encoder_fp32_bytes": encoder_bytes,
        "packed_mask_fraction": router.packed_bytes(packed) / encoder_bytes,
        "encoder_s_full": full,
        "encoder_s_ffn_half": half,
        "structured_time_ratio": half / full,
        "encoder_s_all_half": all_half,
        "structured_all_time_ratio": all_half / full,
        "context_s_full": context["full"],
        "context_time_ratio_ffn_half": context["ffn_half"] / context["full"],
        "context_time_ratio_all_half": context["all_half"] / context["full"],
        "encoder_macs_full": macs["full"],
        "encoder_macs_ffn_half": macs["ffn_half"],
        "encoder_macs_all_half": macs["all_half"],
    }


def summarise(specs, runs, costs: dict[str, dict]) -> list[dict]:
    records = []
    for spec, (_, _, folder, _) in zip(specs, runs):
        result = json.loads((folder / "results.json").read_text())["test-clean"]
        stored, folded = task_bytes(spec, folder / "model")
        curve = valid_curve(folder)
        records.append({
            "mode": spec["mode"], "kept": spec["kept"], "sparsity": round(1 - spec["kept"], 4), "from": spec["from"],
            "wer": result["WER"], "cer": result["CER"], **costs[spec["key"]], "bytes": stored, "model_bytes": folded,
            "valid_cer_per_seed": [curve], "converged_per_seed": [converged(curve)],
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


def pretrain_multilingual(args) -> Path:
    """Pretrains the shared encoder on every language's training audio (once); its save folder."""
    output = args.output / "pretrain"
    if not (output / "finished").is_file():
        languages = "[" + ", ".join(args.languages) + "]"
        cmd = [sys.executable, str(CV_PRETRAIN / "train.py"), str(CV_PRETRAIN / "hparams" / "wav2vec2_mini.yaml"),
               f"--data_folder={args.data_folder}", f"--output_folder={output}", f"--languages={languages}",
               f"--total_steps={args.pretrain_steps}", *args.pretrain_overrides]
        print("pretraining:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        (output / "finished").write_text("")
    return output / "save"


def multilingual_runs(args, shared: Path) -> tuple[list[dict], list[tuple[str, int, Path, list[str]]]]:
    """Per language: weight fine-tuning and mask fine-tuning at each kept ratio, over ``shared``."""
    specs, runs = [], []
    for language in args.languages:
        variants = [("weights", 1.0, "finetune_mini.yaml", [])]
        variants += [("router", kept, "route_mini.yaml", [f"--kept={kept}"]) for kept in args.kept_router]
        for mode, kept, yaml, overrides in variants:
            key = f"{language}_{mode}" + (f"_{kept}" if mode == "router" else "")
            folder = args.output / "runs" / key
            cmd = [sys.executable, str(CV_FINETUNE / "train.py"), str(CV_FINETUNE / "hparams" / yaml),
                   f"--data_folder={args.data_folder}", f"--output_folder={folder}", f"--languages=[{language}]",
                   f"--pretrained_encoder={shared}", f"--seed={args.seed}", f"--number_of_epochs={args.epochs}",
                   *overrides, *args.recipe_overrides]
            specs.append({"key": key, "mode": mode, "kept": kept, "language": language})
            runs.append((key, args.seed, folder, cmd))
    return specs, runs


def multilingual_records(args, specs, runs, shared: Path) -> tuple[list[dict], dict]:
    """Error rates, costs, bytes and the reassembly check of every run; the storage summary."""
    encoder_bytes = router.tensor_bytes(load_pretrained_encoder(shared))
    records = []
    for language in args.languages:
        chosen = [(spec, run) for spec, run in zip(specs, runs) if spec["language"] == language]
        csv = chosen[0][1][2] / "save" / language / "test.csv"
        batches, audio_s = test_batches(csv, args.data_folder, args.batch_size)
        print(f"measuring {language}: {len(chosen)} models on {audio_s:.0f} s of test audio", flush=True)
        costs = measure_models({spec["key"]: run[2] / "model" for spec, run in chosen}, batches, audio_s, args.repeats)
        for spec, (_, _, folder, _) in chosen:
            (result,) = json.loads((folder / "results.json").read_text()).values()  # one language: one test set
            record = {"mode": spec["mode"], "kept": spec["kept"], "sparsity": round(1 - spec["kept"], 4),
                      "language": language, "wer": result["WER"], "cer": result["CER"], **costs[spec["key"]],
                      "tokenizer_bytes": (folder / "model" / "tokenizer.model").stat().st_size}
            if spec["mode"] == "weights":
                record["bytes"] = record["model_bytes"] = router.tensor_bytes(load_ctc_model(folder / "model"))
            else:
                task = torch.load(folder / "task" / "routing_task.pt", map_location="cpu", weights_only=True)
                sizes = router.task_sizes(task)
                record.update(sizes, bytes=sizes["mask_bytes"] + sizes["head_bytes"],
                              task_file_bytes=(folder / "task" / "routing_task.pt").stat().st_size,
                              mask_fraction=sizes["mask_file_bytes"] / encoder_bytes,
                              reassembly_max_abs_diff=reassembly_diff(folder, shared, batches[:2]))
            records.append(record)
    weights = [r for r in records if r["mode"] == "weights"]
    storage = {"languages": len(args.languages), "shared_encoder_fp32_bytes": encoder_bytes,
               "finetuned_copies_bytes": sum(r["bytes"] for r in weights)}
    for kept in args.kept_router:
        routed = [r for r in records if r["mode"] == "router" and r["kept"] == kept]
        total = encoder_bytes + sum(r["bytes"] for r in routed)
        storage[f"router_{kept}"] = {
            "total_bytes": total, "tasks_bytes": sum(r["bytes"] for r in routed),
            "vs_finetuned_copies": total / storage["finetuned_copies_bytes"],
            "max_mask_fraction": max(r["mask_fraction"] for r in routed),
            "max_reassembly_diff": max(r["reassembly_max_abs_diff"] for r in routed),
        }
    return records, storage


def reassembly_diff(folder: Path, shared: Path, batches) -> float:
    """Max abs difference between the routed model as trained and the one reassembled from the
    shared encoder + the task file (folded), on real frames of the given batches."""
    trained = load_ctc_model(folder / "model", fold_routing=False)
    rebuilt = load_routing_task(folder / "task", shared)
    diff = 0.0
    with torch.no_grad():
        for wavs, lens in batches:
            a, b = trained(wavs, lens), rebuilt(wavs, lens)
            diff = max(diff, float(((a.logits[-1] - b.logits[-1]).abs() * a.mask.unsqueeze(-1)).max()))
    return diff


def multilingual_table(records: list[dict], storage: dict, kept: Sequence[float]) -> str:
    mb = 1e6
    lines = ["| language | mode | kept | WER | CER | MMACs / audio s | CPU RTF | stored MB | packed mask / encoder fp32 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        fraction = f"1/{1 / r['mask_fraction']:.1f}" if "mask_fraction" in r else "-"
        lines.append(f"| {r['language']} | {r['mode']} | {r['kept']} | {r['wer']:.2f} | {r['cer']:.2f} | "
                     f"{r['macs_per_audio_s'] / 1e6:.1f} | {r['cpu_rtf']:.4f} | {r['bytes'] / mb:.3f} | {fraction} |")
    n = storage["languages"]
    lines += ["", "| storage for the languages | MB |", "|---|---|",
              f"| one fine-tuned fp32 copy per language ({n}) | {storage['finetuned_copies_bytes'] / mb:.3f} |"]
    for k in kept:
        s = storage[f"router_{k}"]
        lines.append(f"| shared encoder fp32 {storage['shared_encoder_fp32_bytes'] / mb:.3f} + {n} packed masks + "
                     f"CTC heads {s['tasks_bytes'] / mb:.3f} (kept {k}) | {s['total_bytes'] / mb:.3f} "
                     f"({s['vs_finetuned_copies']:.3f}x) |")
    return "\n".join(lines)


def multilingual_targets(storage: dict, kept: Sequence[float]) -> list[str]:
    lines = []
    for k in kept:
        s = storage[f"router_{k}"]
        ok = s["max_mask_fraction"] <= TARGETS["packed_mask_fraction"]
        lines.append(f"kept {k}: largest packed mask / encoder fp32 {s['max_mask_fraction']:.4f} "
                     f"(<= {TARGETS['packed_mask_fraction']:.4f}): {'PASS' if ok else 'FAIL'}")
        ok = s["max_reassembly_diff"] <= TARGETS["fold_max_abs_diff"]
        lines.append(f"kept {k}: shared encoder + task file = routed model, max abs diff {s['max_reassembly_diff']:.3g} "
                     f"(<= {TARGETS['fold_max_abs_diff']:.0e}): {'PASS' if ok else 'FAIL'}")
    return lines


def multilingual(args) -> list[dict]:
    """The Common Voice multilingual report (``--multilingual``)."""
    shared = args.output / "shared_encoder"
    if not (shared / "encoder.ckpt").is_file():  # one file for every language: the frozen encoder
        load_pretrained_encoder(args.pretrained or pretrain_multilingual(args)).save(shared)
    specs, runs = multilingual_runs(args, shared)
    run_all(runs, args.jobs, args.threads)
    records, storage = multilingual_records(args, specs, runs, shared)
    (args.output / "router.json").write_text(json.dumps(records, indent=2))
    (args.output / "router_storage.json").write_text(json.dumps(storage, indent=2))
    report = multilingual_table(records, storage, args.kept_router) + "\n\n"
    report += "\n".join(multilingual_targets(storage, args.kept_router)) + "\n"
    (args.output / "router.md").write_text(report)
    print(report)
    return records


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--multilingual", action="store_true",
                        help="Common Voice: one mask + head per language over one shared encoder")
    parser.add_argument("--data_folder", type=Path,
                        help="default: data/mini/LibriSpeech (data/mini/CommonVoice with --multilingual)")
    parser.add_argument("--languages", nargs="*", default=CV_LANGUAGES, help="--multilingual: the languages")
    parser.add_argument("--pretrain_steps", type=int, default=100,
                        help="--multilingual without --pretrained: pretraining steps of the shared encoder")
    parser.add_argument("--jobs", type=int, default=2, help="fine-tuning runs at a time (one thread each by default)")
    parser.add_argument("--pretrained", type=Path, help="a pretraining save folder (default: pretrain one)")
    parser.add_argument("--pretrain_overrides", nargs="*", default=[], help="e.g. --total_steps=600")
    parser.add_argument("--epochs", type=int, help="fine-tuning epochs of every run (default 2; 3 with --multilingual)")
    parser.add_argument("--kept_router", nargs="*", type=float, default=[0.9])
    parser.add_argument("--kept_prune", nargs="*", type=float, default=[0.5])
    parser.add_argument("--prune_modes", nargs="*", default=[m for m, _, _ in PRUNE_MODES],
                        choices=[m for m, _, _ in PRUNE_MODES], help="the pruning runs at each --kept_prune")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1, help="threads per run and for the measurements")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per model")
    parser.add_argument("--bench_steps", type=int, default=5, help="timed training steps per model")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--tiny", action="store_true", help="1 epoch, 1 repeat, 2 bench steps (tests)")
    parser.add_argument("recipe_overrides", nargs="*", help="after --: passed to every fine-tuning run")
    args = parser.parse_args(argv)
    corpus = "CommonVoice" if args.multilingual else "LibriSpeech"
    args.data_folder = args.data_folder or ROOT / "data" / "mini" / corpus
    args.epochs = args.epochs or (3 if args.multilingual else 2)
    if args.tiny:
        args.epochs, args.repeats, args.bench_steps, args.batch_size = 1, 1, 2, 4
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    if args.multilingual:
        return multilingual(args)
    pretrained = args.pretrained or pretrain(args.data_folder, args.output / "pretrain", args.pretrain_overrides)
    specs = run_specs(args)
    encoders = {"pretrained": Path(pretrained), "finetuned": args.output / "finetuned_encoder"}
    runs = commands(args, specs, encoders)
    run_all(runs[:1 + len(args.kept_router)], args.jobs, args.threads)  # weights (+ routing) first
    if not (encoders["finetuned"] / "encoder.ckpt").is_file():
        load_ctc_model(runs[0][2] / "model").encoder.save(encoders["finetuned"])
    run_all(runs, args.jobs, args.threads)  # the pruning runs start from the fine-tuned encoder

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
