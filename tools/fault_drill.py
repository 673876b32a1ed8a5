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

Each check is a small function returning (ok, detail), registered in ``CHECKS`` under a group;
``--only`` selects groups or checks by name. One line per check, then ``N passed, M failed``;
exit code 1 if any failed.

Usage:
    python tools/fault_drill.py --output DIR [--source CORPUS] [--only corpus] [--list]

Authors
 * efficient_ssl contributors
"""

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars between the result lines

import argparse
import contextlib
import csv
import functools
import logging
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence
from unittest import mock

import numpy as np
import soundfile
import torch
import torchaudio

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

    @functools.cached_property
    def corpus(self) -> FaultCorpus:
        """The fault corpus, rebuilt from the source in ``<output>/corpus``."""
        source = self.source
        if source is None:
            from efficient_ssl.data.synth import synthesize_corpus

            with contextlib.redirect_stdout(sys.stderr):  # stdout holds only the result lines
                source = synthesize_corpus(self.output / "source", size="tiny", seed=1)
        for stale in ("corpus", "manifests", "run"):
            shutil.rmtree(self.output / stale, ignore_errors=True)
        return build_fault_corpus(source, self.output / "corpus")

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
    parser.add_argument("--only", help="comma-separated groups or check names (e.g. corpus)")
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
    _, failed = run_checks(Drill(output, args.source.resolve() if args.source else None), checks)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
