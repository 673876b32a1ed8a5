"""Smoke test of tools/benchmark_encoders.py --quick: it runs, writes its JSON and PNG, prints goals
and the activation-checkpointing ratios."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIXERS = {"SummaryMixing", "regularMHA", "speechbrain_mha"}
FULL_STEPS = {"regularMHA_w2v2", "speechbrain_w2v2"}
CHECKPOINTING = {"SummaryMixing": True, "SummaryMixing_no_ckpt": False, "regularMHA": False, "regularMHA_ckpt": True}


def test_quick_benchmark_writes_records_and_plot(tmp_path):
    command = [sys.executable, str(ROOT / "tools" / "benchmark_encoders.py"), "--output", str(tmp_path)]
    result = subprocess.run(
        command + ["--quick", "--threads", "1", "--floor", "--checkpointing"],
        capture_output=True, text=True, timeout=150, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = json.loads((tmp_path / "benchmark_encoders.json").read_text())
    assert {r["mixer"] for r in records} == MIXERS | FULL_STEPS | set(CHECKPOINTING) | {"no_mixer"}
    assert sorted({r["seconds"] for r in records}) == [1.5, 3]
    for record in records:
        assert record["step_time_s"] > 0 and record["peak_mem_mb"] > 0 and record["flops"] > 0
        assert len(record["step_times_s"]) == 1
        assert "flops_include_sdpa" not in record
    by_key = {(r["mixer"], r["seconds"]): r for r in records}
    for model in MIXERS | FULL_STEPS:  # longer utterances cost more compute
        assert by_key[(model, 3)]["flops"] > by_key[(model, 1.5)]["flops"]
    for seconds in (1.5, 3):  # the floor: every mixer adds compute to it
        floor = by_key[("no_mixer", seconds)]["flops"]
        assert all(by_key[(mixer, seconds)]["flops"] > floor for mixer in MIXERS)
    for seconds in (1.5, 3):
        # The same computation, attention counted whichever kernel runs it (SDPA on CPU included).
        sdpa, materialised = by_key[("regularMHA", seconds)], by_key[("speechbrain_mha", seconds)]
        assert abs(sdpa["flops"] / materialised["flops"] - 1) < 0.02
        # Both full steps are one configuration: same parameters, nearly the same FLOPs
        # (their span masks mask different numbers of frames).
        ours, speechbrain = by_key[("regularMHA_w2v2", seconds)], by_key[("speechbrain_w2v2", seconds)]
        assert ours["params"] == speechbrain["params"]
        assert abs(ours["flops"] / speechbrain["flops"] - 1) < 0.05
        assert ours["flops"] > sdpa["flops"]  # the pretraining heads on top of the encoder
    for seconds in (1.5, 3):
        # Both mixers with and without activation checkpointing: recomputing adds the mixer's forward.
        for model, recomputed in CHECKPOINTING.items():
            assert by_key[(model, seconds)]["activation_checkpointing"] is recomputed
        for with_ckpt, without in (("SummaryMixing", "SummaryMixing_no_ckpt"), ("regularMHA_ckpt", "regularMHA")):
            assert by_key[(with_ckpt, seconds)]["params"] == by_key[(without, seconds)]["params"]
            assert by_key[(with_ckpt, seconds)]["flops"] > by_key[(without, seconds)]["flops"]
    assert "SummaryMixing / regularMHA, both ckpt" in result.stdout
    assert (tmp_path / "benchmark_encoders.png").stat().st_size > 0
    assert "Goals:" in result.stdout and "x ref" in result.stdout
    assert "regularMHA_w2v2 / speechbrain_w2v2" in result.stdout


def test_too_short_utterances_are_refused_with_a_reason(tmp_path):
    command = [sys.executable, str(ROOT / "tools" / "benchmark_encoders.py"), "--output", str(tmp_path)]
    result = subprocess.run(command + ["--seconds", "1"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--seconds >= 1.2" in result.stderr


def test_models_selects_what_is_timed_and_missing_references_read_n_a(tmp_path):
    command = [sys.executable, str(ROOT / "tools" / "benchmark_encoders.py"), "--output", str(tmp_path)]
    options = ["--models", "SummaryMixing", "--seconds", "1.5", "--repeats", "1", "--threads", "1"]
    result = subprocess.run(command + options, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    records = json.loads((tmp_path / "benchmark_encoders.json").read_text())
    assert [r["mixer"] for r in records] == ["SummaryMixing"]
    assert "n/a" in result.stdout  # its reference, regularMHA, was not timed
