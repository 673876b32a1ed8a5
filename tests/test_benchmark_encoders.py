"""Smoke test of tools/benchmark_encoders.py --quick: it runs, writes its JSON and PNG, prints goals."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIXERS = {"SummaryMixing", "regularMHA", "speechbrain_mha"}


def test_quick_benchmark_writes_records_and_plot(tmp_path):
    command = [sys.executable, str(ROOT / "tools" / "benchmark_encoders.py"), "--output", str(tmp_path)]
    result = subprocess.run(
        command + ["--quick", "--threads", "1"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = json.loads((tmp_path / "benchmark_encoders.json").read_text())
    assert {r["mixer"] for r in records} == MIXERS
    assert sorted({r["seconds"] for r in records}) == [1, 2]
    for record in records:
        assert record["step_time_s"] > 0 and record["peak_mem_mb"] > 0 and record["flops"] > 0
        assert len(record["step_times_s"]) == 1
    by_key = {(r["mixer"], r["seconds"]): r for r in records}
    for mixer in MIXERS:  # longer utterances cost more compute
        assert by_key[(mixer, 2)]["flops"] > by_key[(mixer, 1)]["flops"]
    assert (tmp_path / "benchmark_encoders.png").stat().st_size > 0
    assert "Goals:" in result.stdout and "x MHA" in result.stdout
