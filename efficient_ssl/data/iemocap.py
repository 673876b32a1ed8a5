"""IEMOCAP preparation for emotion probes: the 4-class leave-one-session-out setup of MP3S / SUPERB.

Reads the corpus as distributed (``IEMOCAP_full_release``)::

    <data_folder>/Session{1..5}/sentences/wav/<dialog>/<utterance>.wav
    <data_folder>/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt

where each evaluated turn of an EmoEvaluation file is a line
``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]`` (the header and
the annotators' lines, ``C-E1: ...``, are ignored). Keeps four classes: neu, hap (with exc merged
into it), ang and sad; the other labels (fru, sur, fea, dis, oth, xxx) are dropped. Writes, in
``save_folder`` (columns ID, duration, wav, spk_id, emotion; wav as ``$data_root/Session...``):

- ``test.csv``: every kept utterance of ``Session{test_session}`` (one fold of the 5-fold
  leave-one-session-out evaluation; run the recipe once per session and average);
- ``valid.csv``: ``valid_fraction`` of the other sessions' utterances, drawn with ``seed``;
- ``train.csv``: the rest of the other sessions.

The validation set shares its speakers with the training set: IEMOCAP has two speakers per
session, so holding out speakers would leave too few to train on; the test session's
speakers are never seen in training. spk_id is the session and the speaker's gender
(``Ses01F``), from the last part of the utterance name. Idempotent: the options are saved in
``iemocap_prepare.json``.

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

from efficient_ssl.data.manifest import Candidate, manifests_up_to_date, save_options, write_manifest

logger = logging.getLogger(__name__)

COLUMNS = ["ID", "duration", "wav", "spk_id", "emotion"]
OPTIONS_FILE = "iemocap_prepare.json"
SESSIONS = (1, 2, 3, 4, 5)
# IEMOCAP label -> class of the 4-class setup (exc merged into hap); other labels are dropped.
EMOTIONS = {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"}
TURN = re.compile(r"\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(\S+)\s+(\S+)\s+\[")
LAYOUT = (
    "IEMOCAP as distributed: <data_folder>/Session{1..5}/sentences/wav/<dialog>/*.wav "
    "and <data_folder>/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt"
)


def read_emo_evaluation(path: str | Path) -> dict[str, str]:
    """Reads the turn lines of one EmoEvaluation file into {utterance: IEMOCAP label}.

    Arguments
    ---------
    path : str or Path
        ``Session<n>/dialog/EmoEvaluation/<dialog>.txt``.

    Returns
    -------
    dict
        {utterance name: label as written (neu, exc, fru, ...)}, in file order.

    Example
    -------
    >>> path = getfixture("tmp_path") / "Ses01F_impro01.txt"
    >>> lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", "",
    ...          "[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5000, 2.5000, 2.5000]",
    ...          "C-E2:\\tNeutral;\\t()", "[10.01 - 11.3925]\\tSes01F_impro01_M001\\texc\\t[3.0, 3.5, 3.0]"]
    >>> _ = path.write_text("\\n".join(lines) + "\\n")
    >>> read_emo_evaluation(path)
    {'Ses01F_impro01_F000': 'neu', 'Ses01F_impro01_M001': 'exc'}
    """
    labels = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.startswith("["):
            continue
        match = TURN.match(line)
        if match is None:
            raise ValueError(
                f"{path}:{number}: expected '[start - end]<TAB>utterance<TAB>label<TAB>[V, A, D]', "
                f"got {line.strip()!r}; give the EmoEvaluation files of IEMOCAP as distributed"
            )
        labels[match.group(1)] = match.group(2)
    return labels


def _session_candidates(data_folder: Path, session: int) -> list[Candidate]:
    """The utterances of one session with a label of the 4-class setup, by dialog and name."""
    session_dir = data_folder / f"Session{session}"
    labels_dir = session_dir / "dialog" / "EmoEvaluation"
    if not labels_dir.is_dir():
        hint = "point data_folder at the IEMOCAP_full_release folder"
        if (data_folder / "IEMOCAP_full_release" / f"Session{session}").is_dir():
            hint = f"use data_folder={data_folder / 'IEMOCAP_full_release'}"
        raise FileNotFoundError(f"{labels_dir} not found (expected {LAYOUT}); {hint}")
    candidates = []
    for labels_file in sorted(labels_dir.glob("*.txt")):
        if labels_file.name.startswith("."):  # macOS resource forks ("._Ses01F_impro01.txt")
            continue
        dialog = labels_file.stem
        for utt, label in read_emo_evaluation(labels_file).items():
            if label not in EMOTIONS:
                continue
            speaker = f"{utt[:5]}{utt.rsplit('_', 1)[-1][0]}"  # Ses01F_impro01_M000 -> Ses01M
            path = session_dir / "sentences" / "wav" / dialog / f"{utt}.wav"
            candidates.append(Candidate(ID=utt, path=path, fields={"spk_id": speaker, "emotion": EMOTIONS[label]}))
    if not candidates:
        raise ValueError(
            f"{labels_dir} holds no utterance labelled {'/'.join(EMOTIONS)}; check the EmoEvaluation files"
        )
    return candidates


def prepare_iemocap(
    data_folder: str | Path,
    save_folder: str | Path,
    test_session: int = 1,
    valid_fraction: float = 0.2,
    seed: int = 1234,
    skip_prep: bool = False,
    num_workers: int | None = None,
) -> dict[str, Path]:
    """Writes IEMOCAP's train / valid / test manifests for one leave-one-session-out fold.

    Arguments
    ---------
    data_folder : str or Path
        The IEMOCAP folder holding Session1/ ... Session5/.
    save_folder : str or Path
        Where the manifests go.
    test_session : int
        The session tested (1 to 5); the others train and validate.
    valid_fraction : float
        Share of the other sessions' utterances held out for validation.
    seed : int
        Seed of the validation draw.
    skip_prep : bool
        If True, do nothing and return the paths.
    num_workers : int, optional
        Threads checking audio files.

    Returns
    -------
    dict
        {"train", "valid", "test": path}.

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmp_path") / "IEMOCAP_full_release"
    >>> for n in range(1, 6):
    ...     dialog = f"Ses0{n}F_impro01"
    ...     wavs = root / f"Session{n}" / "sentences" / "wav" / dialog
    ...     wavs.mkdir(parents=True)
    ...     (root / f"Session{n}" / "dialog" / "EmoEvaluation").mkdir(parents=True)
    ...     lines = []
    ...     for k, label in enumerate(["neu", "exc", "fru", "ang", "sad"]):
    ...         utt = f"{dialog}_{'FM'[k % 2]}00{k}"
    ...         soundfile.write(wavs / f"{utt}.wav", numpy.zeros(8000), 16000)
    ...         lines.append(f"[{k}.0 - {k}.5]\\t{utt}\\t{label}\\t[2.5, 2.5, 2.5]")
    ...     _ = (root / f"Session{n}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\\n".join(lines))
    >>> csvs = prepare_iemocap(root, root.parent / "manifests", test_session=2)
    >>> print(csvs["test"].read_text(), end="")
    ID,duration,wav,spk_id,emotion
    Ses02F_impro01_F000,0.5,$data_root/Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_F000.wav,Ses02F,neu
    Ses02F_impro01_M001,0.5,$data_root/Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_M001.wav,Ses02M,hap
    Ses02F_impro01_M003,0.5,$data_root/Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_M003.wav,Ses02M,ang
    Ses02F_impro01_F004,0.5,$data_root/Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_F004.wav,Ses02F,sad
    >>> [len(csvs[split].read_text().splitlines()) - 1 for split in ("train", "valid")]
    [13, 3]
    """
    data_folder, save_folder = Path(data_folder).resolve(), Path(save_folder)
    paths = {split: save_folder / f"{split}.csv" for split in ("train", "valid", "test")}
    if skip_prep:
        return paths
    if test_session not in SESSIONS:
        raise ValueError(f"test_session={test_session}: IEMOCAP has sessions 1 to 5; choose one of them")
    if not 0 < valid_fraction < 1:
        raise ValueError(f"valid_fraction={valid_fraction}: give a share of the training utterances in (0, 1)")
    options = {
        "data_folder": str(data_folder),
        "test_session": test_session,
        "valid_fraction": valid_fraction,
        "seed": seed,
    }
    options_path = save_folder / OPTIONS_FILE
    if manifests_up_to_date(options_path, options, paths.values()):
        return paths
    options_path.unlink(missing_ok=True)  # an interrupted run must not look finished
    sessions = {session: _session_candidates(data_folder, session) for session in SESSIONS}
    others = [c for session, found in sessions.items() if session != test_session for c in found]
    valid_ids = {c.ID for c in random.Random(seed).sample(others, round(valid_fraction * len(others)))}
    splits = {
        "train": [c for c in others if c.ID not in valid_ids],
        "valid": [c for c in others if c.ID in valid_ids],
        "test": sessions[test_session],
    }
    for split, candidates in splits.items():
        rows = write_manifest(candidates, data_folder, paths[split], COLUMNS, num_workers)
        counts = {label: sum(row["emotion"] == label for row in rows) for label in sorted(set(EMOTIONS.values()))}
        logger.info("IEMOCAP %s (test session %d): %s", split, test_session, counts)
    save_options(options_path, options)
    return paths
