"""Faults in a corpus are reported by name and reason, the rest is prepared, and the fault drill says so.

Uses the broken entries of the ``fake_librispeech`` / ``fake_common_voice`` fixtures (conftest.py)
and runs ``tools/fault_drill.py`` on the tiny synthesised corpus.
"""

import csv
import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import SAMPLE_RATE, tone
from efficient_ssl.data import make_dataset, manifest, prepare_common_voice, prepare_librispeech, read_audio
from efficient_ssl.data.manifest import check_audio, write_csv_atomic

REPO = Path(__file__).resolve().parent.parent
DRILL = REPO / "tools" / "fault_drill.py"


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def load_drill():
    """tools/fault_drill.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fault_drill", DRILL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prepared_librispeech(fake_librispeech, tmp_path_factory):
    """(manifests, warning messages) of prepare_librispeech over the fake corpus."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logging.getLogger("efficient_ssl").addHandler(handler)
    try:
        manifests = prepare_librispeech(fake_librispeech.data_folder, tmp_path_factory.mktemp("ls_faults"))
    finally:
        logging.getLogger("efficient_ssl").removeHandler(handler)
    return manifests, [record.getMessage() for record in records]


@pytest.fixture(scope="module")
def prepared_common_voice(fake_common_voice, tmp_path_factory):
    """(manifests, warning messages) of prepare_common_voice over the fake corpus."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logging.getLogger("efficient_ssl").addHandler(handler)
    try:
        manifests = prepare_common_voice(fake_common_voice.data_folder, tmp_path_factory.mktemp("cv_faults"))
    finally:
        logging.getLogger("efficient_ssl").removeHandler(handler)
    return manifests, [record.getMessage() for record in records]


@pytest.mark.parametrize("corpus_name", ["librispeech", "common_voice"])
def test_every_fault_is_reported_by_name_and_reason_in_report_and_log(corpus_name, request):
    corpus = request.getfixturevalue(f"fake_{corpus_name}")
    manifests, messages = request.getfixturevalue(f"prepared_{corpus_name}")
    assert corpus.bad
    for key, bad in corpus.bad.items():
        report = read_rows(manifests[key].with_name(f"{manifests[key].stem}_skipped.csv"))
        for utt_id, reason in bad.items():
            rows = [row for row in report if row["ID"] == utt_id and reason in row["reason"]]
            assert rows, (key, utt_id, reason, report)
            assert rows[0]["path"] and not Path(rows[0]["path"]).is_absolute()
            assert any(f"(ID {utt_id})" in m and rows[0]["path"] in m and reason in m for m in messages), utt_id


def test_kept_odd_formats_are_in_the_manifest_named_and_read_as_mono_16k(
    fake_librispeech, prepared_librispeech, fake_common_voice, prepared_common_voice
):
    for corpus, (manifests, messages) in [(fake_librispeech, prepared_librispeech),
                                          (fake_common_voice, prepared_common_voice)]:
        for key, odd in corpus.odd.items():
            rows = {row["ID"]: row for row in read_rows(manifests[key])}
            for utt_id, (channels, rate) in odd.items():
                assert float(rows[utt_id]["duration"]) == pytest.approx(corpus.durations[key][utt_id], abs=0.05)
                sig = read_audio(rows[utt_id]["wav"].replace("$data_root", str(corpus.data_folder)))
                assert sig.dim() == 1 and len(sig) / SAMPLE_RATE == pytest.approx(1.0, abs=0.05)
                assert np.isfinite(sig.numpy()).all() and sig.abs().max() > 0.05
                assert any(utt_id in m and f"{channels} ch, {rate} Hz" in m and "resamples" in m for m in messages)


def test_duplicate_ids_keep_the_first(fake_librispeech, prepared_librispeech):
    manifests, _ = prepared_librispeech
    train = {row["ID"]: row for row in read_rows(manifests["train-clean-100"])}
    assert train["19-198-0000"]["wrd"] == "HELLO WORLD"  # the first line, not the repeat
    assert "26-198-0000" in train
    dev_ids = [row["ID"] for row in read_rows(manifests["dev-clean"])]
    assert "26-198-0000" not in dev_ids and sorted(dev_ids) == sorted(fake_librispeech.durations["dev-clean"])


def test_non_utf8_line_loses_only_its_own_utterance(fake_common_voice, prepared_common_voice):
    manifests, _ = prepared_common_voice
    ids = {row["ID"] for row in read_rows(manifests["cy/train"])}
    assert "common_voice_cy_latin1" not in ids
    assert ids == set(fake_common_voice.durations["cy/train"])  # rows after the bad line are read


def test_check_audio_decodes_fully_only_float_files(tmp_path, monkeypatch):
    decoded = []
    count = manifest._count_non_finite
    monkeypatch.setattr(manifest, "_count_non_finite", lambda file: decoded.append(file.name) or count(file))
    soundfile.write(tmp_path / "int.flac", tone(1.0, SAMPLE_RATE, 1), SAMPLE_RATE)
    soundfile.write(tmp_path / "clip.mp3", tone(1.0, SAMPLE_RATE, 1), SAMPLE_RATE)
    soundfile.write(tmp_path / "finite.wav", tone(1.0, SAMPLE_RATE, 1), SAMPLE_RATE, subtype="FLOAT")
    for name in ("int.flac", "clip.mp3", "finite.wav"):
        assert check_audio(tmp_path / name).problem is None
    assert [Path(name).name for name in decoded] == ["finite.wav"]
    audio = tone(1.0, SAMPLE_RATE, 1).astype(np.float64)
    audio[5] = -np.inf
    soundfile.write(tmp_path / "inf.wav", audio, SAMPLE_RATE, subtype="DOUBLE")
    assert check_audio(tmp_path / "inf.wav").problem == "non-finite samples: 1 of 16000 are NaN or Inf (WAV DOUBLE)"


def test_interrupted_manifest_write_keeps_the_old_manifest(tmp_path, monkeypatch):
    path = tmp_path / "train.csv"
    write_csv_atomic(path, [{"ID": "a"}, {"ID": "b"}], ["ID"])
    old = path.read_bytes()

    def interrupted(writer, rows):
        writer.writerow(next(iter(rows)))
        raise KeyboardInterrupt

    monkeypatch.setattr(csv.DictWriter, "writerows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_csv_atomic(path, [{"ID": "c"}, {"ID": "d"}], ["ID"])
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]


def test_duration_filter_names_what_it_leaves_out(wav_manifest, caplog):
    data_folder, csv_path, durations = wav_manifest
    with caplog.at_level(logging.INFO, logger="efficient_ssl"):
        dataset = make_dataset(csv_path, data_folder, max_duration=1.5)
    left_out = sorted(utt_id for utt_id, seconds in durations.items() if seconds > 1.5)
    assert left_out and not set(left_out) & set(dataset.data_ids)
    (message,) = [r.getMessage() for r in caplog.records if "duration limits" in r.getMessage()]
    assert f"Left out {len(left_out)} of {len(durations)}" in message
    assert left_out[0] in message and left_out[-1] in message


def test_drill_selection_and_registry():
    drill = load_drill()
    names = [check.name for check in drill.CHECKS]
    assert len(names) == len(set(names))
    corpus = drill.select("corpus")
    assert corpus and all(check.group == "corpus" for check in corpus)
    assert [check.name for check in drill.select("manifests_atomic")] == ["manifests_atomic"]
    assert "training_runs_on_the_rest" in {check.name for check in drill.select(None)}
    with pytest.raises(SystemExit, match="unknown nope"):
        drill.select("corpus,nope")


def test_drill_fails_when_a_fault_slips_through(tiny_corpus, tmp_path, monkeypatch):
    """With the NaN check disabled, the drill names the fault that got into a manifest."""
    drill = load_drill()
    monkeypatch.setattr(manifest, "FLOAT_SUBTYPES", ())
    checks = drill.select("librispeech_faults_reported,librispeech_rest_in_manifests")
    lines = []

    class Out:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    passed, failed = drill.run_checks(drill.Drill(tmp_path, tiny_corpus), checks, out=Out())
    output = "".join(lines).splitlines()
    assert (passed, failed) == (0, 2)
    assert output[0].startswith("FAIL librispeech_faults_reported: nan_samples:")
    assert output[1].startswith("FAIL librispeech_rest_in_manifests:") and "-0904" in output[1]
    assert output[-1] == "0 passed, 2 failed"


def test_drill_corpus_checks_pass(tiny_corpus, tmp_path):
    drill = load_drill()
    expected = len(drill.select("corpus"))
    result = subprocess.run(
        [sys.executable, str(DRILL), "--output", str(tmp_path / "drill"), "--source", str(tiny_corpus),
         "--only", "corpus"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert len(lines) == expected + 1
    assert all(line.startswith("PASS ") for line in lines[:-1]), lines
    assert lines[-1] == f"{expected} passed, 0 failed"


@pytest.mark.slow
def test_drill_training_runs_on_the_fault_corpus(tiny_corpus, tmp_path):
    result = subprocess.run(
        [sys.executable, str(DRILL), "--output", str(tmp_path / "drill"), "--source", str(tiny_corpus),
         "--only", "train"],
        capture_output=True, text=True, timeout=1200, cwd=REPO,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
