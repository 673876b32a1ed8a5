"""VoxCeleb1 preparation for speaker verification probes: train / valid / test manifests and trials.

Reads the corpus as distributed, the dev and test parts merged into one ``wav/`` folder (as
speechbrain's VoxCeleb recipe expects), and the official trial list::

    <data_folder>/wav/<speaker id>/<YouTube id>/<nnnnn>.wav      e.g. wav/id10270/x6uYqmx31kE/00001.wav
    <verification_file>    e.g. veri_test2.txt (the cleaned "Original" list), lines
                           "1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav"

and writes, in ``save_folder`` (columns ID, duration, wav, spk_id; wav as ``$data_root/wav/...``):

- ``train.csv``: every utterance of the speakers absent from the trial list, minus the
  validation speakers;
- ``valid.csv`` + ``valid_trials.csv``: the utterances of ``valid_fraction`` of those speakers
  (at least 2, drawn with ``seed``), with trials from :func:`efficient_ssl.data.labels.make_trials`;
- ``test.csv`` + ``test_trials.csv``: the utterances of the trial list, and its trials as
  label, enrol, test (utterance IDs of ``test.csv``); a trial whose audio was skipped is dropped
  and counted in the log;

plus the ``*_skipped.csv`` reports of :func:`efficient_ssl.data.manifest.write_manifest`.
An utterance ID is its path with "-" for "/": ``id10270-x6uYqmx31kE-00001``. Utterances are kept
whole (speechbrain's recipe cuts training chunks of 3 s; here the recipe's ``max_duration``
drops the longest). Idempotent: the options are saved in ``voxceleb1_prepare.json``.

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path

from efficient_ssl.data.labels import TRIAL_COLUMNS, make_trials
from efficient_ssl.data.manifest import (
    Candidate,
    manifests_up_to_date,
    save_options,
    write_csv_atomic,
    write_manifest,
)

logger = logging.getLogger(__name__)

COLUMNS = ["ID", "duration", "wav", "spk_id"]
OPTIONS_FILE = "voxceleb1_prepare.json"
TRIAL_LIST = "veri_test2.txt"
TRIAL_LIST_URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/veri_test2.txt"
LAYOUT = "VoxCeleb1 as distributed, dev and test merged: <data_folder>/wav/<speaker>/<video>/<nnnnn>.wav"


def utterance_id(relative_path: str) -> str:
    """The utterance ID of a path relative to ``wav/``.

    Example
    -------
    >>> utterance_id("id10270/x6uYqmx31kE/00001.wav")
    'id10270-x6uYqmx31kE-00001'
    """
    return relative_path.removesuffix(".wav").replace("/", "-")


def read_trial_list(path: str | Path) -> list[tuple[int, str, str]]:
    """Reads a VoxCeleb trial list (``<1|0> <enrol path> <test path>`` per line).

    Arguments
    ---------
    path : str or Path
        The trial list, e.g. veri_test2.txt.

    Returns
    -------
    list of tuple
        (label, enrol path, test path), paths relative to ``wav/``.

    Example
    -------
    >>> trials = getfixture("tmp_path") / "veri_test2.txt"
    >>> _ = trials.write_text("1 id1/v1/00001.wav id1/v2/00001.wav\\n0 id1/v1/00001.wav id2/v3/00002.wav\\n")
    >>> read_trial_list(trials)[1]
    (0, 'id1/v1/00001.wav', 'id2/v3/00002.wav')
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"trial list {path} not found; download {TRIAL_LIST_URL} and set verification_file to it"
        )
    trials = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or parts[0] not in ("0", "1") or not all(p.endswith(".wav") for p in parts[1:]):
            raise ValueError(
                f"{path}:{number}: expected '<1|0> <spk>/<video>/<nnnnn>.wav <spk>/<video>/<nnnnn>.wav', "
                f"got {line.strip()!r}; give a VoxCeleb1 trial list such as {TRIAL_LIST}"
            )
        trials.append((int(parts[0]), parts[1], parts[2]))
    if not trials:
        raise ValueError(f"{path} holds no trials; give a VoxCeleb1 trial list such as {TRIAL_LIST}")
    return trials


def _speaker_files(wav_dir: Path) -> dict[str, list[str]]:
    """{speaker: sorted paths relative to wav/} of every ``<speaker>/<video>/*.wav``."""
    if not wav_dir.is_dir():
        raise FileNotFoundError(
            f"{wav_dir} not found (expected {LAYOUT}); point data_folder at the folder holding wav/"
        )
    files = defaultdict(list)
    for path in sorted(wav_dir.glob("*/*/*.wav")):
        files[path.parent.parent.name].append(path.relative_to(wav_dir).as_posix())
    if not files:
        raise FileNotFoundError(f"{wav_dir} holds no <speaker>/<video>/*.wav (expected {LAYOUT})")
    return files


def _candidates(wav_dir: Path, relative_paths: list[str]) -> list[Candidate]:
    """One candidate per path relative to wav/; the speaker is its first folder."""
    return [
        Candidate(ID=utterance_id(rel), path=wav_dir / rel, fields={"spk_id": rel.split("/")[0]})
        for rel in relative_paths
    ]


def prepare_voxceleb1(
    data_folder: str | Path,
    save_folder: str | Path,
    verification_file: str | Path | None = None,
    valid_fraction: float = 0.02,
    trials_per_utterance: int = 5,
    seed: int = 1234,
    skip_prep: bool = False,
    num_workers: int | None = None,
) -> dict[str, Path]:
    """Writes VoxCeleb1's train / valid / test manifests and the valid / test trials.

    Arguments
    ---------
    data_folder : str or Path
        The folder holding ``wav/`` (VoxCeleb1 dev and test parts merged).
    save_folder : str or Path
        Where the manifests go.
    verification_file : str or Path, optional
        The official trial list; default ``<data_folder>/veri_test2.txt``.
    valid_fraction : float
        Share of the training speakers held out for validation (at least 2 speakers).
    trials_per_utterance : int
        Validation trials per utterance (see :func:`~efficient_ssl.data.labels.make_trials`).
    seed : int
        Seed of the validation speakers and trials.
    skip_prep : bool
        If True, do nothing and return the paths.
    num_workers : int, optional
        Threads checking audio files.

    Returns
    -------
    dict
        {"train", "valid", "valid_trials", "test", "test_trials": path}.

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmp_path") / "voxceleb1"
    >>> for spk in ["id10001", "id10002", "id10003", "id10004", "id10005", "id10006"]:
    ...     for video in ["aaa", "b-b"]:
    ...         (root / "wav" / spk / video).mkdir(parents=True)
    ...         soundfile.write(root / "wav" / spk / video / "00001.wav", numpy.zeros(8000), 16000)
    >>> trials = ["1 id10001/aaa/00001.wav id10001/b-b/00001.wav", "0 id10001/aaa/00001.wav id10002/aaa/00001.wav"]
    >>> _ = (root / "veri_test2.txt").write_text("\\n".join(trials) + "\\n")
    >>> csvs = prepare_voxceleb1(root, root / "manifests")
    >>> print(csvs["test_trials"].read_text(), end="")
    label,enrol,test
    1,id10001-aaa-00001,id10001-b-b-00001
    0,id10001-aaa-00001,id10002-aaa-00001
    >>> print(csvs["test"].read_text().splitlines()[1])
    id10001-aaa-00001,0.5,$data_root/wav/id10001/aaa/00001.wav,id10001
    >>> import csv
    >>> speakers = {s: {row["spk_id"] for row in csv.DictReader(open(csvs[s]))} for s in ("train", "valid")}
    >>> len(speakers["train"]), len(speakers["valid"]), sorted(speakers["train"] | speakers["valid"])[0]
    (2, 2, 'id10003')
    """
    data_folder, save_folder = Path(data_folder).resolve(), Path(save_folder)
    paths = {name: save_folder / f"{name}.csv" for name in ("train", "valid", "valid_trials", "test", "test_trials")}
    if skip_prep:
        return paths
    if not 0 < valid_fraction < 1:
        raise ValueError(f"valid_fraction={valid_fraction}: give a share of the training speakers in (0, 1)")
    verification_file = Path(verification_file or data_folder / TRIAL_LIST).resolve()
    wav_dir = data_folder / "wav"
    options = {
        "data_folder": str(data_folder),
        "verification_file": str(verification_file),
        "valid_fraction": valid_fraction,
        "trials_per_utterance": trials_per_utterance,
        "seed": seed,
    }
    options_path = save_folder / OPTIONS_FILE
    trial_list = read_trial_list(verification_file)
    if manifests_up_to_date(options_path, options, paths.values()):
        return paths
    options_path.unlink(missing_ok=True)  # an interrupted run must not look finished
    files = _speaker_files(wav_dir)
    test_paths = sorted({rel for _, enrol, test in trial_list for rel in (enrol, test)})
    test_speakers = {rel.split("/")[0] for rel in test_paths}
    train_speakers = sorted(files.keys() - test_speakers)
    n_valid = max(2, round(valid_fraction * len(train_speakers)))
    if len(train_speakers) < n_valid + 2:
        raise ValueError(
            f"{wav_dir} has {len(train_speakers)} speakers outside {verification_file.name}; at least "
            f"{n_valid + 2} are needed (2 to train, {n_valid} to validate): merge the dev part into wav/"
        )
    valid_speakers = set(random.Random(seed).sample(train_speakers, n_valid))
    split_paths = {
        "train": [rel for spk in train_speakers if spk not in valid_speakers for rel in files[spk]],
        "valid": [rel for spk in sorted(valid_speakers) for rel in files[spk]],
        "test": test_paths,
    }
    rows = {
        split: write_manifest(_candidates(wav_dir, rels), data_folder, paths[split], COLUMNS, num_workers)
        for split, rels in split_paths.items()
    }
    valid_trials = make_trials({row["ID"]: row["spk_id"] for row in rows["valid"]}, trials_per_utterance, seed)
    write_csv_atomic(paths["valid_trials"], valid_trials, TRIAL_COLUMNS)
    kept = {row["ID"] for row in rows["test"]}
    test_trials = [
        {"label": label, "enrol": utterance_id(enrol), "test": utterance_id(test)}
        for label, enrol, test in trial_list
        if utterance_id(enrol) in kept and utterance_id(test) in kept
    ]
    if len(test_trials) < len(trial_list):
        logger.warning(
            "%s: dropped %d of %d trials whose audio was skipped (see %s)",
            verification_file.name, len(trial_list) - len(test_trials), len(trial_list),
            paths["test"].with_name("test_skipped.csv"),
        )
    write_csv_atomic(paths["test_trials"], test_trials, TRIAL_COLUMNS)
    logger.info(
        "VoxCeleb1: %d training speakers, %d validation speakers (%d trials), %d test trials",
        len(train_speakers) - n_valid, n_valid, len(valid_trials), len(test_trials),
    )
    save_options(options_path, options)
    return paths
