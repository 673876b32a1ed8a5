"""Prepare functions of VoxCeleb1, IEMOCAP and SLURP on tiny fake corpora in the real layouts,
and one smoke run of each of their probe recipes."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from conftest import SAMPLE_RATE, tiny_encoder, tone
from efficient_ssl.data import prepare_iemocap, prepare_slurp, prepare_voxceleb1

ROOT = Path(__file__).resolve().parents[1]
CORRUPT = b"RIFF\x24\x00\x00\x00WAVEfmt garbage"


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_wav(path: Path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, tone(seconds, SAMPLE_RATE, seed), SAMPLE_RATE)


# ---------------------------------------------------------------- VoxCeleb1

VOX_SPEAKERS = [f"id1000{n}" for n in range(1, 9)]
VOX_TEST_SPEAKERS = {"id10001", "id10002"}
VOX_CORRUPT_TRAIN = "id10005/vid-B_2/00002.wav"
VOX_CORRUPT_TEST = "id10002/vid-B_2/00002.wav"


@pytest.fixture(scope="module")
def voxceleb(tmp_path_factory) -> Path:
    """8 speakers x 2 videos x 2 utterances; trials over id10001 and id10002; two corrupt files."""
    root = tmp_path_factory.mktemp("voxceleb1")
    test_utts = []
    for s, spk in enumerate(VOX_SPEAKERS):
        for video in ("aB3x", "vid-B_2"):
            for utt in ("00001", "00002"):
                rel = f"{spk}/{video}/{utt}.wav"
                write_wav(root / "wav" / rel, 0.5 + 0.1 * (s % 3), seed=s)
                if spk in VOX_TEST_SPEAKERS:
                    test_utts.append(rel)
    for rel in (VOX_CORRUPT_TRAIN, VOX_CORRUPT_TEST):
        (root / "wav" / rel).write_bytes(CORRUPT)
    lines = [
        f"{int(a.split('/')[0] == b.split('/')[0])} {a} {b}"
        for i, a in enumerate(test_utts) for b in test_utts[i + 1:]
        if not a.endswith("aB3x/00002.wav")  # an utterance of the test speakers outside the trials
        and not b.endswith("aB3x/00002.wav")
    ]
    (root / "veri_test2.txt").write_text("\n".join(lines) + "\n")
    return root


def test_voxceleb1_splits_and_trials(voxceleb, tmp_path):
    paths = prepare_voxceleb1(voxceleb, tmp_path, valid_fraction=0.3, trials_per_utterance=2)
    data = {split: rows(paths[split]) for split in ("train", "valid", "test")}
    speakers = {split: {row["spk_id"] for row in found} for split, found in data.items()}
    assert speakers["test"] == VOX_TEST_SPEAKERS
    assert len(speakers["valid"]) == 2 and len(speakers["train"]) == 4
    assert not speakers["train"] & speakers["valid"]
    assert not speakers["test"] & (speakers["train"] | speakers["valid"])
    assert all(row["ID"] == row["wav"].removeprefix("$data_root/wav/").removesuffix(".wav").replace("/", "-")
               for found in data.values() for row in found)
    assert not any(row["ID"].endswith("aB3x-00002") and row["spk_id"] in VOX_TEST_SPEAKERS for row in data["test"])
    # Trials refer to utterances of their manifest; labels say whether the speakers match.
    listed = [line.split() for line in (voxceleb / "veri_test2.txt").read_text().splitlines()]
    for split in ("valid", "test"):
        speaker = {row["ID"]: row["spk_id"] for row in data[split]}
        trials = rows(paths[f"{split}_trials"])
        assert {t["label"] for t in trials} == {"0", "1"}
        assert all((speaker[t["enrol"]] == speaker[t["test"]]) == (t["label"] == "1") for t in trials)
    # The corrupt files are reported, not fatal; the trials of the corrupt test file are dropped.
    assert VOX_CORRUPT_TRAIN in {r["path"].removeprefix("wav/") for r in rows(tmp_path / "train_skipped.csv")}
    assert VOX_CORRUPT_TEST in {r["path"].removeprefix("wav/") for r in rows(tmp_path / "test_skipped.csv")}
    assert len(rows(paths["test_trials"])) == sum(VOX_CORRUPT_TEST not in line for line in listed) < len(listed)


def test_voxceleb1_idempotent_and_clear_errors(voxceleb, tmp_path):
    paths = prepare_voxceleb1(voxceleb, tmp_path, valid_fraction=0.3)
    stamp = paths["train"].stat().st_mtime_ns
    prepare_voxceleb1(voxceleb, tmp_path, valid_fraction=0.3)
    assert paths["train"].stat().st_mtime_ns == stamp
    prepare_voxceleb1(voxceleb, tmp_path, valid_fraction=0.3, seed=5)  # other options: prepared again
    assert paths["train"].stat().st_mtime_ns != stamp
    with pytest.raises(FileNotFoundError) as error:
        prepare_voxceleb1(voxceleb, tmp_path, verification_file=voxceleb / "meta" / "veri_test2.txt")
    assert "\n" not in str(error.value) and "meta/veri_test2.txt" in str(error.value) and "download" in str(error.value)
    bad = tmp_path / "bad_trials.txt"
    bad.write_text("1 id10001/aB3x/00001.wav\n")
    with pytest.raises(ValueError, match=r"bad_trials.txt:1: expected"):
        prepare_voxceleb1(voxceleb, tmp_path, verification_file=bad)
    with pytest.raises(FileNotFoundError, match="wav not found .*folder holding wav/"):
        prepare_voxceleb1(voxceleb / "wav", tmp_path / "x", verification_file=voxceleb / "veri_test2.txt")


# ---------------------------------------------------------------- IEMOCAP

IEMOCAP_LABELS = ["neu", "hap", "exc", "ang", "sad", "fru", "xxx", "neu"]
IEMOCAP_CORRUPT = "Ses03F_impro01_F000"


@pytest.fixture(scope="module")
def iemocap(tmp_path_factory) -> Path:
    """5 sessions x 2 dialogs x 8 turns (6 in the 4 classes, exc among them); one corrupt file."""
    root = tmp_path_factory.mktemp("IEMOCAP_full_release")
    for n in range(1, 6):
        session = root / f"Session{n}"
        labels_dir = session / "dialog" / "EmoEvaluation"
        (labels_dir / "Categorical").mkdir(parents=True)  # subfolders of the release hold other files
        for dialog in (f"Ses0{n}F_impro01", f"Ses0{n}M_script01_1"):
            lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            for k, label in enumerate(IEMOCAP_LABELS):
                utt = f"{dialog}_{'FM'[k % 2]}{k:03d}"
                write_wav(session / "sentences" / "wav" / dialog / f"{utt}.wav", 0.5 + 0.05 * k, seed=n + k)
                lines += [f"[{k}.1 - {k}.9]\t{utt}\t{label}\t[2.5000, 3.0000, 2.0000]", "C-E1:\tNeutral;\t()", ""]
            (labels_dir / f"{dialog}.txt").write_text("\n".join(lines))
        (labels_dir / f"._Ses0{n}F_impro01.txt").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (root / "Session3" / "sentences" / "wav" / "Ses03F_impro01" / f"{IEMOCAP_CORRUPT}.wav").write_bytes(CORRUPT)
    return root


def test_iemocap_four_classes_and_session_folds(iemocap, tmp_path):
    paths = prepare_iemocap(iemocap, tmp_path, test_session=3, valid_fraction=0.25)
    data = {split: rows(paths[split]) for split in ("train", "valid", "test")}
    assert {row["emotion"] for found in data.values() for row in found} == {"neu", "hap", "ang", "sad"}
    assert all(row["emotion"] == "hap" for found in data.values() for row in found if row["ID"].endswith("002"))  # exc
    assert not any(row["ID"].endswith(("005", "006")) for found in data.values() for row in found)  # fru, xxx
    assert {row["ID"][:5] for row in data["test"]} == {"Ses03"}
    assert len(data["test"]) == 2 * 6 - 1  # the corrupt one is reported, not fatal
    assert IEMOCAP_CORRUPT in {r["ID"] for r in rows(tmp_path / "test_skipped.csv")}
    assert not {row["ID"][:5] for row in data["train"] + data["valid"]} & {"Ses03"}
    assert not {row["ID"] for row in data["train"]} & {row["ID"] for row in data["valid"]}
    assert len(data["valid"]) == round(0.25 * 4 * 2 * 6) and len(data["train"]) == 4 * 2 * 6 - len(data["valid"])
    assert all(row["spk_id"] == row["ID"][:5] + row["ID"].rsplit("_", 1)[1][0] for row in data["test"])


def test_iemocap_idempotent_and_clear_errors(iemocap, tmp_path):
    paths = prepare_iemocap(iemocap, tmp_path)
    stamp = paths["test"].stat().st_mtime_ns
    prepare_iemocap(iemocap, tmp_path)
    assert paths["test"].stat().st_mtime_ns == stamp
    prepare_iemocap(iemocap, tmp_path, test_session=2)
    assert {row["ID"][:5] for row in rows(paths["test"])} == {"Ses02"}
    with pytest.raises(ValueError, match="test_session=6: IEMOCAP has sessions 1 to 5"):
        prepare_iemocap(iemocap, tmp_path, test_session=6)
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "IEMOCAP_full_release").symlink_to(iemocap)
    with pytest.raises(FileNotFoundError) as error:
        prepare_iemocap(outer, tmp_path / "x")
    assert "\n" not in str(error.value) and f"use data_folder={outer / 'IEMOCAP_full_release'}" in str(error.value)


# ---------------------------------------------------------------- SLURP

SLURP_INTENTS = ["alarm_set", "weather_query", "play_music", "iot_hue_lightoff"]
SLURP_MISSING = "audio-1490000003"


@pytest.fixture(scope="module")
def slurp(tmp_path_factory) -> Path:
    """train (8 sentences x 2 recordings, one recording missing) / devel / test (4 each), 2 synthetic."""
    root = tmp_path_factory.mktemp("slurp")
    jsonl_dir = root / "dataset" / "slurp"
    jsonl_dir.mkdir(parents=True)
    counter = 0
    for split, count, folder in (("train", 8, "slurp_real"), ("devel", 4, "slurp_real"), ("test", 4, "slurp_real"),
                                 ("train_synthetic", 2, "slurp_synth")):
        lines = []
        for k in range(count):
            counter += 1
            stamp = f"audio-{1490000000 + counter}"
            names = [f"{stamp}-headset.flac", f"{stamp}.flac"] if folder == "slurp_real" else [f"{stamp}.flac"]
            for name in names:
                if name != f"{SLURP_MISSING}.flac":
                    write_wav(root / "audio" / folder / name, 0.5, seed=counter)
            intent = SLURP_INTENTS[k % len(SLURP_INTENTS)]
            entry = {"slurp_id": counter, "sentence": f"please {intent.replace('_', ' ')}, now!", "intent": intent,
                     "scenario": intent.split("_")[0], "recordings": [{"file": n, "wer": 0.0} for n in names]}
            lines.append(json.dumps(entry))
        (jsonl_dir / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_slurp_one_row_per_recording(slurp, tmp_path):
    paths = prepare_slurp(slurp, tmp_path)
    train = rows(paths["train"])
    assert len(train) == 8 * 2 - 1 and SLURP_MISSING in {r["ID"] for r in rows(tmp_path / "train_skipped.csv")}
    assert {row["intent"] for row in train} == set(SLURP_INTENTS)
    assert all(row["wav"].startswith("$data_root/audio/slurp_real/") for row in train)
    assert rows(paths["devel"])[0]["wrd"] == "PLEASE ALARM SET NOW"
    by_sentence = {}
    for row in rows(paths["test"]):
        by_sentence.setdefault(row["slurp_id"], set()).add(row["intent"])
    assert len(by_sentence) == 4 and all(len(intents) == 1 for intents in by_sentence.values())
    stamp = paths["train"].stat().st_mtime_ns
    prepare_slurp(slurp, tmp_path)
    assert paths["train"].stat().st_mtime_ns == stamp
    prepare_slurp(slurp, tmp_path, train_synthetic=True)  # other options: prepared again
    synthetic = [row for row in rows(paths["train"]) if "/slurp_synth/" in row["wav"]]
    assert len(synthetic) == 2 and len(rows(paths["train"])) == 8 * 2 - 1 + 2


def test_slurp_clear_errors(slurp, tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        prepare_slurp(slurp / "dataset", tmp_path)
    assert "\n" not in str(error.value) and "train.jsonl not found" in str(error.value)
    with pytest.raises(ValueError, match="needs 'train' in splits"):
        prepare_slurp(slurp, tmp_path, splits=["test"], train_synthetic=True)
    broken = tmp_path / "broken"
    (broken / "dataset" / "slurp").mkdir(parents=True)
    (broken / "audio" / "slurp_real").mkdir(parents=True)
    (broken / "dataset" / "slurp" / "test.jsonl").write_text('{"slurp_id": 1, "sentence": "hi"}\n')
    with pytest.raises(ValueError, match=r"test.jsonl:1: lacks intent, recordings"):
        prepare_slurp(broken, tmp_path / "out", splits=["test"])


# ---------------------------------------------------------------- recipes

@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("encoder")
    tiny_encoder().save(folder)
    return folder


SMOKE = ["--number_of_epochs=1", "--emb_channels=16", "--emb_size=16", "--lstm_hidden=16"]
RECIPES = {
    "VoxCeleb1": ("xvector.yaml", "voxceleb", ["--valid_fraction=0.3"], "EER"),
    "IEMOCAP": ("pool.yaml", "iemocap", ["--test_session=2"], "accuracy"),
    "SLURP": ("bilstm.yaml", "slurp", [], "accuracy"),
}


@pytest.mark.parametrize("name", list(RECIPES))
def test_real_corpus_probe_recipes_run(name, encoder_folder, tmp_path, request):
    yaml, corpus, extra, metric = RECIPES[name]
    recipe = ROOT / "recipes" / name / "probe"
    out = tmp_path / "exp"
    cmd = [
        sys.executable, str(recipe / "train.py"), str(recipe / "hparams" / yaml),
        f"--data_folder={request.getfixturevalue(corpus)}", f"--pretrained_encoder={encoder_folder}",
        f"--output_folder={out}", *SMOKE, *extra,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((out / "probe_result.json").read_text())
    assert result["metric"] == metric and 0.0 <= result["value"] <= 100.0
