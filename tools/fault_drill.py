"""Fault drill: break a copy of a healthy corpus on purpose and check that nothing else breaks.

Builds a FAULT CORPUS by copying a small healthy corpus (the tiny synthesised mini corpus, made
in ``<output>/source``, or ``--source``) into ``<output>/corpus`` and injecting, in the real
LibriSpeech layout (``<split>/<spk>/<chap>/*.flac`` + ``*.trans.txt``) and the real Common
Voice layout (``<lang>/clips/*.mp3`` + ``<split>.tsv``), one file or line per fault:

==========================  ===========================================  ==========================
fault                       where                                        expected
==========================  ===========================================  ==========================
truncated FLAC              LibriSpeech train-clean-100                  skipped: truncated
zero-length file            train-clean-100 (.flac), cy/train (.mp3)     skipped: empty file
non-audio bytes             train-clean-100 (.flac), cy/train (.mp3)     skipped: unreadable
NaN / Inf samples           train-clean-100, cy/train                    skipped: non-finite samples
stereo                      test-clean (.flac), cy/train (.mp3)          kept (read_audio downmixes)
8 kHz                       train-clean-100 (.flac), cy/train (.mp3)     kept (read_audio resamples)
48 kHz                      dev-clean (.flac), cy/dev (.mp3)             kept (read_audio resamples)
10-minute file              train-clean-100                              kept; max_duration drops it
audio without transcript    train-clean-100                              skipped: no transcript line
non-UTF-8 transcript line   a trans.txt, cy/train.tsv                    skipped: not UTF-8, line N
duplicate ID                a repeated trans.txt line, a train utterance  skipped: duplicate ID
                            copied into dev-clean, a repeated tsv row    (the first one kept)
tsv without a column        eu/dev.tsv without "sentence"                tsv skipped, named; rerun
tsv row, missing clip       cy/train.tsv                                 skipped: missing file
==========================  ===========================================  ==========================

NaN and Inf cannot be stored in FLAC (integer PCM) nor in MP3, so those two faults are float32
WAV files given the layout's name (``<ID>.flac``, ``clips/<ID>.mp3``): libsndfile, and so every
reader here, opens a file by its content, not its extension, so such a file is what a prepare
function meets when a corpus holds a mislabelled float WAV.

Then it runs ``prepare_librispeech`` and ``prepare_common_voice`` on the fault corpus and checks
that each fault is reported by name (ID and file) and reason, in the log and in the
``*_skipped.csv`` reports; that every healthy utterance is in the manifests; that a preparation
interrupted while rewriting a manifest leaves the earlier one intact and no temporary file; and
that the LibriSpeech CTC recipe trains one epoch on what is left.

The ``resume`` group kills training runs with SIGKILL and checks that they resume exactly. Two
tiny runs on the healthy corpus (single process, CPU, one thread, fixed seed, a checkpoint after
every training batch: ``--ckpt_interval_minutes=0 --ckpt_interval_steps=1``): CTC fine-tuning
(scratch_mini, 2 epochs) and wav2vec 2.0 pretraining (wav2vec2_mini, 2 layers, 2 epochs,
``grad_accumulation_factor=2`` as the base YAML accumulates). Each runs once whole, then again in
a fresh folder killed (the whole process group) at 6 (pretraining) or 7 (fine-tuning) points and
restarted with the same command after each kill until it ends by itself. The points are drawn
with a fixed seed from the whole run's log (``log.txt``), in the order the run meets them, and
placed by watching the killed run's ``log.txt`` (checkpoint saves counted over every attempt)
and ``save/.partial``: during a training step of epoch 1, during the start-up of the restart
(imports, data, recovery), while an intra-epoch checkpoint is being written, during the
validation of epoch 1, just after an intra-epoch checkpoint of epoch 2 (older ones being
deleted), while the last end-of-epoch checkpoint is being written, and (fine-tuning) during
test and export. Checks: the run finishes; after every kill every ``CKPT+`` folder holds every
file of a checkpoint and each loads; the final weights, optimiser states, scheduler states and
random state (and the exported ``model/``) are ``torch.equal`` to the whole run's.

Two causes of inexact resumption were found this way and fixed in ``efficient_ssl.brains.base``:
each DataLoader iterator drew its workers' base seed from torch's global generator, so a run
resumed mid-epoch (random state restored, then a new iterator) shifted every later dropout and
mask draw by one (fine-tuning: max abs weight difference 0.0167 after 7 kills); loaders now own
a generator. And intra-epoch checkpoints were taken between the batches of one accumulated
optimiser step, so a run resumed from one lost the gradients accumulated so far (pretraining,
``grad_accumulation_factor=2``: max abs difference 0.0053 after one kill); they are now taken
only after a batch that completes a step.

Each check is a small function returning (ok, detail), registered in ``CHECKS`` under a group;
``--only`` selects groups or checks by name. One line per check, then ``N passed, M failed``;
exit code 1 if any failed.

Usage:
    python tools/fault_drill.py --output DIR [--source CORPUS] [--only corpus|train|resume] [--list]

Authors
 * efficient_ssl contributors
"""

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars between the result lines

import argparse
import contextlib
import csv
import functools
import json
import logging
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import soundfile
import torch
import torchaudio
import yaml

from efficient_ssl.data import make_dataset, prepare_common_voice, prepare_librispeech, read_audio
from efficient_ssl.data.common_voice import OPTIONS_FILE as CV_OPTIONS
from efficient_ssl.data.librispeech import OPTIONS_FILE as LS_OPTIONS

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "recipes" / "LibriSpeech" / "finetune" / "train.py"
RECIPE_HPARAMS = REPO / "recipes" / "LibriSpeech" / "finetune" / "hparams" / "scratch_mini.yaml"
LS_SPLITS = ("train-clean-100", "dev-clean", "test-clean")
MARKER = ".fault_drill"  # marks an output folder as the drill's own (it may be emptied)
SAMPLE_RATE = 16000
LONG_S = 600.0
TRAIN_TIMEOUT_S = 900

logger = logging.getLogger("fault_drill")


# ---------------------------------------------------------------- the fault corpus


@dataclass(frozen=True)
class Fault:
    """One injected fault and what preparation must make of it.

    Arguments
    ---------
    name : str
        Short name, e.g. "truncated_flac".
    corpus : str
        "LibriSpeech" or "CommonVoice".
    manifest : str
        Key of the manifest it belongs to: a LibriSpeech split or "<lang>/<split>".
    ID : str
        Utterance ID (``*`` for a whole tsv).
    skipped : bool
        True if it must be skipped and reported, False if it must be kept.
    reason : str
        Skipped: text the reported reason must contain. Kept: what the file is.
    duration : float, optional
        Kept: its duration in seconds.
    """

    name: str
    corpus: str
    manifest: str
    ID: str
    skipped: bool
    reason: str
    duration: float | None = None


@dataclass
class FaultCorpus:
    """A fault corpus: where it is, its faults, and the healthy utterances that must be kept.

    Arguments
    ---------
    root : Path
        Holds LibriSpeech/ and CommonVoice/.
    faults : list of Fault
        The injected faults.
    healthy : dict
        {manifest key: set of IDs} of the source corpus's utterances that must be in that manifest.
    texts : dict
        {ID: transcript line text} of the LibriSpeech source utterances.
    """

    root: Path
    faults: list[Fault] = field(default_factory=list)
    healthy: dict[str, set[str]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def of(self, corpus: str, skipped: bool | None = None) -> list[Fault]:
        """The faults of one corpus, optionally only the skipped (True) or kept (False) ones."""
        return [f for f in self.faults if f.corpus == corpus and skipped in (None, f.skipped)]


def _first_chapter(split_dir: Path) -> Path:
    """The first chapter folder of a LibriSpeech split."""
    return sorted(split_dir.glob("*/*/"))[0]


def _resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resamples 16 kHz audio (samples,) to rate."""
    return torchaudio.functional.resample(torch.from_numpy(audio), SAMPLE_RATE, rate).numpy()


def _float_wav_bytes(audio: np.ndarray, rate: int, path: Path, bad_value: float) -> None:
    """Writes audio as a float32 WAV (whatever path's extension) with every 100th sample set to bad_value."""
    audio = audio.astype(np.float32).copy()
    audio[::100] = bad_value
    soundfile.write(path, audio, rate, format="WAV", subtype="FLOAT")


def _append_line(path: Path, line: bytes) -> int:
    """Appends one line (bytes, no newline) to a text file; returns its line number."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    path.write_bytes(data + line + b"\n")
    return len(data.splitlines()) + 1


def _librispeech_source_ids(data_folder: Path) -> tuple[dict[str, set[str]], dict[str, str]]:
    """{split: IDs} and {ID: text} of a healthy LibriSpeech copy."""
    healthy, texts = {}, {}
    for split in LS_SPLITS:
        healthy[split] = set()
        for trans in (data_folder / split).glob("*/*/*.trans.txt"):
            for line in trans.read_text(encoding="utf-8").splitlines():
                utt_id, _, text = line.partition(" ")
                healthy[split].add(utt_id)
                texts[utt_id] = text
    return healthy, texts


def _inject_librispeech(data_folder: Path, texts: dict[str, str]) -> list[Fault]:
    """Injects the LibriSpeech faults (new utterance IDs, 09xx, next to healthy ones)."""
    train_chapter = _first_chapter(data_folder / "train-clean-100")
    spk, chap = train_chapter.parent.name, train_chapter.name
    trans = train_chapter / f"{spk}-{chap}.trans.txt"
    source_id = sorted(p.stem for p in train_chapter.glob("*.flac"))[0]
    audio, _ = soundfile.read(train_chapter / f"{source_id}.flac", dtype="float32")
    seconds = len(audio) / SAMPLE_RATE
    text = texts[source_id]
    faults = []

    def add(name: str, split: str, number: int, skipped: bool, reason: str, line: bool = True) -> Path:
        chapter = train_chapter if split == "train-clean-100" else _first_chapter(data_folder / split)
        utt_id = f"{chapter.parent.name}-{chapter.name}-{number:04d}"
        if line:
            _append_line(chapter / f"{chapter.parent.name}-{chapter.name}.trans.txt", f"{utt_id} {text}".encode())
        duration = None if skipped else (LONG_S if name == "ten_minute_flac" else seconds)
        faults.append(Fault(name, "LibriSpeech", split, utt_id, skipped, reason, duration))
        return chapter / f"{utt_id}.flac"

    good = (train_chapter / f"{source_id}.flac").read_bytes()
    add("truncated_flac", "train-clean-100", 901, True, "truncated").write_bytes(good[: len(good) // 2])
    add("zero_length_flac", "train-clean-100", 902, True, "empty file").write_bytes(b"")
    add("not_audio_flac", "train-clean-100", 903, True, "unreadable").write_bytes(b"<html>404</html>\n" * 40)
    _float_wav_bytes(audio, SAMPLE_RATE, add("nan_samples", "train-clean-100", 904, True, "non-finite"), np.nan)
    path = add("rate_8k_flac", "train-clean-100", 905, False, "8 kHz FLAC")
    soundfile.write(path, _resample(audio, 8000), 8000)
    long_audio = np.tile(audio, int(np.ceil(LONG_S / seconds)))[: int(LONG_S * SAMPLE_RATE)]
    soundfile.write(add("ten_minute_flac", "train-clean-100", 906, False, "10-minute FLAC"), long_audio, SAMPLE_RATE)
    path = add("missing_transcript_line", "train-clean-100", 907, True, "no transcript line", line=False)
    soundfile.write(path, audio, SAMPLE_RATE)
    path = add("non_utf8_transcript", "train-clean-100", 908, True, "not UTF-8", line=False)
    soundfile.write(path, audio, SAMPLE_RATE)
    number = _append_line(trans, f"{path.stem} CAF\u00c9 AU LAIT".encode("latin-1"))
    faults[-1] = Fault("non_utf8_transcript", "LibriSpeech", "train-clean-100", path.stem, True,
                       f"{trans.name} line {number}")
    _append_line(trans, f"{source_id} A SECOND LINE FOR THE SAME ID".encode())
    faults.append(Fault("duplicate_line", "LibriSpeech", "train-clean-100", source_id, True, "duplicate ID"))
    path = add("rate_48k_flac", "dev-clean", 909, False, "48 kHz FLAC")
    soundfile.write(path, _resample(audio, 48000), 48000)
    path = add("stereo_flac", "test-clean", 910, False, "stereo FLAC")
    soundfile.write(path, np.stack([audio, 0.5 * audio], axis=1), SAMPLE_RATE)
    # The training utterance copied, with its line, into a dev-clean chapter folder of the same name.
    dev_copy = data_folder / "dev-clean" / spk / chap
    dev_copy.mkdir(parents=True)
    shutil.copy(train_chapter / f"{source_id}.flac", dev_copy)
    (dev_copy / f"{spk}-{chap}.trans.txt").write_text(f"{source_id} {text}\n", encoding="utf-8")
    faults.append(Fault("duplicate_across_splits", "LibriSpeech", "dev-clean", source_id, True,
                        "duplicate ID (also train-clean-100/"))
    return faults


def _tsv_rows(tsv: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(columns, rows) of a Common Voice tsv."""
    with open(tsv, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        return list(reader.fieldnames or []), list(reader)


def _tsv_line(columns: Sequence[str], row: dict[str, str]) -> str:
    """One tsv line (no newline) of row over columns."""
    return "\t".join(row.get(column, "") for column in columns)


def _inject_common_voice(data_folder: Path, healthy: dict[str, set[str]]) -> list[Fault]:
    """Injects the Common Voice faults into cy/ (clips common_voice_cy_9xxx) and eu/dev.tsv."""
    lang_dir = data_folder / "cy"
    columns, rows = _tsv_rows(lang_dir / "train.tsv")
    template = rows[0]
    audio, rate = soundfile.read(lang_dir / "clips" / template["path"], dtype="float32")
    audio = audio if rate == SAMPLE_RATE else _resample(audio, SAMPLE_RATE)
    seconds = len(audio) / SAMPLE_RATE
    faults = []

    def add(name: str, split: str, number: int, skipped: bool, reason: str, sentence: str | None = None) -> Path:
        clip = f"common_voice_cy_{number}.mp3"
        row = {**template, "path": clip, "sentence": sentence or template["sentence"]}
        _append_line(lang_dir / f"{split}.tsv", _tsv_line(columns, row).encode())
        faults.append(Fault(name, "CommonVoice", f"cy/{split}", Path(clip).stem, skipped, reason,
                            None if skipped else seconds))
        return lang_dir / "clips" / clip

    add("zero_length_mp3", "train", 9001, True, "empty file").write_bytes(b"")
    add("not_audio_mp3", "train", 9002, True, "unreadable").write_bytes(b"ID3 but no frames\x00" * 30)
    _float_wav_bytes(audio, SAMPLE_RATE, add("inf_samples", "train", 9003, True, "non-finite"), np.inf)
    soundfile.write(add("stereo_mp3", "train", 9004, False, "stereo MP3"), np.stack([audio, audio], axis=1),
                    SAMPLE_RATE)
    soundfile.write(add("rate_8k_mp3", "train", 9005, False, "8 kHz MP3"), _resample(audio, 8000), 8000)
    soundfile.write(add("rate_48k_mp3", "dev", 9006, False, "48 kHz MP3"), _resample(audio, 48000), 48000)
    add("tsv_row_missing_clip", "train", 9007, True, "missing file")
    # A row whose sentence is Latin-1, for a clip that is fine.
    clip = "common_voice_cy_9008.mp3"
    soundfile.write(lang_dir / "clips" / clip, audio, SAMPLE_RATE)
    row = {**template, "path": clip, "sentence": "Caf\u00e9 bach."}
    number = _append_line(lang_dir / "train.tsv", _tsv_line(columns, row).encode("latin-1"))
    faults.append(Fault("non_utf8_tsv_row", "CommonVoice", "cy/train", Path(clip).stem, True,
                        f"train.tsv line {number}"))
    _append_line(lang_dir / "train.tsv", _tsv_line(columns, template).encode())
    faults.append(Fault("duplicate_tsv_row", "CommonVoice", "cy/train", Path(template["path"]).stem, True,
                        "duplicate ID"))
    # eu/dev.tsv without its sentence column: the whole tsv is skipped.
    eu_columns, eu_rows = _tsv_rows(data_folder / "eu" / "dev.tsv")
    kept_columns = [column for column in eu_columns if column != "sentence"]
    lines = [_tsv_line(kept_columns, {c: c for c in kept_columns})] + [_tsv_line(kept_columns, r) for r in eu_rows]
    (data_folder / "eu" / "dev.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    healthy["eu/dev"] = set()
    faults.append(Fault("tsv_missing_column", "CommonVoice", "eu/dev", "*", True, "lacks the column(s) sentence"))
    return faults


def _common_voice_source_ids(data_folder: Path) -> dict[str, set[str]]:
    """{"<lang>/<split>": clip IDs} of a healthy Common Voice copy (train, dev, test)."""
    return {
        f"{lang_dir.name}/{split}": {Path(row["path"]).stem for row in _tsv_rows(lang_dir / f"{split}.tsv")[1]}
        for lang_dir in sorted(p for p in data_folder.iterdir() if (p / "clips").is_dir())
        for split in ("train", "dev", "test")
    }


def build_fault_corpus(source: Path, output: Path) -> FaultCorpus:
    """Copies source (LibriSpeech/ + CommonVoice/) into output and injects every fault.

    Arguments
    ---------
    source : Path
        A healthy corpus (e.g. the synthesised mini corpus).
    output : Path
        Where the fault corpus goes (must not exist).

    Returns
    -------
    FaultCorpus
        The corpus, its faults and its healthy utterances.
    """
    for part in ("LibriSpeech", "CommonVoice"):
        if not (source / part).is_dir():
            raise FileNotFoundError(f"{source} has no {part}/; give --source a corpus made by synthesize_corpus.py")
        shutil.copytree(source / part, output / part)
    healthy, texts = _librispeech_source_ids(output / "LibriSpeech")
    healthy.update(_common_voice_source_ids(output / "CommonVoice"))
    corpus = FaultCorpus(root=output, healthy=healthy, texts=texts)
    corpus.faults += _inject_librispeech(output / "LibriSpeech", texts)
    corpus.faults += _inject_common_voice(output / "CommonVoice", healthy)
    return corpus


# ---------------------------------------------------------------- running the preparations


@dataclass
class Prepared:
    """What one preparation produced: manifests, its log messages, or the error it raised."""

    manifests: dict[str, Path]
    messages: list[str]
    error: str | None = None


class _ListHandler(logging.Handler):
    """Collects formatted log messages of level WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _capture(prepare: Callable[[], dict[str, Path]]) -> Prepared:
    """Runs prepare() collecting the warnings and errors of efficient_ssl's loggers."""
    handler = _ListHandler()
    library = logging.getLogger("efficient_ssl")
    library.addHandler(handler)
    try:
        return Prepared(prepare(), handler.messages)
    except Exception as error:  # reported as a failed check, not a crash of the drill
        return Prepared({}, handler.messages, f"{type(error).__name__}: {error}")
    finally:
        library.removeHandler(handler)


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV manifest or report."""
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def report_of(manifest: Path) -> dict[str, list[str]]:
    """{ID: [reasons]} of the ``<stem>_skipped.csv`` beside a manifest."""
    reasons: dict[str, list[str]] = {}
    for row in read_rows(manifest.with_name(f"{manifest.stem}_skipped.csv")):
        reasons.setdefault(row["ID"], []).append(row["reason"])
    return reasons


class Drill:
    """The drill's state: the output folder, the fault corpus and the preparations, each made once.

    Arguments
    ---------
    output : Path
        The drill's folder.
    source : Path, optional
        A healthy corpus; by default the tiny mini corpus is synthesised in ``<output>/source``.
    """

    def __init__(self, output: Path, source: Path | None = None) -> None:
        self.output = output
        self.source = source
        self.resumes: dict[str, ResumeOutcome] = {}  # the resume drills run, by recipe name

    @functools.cached_property
    def healthy(self) -> Path:
        """The healthy corpus: ``source``, or the tiny mini corpus synthesised in ``<output>/source``."""
        if self.source is not None:
            return self.source
        from efficient_ssl.data.synth import synthesize_corpus

        with contextlib.redirect_stdout(sys.stderr):  # stdout holds only the result lines
            return synthesize_corpus(self.output / "source", size="tiny", seed=1)

    @functools.cached_property
    def corpus(self) -> FaultCorpus:
        """The fault corpus, rebuilt from the source in ``<output>/corpus``."""
        for stale in ("corpus", "manifests", "run"):
            shutil.rmtree(self.output / stale, ignore_errors=True)
        return build_fault_corpus(self.healthy, self.output / "corpus")

    @functools.cached_property
    def librispeech(self) -> Prepared:
        """prepare_librispeech over the fault corpus."""
        data_folder, save = self.corpus.root / "LibriSpeech", self.output / "manifests" / "librispeech"
        return _capture(lambda: prepare_librispeech(data_folder, save, splits=LS_SPLITS))

    @functools.cached_property
    def common_voice(self) -> Prepared:
        """prepare_common_voice over every language of the fault corpus."""
        data_folder, save = self.corpus.root / "CommonVoice", self.output / "manifests" / "common_voice"
        languages = sorted(p.name for p in data_folder.iterdir() if (p / "clips").is_dir())
        return _capture(lambda: prepare_common_voice(data_folder, save, languages=languages, combine=True))

    def prepared(self, corpus: str) -> Prepared:
        """The preparation of "LibriSpeech" or "CommonVoice"; raises its error as a one-line RuntimeError."""
        prepared = self.librispeech if corpus == "LibriSpeech" else self.common_voice
        if prepared.error:
            raise RuntimeError(f"prepare of {corpus} failed: {prepared.error}")
        return prepared


# ---------------------------------------------------------------- checks

CheckResult = tuple[bool, str]


@dataclass(frozen=True)
class Check:
    """A named check of a group: run(drill) -> (ok, one-line detail)."""

    name: str
    group: str
    run: Callable[[Drill], CheckResult]


CHECKS: list[Check] = []


def check(group: str) -> Callable[[Callable[[Drill], CheckResult]], Callable[[Drill], CheckResult]]:
    """Registers a check function in CHECKS under group, named after the function."""

    def register(function: Callable[[Drill], CheckResult]) -> Callable[[Drill], CheckResult]:
        CHECKS.append(Check(function.__name__, group, function))
        return function

    return register


@check("corpus")
def fault_corpus_built(drill: Drill) -> CheckResult:
    """The fault corpus holds every fault file."""
    corpus = drill.corpus
    ls, cv = corpus.of("LibriSpeech"), corpus.of("CommonVoice")
    return bool(ls and cv), f"{corpus.root}: {len(ls)} LibriSpeech and {len(cv)} Common Voice faults"


def _skips_reported(drill: Drill, corpus: str) -> CheckResult:
    """Every skipped fault of corpus is in its report and in the log, by ID and reason."""
    prepared = drill.prepared(corpus)
    problems, examples = [], []
    for fault in drill.corpus.of(corpus, skipped=True):
        reasons = report_of(prepared.manifests[fault.manifest]).get(fault.ID, [])
        reported = [reason for reason in reasons if fault.reason in reason]
        logged = [m for m in prepared.messages if f"(ID {fault.ID})" in m and fault.reason in m]
        if not reported:
            problems.append(f"{fault.name}: {fault.ID} not in {fault.manifest} report with '{fault.reason}' {reasons}")
        elif not logged:
            problems.append(f"{fault.name}: {fault.ID} reported but not logged with '{fault.reason}'")
        else:
            examples.append(f"{fault.ID}: {reported[0][:60]}")
    faults = len(drill.corpus.of(corpus, skipped=True))
    if problems:
        return False, "; ".join(problems)
    return True, f"{faults} faults skipped, each in a report and the log, e.g. " + "; ".join(examples[:2])


@check("corpus")
def librispeech_faults_reported(drill: Drill) -> CheckResult:
    """Truncated, empty, non-audio, NaN, untranscribed, non-UTF-8 and duplicate entries are reported."""
    return _skips_reported(drill, "LibriSpeech")


@check("corpus")
def common_voice_faults_reported(drill: Drill) -> CheckResult:
    """Empty, non-audio, Inf, missing, non-UTF-8 and duplicate clips and the broken tsv are reported."""
    return _skips_reported(drill, "CommonVoice")


def _kept_faults_usable(drill: Drill, corpus: str) -> CheckResult:
    """Every kept fault is in its manifest with its duration, named in a warning, and reads as finite mono 16 kHz."""
    prepared = drill.prepared(corpus)
    data_folder = drill.corpus.root / corpus
    problems, kept = [], []
    for fault in drill.corpus.of(corpus, skipped=False):
        rows = {row["ID"]: row for row in read_rows(prepared.manifests[fault.manifest])}
        if fault.ID not in rows:
            problems.append(f"{fault.name}: {fault.ID} not in {fault.manifest}.csv")
            continue
        duration = float(rows[fault.ID]["duration"])
        sig = read_audio(rows[fault.ID]["wav"].replace("$data_root", str(data_folder)))
        if abs(duration - fault.duration) > 0.05 or abs(len(sig) / SAMPLE_RATE - duration) > 0.05:
            problems.append(f"{fault.name}: duration {duration:.2f} s, read {len(sig) / SAMPLE_RATE:.2f} s, "
                            f"expected {fault.duration:.2f} s")
        elif sig.dim() != 1 or not torch.isfinite(sig).all():
            problems.append(f"{fault.name}: read_audio gave shape {tuple(sig.shape)} or non-finite samples")
        elif "Hz" in fault.reason or "stereo" in fault.reason:
            if not any(f"{fault.ID}." in m and "downmixes and resamples" in m for m in prepared.messages):
                problems.append(f"{fault.name}: {fault.ID} kept but not named in the format warning")
        kept.append(f"{fault.reason} {fault.ID}")
    if problems:
        return False, "; ".join(problems)
    return True, "kept and readable as mono 16 kHz: " + ", ".join(kept)


@check("corpus")
def librispeech_kept_faults_usable(drill: Drill) -> CheckResult:
    """8 kHz, 48 kHz, stereo and 10-minute FLACs are kept and read as finite mono 16 kHz."""
    return _kept_faults_usable(drill, "LibriSpeech")


@check("corpus")
def common_voice_kept_faults_usable(drill: Drill) -> CheckResult:
    """8 kHz, 48 kHz and stereo MP3s are kept and read as finite mono 16 kHz."""
    return _kept_faults_usable(drill, "CommonVoice")


def _rest_in_manifests(drill: Drill, corpus: str) -> CheckResult:
    """Each manifest holds exactly the healthy utterances plus its kept faults."""
    prepared, fault_corpus = drill.prepared(corpus), drill.corpus
    problems, total, checked = [], 0, 0
    for key, healthy in fault_corpus.healthy.items():
        if key not in prepared.manifests:
            continue
        checked += 1
        expected = healthy | {f.ID for f in fault_corpus.of(corpus, skipped=False) if f.manifest == key}
        rows = read_rows(prepared.manifests[key])
        ids = [row["ID"] for row in rows]
        if sorted(ids) != sorted(expected):
            missing, extra = sorted(expected - set(ids)), sorted(set(ids) - expected)
            problems.append(f"{key}: missing {missing[:5]}, unexpected {extra[:5]}, {len(ids)} rows")
        if corpus == "LibriSpeech":  # the first transcript line of a repeated ID is the one used
            wrong = [row["ID"] for row in rows if row["ID"] in fault_corpus.texts
                     and row["wrd"] != fault_corpus.texts[row["ID"]]]
            if wrong:
                problems.append(f"{key}: transcripts changed for {wrong[:5]}")
        total += len(ids)
    if problems:
        return False, "; ".join(problems)
    return True, f"{total} utterances in {checked} manifests: every healthy one plus the kept faults"


@check("corpus")
def librispeech_rest_in_manifests(drill: Drill) -> CheckResult:
    """Every healthy LibriSpeech utterance is in its split's manifest, with its first transcript line."""
    return _rest_in_manifests(drill, "LibriSpeech")


@check("corpus")
def common_voice_rest_in_manifests(drill: Drill) -> CheckResult:
    """Every healthy clip of a readable tsv is in its manifest."""
    return _rest_in_manifests(drill, "CommonVoice")


@check("corpus")
def common_voice_broken_tsv_redone(drill: Drill) -> CheckResult:
    """A tsv without a needed column: one-line error naming file, column and fix; options not saved."""
    prepared = drill.prepared("CommonVoice")
    errors = [m for m in prepared.messages if "eu/dev.tsv lacks the column(s) sentence" in m]
    if not errors or "\n" in errors[0] or "use the tsv files of a Common Voice release" not in errors[0]:
        return False, f"no one-line error naming eu/dev.tsv, the column and the fix in the log: {errors[:1]}"
    options = drill.output / "manifests" / "common_voice" / CV_OPTIONS
    if options.exists():
        return False, f"{options} was saved: a rerun after fixing eu/dev.tsv would not prepare it"
    return True, ("eu/dev.tsv skipped with a one-line error naming the missing column 'sentence' and the fix; "
                  "options not saved, so the next run prepares again")


def recipe_max_duration() -> float:
    """The top-level max_duration of the LibriSpeech CTC recipe's YAML."""
    match = re.search(r"^max_duration:\s*([0-9.]+)", RECIPE_HPARAMS.read_text(encoding="utf-8"), re.M)
    if not match:
        raise ValueError(f"{RECIPE_HPARAMS} has no top-level max_duration; the drill reads it from there")
    return float(match.group(1))


@check("corpus")
def long_file_left_out_of_training(drill: Drill) -> CheckResult:
    """The recipe's max_duration drops the 10-minute file from training, and says so by ID."""
    (fault,) = [f for f in drill.corpus.faults if f.name == "ten_minute_flac"]
    manifest = drill.prepared("LibriSpeech").manifests[fault.manifest]
    max_duration = recipe_max_duration()
    handler = _ListHandler()
    handler.setLevel(logging.INFO)
    library = logging.getLogger("efficient_ssl")
    library.addHandler(handler)
    level = library.level
    library.setLevel(logging.INFO)
    try:
        dataset = make_dataset(manifest, drill.corpus.root / "LibriSpeech", max_duration=max_duration)
    finally:
        library.removeHandler(handler)
        library.setLevel(level)
    if fault.ID in dataset.data_ids:
        return False, f"{fault.ID} ({LONG_S:.0f} s) is in the training set with max_duration={max_duration}"
    logged = [m for m in handler.messages if fault.ID in m and "duration limits" in m]
    if not logged:
        return False, f"{fault.ID} left out, but no log line names it: {handler.messages}"
    return True, f"max_duration={max_duration} of {RECIPE_HPARAMS.name}: {logged[0]}"


def _interrupted_writerows(writer: csv.DictWriter, rows) -> None:
    """Writes one row, then stops as if the process were interrupted (Ctrl-C) mid-manifest."""
    for row in rows:
        writer.writerow(row)
        break
    raise KeyboardInterrupt("fault drill: preparation interrupted while writing a manifest")


@check("corpus")
def manifests_atomic(drill: Drill) -> CheckResult:
    """A preparation interrupted while rewriting a manifest leaves the old one whole and no temp file."""
    data_folder, save = drill.corpus.root / "LibriSpeech", drill.output / "manifests" / "atomic"
    prepare_librispeech(data_folder, save, splits=["dev-clean"])
    before = {path.name: path.read_bytes() for path in save.iterdir()}
    interrupted = False
    with mock.patch.object(csv.DictWriter, "writerows", _interrupted_writerows):
        try:  # new splits: the options differ, so dev-clean.csv is rewritten first
            prepare_librispeech(data_folder, save, splits=["dev-clean", "test-clean"])
        except KeyboardInterrupt:
            interrupted = True
    if not interrupted:
        return False, "the injected interruption never happened (manifest writing changed?)"
    after = {path.name: path.read_bytes() for path in save.iterdir()}
    if after.get("dev-clean.csv") != before["dev-clean.csv"]:
        return False, "dev-clean.csv changed or vanished after an interrupted rewrite"
    leftovers = sorted(name for name in after if name not in before or name.endswith(".tmp"))
    if leftovers:
        return False, f"the interrupted run left {leftovers} in {save}"
    if LS_OPTIONS in after:
        return False, f"{LS_OPTIONS} saved by an interrupted run: it would look finished"
    prepare_librispeech(data_folder, save, splits=["dev-clean", "test-clean"])
    if (save / "dev-clean.csv").read_bytes() != before["dev-clean.csv"] or not (save / LS_OPTIONS).is_file():
        return False, "the rerun after the interruption did not rebuild the same manifests"
    rows = len(read_rows(save / "dev-clean.csv"))
    return True, (f"interrupted mid-write: dev-clean.csv ({rows} rows) byte-identical, no test-clean.csv, "
                  "no temp file, options unsaved; the rerun completes")


@check("train")
def training_runs_on_the_rest(drill: Drill) -> CheckResult:
    """The LibriSpeech CTC recipe (scratch_mini) trains and tests one epoch on the fault corpus."""
    run = drill.output / "run"
    shutil.rmtree(run, ignore_errors=True)
    command = [
        sys.executable, str(RECIPE), str(RECIPE_HPARAMS),
        "--data_folder", str(drill.corpus.root / "LibriSpeech"),
        "--output_folder", str(run), "--number_of_epochs=1",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S, cwd=REPO)
    seconds = time.perf_counter() - start
    (drill.output / "train_stdout.txt").write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"exit code {result.returncode} after {seconds:.0f} s: {last} (see train_stdout.txt)"
    train_log = (run / "train_log.txt").read_text(encoding="utf-8") if (run / "train_log.txt").is_file() else ""
    epoch = [line for line in train_log.splitlines() if line.startswith("epoch: 1")]
    test = [line for line in train_log.splitlines() if "test" in line.lower()]
    if not epoch or not test:
        return False, f"train_log.txt lacks the epoch 1 or test line: {train_log[-200:]!r}"
    return True, f"1 epoch in {seconds:.0f} s: {epoch[0][:110]}"


# ---------------------------------------------------------------- resume after kill -9

PRETRAIN = REPO / "recipes" / "LibriSpeech" / "pretrain" / "train.py"
PRETRAIN_HPARAMS = REPO / "recipes" / "LibriSpeech" / "pretrain" / "hparams" / "wav2vec2_mini.yaml"
CKPT_EVERY_STEP = ("--ckpt_interval_minutes=0", "--ckpt_interval_steps=1")
RESUME_SEED = 20240611
RUN_TIMEOUT_S = 600
POLL_S = 0.002
SAVED_LINE = re.compile(r"Saved an (intra-epoch|end-of-epoch) checkpoint")
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (\S+) - \w+ - (.*)$")


@dataclass(frozen=True)
class ResumeRecipe:
    """A tiny training run that the resume checks run once whole and once killed again and again.

    Arguments
    ---------
    name : str
        "finetune" or "pretrain".
    script : Path
        The recipe's train.py.
    hparams : Path
        Its YAML.
    overrides : tuple of str
        Command-line overrides that make it tiny (every step checkpointed is added).
    weights : str
        The checkpoint file holding the model's state dict.
    exported : str, optional
        A file of ``<output_folder>`` written after training from the best checkpoint.
    """

    name: str
    script: Path
    hparams: Path
    overrides: tuple[str, ...]
    weights: str
    exported: str | None = None


RESUME_RECIPES = {
    # 2 epochs of 6 dynamic batches on the tiny corpus, then test and export: ~12 s whole.
    "finetune": ResumeRecipe(
        "finetune", RECIPE, RECIPE_HPARAMS, ("--number_of_epochs=2",), "model.ckpt", "model/ctc_model.ckpt"
    ),
    # 2 epochs of 7 batches, 2 encoder layers; gradients accumulated over 2 batches as in the base
    # YAML (4), so half of the intra-epoch checkpoints fall between two batches of one step.
    "pretrain": ResumeRecipe(
        "pretrain", PRETRAIN, PRETRAIN_HPARAMS,
        ("--number_of_epochs=2", "--total_steps=1000", "--warmup_steps=5", "--num_layers=2",
         "--grad_accumulation_factor=2"),
        "wav2vec2.ckpt",
    ),
}


def resume_command(recipe: ResumeRecipe, data_folder: Path, output_folder: Path) -> list[str]:
    """The command line of one run of recipe (single process, CPU, a checkpoint every batch)."""
    return [
        sys.executable, str(recipe.script), str(recipe.hparams), "--data_folder", str(data_folder),
        "--output_folder", str(output_folder), "--device=cpu", *recipe.overrides, *CKPT_EVERY_STEP,
    ]


def resume_env() -> dict[str, str]:
    """The environment of the runs: one thread each (same arithmetic in every process), no bars."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


@dataclass(frozen=True)
class LogEvent:
    """One line of a run's ``log.txt`` that marks progress.

    Arguments
    ---------
    t : float
        Seconds after the process started.
    kind : str
        "epoch" (going into an epoch), "intra" / "end" (a checkpoint saved), "valid" (the epoch's
        validation logged), "recover" (a checkpoint loaded).
    """

    t: float
    kind: str


def log_events(log: Path, started: float) -> list[LogEvent]:
    """The progress events of log.txt, timed from ``started`` (a ``time.time()``)."""
    events = []
    for line in log.read_text(encoding="utf-8").splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        stamp, source, message = match.groups()
        t = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1000 - started
        saved = SAVED_LINE.search(message)
        if saved:
            events.append(LogEvent(t, "intra" if saved.group(1) == "intra-epoch" else "end"))
        elif message.startswith("Going into epoch"):
            events.append(LogEvent(t, "epoch"))
        elif source.endswith("train_logger") and message.startswith("epoch:"):
            events.append(LogEvent(t, "valid"))
        elif message.startswith("Loading a checkpoint from"):
            events.append(LogEvent(t, "recover"))
    return events


@dataclass(frozen=True)
class KillTarget:
    """Where one SIGKILL lands.

    Arguments
    ---------
    moment : str
        What the run is doing then.
    saves : int
        Wait until this many checkpoint saves have been logged (over every attempt so far).
    delay_s : float
        Then wait this long (from the process's start with ``startup``).
    in_save : bool
        Then wait until a checkpoint is being written (a folder in ``save/.partial``): kill at once.
    startup : bool
        Kill the next restart ``delay_s`` after it starts, whatever it has logged.
    """

    moment: str
    saves: int = 0
    delay_s: float = 0.0
    in_save: bool = False
    startup: bool = False


def plan_kills(events: list[LogEvent], end_s: float, rng, after_training: bool) -> list[KillTarget]:
    """Six or seven kills at seeded random points of a 2-epoch run, in the order the run meets them.

    From the uninterrupted run's events: during a training step of epoch 1, during the start-up
    of the restart (imports, data, model, recovery), while an intra-epoch checkpoint of epoch 1
    is being written, during the validation of epoch 1, just after an intra-epoch checkpoint of
    epoch 2 is in place (old checkpoints being deleted, next batch starting), while the last
    end-of-epoch checkpoint is being written and, with ``after_training``, during test / export.

    Arguments
    ---------
    events : list of LogEvent
        The reference run's events.
    end_s : float
        The reference run's wall time.
    rng : random.Random
        Seeded.
    after_training : bool
        Also kill after the last checkpoint (the recipe tests and exports then).

    Returns
    -------
    list of KillTarget
    """
    saves = [e for e in events if e.kind in ("intra", "end")]
    ends = [i + 1 for i, e in enumerate(saves) if e.kind == "end"]  # save counts after each epoch
    if len(ends) < 2 or ends[0] < 4 or ends[1] - ends[0] < 3:
        raise RuntimeError(f"the reference run saved {len(saves)} checkpoints ({ends} at epoch ends): too few to place kills")
    first_epoch = next(e.t for e in events if e.kind == "epoch")
    valid_1 = next(e.t for e in events if e.kind == "valid")
    step = rng.randint(1, ends[0] - 3)
    targets = [
        KillTarget("during a training step of epoch 1", step, rng.uniform(0.2, 0.8) * (saves[step].t - saves[step - 1].t)),
        KillTarget("during the start-up of the restart", delay_s=rng.uniform(0.3, 0.95) * first_epoch, startup=True),
        KillTarget("while an intra-epoch checkpoint is written", rng.randint(step + 1, ends[0] - 2), in_save=True),
        KillTarget("during the validation of epoch 1", ends[0] - 1, rng.uniform(0.15, 0.85) * (valid_1 - saves[ends[0] - 2].t)),
        KillTarget("just after an intra-epoch checkpoint of epoch 2", rng.randint(ends[0] + 1, ends[1] - 2)),
        KillTarget("while the last end-of-epoch checkpoint is written", ends[1] - 1, in_save=True),
    ]
    if after_training:
        targets.append(KillTarget("during test and export", ends[1], rng.uniform(0.2, 0.8) * (end_s - saves[-1].t)))
    return targets


class SaveCounter:
    """Counts the checkpoint saves logged in a ``log.txt`` that grows (every attempt appends)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.offset = 0
        self.saves = 0

    def update(self) -> int:
        """Reads the complete lines added since the last call; returns the saves so far."""
        if not self.log.exists():
            return self.saves
        with open(self.log, "rb") as file:
            file.seek(self.offset)
            data = file.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        self.saves += len(SAVED_LINE.findall(complete.decode("utf-8", errors="replace")))
        return self.saves


@dataclass
class Kill:
    """One SIGKILL: where it was meant to land, where it did, what the save folder held after it."""

    target: KillTarget
    at_s: float  # seconds after that attempt started
    saves: int  # checkpoint saves logged before it
    checkpoints: int  # CKPT+ folders after it
    problems: list[str]  # half-written checkpoints after it


def _wait(proc: subprocess.Popen, until: Callable[[], bool], deadline: float) -> bool:
    """Polls until() while proc runs; False if proc ended (or the deadline passed) first."""
    while proc.poll() is None and time.time() < deadline:
        if until():
            return True
        time.sleep(POLL_S)
    return False


def kill_at(proc: subprocess.Popen, started: float, target: KillTarget, counter: SaveCounter,
            save: Path) -> float | None:
    """Kills proc's process group at target; returns seconds after started, None if it ended first."""
    deadline = started + RUN_TIMEOUT_S
    if not target.startup and not _wait(proc, lambda: counter.update() >= target.saves, deadline):
        return None
    if target.in_save:
        partial = save / ".partial"
        if not _wait(proc, lambda: partial.is_dir() and any(partial.iterdir()), deadline):
            return None
    else:
        wait_from = started if target.startup else time.time()
        if not _wait(proc, lambda: time.time() >= wait_from + target.delay_s, deadline):
            return None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return time.time() - started


def _load_file(path: Path) -> None:
    """Reads one checkpoint file the way recovery would; raises if it is incomplete."""
    if path.suffix == ".ckpt" and zipfile.is_zipfile(path):
        torch.load(path, weights_only=True)
    elif path.suffix in (".yaml", ".ckpt"):
        if yaml.safe_load(path.read_text(encoding="utf-8")) is None:
            raise ValueError("empty")
    elif path.suffix == ".json":
        json.loads(path.read_text(encoding="utf-8"))


def checkpoint_problems(save: Path, expected: set[str]) -> list[str]:
    """Every ``CKPT+`` folder of save that is not whole: missing or extra files, a file that does
    not load, a folder without ``CKPT.yaml`` (invisible to speechbrain, yet left there)."""
    problems = []
    for folder in sorted(save.glob("CKPT+*")):
        names = {p.name for p in folder.iterdir()}
        if names != expected:
            problems.append(f"{folder.name} lacks {sorted(expected - names)} / has {sorted(names - expected)}")
            continue
        for path in sorted(folder.iterdir()):
            try:
                _load_file(path)
            except Exception as error:  # noqa: BLE001 (whatever a half-written file raises is the finding)
                problems.append(f"{folder.name}/{path.name} does not load: {type(error).__name__}: {error}")
    return problems


def final_checkpoint(save: Path) -> Path:
    """The newest end-of-epoch ``CKPT+`` folder of save."""
    metas = {folder: yaml.safe_load((folder / "CKPT.yaml").read_text()) for folder in save.glob("CKPT+*")
             if (folder / "CKPT.yaml").is_file()}
    ends = [folder for folder, meta in metas.items() if meta.get("end-of-epoch")]
    if not ends:
        raise FileNotFoundError(f"{save} holds no end-of-epoch checkpoint")
    return max(ends, key=lambda folder: metas[folder]["unixtime"])


@dataclass
class ResumeOutcome:
    """The two runs of a ResumeRecipe.

    Arguments
    ---------
    recipe : ResumeRecipe
    reference : Path
        Output folder of the uninterrupted run.
    resumed : Path
        Output folder of the run killed and restarted.
    kills : list of Kill
    planned : int
        Kills planned.
    returncode : int
        Of the last attempt of the killed run (None if it never finished).
    reference_s, resumed_s : float
        Wall time of the uninterrupted run, and of every attempt of the other together.
    expected : set of str
        The files of a whole checkpoint (from the reference run).
    """

    recipe: ResumeRecipe
    reference: Path
    resumed: Path
    kills: list[Kill]
    planned: int
    returncode: int | None
    reference_s: float
    resumed_s: float
    expected: set[str]


def _attempt(command: list[str], output: Path) -> tuple[subprocess.Popen, float]:
    """Starts one attempt in its own process group, its output appended to attempts.txt."""
    output.mkdir(parents=True, exist_ok=True)
    with open(output.parent / f"{output.name}_attempts.txt", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=resume_env(),
                                start_new_session=True)
    return proc, time.time()


def run_resume_drill(recipe: ResumeRecipe, data_folder: Path, folder: Path, seed: int = RESUME_SEED) -> ResumeOutcome:
    """Runs recipe whole in ``folder/reference``, then in ``folder/resumed`` killed (SIGKILL, the
    whole process group) at the planned points and restarted with the same command each time,
    until an attempt ends by itself.

    Arguments
    ---------
    recipe : ResumeRecipe
    data_folder : Path
        A LibriSpeech-layout corpus (the tiny mini corpus).
    folder : Path
        Where both runs go (emptied first).
    seed : int
        Seeds the kill placement.

    Returns
    -------
    ResumeOutcome
    """
    shutil.rmtree(folder, ignore_errors=True)
    reference, resumed = folder / "reference", folder / "resumed"
    proc, started = _attempt(resume_command(recipe, data_folder, reference), reference)
    if proc.wait(timeout=RUN_TIMEOUT_S) != 0:
        raise RuntimeError(f"the uninterrupted {recipe.name} run failed (exit {proc.returncode}; see {folder})")
    reference_s = time.time() - started
    expected = {p.name for p in final_checkpoint(reference / "save").iterdir()}
    targets = plan_kills(log_events(reference / "log.txt", started), reference_s, random.Random(seed),
                         after_training=recipe.exported is not None)
    counter, kills, resumed_s = SaveCounter(resumed / "log.txt"), [], 0.0
    command = resume_command(recipe, data_folder, resumed)
    for target in targets:
        proc, started = _attempt(command, resumed)
        at_s = kill_at(proc, started, target, counter, resumed / "save")
        resumed_s += time.time() - started
        if at_s is None:  # it ended (or crashed) before this point
            break
        save = resumed / "save"
        kills.append(Kill(target, at_s, counter.update(), len(list(save.glob("CKPT+*"))),
                          checkpoint_problems(save, expected)))
    else:
        proc, started = _attempt(command, resumed)
        proc.wait(timeout=RUN_TIMEOUT_S)
        resumed_s += time.time() - started
    return ResumeOutcome(recipe, reference, resumed, kills, len(targets), proc.returncode, reference_s,
                         resumed_s, expected)


def _flatten(value, prefix: str = "") -> dict[str, object]:
    """{dotted path: leaf} of nested dicts / lists / tuples (state dicts, optimiser states)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


@dataclass(frozen=True)
class Difference:
    """How two saved objects differ: leaves compared, leaves that differ, max abs difference."""

    leaves: int
    differing: list[str]
    max_abs: float


def compare_saved(a: Path, b: Path) -> Difference:
    """Compares two torch-saved objects leaf by leaf (tensors with torch.equal)."""
    flat_a = _flatten(torch.load(a, weights_only=True))
    flat_b = _flatten(torch.load(b, weights_only=True))
    differing, max_abs = sorted(set(flat_a) ^ set(flat_b)), 0.0
    for key in sorted(set(flat_a) & set(flat_b)):
        x, y = flat_a[key], flat_b[key]
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.shape != y.shape or not torch.equal(x, y):
                differing.append(key)
                if x.shape == y.shape and x.is_floating_point():
                    max_abs = max(max_abs, float((x - y).abs().max()))
        elif x != y:
            differing.append(key)
    return Difference(len(flat_a), differing, max_abs)


def _outcome(drill: "Drill", name: str) -> ResumeOutcome:
    """The (cached) outcome of the resume drill of RESUME_RECIPES[name]."""
    if name not in drill.resumes:
        recipe = RESUME_RECIPES[name]
        drill.resumes[name] = run_resume_drill(recipe, drill.healthy / "LibriSpeech", drill.output / "resume" / name)
    return drill.resumes[name]


def _finishes(drill: "Drill", name: str) -> CheckResult:
    """The killed run ends by itself with exit code 0 after at least 5 kills, each landing at a new point."""
    out = _outcome(drill, name)
    landed = "; ".join(f"{k.target.moment} ({k.at_s:.1f} s into the attempt, {k.saves} saves)" for k in out.kills)
    points = {(k.saves, k.target.moment) for k in out.kills}
    timing = f"whole run {out.reference_s:.0f} s, killed run {out.resumed_s:.0f} s over {len(out.kills) + 1} attempts"
    if out.returncode != 0:
        return False, f"the attempt after kill {len(out.kills)} exited {out.returncode} ({out.resumed.parent}): {landed}"
    if len(out.kills) < 5 or len(points) < len(out.kills):
        return False, f"only {len(out.kills)} of {out.planned} kills landed at distinct points: {landed}"
    return True, f"finished after {len(out.kills)} SIGKILLs; {timing}; kills: {landed}"


def _weights_equal(drill: "Drill", name: str) -> CheckResult:
    """The killed-and-resumed run ends with exactly the weights (and optimiser states) of the whole run."""
    out = _outcome(drill, name)
    if out.returncode != 0:
        return False, "the killed run did not finish"
    ref, res = final_checkpoint(out.reference / "save"), final_checkpoint(out.resumed / "save")
    files = sorted(p.name for p in ref.glob("*.ckpt") if zipfile.is_zipfile(p))
    pairs = [(f"{ref.name[5:]}/{f}", ref / f, res / f) for f in files]
    if out.recipe.exported:
        pairs.append((out.recipe.exported, out.reference / out.recipe.exported, out.resumed / out.recipe.exported))
    problems, leaves = [], 0
    for label, a, b in pairs:
        diff = compare_saved(a, b)
        leaves += diff.leaves
        if diff.differing:
            problems.append(f"{label}: {len(diff.differing)} of {diff.leaves} entries differ (max abs "
                            f"{diff.max_abs:.3g}), e.g. {', '.join(diff.differing[:3])}")
    if problems:
        return False, "; ".join(problems)
    return True, (f"{len(pairs)} files, {leaves} entries torch.equal to the whole run's "
                  f"({', '.join(label.split('/')[-1] for label, _, _ in pairs)})")


def _checkpoints_whole(drill: "Drill", name: str) -> CheckResult:
    """After every kill, every ``CKPT+`` folder of the save folder is whole and loads."""
    out = _outcome(drill, name)
    if not out.kills:
        return False, "no kill landed"
    problems = [f"after kill {i + 1} ({k.target.moment}): {'; '.join(k.problems)}"
                for i, k in enumerate(out.kills) if k.problems]
    partial = out.resumed / "save" / ".partial"
    if out.returncode == 0 and partial.is_dir() and any(partial.iterdir()):
        problems.append(f"{partial} not emptied by the finished run")
    if problems:
        return False, "; ".join(problems)
    counts = ", ".join(str(k.checkpoints) for k in out.kills)
    return True, (f"after each of {len(out.kills)} kills every CKPT+ folder held the {len(out.expected)} files of a "
                  f"checkpoint and each loaded (CKPT+ folders: {counts})")


@check("resume")
def resume_finetune_finishes(drill: Drill) -> CheckResult:
    """CTC fine-tuning (scratch_mini, 2 epochs) killed 7 times with SIGKILL and restarted each time finishes."""
    return _finishes(drill, "finetune")


@check("resume")
def resume_finetune_checkpoints_whole(drill: Drill) -> CheckResult:
    """No kill of the fine-tuning run leaves a half-written CKPT+ folder."""
    return _checkpoints_whole(drill, "finetune")


@check("resume")
def resume_finetune_weights_equal(drill: Drill) -> CheckResult:
    """The killed fine-tuning run ends with the weights of the uninterrupted run (torch.equal)."""
    return _weights_equal(drill, "finetune")


@check("resume")
def resume_pretrain_finishes(drill: Drill) -> CheckResult:
    """wav2vec 2.0 pretraining (mini, 2 layers, 2 epochs) killed 6 times and restarted each time finishes."""
    return _finishes(drill, "pretrain")


@check("resume")
def resume_pretrain_checkpoints_whole(drill: Drill) -> CheckResult:
    """No kill of the pretraining run leaves a half-written CKPT+ folder."""
    return _checkpoints_whole(drill, "pretrain")


@check("resume")
def resume_pretrain_weights_equal(drill: Drill) -> CheckResult:
    """The killed pretraining run ends with the weights of the uninterrupted run (torch.equal)."""
    return _weights_equal(drill, "pretrain")


# ---------------------------------------------------------------- command line


def select(only: str | None) -> list[Check]:
    """The checks named by --only (comma-separated groups or check names), all when None."""
    if not only:
        return list(CHECKS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    known = {c.group for c in CHECKS} | {c.name for c in CHECKS}
    unknown = sorted(wanted - known)
    if unknown:
        raise SystemExit(f"--only: unknown {', '.join(unknown)}; use groups or checks of --list: {', '.join(sorted(known))}")
    return [c for c in CHECKS if c.group in wanted or c.name in wanted]


def run_checks(drill: Drill, checks: Sequence[Check], out=sys.stdout) -> tuple[int, int]:
    """Runs checks in order, printing ``PASS name: detail`` / ``FAIL name: detail``; returns (passed, failed)."""
    passed = failed = 0
    for item in checks:
        try:
            ok, detail = item.run(drill)
        except Exception as error:  # a crashing check is a failed check, named, with its reason
            ok, detail = False, f"{type(error).__name__}: {error}"
        detail = " ".join(str(detail).split())  # one line
        print(f"{'PASS' if ok else 'FAIL'} {item.name}: {detail}", file=out, flush=True)
        passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed", file=out, flush=True)
    return passed, failed


def prepare_output(output: Path) -> None:
    """Creates the drill's folder; refuses a non-empty folder the drill did not make."""
    if output.exists() and any(output.iterdir()) and not (output / MARKER).exists():
        raise SystemExit(f"--output {output} is not empty and not a fault drill folder; give a new or empty folder")
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).touch()


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the arguments, runs the selected checks; returns 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="the drill's folder (new, empty or a former drill's)")
    parser.add_argument("--source", type=Path, help="a healthy corpus (LibriSpeech/ + CommonVoice/); default: synthesise tiny")
    parser.add_argument("--only", help="comma-separated groups or check names (e.g. corpus, train, resume)")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for item in CHECKS:
            print(f"{item.group:8s} {item.name}: {item.run.__doc__.splitlines()[0]}")
        return 0
    checks = select(args.only)
    output = args.output.resolve()
    prepare_output(output)
    log = logging.FileHandler(output / "drill.log", mode="w", encoding="utf-8")
    log.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(log)
    logging.getLogger().setLevel(logging.INFO)
    start = time.perf_counter()
    _, failed = run_checks(Drill(output, args.source.resolve() if args.source else None), checks)
    print(f"fault drill: {time.perf_counter() - start:.0f} s wall time", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
