"""Tests of the eSpeak NG mini-corpus synthesiser (efficient_ssl.data.synth).

The tiny corpus is synthesised once per session (``tiny_corpus`` in conftest.py) and
shared by this module; the determinism test builds an even smaller one twice.
Everything runs in well under a minute on 2 cores.
"""

import csv
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from efficient_ssl.data.synth import (
    cli,
    commands,
    english,
    lang_cy,
    lang_de,
    lang_es,
    lang_fr,
    synthesize_corpus,
)
from efficient_ssl.data.synth.corpus import (
    CV_COLUMNS,
    LABEL_COLUMNS,
    SIZES,
    SizeSpec,
    build_corpus,
    measure_voices,
)
from efficient_ssl.data.synth.espeak import Voice
from efficient_ssl.data.synth.text import SENTENCE_MAKERS, librispeech_transcript, vocabulary
from efficient_ssl.data.synth.voices import EMOTIONS, Speaker, check_distinct

LS_SPLITS = ("train-clean-100", "train-clean-360", "dev-clean", "test-clean")


@pytest.fixture(scope="module")
def corpus(tiny_corpus) -> Path:
    """The session's tiny corpus; tests here only read it."""
    return tiny_corpus


@pytest.fixture(scope="module")
def seed(corpus) -> int:
    return json.loads((corpus / ".synth_done.json").read_text())["seed"]


@pytest.fixture(scope="module")
def labels(corpus) -> list[dict]:
    with open(corpus / "labels.csv", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _transcripts(corpus: Path) -> dict[str, tuple[str, str]]:
    """utterance ID -> (split, transcript) from every trans.txt."""
    found = {}
    for split in LS_SPLITS:
        for trans in (corpus / "LibriSpeech" / split).glob("*/*/*.trans.txt"):
            for line in trans.read_text(encoding="utf-8").splitlines():
                utt_id, text = line.split(" ", 1)
                found[utt_id] = (split, text)
    return found


def _read_tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def test_librispeech_layout(corpus):
    transcripts = _transcripts(corpus)
    flacs = sorted((corpus / "LibriSpeech").glob("*/*/*/*.flac"))
    assert flacs and len(flacs) == len(transcripts)
    for flac in flacs:
        split, speaker, chapter = flac.parts[-4:-1]
        assert split in LS_SPLITS
        assert re.fullmatch(rf"{speaker}-{chapter}-\d{{4}}", flac.stem), flac
        assert int(speaker) > 0 and int(chapter) > 0
        assert (flac.parent / f"{speaker}-{chapter}.trans.txt").is_file()
        assert transcripts[flac.stem][0] == split
        info = sf.info(flac)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (16000, 1, "FLAC", "PCM_16")
        assert 2.0 <= info.duration <= 8.0
    for _, text in transcripts.values():
        assert re.fullmatch(r"[A-Z']+( [A-Z']+)*", text), text


def test_speakers_txt_and_disjoint_speakers(corpus):
    lines = (corpus / "LibriSpeech" / "SPEAKERS.TXT").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(";") and any(line.startswith(";ID") for line in lines)
    rows = [[field.strip() for field in line.split("|")] for line in lines if not line.startswith(";")]
    split_of = {}
    for speaker_id, sex, subset, minutes, name in rows:
        assert sex in {"F", "M"} and subset in LS_SPLITS and float(minutes) > 0 and name
        split_of[int(speaker_id)] = subset
    on_disk = {
        int(p.name): p.parent.name for split in LS_SPLITS for p in (corpus / "LibriSpeech" / split).iterdir()
    }
    assert on_disk == split_of
    speakers = defaultdict(set)
    for speaker, split in split_of.items():
        speakers[split].add(speaker)
    for train in ("train-clean-100", "train-clean-360"):
        for held_out in ("dev-clean", "test-clean"):
            assert not speakers[train] & speakers[held_out]


@pytest.mark.parametrize("language", ["cy", "eu"])
def test_common_voice_layout(corpus, language):
    folder = corpus / "CommonVoice" / language
    tables = {split: _read_tsv(folder / f"{split}.tsv") for split in ("train", "dev", "test", "validated")}
    for rows in tables.values():
        assert tuple(rows[0]) == CV_COLUMNS
    body = {split: rows[1:] for split, rows in tables.items()}
    assert body["validated"] == body["train"] + body["dev"] + body["test"]
    for row in body["validated"]:
        record = dict(zip(CV_COLUMNS, row))
        assert len(row) == len(CV_COLUMNS)
        assert re.fullmatch(rf"common_voice_{language}_\d+\.mp3", record["path"])
        assert record["locale"] == language and record["gender"] in {"male", "female"}
        assert record["sentence"][0].isupper() and record["sentence"][-1] in ".?"
        info = sf.info(folder / "clips" / record["path"])
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "MP3")
    clients = {split: {row[0] for row in body[split]} for split in ("train", "dev", "test")}
    assert not clients["train"] & (clients["dev"] | clients["test"])
    assert len(list((folder / "clips").iterdir())) == len(body["validated"])


def test_labels_match_the_corpus(corpus, labels):
    assert tuple(labels[0]) == LABEL_COLUMNS
    assert len({row["ID"] for row in labels}) == len(labels)
    transcripts = _transcripts(corpus)
    librispeech = [row for row in labels if row["corpus"] == "LibriSpeech"]
    assert {row["ID"]: (row["split"], row["text"]) for row in librispeech} == transcripts
    assert all(row["spk_id"] == row["ID"].split("-")[0] for row in librispeech)
    clips = {p.stem for p in (corpus / "CommonVoice").glob("*/clips/*.mp3")}
    assert {row["ID"] for row in labels if row["corpus"].startswith("CommonVoice/")} == clips
    assert {row["corpus"] for row in labels} >= {"LibriSpeech", "CommonVoice/cy", "CommonVoice/eu"}
    assert Counter(row["emotion"] for row in labels).keys() == EMOTIONS.keys()
    for split in LS_SPLITS:
        rows = [row for row in librispeech if row["split"] == split]
        assert sum(row["intent"] != "none" for row in rows) == round(len(rows) * 0.25)
    intents = {row["intent"] for row in librispeech} - {"none"}
    assert len(intents) >= 10 and intents <= commands.INTENTS.keys()
    assert all(row["intent"] == "none" for row in labels if row["corpus"] != "LibriSpeech")


def test_test_sentences_are_never_train_sentences(labels):
    by_split = defaultdict(set)
    for row in labels:
        split = "train" if row["split"].startswith("train") else row["split"]
        by_split[row["corpus"], split].add(librispeech_transcript(row["text"]))
    for (corpus, split), sentences in by_split.items():
        if split != "train":
            assert not sentences & by_split[corpus, "train"], (corpus, split)


def test_emotions_are_audibly_distinct(corpus, labels):
    """Loud is louder, fast_high is faster and slow_low slower than neutral."""
    rms, pace = defaultdict(list), defaultdict(list)
    for row in labels:
        if row["corpus"] == "LibriSpeech":
            speaker, chapter, _ = row["ID"].split("-")
            audio, rate = sf.read(
                corpus / "LibriSpeech" / row["split"] / speaker / chapter / f"{row['ID']}.flac"
            )
            speech = np.abs(audio) > 0.01
            rms[row["emotion"]].append(float(np.sqrt(np.mean(audio[speech] ** 2))))
            pace[row["emotion"]].append(
                len(row["text"]) / (np.flatnonzero(speech)[-1] - np.flatnonzero(speech)[0]) * rate
            )
    mean = {emotion: (np.mean(rms[emotion]), np.mean(pace[emotion])) for emotion in EMOTIONS}
    assert mean["loud"][0] > 1.3 * mean["neutral"][0]
    assert mean["fast_high"][1] > 1.1 * mean["neutral"][1] > 1.2 * mean["slow_low"][1]


def test_rerun_same_options_does_nothing(corpus, seed, capsys):
    done = corpus / ".synth_done.json"
    before = done.stat().st_mtime_ns
    assert synthesize_corpus(corpus, size="tiny", seed=seed) == corpus
    assert "nothing to do" in capsys.readouterr().out
    assert done.stat().st_mtime_ns == before


def test_rerun_different_options_is_a_one_line_error(corpus, seed, capsys):
    with pytest.raises(FileExistsError, match="pick another --output or delete"):
        synthesize_corpus(corpus, size="tiny", seed=seed + 1)
    assert cli.main(["--output", str(corpus), "--size", "small", "--seed", str(seed)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(corpus) in error
    assert cli.main(["--output", str(corpus), "--size", "tiny", "--seed", str(seed), "--workers", "0"]) == 2


def test_same_seed_gives_byte_identical_files(tmp_path):
    spec = SizeSpec(
        (("train-clean-100", 1, 1, 3), ("test-clean", 1, 1, 3)),
        (("train", 1, 2), ("test", 1, 2)),
        ("cy", "eu"),
    )
    options = {"size": "micro", "seed": 7, "version": 1}
    one = build_corpus(tmp_path / "one", spec, options, workers=1)
    two = build_corpus(tmp_path / "two", spec, options, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert {p.suffix for p in files} >= {".flac", ".mp3", ".tsv", ".csv", ".txt", ".TXT", ".json"}
    for path in files:
        assert (one / path).read_bytes() == (two / path).read_bytes(), path
    assert not list(tmp_path.glob(".*.partial"))


def test_voice_check_catches_duplicates_and_fallbacks():
    # fr-be and fr sound the same with this variant: two speakers would be one voice.
    same = [Speaker(Voice("fr+Denis"), "M"), Speaker(Voice("fr-be+Denis"), "M")]
    with pytest.raises(ValueError, match="exactly like"):
        measure_voices({"CommonVoice/fr": ("fr", same)})
    # "en-gb" is no voice file name: eSpeak NG would keep the previous voice.
    with pytest.raises(ValueError, match="unknown"):
        measure_voices({"LibriSpeech": ("en", [Speaker(Voice("en-gb+m3"), "M")])})
    with pytest.raises(ValueError, match="exactly like"):
        check_distinct([Voice("en-us+f1"), Voice("en-us+f2")], ["same", "same"])


def test_vocabulary_sizes():
    assert len(vocabulary("en")) >= 1000
    for language in ("cy", "eu", "fr", "de", "es"):
        assert len(vocabulary(language)) >= 200, language
    assert SIZES.keys() == {"tiny", "small", "medium"}


@pytest.mark.parametrize("language", sorted(SENTENCE_MAKERS))
def test_sentences_are_well_formed_and_reproducible(language):
    make = SENTENCE_MAKERS[language]
    for index in range(200):
        text = make(random.Random(index))
        assert text == make(random.Random(index))
        assert re.match(r"¿?[A-ZÀ-ÖØ-Þ]", text) and text[-1] in ".?", text
        assert "  " not in text and " ," not in text and " ." not in text, text
        assert librispeech_transcript(text)


def test_articles_agree_with_the_next_word():
    """Grammar spot checks: a/an, Welsh y/yr/'r, French elision, Spanish al/del, German im/zum."""
    rules = [
        (english.sentence, r"\ba [aio]|\ban [bcdfgjklmnpqrstvwxyz]", 2000),
        (lang_cy.sentence, r"\by [aeiouâêîôûŷŵh]|\byr [bcdfgjlmnprstw]|[aeiouwy] y[r]? ", 2000),
        (lang_fr.sentence, r"\b(le|la|de|ne) [aeiouyéèêàâîôû]|\bà le |\bde le ", 2000),
        (lang_es.sentence, r"\b(a|de) el ", 2000),
        (lang_de.sentence, r"\b(in|an|zu) dem |\bzu der ", 2000),
    ]
    for make, forbidden, count in rules:
        for index in range(count):
            text = make(random.Random(index))
            assert not re.search(forbidden, text.lower()), text


def test_commands_cover_every_intent():
    assert len(commands.INTENTS) >= 10
    for intent in commands.INTENTS:
        texts = {commands.command(random.Random(index), intent) for index in range(50)}
        assert len(texts) > 40, intent
        assert all(text == text.lower() for text in texts)
