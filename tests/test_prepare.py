"""Tests of the LibriSpeech / Common Voice prepare functions on generated fake corpora."""

import csv
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile
from speechbrain.dataio.dataset import DynamicItemDataset

from efficient_ssl.data import normalize_text, prepare_common_voice, prepare_librispeech, read_audio
from efficient_ssl.data.librispeech import OPTIONS_FILE as LS_OPTIONS
from efficient_ssl.data.manifest import check_audio
from efficient_ssl.data.text import LANGUAGE_LETTERS

LS_SPLITS = ("train-clean-100", "dev-clean", "test-clean")


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def librispeech_manifests(fake_librispeech, tmp_path_factory) -> dict[str, Path]:
    return prepare_librispeech(fake_librispeech.data_folder, tmp_path_factory.mktemp("ls_manifests"))


@pytest.fixture(scope="module")
def common_voice_manifests(fake_common_voice, tmp_path_factory) -> dict[str, Path]:
    save_folder = tmp_path_factory.mktemp("cv_manifests")
    return prepare_common_voice(fake_common_voice.data_folder, save_folder, combine=True)


def test_librispeech_manifests_hold_the_good_utterances(fake_librispeech, librispeech_manifests):
    for split in LS_SPLITS:
        rows = read_rows(librispeech_manifests[split])
        assert list(rows[0]) == ["ID", "duration", "wav", "spk_id", "wrd"]
        expected = fake_librispeech.durations[split]
        assert sorted(row["ID"] for row in rows) == sorted(expected)
        for row in rows:
            assert float(row["duration"]) == pytest.approx(expected[row["ID"]], abs=1e-3)
            assert row["wav"] == f"$data_root/{split}/{row['spk_id']}/198/{row['ID']}.flac"
            assert row["ID"].startswith(row["spk_id"] + "-")
            assert row["wrd"] == fake_librispeech.words[row["ID"]]


def test_librispeech_bad_files_are_reported_and_skipped(fake_librispeech, librispeech_manifests, caplog):
    report = librispeech_manifests["train-clean-100"].with_name("train-clean-100_skipped.csv")
    reasons = {row["ID"]: row["reason"] for row in read_rows(report)}
    expected = fake_librispeech.bad["train-clean-100"]
    assert set(reasons) == set(expected)
    for utt_id, word in expected.items():
        assert word in reasons[utt_id], (utt_id, reasons[utt_id])
    dev_report = librispeech_manifests["dev-clean"].with_name("dev-clean_skipped.csv")
    dev_reasons = {row["ID"]: row["reason"] for row in read_rows(dev_report)}
    assert set(dev_reasons) == set(fake_librispeech.bad["dev-clean"])
    assert read_rows(librispeech_manifests["test-clean"].with_name("test-clean_skipped.csv")) == []


def test_data_root_paths_resolve(fake_librispeech, librispeech_manifests):
    dataset = DynamicItemDataset.from_csv(
        librispeech_manifests["dev-clean"], replacements={"data_root": fake_librispeech.data_folder}
    )
    for utt_id in dataset.data_ids:
        wav = Path(dataset.data[utt_id]["wav"])
        assert wav.is_file()
        assert len(read_audio(wav)) / 16000 == pytest.approx(dataset.data[utt_id]["duration"], abs=1e-3)


def test_librispeech_is_idempotent_and_redoes_on_changed_options(fake_librispeech, tmp_path, caplog):
    data_folder = fake_librispeech.data_folder
    manifests = prepare_librispeech(data_folder, tmp_path, splits=["dev-clean"])
    marker = "ID,duration,wav,spk_id,wrd\nmarker,1.0,$data_root/x.flac,0,KEPT\n"
    manifests["dev-clean"].write_text(marker)
    with caplog.at_level(logging.INFO, logger="efficient_ssl"):
        prepare_librispeech(data_folder, tmp_path, splits=["dev-clean"])
    assert manifests["dev-clean"].read_text() == marker  # same options: nothing redone
    assert "skipping" in caplog.text
    redone = prepare_librispeech(data_folder, tmp_path, splits=["dev-clean", "test-clean"])
    assert "marker" not in redone["dev-clean"].read_text()
    assert redone["test-clean"].is_file()
    assert '"test-clean"' in (tmp_path / LS_OPTIONS).read_text()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_skip_prep_writes_nothing(fake_librispeech, tmp_path):
    manifests = prepare_librispeech(fake_librispeech.data_folder, tmp_path, splits=["dev-clean"], skip_prep=True)
    assert manifests == {"dev-clean": tmp_path / "dev-clean.csv"}
    assert not any(tmp_path.iterdir())


def test_librispeech_wrong_folder_is_one_clear_line(fake_librispeech, tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        prepare_librispeech(tmp_path, tmp_path / "out")
    message = str(error.value)
    assert "\n" not in message
    assert "train-clean-100/" in message and "expected LibriSpeech as distributed" in message
    assert "point data_folder at the LibriSpeech folder" in message
    with pytest.raises(FileNotFoundError, match="use data_folder=.*LibriSpeech"):
        prepare_librispeech(fake_librispeech.data_folder.parent, tmp_path / "out")


def test_common_voice_manifests(fake_common_voice, common_voice_manifests):
    for lang in ("cy", "eu"):
        for split in ("train", "dev", "test"):
            rows = read_rows(common_voice_manifests[f"{lang}/{split}"])
            assert list(rows[0]) == ["ID", "duration", "wav", "spk_id", "wrd", "language"]
            expected = fake_common_voice.durations[f"{lang}/{split}"]
            assert sorted(row["ID"] for row in rows) == sorted(expected)
            for row in rows:
                # MP3 durations: allow an encoder frame of slack.
                assert float(row["duration"]) == pytest.approx(expected[row["ID"]], abs=0.05)
                assert row["wav"] == f"$data_root/{lang}/clips/{row['ID']}.mp3"
                assert row["spk_id"].startswith("client")
                assert row["language"] == lang
                assert row["wrd"] == fake_common_voice.words[row["ID"]]


def test_common_voice_bad_entries_are_reported(fake_common_voice, common_voice_manifests):
    report = common_voice_manifests["cy/train"].with_name("train_skipped.csv")
    reasons = {row["ID"]: row["reason"] for row in read_rows(report)}
    for utt_id, word in fake_common_voice.bad["cy/train"].items():
        assert word in reasons[utt_id], (utt_id, reasons.get(utt_id))


def test_common_voice_combined_manifest(fake_common_voice, common_voice_manifests):
    for split in ("train", "dev", "test"):
        rows = read_rows(common_voice_manifests[split])
        per_language = [
            row for lang in ("cy", "eu") for row in read_rows(common_voice_manifests[f"{lang}/{split}"])
        ]
        assert rows == per_language
        assert {row["language"] for row in rows} == {"cy", "eu"}
        assert len({row["ID"] for row in rows}) == len(rows)


def test_common_voice_mp3_reads_through_data_root(fake_common_voice, common_voice_manifests):
    dataset = DynamicItemDataset.from_csv(
        common_voice_manifests["eu/dev"], replacements={"data_root": fake_common_voice.data_folder}
    )
    for utt_id in dataset.data_ids:
        sig = read_audio(dataset.data[utt_id]["wav"])
        assert sig.dim() == 1 and sig.abs().max() > 0.1
        assert len(sig) / 16000 == pytest.approx(dataset.data[utt_id]["duration"], abs=0.05)


def test_common_voice_idempotent_and_wrong_folder(fake_common_voice, tmp_path, caplog):
    data_folder = fake_common_voice.data_folder
    prepare_common_voice(data_folder, tmp_path, languages=["eu"], splits=["dev"])
    with caplog.at_level(logging.INFO, logger="efficient_ssl"):
        prepare_common_voice(data_folder, tmp_path, languages=["eu"], splits=["dev"])
    assert "skipping" in caplog.text
    with pytest.raises(FileNotFoundError) as error:
        prepare_common_voice(data_folder, tmp_path, languages=["fr"])
    assert "\n" not in str(error.value) and "fr/train.tsv" in str(error.value)
    assert "expected Common Voice as distributed" in str(error.value)
    with pytest.raises(FileNotFoundError, match="use data_folder=.*cv-corpus"):
        prepare_common_voice(data_folder.parent, tmp_path, languages=["cy"])


def test_common_voice_tsv_without_needed_column_is_skipped_and_reported(tmp_path, caplog):
    (tmp_path / "cy" / "clips").mkdir(parents=True)
    soundfile.write(tmp_path / "cy" / "clips" / "a.mp3", np.zeros(16000, dtype=np.float32), 16000)
    (tmp_path / "cy" / "dev.tsv").write_text("client_id\tpath\nc1\ta.mp3\n")
    (tmp_path / "cy" / "test.tsv").write_text("client_id\tpath\tsentence\nc1\ta.mp3\tBore da\n")
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO, logger="efficient_ssl"):
        manifests = prepare_common_voice(tmp_path, out, languages=["cy"], splits=["dev", "test"])
    assert read_rows(manifests["cy/dev"]) == []
    assert [row["ID"] for row in read_rows(manifests["cy/test"])] == ["a"]  # the rest is prepared
    (report,) = read_rows(manifests["cy/dev"].with_name("dev_skipped.csv"))
    assert report["ID"] == "*" and report["path"] == "cy/dev.tsv"
    assert "dev.tsv lacks the column(s) sentence" in report["reason"] and "use the tsv files" in report["reason"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("dev.tsv lacks the column(s) sentence" in message and "\n" not in message for message in errors)
    assert not (out / "common_voice_prepare.json").exists()  # not saved: the next run prepares again


def test_check_audio_reasons(tmp_path):
    soundfile.write(tmp_path / "ok.mp3", np.zeros(16000, dtype=np.float32), 16000)
    assert check_audio(tmp_path / "ok.mp3").duration == pytest.approx(1.0, abs=0.05)
    soundfile.write(tmp_path / "no_frames.wav", np.zeros(0, dtype=np.float32), 16000)
    assert check_audio(tmp_path / "no_frames.wav").problem == "no audio frames"
    (tmp_path / "empty.flac").write_bytes(b"")
    assert check_audio(tmp_path / "empty.flac").problem.startswith("empty file")
    (tmp_path / "garbage.flac").write_bytes(b"\x00garbage" * 50)
    assert check_audio(tmp_path / "garbage.flac").problem.startswith("unreadable")


@pytest.mark.parametrize("language", sorted(LANGUAGE_LETTERS) + ["ru"])
def test_normalize_text_properties(language):
    text = "  «Hello», she said — it's   “fine”; isn't it?! 42 "
    once = normalize_text(text, language)
    assert normalize_text(once, language) == once  # idempotent
    assert once == once.strip() and "  " not in once
    assert not any(char in once for char in "«»,—“”;?!.")
    assert "IT'S" in once and "ISN'T" in once and "42" in once


def test_normalize_text_is_unicode_form_independent():
    composed, decomposed = "ŵyn ŷd", "w\u0302yn y\u0302d"
    assert normalize_text(composed, "cy") == normalize_text(decomposed, "cy") == "ŴYN ŶD"
    assert normalize_text("peña", "eu") == normalize_text("pen\u0303a", "eu") == "PEÑA"
    assert normalize_text("crème brûlée", "en") == "CREME BRULEE"
    assert normalize_text("'quoted' rock'n'roll", "en") == "QUOTED ROCK'N'ROLL"
