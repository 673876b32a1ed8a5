"""Manifests of the mini corpus's utterance labels: speaker, prosody "emotion", intent.

The synthesised mini corpus (``efficient_ssl.data.synth``) writes ``<data_folder>/labels.csv``
(ID, corpus, split, spk_id, emotion, intent, text) beside ``LibriSpeech/``. For each LibriSpeech
split this writes, in ``save_folder``:

- ``<split>.csv``: ID, duration, wav, spk_id, emotion, intent, wrd (every utterance; wav as
  ``$data_root/LibriSpeech/...``, so ``data_folder`` is the mini corpus root);
- ``<split>_commands.csv``: the same columns, only the spoken commands (intent not "none"),
  like SLURP, which holds commands only;
- ``<split>_trials.csv``: speaker verification trials (label, enrol, test; label 1 = same
  speaker), ``trials_per_utterance`` same-speaker and as many different-speaker tests per
  utterance, drawn with a fixed seed, as VoxCeleb1's trial list does for its test speakers;

plus the ``*_skipped.csv`` reports of :func:`efficient_ssl.data.manifest.write_manifest`.
Idempotent: the options are saved in ``labels_prepare.json``.

The real corpora these tasks stand for are prepared by :mod:`efficient_ssl.data.voxceleb`
(VoxCeleb1), :mod:`efficient_ssl.data.iemocap` (IEMOCAP) and :mod:`efficient_ssl.data.slurp`
(SLURP), for the recipes ``recipes/{VoxCeleb1,IEMOCAP,SLURP}/probe``.

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import csv
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from efficient_ssl.data.manifest import (
    Candidate,
    manifests_up_to_date,
    save_options,
    write_csv_atomic,
    write_manifest,
)

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.csv"
OPTIONS_FILE = "labels_prepare.json"
COLUMNS = ["ID", "duration", "wav", "spk_id", "emotion", "intent", "wrd"]
TRIAL_COLUMNS = ["label", "enrol", "test"]
NO_INTENT = "none"


def _read_labels(labels_csv: Path, splits: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """{split: rows of labels.csv} for the LibriSpeech rows of the wanted splits."""
    if not labels_csv.is_file():
        raise FileNotFoundError(
            f"{labels_csv} not found; point data_folder at a mini corpus made by tools/synthesize_corpus.py"
        )
    rows: dict[str, list[dict[str, str]]] = {split: [] for split in splits}
    with open(labels_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["corpus"] == "LibriSpeech" and row["split"] in rows:
                rows[row["split"]].append(row)
    for split, found in rows.items():
        if not found:
            raise ValueError(f"{labels_csv} has no LibriSpeech rows of split {split}; choose splits it holds")
    return rows


def _candidates(data_folder: Path, rows: list[dict[str, str]]) -> list[Candidate]:
    """One candidate per labels.csv row; the audio is LibriSpeech/<split>/<spk>/<chap>/<ID>.flac."""
    candidates = []
    for row in rows:
        speaker, chapter = row["ID"].split("-")[:2]
        path = data_folder / "LibriSpeech" / row["split"] / speaker / chapter / f"{row['ID']}.flac"
        fields = {"spk_id": row["spk_id"], "emotion": row["emotion"], "intent": row["intent"], "wrd": row["text"]}
        candidates.append(Candidate(ID=row["ID"], path=path, fields=fields))
    return candidates


def make_trials(speakers: dict[str, str], per_utterance: int, seed: int) -> list[dict[str, int | str]]:
    """Verification trials: for every utterance, same- and different-speaker tests drawn at random.

    Arguments
    ---------
    speakers : dict
        {utterance ID: speaker}.
    per_utterance : int
        Same-speaker trials per enrolment utterance (fewer if the speaker has fewer other
        utterances), and as many different-speaker ones.
    seed : int
        Seed of the draw.

    Returns
    -------
    list of dict
        Rows {label, enrol, test}, no pair twice (in either order).

    Example
    -------
    >>> trials = make_trials({"a1": "a", "a2": "a", "b1": "b", "b2": "b"}, per_utterance=1, seed=0)
    >>> sum(t["label"] for t in trials), len(trials) > 2
    (2, True)
    >>> all((t["enrol"][0] == t["test"][0]) == bool(t["label"]) for t in trials)
    True
    """
    rng = random.Random(seed)
    by_speaker = defaultdict(list)
    for utt, spk in sorted(speakers.items()):
        by_speaker[spk].append(utt)
    utterances = sorted(speakers)
    trials, seen = [], set()
    for enrol in utterances:
        same = [u for u in by_speaker[speakers[enrol]] if u != enrol]
        other = [u for u in utterances if speakers[u] != speakers[enrol]]
        picks = [(1, u) for u in rng.sample(same, min(per_utterance, len(same)))]
        picks += [(0, u) for u in rng.sample(other, min(per_utterance, len(other)))]
        for label, test in picks:
            pair = frozenset((enrol, test))
            if pair not in seen:
                seen.add(pair)
                trials.append({"label": label, "enrol": enrol, "test": test})
    return trials


def prepare_mini_labels(
    data_folder: str | Path,
    save_folder: str | Path,
    splits: Sequence[str] = ("train-clean-100", "dev-clean", "test-clean"),
    trials_per_utterance: int = 5,
    seed: int = 1234,
    skip_prep: bool = False,
    num_workers: int | None = None,
) -> dict[str, Path]:
    """Writes the label manifests and trials of the mini corpus's LibriSpeech splits.

    Arguments
    ---------
    data_folder : str or Path
        The mini corpus root (holding labels.csv and LibriSpeech/).
    save_folder : str or Path
        Where the manifests go.
    splits : sequence of str
        LibriSpeech splits (train-clean-100, train-clean-360, dev-clean, test-clean).
    trials_per_utterance : int
        See :func:`make_trials`.
    seed : int
        Seed of the trials.
    skip_prep : bool
        If True, do nothing and return the paths.
    num_workers : int, optional
        Threads checking audio files.

    Returns
    -------
    dict
        {"<split>", "<split>_commands", "<split>_trials": path}.

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmp_path") / "mini"
    >>> chapter = root / "LibriSpeech" / "dev-clean" / "7" / "1"
    >>> chapter.mkdir(parents=True)
    >>> lines = ["ID,corpus,split,spk_id,emotion,intent,text"]
    >>> for n, intent in enumerate(["none", "alarm_set"]):
    ...     soundfile.write(chapter / f"7-1-000{n}.flac", numpy.zeros(8000), 16000)
    ...     lines.append(f"7-1-000{n},LibriSpeech,dev-clean,7,loud,{intent},WAKE ME UP")
    >>> _ = (root / "labels.csv").write_text("\\n".join(lines) + "\\n")
    >>> csvs = prepare_mini_labels(root, root / "manifests", splits=["dev-clean"])
    >>> print(csvs["dev-clean_commands"].read_text(), end="")
    ID,duration,wav,spk_id,emotion,intent,wrd
    7-1-0001,0.5,$data_root/LibriSpeech/dev-clean/7/1/7-1-0001.flac,7,loud,alarm_set,WAKE ME UP
    >>> print(csvs["dev-clean_trials"].read_text(), end="")
    label,enrol,test
    1,7-1-0000,7-1-0001
    """
    data_folder, save_folder = Path(data_folder).resolve(), Path(save_folder)
    paths = {}
    for split in splits:
        for suffix in ("", "_commands", "_trials"):
            paths[f"{split}{suffix}"] = save_folder / f"{split}{suffix}.csv"
    if skip_prep:
        return paths
    labels = _read_labels(data_folder / LABELS_FILE, splits)
    options = {
        "data_folder": str(data_folder),
        "splits": list(splits),
        "trials_per_utterance": trials_per_utterance,
        "seed": seed,
    }
    options_path = save_folder / OPTIONS_FILE
    if manifests_up_to_date(options_path, options, paths.values()):
        return paths
    options_path.unlink(missing_ok=True)  # an interrupted run must not look finished
    for split in splits:
        rows = write_manifest(_candidates(data_folder, labels[split]), data_folder, paths[split], COLUMNS, num_workers)
        commands = [row for row in rows if row["intent"] != NO_INTENT]
        write_csv_atomic(paths[f"{split}_commands"], commands, COLUMNS)
        trials = make_trials({row["ID"]: row["spk_id"] for row in rows}, trials_per_utterance, seed)
        write_csv_atomic(paths[f"{split}_trials"], trials, TRIAL_COLUMNS)
        logger.info("%s: %d utterances, %d commands, %d trials", split, len(rows), len(commands), len(trials))
    save_options(options_path, options)
    return paths
