"""tools/main_job.py: the stage list is well formed; the whole pipeline runs on the tiny corpus."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import main_job  # noqa: E402
from stages import plan  # noqa: E402


@pytest.mark.parametrize("budget", list(main_job.BUDGETS))
def test_every_budget_builds_a_well_ordered_pipeline(tmp_path, budget):
    stages = main_job.build_stages(tmp_path / "out", tmp_path / "data", main_job.BUDGETS[budget])
    names = [s.name for s in stages]
    assert len(set(names)) == len(names) and names[0] == "corpus" and names[-1] == "report"
    for index, stage in enumerate(stages):
        assert set(stage.after) <= set(names[:index]), stage.name  # reads only what ran before it
        assert all(Path(p).is_file() for p in stage.cmd[1:2]), stage.cmd[1]  # the script exists
    folders = [s.folder for s in stages]
    assert len(set(folders)) == len(folders)  # a stale stage clears its own folder, nobody else's
    assert set(plan(stages, tmp_path / "out").values()) == {"new", "waiting"}


def test_the_reproduce_budget_runs_masks_against_weights_for_every_seed(tmp_path):
    import router_table

    budget = main_job.BUDGETS["reproduce"]
    stages = {s.name: s for s in main_job.build_stages(tmp_path / "out", tmp_path / "data", budget)}
    seeds = [int(router_table.parse_args(stages[name].cmd[2:]).seed) for name in stages if name.startswith("router")]
    assert sorted(seeds) == budget["seeds"]
    extra = router_table.parse_args(stages["router_seed1235"].cmd[2:])
    assert extra.kept_prune == [] and extra.kept_router == [0.9]  # weights and masks only, no pruning runs


@pytest.mark.slow
def test_smoke_budget_runs_every_stage_then_skips_them(tmp_path):
    out, data = tmp_path / "out", tmp_path / "data"
    outcome = main_job.main(["--budget", "smoke", "--output", str(out), "--data", str(data)])
    assert set(outcome.values()) == {"ran"}
    report = (out / "REPORT.md").read_text()
    assert "Paper 5" in report and "Paper 4" in report
    again = main_job.main(["--budget", "smoke", "--output", str(out), "--data", str(data)])
    assert set(again.values()) == {"skipped"}
