"""tools/make_tables.py: the report from a fixture results folder and from the committed examples."""

import doctest
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_tables  # noqa: E402
import run_probes  # noqa: E402


def strategy(spec: str, cer: float, macs: float, rtf: float, **extra) -> dict:
    name, _, factor = spec.partition(":")
    factor = factor.partition("+")[0].partition("@")[0]
    return {"strategy": name, "factor": int(factor or 1), "spec": spec, "upsampling": 1, "wer": cer + 40, "cer": cer,
            "cer_per_seed": [cer - 1, cer + 1], "wer_per_seed": [cer + 39, cer + 41], "seeds": [1234, 1235],
            "macs_per_audio_s": macs, "peak_mem_mb": 20.0, "params": 1000, "cpu_rtf": rtf, **extra}


def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def results(tmp_path) -> Path:
    """Two strategy folders, a router table, a training run; no probes, distillation or deployment."""
    folder = tmp_path / "results"
    records = [
        strategy("baseline", 50.0, 100e6, 0.004, macs_ratio=1.0, time_ratio=1.0, cer_delta=0.0),
        strategy("conv:3", 55.0, 33e6, 0.002, macs_ratio=0.33, time_ratio=0.5, cer_delta=5.0),
        strategy("conv:2", 60.0, 50e6, 0.003, macs_ratio=0.5, time_ratio=0.75, cer_delta=10.0),  # dominated by conv:3
    ]
    write(folder / "seed_a" / "strategies.json", records)
    write(folder / "seed_b" / "strategies.json", records[:1])
    (folder / "seed_a" / "strategies.png").write_bytes(b"png")
    write(folder / "router" / "router.json", [
        {"mode": "weights", "kept": 1.0, "from": "pretrained", "wer": 90.0, "cer": 70.0, "macs_per_audio_s": 100e6,
         "cpu_rtf": 0.004, "params": 1000, "bytes": 4000},
        {"mode": "router", "kept": 0.9, "from": "pretrained", "wer": 88.0, "cer": 66.0, "macs_per_audio_s": 100e6,
         "cpu_rtf": 0.004, "params": 1000, "bytes": 200},
    ])
    write(folder / "runs" / "finetune" / "cost_train.json", {
        "name": "train", "device": "cpu", "params": 2_000_000, "trainable_params": 1_500_000, "wall_time_s": 120.0,
        "energy_j": 3600.0, "energy_method": "cpu-time-model", "extra": {"epochs_run": 2, "optimizer_steps": 10, "world_size": 1},
    })
    return folder


def report(folder: Path) -> str:
    return make_tables.main([str(folder)]).read_text(encoding="utf-8")


def test_pareto_doctests():
    assert doctest.testmod(make_tables).failed == 0


def test_report_of_a_fixture_folder(results):
    text = report(results)
    assert "## Paper 5 — fine-tuning strategies for faster inference" in text
    assert "| strategy | factor | seeds | WER |" in text
    assert "| baseline | 1 | 2 | 90.00 (paper 4.09) | 50.00 ± 1.41 |" in text  # measured beside published
    assert "0.33 (paper 0.35)" in text
    # several files of one kind: one row group each, labelled by folder, each with its source
    assert "### `seed_a`" in text and "### `seed_b`" in text
    assert "Source: [`seed_a/strategies.json`](seed_a/strategies.json)" in text
    assert "![strategies](seed_a/strategies.png)" in text
    assert "(1 router.json) | not judged: 1 seed (CER 66.00 vs 70.00; the spread needs 2 or more" in text
    # absent inputs name the command that makes them
    assert "missing: run `python tools/run_probes.py" in text
    assert f"missing: run `python tools/distill_report.py --construct-only --output {results.as_posix()}/distill`" in text
    assert "missing: run `python tools/deploy_table.py" in text
    assert "| `runs/finetune` | cpu | 1 | 2 | 10 | 2.0 | 1 (cpu-time-model) | 2 | 1.5 |" in text
    # the frontier: conv:2 is dominated by conv:3 on MACs and on CPU time
    rows = {line.split(" | ")[1] + " " + line.split(" | ")[2]: line for line in text.splitlines()
            if line.startswith("| ") and "strategy: " in line}
    assert rows["strategy: conv:3 `seed_a`"].endswith("| ★ | ★ |")
    assert rows["strategy: conv:2 `seed_a`"].endswith("|  |  |")
    assert rows["strategy: baseline `seed_b`"].endswith("| ★ | ★ |")  # equal to seed_a's baseline: both optimal
    assert (results / "frontier.png").stat().st_size > 1000


def test_probes_table_from_the_writer(results):
    cell = {"metric": "WER", "value": 30.0, "std": 2.0, "CER": 12.0, "CER_std": 1.0, "seeds": 3, "cpu_s": 60.0,
            "wall_s": 60.0, "layer_weights": [0.5, 0.5]}
    emotion = {"metric": "accuracy", "value": 50.0, "std": 0.0, "seeds": 1, "cpu_s": 30.0, "wall_s": 30.0,
               "layer_weights": [0.5, 0.5]}
    (results / "probes").mkdir()
    run_probes.write_table({"sm": {"librispeech_asr": cell, "emotion": emotion}}, ["librispeech_asr", "emotion"],
                           results / "probes")
    text = report(results)
    assert "| encoder | librispeech_asr WER ↓ | emotion accuracy ↑ | CPU min |" in text
    assert "| sm | 30.00 ± 2.00 (paper 5.30), CER 12.00 | 50.00 (paper 63.0) | 1.5 |" in text


def test_multilingual_router_rows_stay_off_the_frontier(results):
    write(results / "router" / "router.json", [
        {"mode": mode, "kept": kept, "language": language, "wer": 80.0, "cer": cer, "macs_per_audio_s": 1e6,
         "cpu_rtf": 0.01, "bytes": size, **({"mask_fraction": 1 / 32} if mode == "router" else {})}
        for language in ("cy", "eu")
        for mode, kept, cer, size in (("weights", 1.0, 40.0, 8e6), ("router", 0.9, 41.0, 3e5))
    ])
    text = report(results)
    assert "| language | method | kept | WER | CER | stored MB | packed mask / encoder fp32 |" in text
    assert "| eu | router | 0.9 | 80.00 | 41.00 | 0.300 | 1/32.0 |" in text
    assert "weight fine-tuning's CER or better in 0 of 2 (language, sparsity) pairs" in text
    assert "router: " not in text.split("## Efficiency frontier")[1]


def test_unreadable_input_is_named_and_the_rest_is_kept(results, tmp_path):
    (results / "router" / "router.json").write_text("{not json", encoding="utf-8")
    write(results / "deploy" / "deploy_table.json", {"rows": "wrong"})
    write(results / "runs" / "broken" / "cost_train.json", [1, 2])
    output = tmp_path / "elsewhere" / "REPORT.md"
    make_tables.main([str(results), "--output", str(output)])
    text = output.read_text(encoding="utf-8")
    assert "could not read `../results/router/router.json`" in text
    assert "is not in the format its tool writes" in text
    assert "one of these files is not in the format its writer gives" in text
    assert "Source: [`../results/seed_a/strategies.json`](../results/seed_a/strategies.json)" in text
    assert (output.parent / "frontier.png").is_file()


def test_committed_examples(tmp_path):
    folder = tmp_path / "examples"
    for source in ("recipes/LibriSpeech/finetune/results", "recipes/LibriSpeech/pretrain", "recipes/LibriSpeech/distill"):
        for path in (ROOT / source).rglob("*.json"):
            target = folder / source / path.relative_to(ROOT / source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    text = report(folder)
    for name in ("strategies.json", "router.json", "cost_table.json", "benchmark_encoders.json", "distill_construct.json",
                 "deploy_table.json"):
        assert f"/{name}`]" in text
    missing = [line for line in text.splitlines() if line.startswith("missing: run")]
    assert len(missing) == 2 and "run_probes.py" in missing[0] and "--output_folder=" in missing[1]
    assert "(paper ~0.1 vs large SSL)" in text and "★" in text


def test_claims_between_runs_on_the_ctc_plateau_are_not_judged(results):
    for seed, (weights, masks) in {"router": (100.0, 97.0), "router_1235": (99.0, 98.0)}.items():
        records = json.loads((results / "router" / "router.json").read_text())
        records[0]["cer"], records[1]["cer"] = weights, masks  # both still emit (almost) only blanks
        write(results / seed / "router.json", records)
    text = report(results)
    assert "(2 router.json) | not judged: both at the CTC blank plateau (CER >= 95): train longer |" in text


def test_claims_are_judged_on_the_mean_and_spread_of_the_seeds(results):
    records = json.loads((results / "seed_a" / "strategies.json").read_text())
    records.append(strategy("scratch", 60.0, 100e6, 0.004, cer_per_seed=[58.0, 66.0],  # 62 ± 5.66
                            converged_per_seed=[True, False]))
    records.append(strategy("conv:3+up@frames", 51.0, 36e6, 0.002, cer_per_seed=[50.0, 52.0], macs_ratio=0.38))
    write(results / "seed_a" / "strategies.json", records)
    seed2 = json.loads((results / "router" / "router.json").read_text())
    seed2[0]["cer"], seed2[1]["cer"] = 60.0, 67.0  # weights 70 / 60, masks 66 / 67: within the spread
    write(results / "router_1235" / "router.json", seed2)
    write(results / "multilingual" / "router.json", [dict(r, language="cy") for r in seed2])  # not compared
    probes = results / "probes" / "probes.csv"
    probes.parent.mkdir(parents=True)
    probes.write_text("encoder,librispeech_asr (WER),emotion (accuracy),librispeech_asr (CER),librispeech_asr (std),"
                      "emotion (std),librispeech_asr (CER std),cpu_min,wall_min\n"
                      "distilled,90.00,45.00,60.00,1.00,2.00,1.50,1.0,1.0\n"
                      "distilled (random init),100.00,40.00,80.00,0.00,4.00,2.00,1.0,1.0\n", encoding="utf-8")
    text = report(results)
    claims = text.split("## Mini-scale claims")[1].split("\n## ")[0]
    assert ("| pretrained fine-tuning beats scratch (same epochs) by more than the seeds' spread | holds: 50.00 ± 1.41 "
            "vs 62.00 ± 5.66, gap 12.00 > spread 5.66 (not converged: the best valid CER moved by 1 point or more in the "
            "last 2 epochs of 1 of 2 runs) |") in claims
    assert "learned conv x3 (conv:3, MACs 0.33x)" in claims
    assert "does not hold: 55.00 ± 1.41 vs 50.00 ± 1.41, +5.00 > +2.00" in claims
    assert ("learned conv x3 (conv:3+up@frames, MACs 0.38x) within +2.0 CER of the baseline at <= 0.40x the MACs | "
            "holds: 51.00 ± 1.41 vs 50.00 ± 1.41, +1.00 <= +2.00 | `seed_a/strategies.json` |") in claims
    assert ("(2 router.json) | holds: 66.50 ± 0.71 vs 65.00 ± 7.07, +1.50 <= spread 7.07 | `router/router.json`, "
            "`router_1235/router.json` |") in claims
    assert "distilled model beats its untrained control on the LibriSpeech ASR probe | holds: CER 60.00 ± 1.50" in claims
    assert "emotion probe | holds: accuracy 45.00 ± 2.00 vs control 40.00 ± 4.00, gap 5.00 > spread 4.00" in claims


def test_deployed_models_join_the_frontier_with_their_macs(results):
    write(results / "combined_deploy" / "deploy_table.json", {
        "model": "/somewhere/results/combined/model", "utterances": 5, "audio_s": 24.0, "threads": 1,
        "onnx_fp32_max_abs_log_prob_diff": 1e-6,
        "rows": [{"model": "ONNX int8", "cer": 40.0, "wer": 90.0, "rtf": 0.001, "bytes": 4e6, "macs_per_audio_s": 24e6}],
    })
    text = report(results)
    assert "| ONNX int8 | 40.00 | 90.00 | 24.0 | 0.0010 | 4.00 | - |" in text  # its own section, MACs shown
    frontier = text.split("## Efficiency frontier")[1]
    assert "| deploy: combined, ONNX int8 | `combined_deploy` | 40.00 | 24.0 | 0.0010 | ★ | ★ |" in frontier


def test_a_main_job_folder_reports_its_run_time(results):
    assert "## Run time" not in report(results)
    write(results / "stages" / "sittings.json", [{"started": "x", "seconds": 3600.0, "stages": ["a"]},
                                                  {"started": "y", "seconds": 1800.0, "stages": ["b"]}])
    write(results / "stages" / "a.stage", {"fingerprint": "f", "cmd": [], "finished": "t", "seconds": 3000.0})
    write(results / "stages" / "b.stage", {"fingerprint": "f", "cmd": [], "finished": None, "seconds": 1800.0})
    text = report(results).split("## Run time")[1]
    assert "Wall time 1.50 h over 2 sitting(s)" in text and "add up to 1.33 h" in text
    assert text.index("| a | 0.83 h |") < text.index("| b | 0.50 h so far (not finished) |")
