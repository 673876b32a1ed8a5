"""Fixtures writing tiny fake corpora (sine / noise audio) in the exact real layouts.

* ``fake_librispeech``: LibriSpeech as distributed (FLAC + trans.txt), with broken entries and
  kept odd formats (stereo, 8 kHz);
* ``fake_common_voice``: Common Voice as distributed (MP3 + tsv), two languages, with broken entries
  and kept odd formats;
* ``wav_manifest``: a manifest of 16 kHz WAV files of known lengths (``$data_root`` paths);
* ``tiny_encoder()``: a small untrained ``PretrainedEncoder`` (mel_cnn, 2 layers of 32).

The corpora are session-scoped and must not be modified by tests.
"""

import csv
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from efficient_ssl.models import PretrainedEncoder

SAMPLE_RATE = 16000
CV_SAMPLE_RATE = 32000


def tiny_encoder(seed: int = 0) -> PretrainedEncoder:
    """A small untrained encoder (mel_cnn frontend, 2 Conformer layers of 32) for probe tests."""
    torch.manual_seed(seed)
    return PretrainedEncoder(
        "mel_cnn",
        {"num_layers": 2, "d_model": 32, "nhead": 2, "d_ffn": 64, "kernel_size": 7},
        frontend_kwargs={"channels": 32},
    )


CV_COLUMNS = "client_id path sentence up_votes down_votes age gender accents locale segment".split()


@dataclass
class FakeCorpus:
    """A generated corpus: where it is and what a prepare function should make of it.

    Arguments
    ---------
    data_folder : Path
        The folder to give the prepare function.
    durations : dict
        {manifest key: {ID: seconds}} of the utterances that must be kept.
    words : dict
        {ID: expected normalised transcript} of kept utterances.
    bad : dict
        {manifest key: {ID: words expected in the skip reason}}.
    odd : dict
        {manifest key: {ID: (channels, sample rate)}} of kept files in another format than the rest.
    """

    data_folder: Path
    durations: dict[str, dict[str, float]] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    bad: dict[str, dict[str, str]] = field(default_factory=dict)
    odd: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


def tone(seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """A sine of a seed-dependent pitch plus a little noise, shape (samples,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    pitch = 200.0 + 50.0 * (seed % 7)
    return (0.3 * np.sin(2 * np.pi * pitch * t) + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


def write_float_wav(path: Path, audio: np.ndarray, sample_rate: int, bad_value: float) -> None:
    """Writes a float32 WAV whatever path's extension, every 100th sample set to bad_value (NaN, Inf)."""
    audio = audio.copy()
    audio[::100] = bad_value
    soundfile.write(path, audio, sample_rate, format="WAV", subtype="FLOAT")


def append_line(path: Path, line: bytes) -> int:
    """Appends a line (bytes, no newline) to a text file; returns its line number."""
    data = path.read_bytes()
    path.write_bytes(data + line + b"\n")
    return len(data.splitlines()) + 1


def _write_librispeech_chapter(split_dir: Path, spk: str, chap: str, utts: list[tuple[str, float]]) -> dict:
    """Writes good utterances (text, seconds) of one chapter; returns {ID: seconds}."""
    chapter_dir = split_dir / spk / chap
    chapter_dir.mkdir(parents=True)
    durations, lines = {}, []
    for n, (text, seconds) in enumerate(utts):
        utt_id = f"{spk}-{chap}-{n:04d}"
        soundfile.write(chapter_dir / f"{utt_id}.flac", tone(seconds, SAMPLE_RATE, int(spk) + n), SAMPLE_RATE)
        lines.append(f"{utt_id} {text}")
        durations[utt_id] = seconds
    (chapter_dir / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return durations


@pytest.fixture(scope="session")
def fake_librispeech(tmp_path_factory) -> FakeCorpus:
    """LibriSpeech layout with three splits; train-clean-100 holds every kind of broken entry."""
    root = tmp_path_factory.mktemp("corpora") / "LibriSpeech"
    corpus = FakeCorpus(data_folder=root)
    speakers = {"train-clean-100": ("19", "26"), "dev-clean": ("84", "174"), "test-clean": ("61", "121")}
    for split, spks in speakers.items():
        corpus.durations[split] = {}
        for k, spk in enumerate(spks):
            utts = [("HELLO WORLD", 0.5 + 0.25 * k), ("IT'S A TEST", 1.0), ("GOOD MORNING TO YOU", 1.5 - 0.25 * k)]
            durations = _write_librispeech_chapter(root / split, spk, "198", utts)
            corpus.durations[split].update(durations)
            corpus.words.update({utt_id: text for utt_id, (text, _) in zip(durations, utts)})
    # Broken entries in train-clean-100/19/198 (good ones are 0000-0002).
    chapter_dir = root / "train-clean-100" / "19" / "198"
    (chapter_dir / "19-198-0003.flac").write_bytes(b"not a flac file" * 20)
    (chapter_dir / "19-198-0004.flac").write_bytes(b"")
    soundfile.write(chapter_dir / "19-198-0006.flac", tone(1.0, SAMPLE_RATE, 6), SAMPLE_RATE)
    good = (chapter_dir / "19-198-0000.flac").read_bytes()
    (chapter_dir / "19-198-0007.flac").write_bytes(good[: len(good) // 2])
    soundfile.write(chapter_dir / "19-198-0008.flac", tone(1.0, SAMPLE_RATE, 8), SAMPLE_RATE)
    with open(chapter_dir / "19-198.trans.txt", "a", encoding="utf-8") as trans:
        trans.write("19-198-0003 GARBAGE AUDIO\n19-198-0004 ZERO BYTES\n19-198-0005 NO AUDIO FILE\n")
        trans.write("19-198-0006 \n19-198-0007 CUT IN HALF\n")
        trans.write("19-198-0009 NOT A NUMBER\n19-198-0010 TWO CHANNELS\n19-198-0011 NARROW BAND\n")
        trans.write("19-198-0000 A SECOND LINE FOR THE SAME ID\n")
    # NaN cannot be stored in FLAC: a float WAV under the .flac name (libsndfile reads by content).
    write_float_wav(chapter_dir / "19-198-0009.flac", tone(1.0, SAMPLE_RATE, 9), SAMPLE_RATE, np.nan)
    stereo = np.stack([tone(1.0, SAMPLE_RATE, 10), tone(1.0, SAMPLE_RATE, 11)], axis=1)
    soundfile.write(chapter_dir / "19-198-0010.flac", stereo, SAMPLE_RATE)
    soundfile.write(chapter_dir / "19-198-0011.flac", tone(1.0, 8000, 11), 8000)
    soundfile.write(chapter_dir / "19-198-0012.flac", tone(1.0, SAMPLE_RATE, 12), SAMPLE_RATE)
    latin1_line = append_line(chapter_dir / "19-198.trans.txt", "19-198-0012 CAF\u00c9 AU LAIT".encode("latin-1"))
    corpus.durations["train-clean-100"].update({"19-198-0010": 1.0, "19-198-0011": 1.0})
    corpus.words.update({"19-198-0010": "TWO CHANNELS", "19-198-0011": "NARROW BAND"})
    corpus.odd["train-clean-100"] = {"19-198-0010": (2, SAMPLE_RATE), "19-198-0011": (1, 8000)}
    corpus.bad["train-clean-100"] = {
        "19-198-0000": "duplicate ID: 19-198.trans.txt line 12 repeats 19-198.trans.txt line 1",
        "19-198-0003": "unreadable",
        "19-198-0004": "empty",
        "19-198-0005": "missing",
        "19-198-0006": "empty transcript",
        "19-198-0007": "truncated",
        "19-198-0008": "no transcript",
        "19-198-0009": "non-finite samples",
        "19-198-0012": f"not UTF-8: 19-198.trans.txt line {latin1_line}",
    }
    # A train-clean-100 utterance copied into dev-clean under its own ID: kept in train only.
    copy_dir = root / "dev-clean" / "26" / "198"
    copy_dir.mkdir(parents=True)
    (copy_dir / "26-198-0000.flac").write_bytes((root / "train-clean-100" / "26" / "198" / "26-198-0000.flac").read_bytes())
    (copy_dir / "26-198.trans.txt").write_text("26-198-0000 HELLO WORLD\n", encoding="utf-8")
    corpus.bad["dev-clean"] = {"26-198-0000": "duplicate ID (also train-clean-100/26/198/26-198-0000.flac"}
    return corpus


def _write_tsv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Writes a Common Voice tsv (tab-separated, no quoting) with the given columns."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, columns, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in columns} for row in rows)


def _write_clip(lang_dir: Path, clip_id: str, seconds: float, seed: int) -> None:
    """Writes clips/<clip_id>.mp3 at Common Voice's 32 kHz."""
    soundfile.write(lang_dir / "clips" / f"{clip_id}.mp3", tone(seconds, CV_SAMPLE_RATE, seed), CV_SAMPLE_RATE)


@pytest.fixture(scope="session")
def fake_common_voice(tmp_path_factory) -> FakeCorpus:
    """Common Voice layout (cy, eu) of MP3 clips. cy/train.tsv also lists a missing clip, an
    empty sentence and a duplicate clip; cy/dev.tsv has an extra trailing column, eu/test.tsv fewer."""
    root = tmp_path_factory.mktemp("corpora") / "cv-corpus"
    corpus = FakeCorpus(data_folder=root)
    sentences = {
        "cy": [("Mae'r ŵyn yn y caeau.", "MAE'R ŴYN YN Y CAEAU"), ("Bore da, sut wyt ti?", "BORE DA SUT WYT TI")],
        "eu": [("Kaixo, zer moduz?", "KAIXO ZER MODUZ"), ("Bihar «mañana» da!", "BIHAR MAÑANA DA")],
    }
    for lang, pairs in sentences.items():
        (root / lang / "clips").mkdir(parents=True)
        for s, split in enumerate(("train", "dev", "test")):
            key = f"{lang}/{split}"
            corpus.durations[key], rows = {}, []
            for n, (sentence, words) in enumerate(pairs):
                clip_id, seconds = f"common_voice_{lang}_{s}{n}", 0.6 + 0.4 * n
                _write_clip(root / lang, clip_id, seconds, seed=s * 10 + n)
                rows.append({"client_id": f"client{n}", "path": f"{clip_id}.mp3", "sentence": sentence, "locale": lang})
                corpus.durations[key][clip_id] = seconds
                corpus.words[clip_id] = words
            columns = CV_COLUMNS
            if key == "cy/train":
                _write_clip(root / lang, "common_voice_cy_silent", 1.0, seed=9)
                rows.append({"client_id": "client9", "path": "common_voice_cy_missing.mp3", "sentence": "Ble mae e?"})
                rows.append({"client_id": "client9", "path": "common_voice_cy_silent.mp3", "sentence": " ?! "})
                rows.append({"client_id": "client9", "path": "common_voice_cy_00.mp3", "sentence": "Eto."})
                _write_clip(root / lang, "common_voice_cy_latin1", 1.0, seed=8)
                soundfile.write(root / lang / "clips" / "common_voice_cy_8k.mp3", tone(1.0, 8000, 7), 8000)
                stereo = np.stack([tone(1.0, CV_SAMPLE_RATE, 5), tone(1.0, CV_SAMPLE_RATE, 6)], axis=1)
                soundfile.write(root / lang / "clips" / "common_voice_cy_stereo.mp3", stereo, CV_SAMPLE_RATE)
                # Inf cannot be stored in MP3: a float WAV under the .mp3 name (libsndfile reads by content).
                write_float_wav(root / lang / "clips" / "common_voice_cy_inf.mp3", tone(1.0, CV_SAMPLE_RATE, 4),
                                CV_SAMPLE_RATE, np.inf)
                for clip_id, sentence in [("8k", "Wyth."), ("stereo", "Dau."), ("inf", "Anfeidrol.")]:
                    rows.append({"client_id": "client8", "path": f"common_voice_cy_{clip_id}.mp3", "sentence": sentence})
                corpus.durations[key].update({"common_voice_cy_8k": 1.0, "common_voice_cy_stereo": 1.0})
                corpus.words.update({"common_voice_cy_8k": "WYTH", "common_voice_cy_stereo": "DAU"})
                corpus.odd[key] = {"common_voice_cy_8k": (1, 8000), "common_voice_cy_stereo": (2, CV_SAMPLE_RATE)}
                corpus.bad[key] = {
                    "common_voice_cy_missing": "missing",
                    "common_voice_cy_silent": "empty transcript",
                    "common_voice_cy_00": "duplicate",
                    "common_voice_cy_inf": "non-finite samples",
                }
            if key == "cy/dev":
                columns = CV_COLUMNS + ["variant"]
            if key == "eu/test":
                columns = CV_COLUMNS[:5]
            _write_tsv(root / lang / f"{split}.tsv", columns, rows)
            if key == "cy/train":  # one row in Latin-1: the rest of the tsv stays usable
                row = "\t".join(["client8", "common_voice_cy_latin1.mp3", "Caf\u00e9 bach."] + [""] * 7)
                number = append_line(root / lang / "train.tsv", row.encode("latin-1"))
                corpus.bad[key]["common_voice_cy_latin1"] = f"not UTF-8: train.tsv line {number}"
    return corpus


@pytest.fixture(scope="session")
def wav_manifest(tmp_path_factory) -> tuple[Path, Path, dict[str, float]]:
    """(data_folder, manifest, {ID: seconds}) for 10 WAV files of 0.3 to 2.1 s."""
    root = tmp_path_factory.mktemp("wav_corpus")
    durations = {f"utt{n:02d}": round(0.3 + 0.2 * n, 2) for n in range(10)}
    rows = []
    for n, (utt_id, seconds) in enumerate(durations.items()):
        (root / "audio").mkdir(exist_ok=True)
        soundfile.write(root / "audio" / f"{utt_id}.wav", tone(seconds, SAMPLE_RATE, n), SAMPLE_RATE)
        rows.append(f"{utt_id},{seconds},$data_root/audio/{utt_id}.wav,WORD {'A ' * (n + 1)}".rstrip())
    manifest = root / "train.csv"
    manifest.write_text("ID,duration,wav,wrd\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return root, manifest, durations


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """The synthesised mini corpus at size tiny (made once per test session)."""
    from efficient_ssl.data.synth import synthesize_corpus

    return synthesize_corpus(tmp_path_factory.mktemp("mini") / "corpus", size="tiny", seed=7)


def torchrun_command(nproc: int) -> list[str]:
    """The start of a ``torchrun`` command line with ``nproc`` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]


def run_checked(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Runs a recipe command (one thread per process); fails the test with its output's tail."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    if result.returncode != 0 and GLOO_TEARDOWN_ABORT in result.stderr:
        # A rare race of gloo's threads at interpreter exit aborts a rank after its work is done
        # (seen about once in 40 two-process runs); the recipe resumes, so run it once more.
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


GLOO_TEARDOWN_ABORT = "terminate called without an active exception"
