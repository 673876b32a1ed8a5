"""A small resumable stage runner: each stage is one command that owns one output folder.

A stage is skipped when its ``done`` file exists and its fingerprint (its command and the
fingerprints of the stages it reads, ``after``) is the one recorded when it finished, so a
re-run does only what is missing or out of date:

- finished, inputs unchanged: skipped;
- killed part-way (its ``started`` record has the same fingerprint): run again in the same
  folder, where the recipes resume from their checkpoints;
- its command or an upstream stage changed: its folder is cleared and it runs from scratch
  (and so, in turn, does every stage after it).

Records live in ``<root>/stages/<name>.stage`` (JSON), each stage's output in ``<root>/stages/<name>.log``;
the terminal gets one progress line per stage (and a heartbeat while it runs). Time is kept across
kills: a stage's ``seconds`` add up over the sittings it ran in, and ``<root>/stages/sittings.json``
has the wall time of each sitting that ran something (both brought up to date every
``HEARTBEAT_S`` while stages run, so a kill loses at most that much), which :func:`run_time`
sums: the time of a long pipeline run over several sittings. Each stage leads its own process
group: Ctrl-C, ``kill`` or a closed terminal (SIGINT, SIGTERM, SIGHUP to the runner), or a failing
stage, stops the running stages together with every process they started.

Example
-------
>>> import tempfile, sys
>>> root = Path(tempfile.mkdtemp())
>>> out = root / "hello" / "out.txt"
>>> stage = Stage("hello", [sys.executable, "-c", f"open({str(out)!r}, 'w').write('hi')"],
...               folder=root / "hello", done="out.txt")
>>> run_stages([stage], root, quiet=True)
{'hello': 'ran'}
>>> run_stages([stage], root, quiet=True)
{'hello': 'skipped'}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_S = 60.0  # how often a running stage's and sitting's seconds are written down


@dataclass
class Stage:
    """One step of a pipeline.

    Arguments
    ---------
    name : str
        Unique; ``--only`` and the records use it.
    cmd : list of str
        The command, run from the current directory; give it absolute paths.
    folder : Path
        What the stage writes; cleared when its inputs changed.
    done : str
        A file that exists once the stage has finished (relative to ``folder``, or absolute).
    after : tuple of str
        The stages whose outputs this one reads.
    """

    name: str
    cmd: list[str]
    folder: Path
    done: str
    after: tuple[str, ...] = ()


def fingerprint(stage: Stage, upstream: dict[str, str]) -> str:
    """Hash of the command and of the upstream stages' records (what they produced, when)."""
    text = json.dumps([stage.cmd, [upstream[name] for name in stage.after]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _record(root: Path, name: str) -> dict:
    path = root / "stages" / f"{name}.stage"
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_record(root: Path, name: str, record: dict) -> None:
    path = root / "stages" / f"{name}.stage"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=1))
    os.replace(partial, path)


def clock(seconds: float) -> str:
    hours, seconds = divmod(int(seconds), 3600)
    minutes, seconds = divmod(seconds, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{seconds:02d}s"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def run_time(root: Path) -> dict:
    """How long the pipeline in ``root`` has run: {'wall_s': summed over its sittings,
    'sittings': how many, 'stage_s': {stage: its seconds, summed over its attempts},
    'unfinished': the stages that have run but not finished (still running, or stopped)}."""
    path = root / "stages" / "sittings.json"
    sittings = json.loads(path.read_text()) if path.is_file() else []
    stage_s, unfinished = {}, []
    for record_path in sorted((root / "stages").glob("*.stage")):
        record = json.loads(record_path.read_text())
        if record.get("seconds") is not None:
            stage_s[record_path.stem] = record["seconds"]
            if not record.get("finished"):
                unfinished.append(record_path.stem)
    return {"wall_s": sum(s["seconds"] for s in sittings), "sittings": len(sittings), "stage_s": stage_s,
            "unfinished": unfinished}


class _Sitting:
    """This run's entry in ``sittings.json``, added when its first stage starts."""

    def __init__(self, root: Path):
        self.path, self.start, self.index = root / "stages" / "sittings.json", time.time(), None

    def update(self, ran: list[str]) -> None:
        sittings = json.loads(self.path.read_text()) if self.path.is_file() else []
        if self.index is None:
            self.index = len(sittings)
            sittings.append({})
        sittings[self.index] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.start)),
                                "seconds": time.time() - self.start, "stages": ran}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(sittings, indent=1))
        os.replace(partial, self.path)


def status(stage: Stage, root: Path, upstream: dict[str, str]) -> str:
    """'done' (skip), 'resume' (same inputs, unfinished), 'stale' (inputs changed) or 'new'."""
    record = _record(root, stage.name)
    current = fingerprint(stage, upstream)
    if record.get("fingerprint") != current:
        return "stale" if record else "new"
    return "done" if record.get("finished") and (stage.folder / stage.done).is_file() else "resume"


def plan(stages: Sequence[Stage], root: Path) -> dict[str, str]:
    """What :func:`run_stages` would do with each stage, running nothing: 'done' (skip),
    'resume', 'stale' (inputs changed), 'new', or 'waiting' (it reads a stage that runs first,
    so it runs after it)."""
    upstream: dict[str, str | None] = {}
    states = {}
    for stage in stages:
        if any(upstream.get(name) is None for name in stage.after):
            states[stage.name], upstream[stage.name] = "waiting", None
            continue
        states[stage.name] = status(stage, root, upstream)
        upstream[stage.name] = _token(root, stage.name) if states[stage.name] == "done" else None
    return states


def _token(root: Path, name: str) -> str:
    """What a finished stage produced, as its readers' fingerprints see it."""
    record = _record(root, name)
    return record["fingerprint"] + record["finished"]


def run_stages(
    stages: Sequence[Stage], root: Path, only: Sequence[str] = (), quiet: bool = False, jobs: int = 1
) -> dict[str, str]:
    """Runs ``stages`` (each after those it reads); returns {name: 'ran' | 'skipped'}.

    With ``only``, runs just those stages; the stages they read must have finished.
    ``jobs`` > 1 runs up to that many stages at once, each as soon as the stages it reads have
    finished (in list order among the ready ones), with ``OMP_NUM_THREADS`` = cores / jobs unless
    it is set: on few cores, small models train faster side by side on one thread each than one
    after the other on all of them. A failing stage stops the pipeline (the others running are
    stopped; they resume on the next run) with a one-line error naming its log.
    """
    names = [s.name for s in stages]
    unknown = [name for name in only if name not in names]
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; the stages are: {', '.join(names)}")
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    selected = set(only or names)
    needed = set()  # what the selected stages read, directly or not
    for stage in reversed(stages):
        if stage.name in selected | needed:
            needed.update(stage.after)
    pending = [stage for stage in stages if stage.name in selected | needed]
    for index, stage in enumerate(pending):
        missing = [name for name in stage.after if name not in {s.name for s in pending[:index]}]
        if missing:
            raise SystemExit(f"stage {stage.name!r} reads {missing}, which come after it or do not exist")
    env = dict(os.environ)
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    upstream: dict[str, str] = {}  # name -> a token of what it produced
    outcome: dict[str, str] = {}
    running: list[_Running] = []
    live = not quiet and sys.stdout.isatty() and jobs == 1
    sitting, started, beat = _Sitting(root), [], time.time()
    # `kill`, or closing the terminal (unless under nohup), stops the stages (their own process groups) and
    # keeps their time, as Ctrl-C does
    handlers = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        states: dict[str, str] = {}  # a ready stage's state (its inputs are final once it is ready)
        while pending or running:
            while True:  # the first ready stage in list order; skipping a done one may ready the next
                ready = [s for s in pending if all(name in upstream for name in s.after)]
                for stage in ready:
                    states.setdefault(stage.name, status(stage, root, upstream))
                stage = next((s for s in ready if states[s.name] == "done" or len(running) < jobs), None)
                if stage is None:
                    break
                pending.remove(stage)
                head = f"[{names.index(stage.name) + 1:2d}/{len(stages)}] {stage.name:<24}"
                state = states[stage.name]
                if state == "done":
                    say(f"{head} done earlier ({clock(_record(root, stage.name)['seconds'])}), skipped")
                    outcome[stage.name] = "skipped"
                    upstream[stage.name] = _token(root, stage.name)
                    continue
                if stage.name not in selected:
                    raise SystemExit(f"stage {stage.name!r} has not finished (or its inputs changed): run it "
                                     f"first (--only {stage.name})")
                if state == "stale" and stage.folder.exists():
                    say(f"{head} inputs changed: clearing {stage.folder}")
                    shutil.rmtree(stage.folder)
                running.append(_start(stage, root, head, state, say, upstream, env))
                started.append(stage.name)
                sitting.update(started)
            if not running:
                continue
            time.sleep(0.2 if jobs > 1 else 1.0)
            for job in [job for job in running if job.process.poll() is not None]:
                running.remove(job)
                _finish(job, root, say)
                outcome[job.stage.name] = "ran"
                upstream[job.stage.name] = _token(root, job.stage.name)
            if live and running:
                job = running[0]
                print(f"{job.head} running {clock(job.seconds)}", end="\r", flush=True)
            if time.time() - beat > HEARTBEAT_S:
                beat = time.time()
                sitting.update(started)
                for job in running:
                    _write_record(root, job.stage.name, job.record(finished=None))
    finally:
        for job in running:  # a failure elsewhere (or Ctrl-C): stop the rest, they resume next time
            _stop(job.process)
            job.log.close()
            _write_record(root, job.stage.name, job.record(finished=None))
        if started:
            sitting.update(started)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return outcome


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _stop(process: subprocess.Popen) -> None:
    """Terminates a stage and every process it started (each stage leads its own process group,
    so e.g. the train.py runs under compare_strategies stop with it), then waits for the stage."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:  # the whole group has already exited
        pass
    process.wait()


@dataclass
class _Running:
    stage: Stage
    process: subprocess.Popen
    log: object
    head: str
    fingerprint: str
    start: float
    before: float = 0.0  # seconds spent in earlier, killed attempts (same inputs)

    @property
    def seconds(self) -> float:
        return self.before + time.time() - self.start

    def record(self, finished: str | None) -> dict:
        return {"fingerprint": self.fingerprint, "cmd": self.stage.cmd, "finished": finished, "seconds": self.seconds}


def _start(stage: Stage, root: Path, head: str, state: str, say, upstream: dict, env: dict) -> _Running:
    current = fingerprint(stage, upstream)
    stage.folder.mkdir(parents=True, exist_ok=True)
    before = (_record(root, stage.name).get("seconds") or 0.0) if state == "resume" else 0.0
    _write_record(root, stage.name, {"fingerprint": current, "cmd": stage.cmd, "finished": None, "seconds": before})
    log_path = root / "stages" / f"{stage.name}.log"
    say(f"{head} {'resuming' if state == 'resume' else 'running'} (log: {log_path})")
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in _finish)
    log.write(f"\n$ {' '.join(stage.cmd)}\n")
    log.flush()
    process = subprocess.Popen(stage.cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return _Running(stage, process, log, head, current, time.time(), before)


def _finish(job: _Running, root: Path, say) -> None:
    job.log.close()
    stage, seconds = job.stage, job.seconds
    log_path = root / "stages" / f"{stage.name}.log"
    if job.process.returncode != 0:
        _write_record(root, stage.name, job.record(finished=None))  # its time counts when it resumes
        raise SystemExit(f"stage {stage.name!r} failed (exit {job.process.returncode}) after {clock(seconds)}; "
                         f"see {log_path}")
    if not (stage.folder / stage.done).is_file():
        raise SystemExit(f"stage {stage.name!r} exited 0 but wrote no {stage.folder / stage.done}; see {log_path}")
    _write_record(root, stage.name, job.record(finished=time.strftime("%Y-%m-%dT%H:%M:%S")))
    earlier = f" ({clock(job.before)} of it in earlier sittings)" if job.before else ""
    say(f"{job.head} done in {clock(seconds)}{earlier}")
