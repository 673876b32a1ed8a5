"""tools/stages.py: finished stages are skipped, changed inputs re-run downstream, killed ones resume."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from stages import Stage, run_stages, run_time  # noqa: E402


def writer(folder: Path, text: str, fail_first: bool = False) -> list[str]:
    """A command that appends ``text`` to folder/runs.txt and writes folder/done.txt; with
    ``fail_first`` it exits 1 the first time (as a killed stage would leave its folder)."""
    code = (
        "import pathlib, sys\n"
        f"folder = pathlib.Path({str(folder)!r})\n"
        f"runs = folder / 'runs.txt'\n"
        f"runs.open('a').write({text!r} + '\\n')\n"
        f"if {fail_first} and len(runs.read_text().splitlines()) == 1: sys.exit(1)\n"
        "(folder / 'done.txt').write_text('ok')\n"
    )
    return [sys.executable, "-c", code]


def pipeline(root: Path, first_text: str = "a") -> list[Stage]:
    return [
        Stage("first", writer(root / "first", first_text), root / "first", "done.txt"),
        Stage("second", writer(root / "second", "b"), root / "second", "done.txt", after=("first",)),
        Stage("other", writer(root / "other", "c"), root / "other", "done.txt"),
    ]


def runs(root: Path, name: str) -> list[str]:
    return (root / name / "runs.txt").read_text().split()


def test_finished_stages_are_skipped(tmp_path):
    assert run_stages(pipeline(tmp_path), tmp_path, quiet=True) == {"first": "ran", "second": "ran", "other": "ran"}
    assert run_stages(pipeline(tmp_path), tmp_path, quiet=True) == {
        "first": "skipped", "second": "skipped", "other": "skipped"}
    assert runs(tmp_path, "second") == ["b"]


def test_a_changed_stage_is_cleared_and_reruns_what_reads_it(tmp_path):
    run_stages(pipeline(tmp_path), tmp_path, quiet=True)
    outcome = run_stages(pipeline(tmp_path, first_text="A"), tmp_path, quiet=True)
    assert outcome == {"first": "ran", "second": "ran", "other": "skipped"}
    assert runs(tmp_path, "first") == ["A"]  # cleared, not appended: the old outputs are gone
    assert runs(tmp_path, "second") == ["b"]


def test_a_killed_stage_resumes_in_its_folder(tmp_path):
    stage = Stage("flaky", writer(tmp_path / "flaky", "x", fail_first=True), tmp_path / "flaky", "done.txt")
    with pytest.raises(SystemExit, match="'flaky' failed .*flaky.log"):
        run_stages([stage], tmp_path, quiet=True)
    assert run_stages([stage], tmp_path, quiet=True) == {"flaky": "ran"}
    assert runs(tmp_path, "flaky") == ["x", "x"]  # same folder: a recipe there finds its checkpoints


def test_time_adds_up_over_the_sittings_a_killed_stage_ran_in(tmp_path):
    """A stage killed after 0.5 s and finished in a second sitting counts both attempts; a
    sitting that only skips finished stages is not a sitting."""
    folder = tmp_path / "slow"
    code = (
        "import pathlib, sys, time\n"
        f"folder = pathlib.Path({str(folder)!r})\n"
        "time.sleep(0.5)\n"
        "if not (folder / 'tried').exists(): (folder / 'tried').write_text(''); sys.exit(1)\n"
        "(folder / 'done.txt').write_text('ok')\n"
    )
    stage = Stage("slow", [sys.executable, "-c", code], folder, "done.txt")
    with pytest.raises(SystemExit, match="'slow' failed"):
        run_stages([stage], tmp_path, quiet=True, jobs=2)  # jobs > 1: polled every 0.2 s
    assert run_stages([stage], tmp_path, quiet=True, jobs=2) == {"slow": "ran"}
    assert run_stages([stage], tmp_path, quiet=True, jobs=2) == {"slow": "skipped"}
    timing = run_time(tmp_path)
    assert timing["sittings"] == 2
    assert 1.0 <= timing["stage_s"]["slow"] <= timing["wall_s"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_runner_stops_its_stages_and_keeps_their_time(tmp_path, signum):
    """`kill` (SIGTERM) of the runner, or a closed terminal (SIGHUP), stops the running stage, and the
    processes it started, and writes down its time."""
    grandchild = ("import subprocess, sys, time; "
                  "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                  f"open({str(tmp_path / 'grandchild.pid')!r}, 'w').write(str(p.pid)); time.sleep(60)")
    code = (f"import signal, sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); from stages import Stage, run_stages; "
            "signal.signal(signal.SIGHUP, signal.SIG_DFL); "  # a runner in a terminal (this test may run under nohup)
            f"run_stages([Stage('slow', [sys.executable, '-c', {grandchild!r}], "
            f"__import__('pathlib').Path({str(tmp_path / 'slow')!r}), 'done.txt')], "
            f"__import__('pathlib').Path({str(tmp_path)!r}), quiet=True, jobs=2)")
    runner = subprocess.Popen([sys.executable, "-c", code])
    pid_file = tmp_path / "grandchild.pid"
    while not (pid_file.is_file() and pid_file.read_text()):
        time.sleep(0.1)
    time.sleep(1.5)
    runner.send_signal(signum)
    assert runner.wait(timeout=30) != 0
    timing = run_time(tmp_path)
    assert 1.0 <= timing["stage_s"]["slow"] <= timing["wall_s"] and timing["sittings"] == 1
    assert json.loads((tmp_path / "stages" / "slow.stage").read_text())["finished"] is None  # it resumes
    pid = int(pid_file.read_text())
    for _ in range(100):  # the grandchild got SIGTERM with its group; give it time to go
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the stage's child process {pid} outlived the runner")


def test_only_runs_one_stage_and_needs_its_inputs(tmp_path):
    with pytest.raises(SystemExit, match="'first' has not finished"):
        run_stages(pipeline(tmp_path), tmp_path, only=["second"], quiet=True)
    assert run_stages(pipeline(tmp_path), tmp_path, only=["first"], quiet=True) == {"first": "ran"}
    assert run_stages(pipeline(tmp_path), tmp_path, only=["second"], quiet=True) == {"first": "skipped", "second": "ran"}
    with pytest.raises(SystemExit, match="unknown stage"):
        run_stages(pipeline(tmp_path), tmp_path, only=["third"], quiet=True)


def test_a_stage_that_writes_no_done_file_fails(tmp_path):
    stage = Stage("lazy", [sys.executable, "-c", "pass"], tmp_path / "lazy", "done.txt")
    with pytest.raises(SystemExit, match="wrote no"):
        run_stages([stage], tmp_path, quiet=True)


def timed(folder: Path, seconds: float, reads: Path | None = None) -> list[str]:
    """A command that records its start and end times (and fails if ``reads`` is missing)."""
    code = (
        "import pathlib, time, sys\n"
        f"folder = pathlib.Path({str(folder)!r})\n"
        f"reads = {str(reads) if reads else ''!r}\n"
        "if reads and not pathlib.Path(reads).is_file(): sys.exit(3)\n"
        "start = time.time()\n"
        f"time.sleep({seconds})\n"
        "(folder / 'done.txt').write_text(f'{start} {time.time()}')\n"
    )
    return [sys.executable, "-c", code]


def test_jobs_run_independent_stages_side_by_side_and_readers_after(tmp_path):
    stages = [
        Stage("a", timed(tmp_path / "a", 1.0), tmp_path / "a", "done.txt"),
        Stage("b", timed(tmp_path / "b", 1.0), tmp_path / "b", "done.txt"),
        Stage("c", timed(tmp_path / "c", 0.1, reads=tmp_path / "a" / "done.txt"), tmp_path / "c", "done.txt",
              after=("a",)),
    ]
    assert run_stages(stages, tmp_path, quiet=True, jobs=2) == {"a": "ran", "b": "ran", "c": "ran"}
    (a0, a1), (b0, b1), (c0, _) = ([float(t) for t in (tmp_path / n / "done.txt").read_text().split()] for n in "abc")
    assert b0 < a1 and a0 < b1  # a and b overlapped
    assert c0 >= a1  # c waited for what it reads
    assert run_stages(stages, tmp_path, quiet=True, jobs=2) == {"a": "skipped", "b": "skipped", "c": "skipped"}


def test_a_failing_stage_stops_the_others(tmp_path):
    slow = Stage("slow", timed(tmp_path / "slow", 30.0), tmp_path / "slow", "done.txt")
    broken = Stage("broken", [sys.executable, "-c", "import sys; sys.exit(2)"], tmp_path / "broken", "done.txt")
    with pytest.raises(SystemExit, match="broken.*exit 2"):
        run_stages([slow, broken], tmp_path, quiet=True, jobs=2)
    assert not (tmp_path / "slow" / "done.txt").exists()


def test_on_a_rerun_stages_start_in_list_order_after_the_finished_ones_are_skipped(tmp_path, capsys):
    """With one slot, a re-run skips the finished stages first and then starts the earliest ready
    one in list order, not a later stage that was ready sooner."""
    def stages() -> list[Stage]:
        return [
            Stage("base", writer(tmp_path / "base", "a"), tmp_path / "base", "done.txt"),
            Stage("late", writer(tmp_path / "late", "b"), tmp_path / "late", "done.txt", after=("base",)),
            Stage("free", writer(tmp_path / "free", "c"), tmp_path / "free", "done.txt"),
        ]
    run_stages(stages()[:1], tmp_path)  # base finished earlier
    capsys.readouterr()
    assert run_stages(stages(), tmp_path, jobs=1) == {"base": "skipped", "late": "ran", "free": "ran"}
    started = [line.split()[2] for line in capsys.readouterr().out.splitlines() if "running" in line]
    assert started == ["late", "free"]
