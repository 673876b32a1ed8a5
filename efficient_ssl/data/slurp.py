"""SLURP preparation for intent probes: one manifest row per recording.

Reads the corpus as distributed (the SLURP repository with its audio downloaded into it)::

    <data_folder>/dataset/slurp/{train,devel,test}.jsonl   (and train_synthetic.jsonl)
    <data_folder>/audio/slurp_real/*.flac                    (and audio/slurp_synth/*.flac)

Each jsonl line is one utterance: a JSON object with "slurp_id", "sentence", "intent" (e.g.
``alarm_set``) and "recordings", a list of {"file": "audio-1490200766-headset.flac", ...}: the
same sentence read once or several times, close-talk (``-headset``) and far-field. Writes
``<save_folder>/<split>.csv`` with columns ID (the recording's file name without extension),
duration, wav (``$data_root/audio/slurp_real/...``), slurp_id, intent, wrd (the sentence,
normalised by :func:`~efficient_ssl.data.text.normalize_text`), one row per recording, plus
``<split>_skipped.csv``. With ``train_synthetic=True``, ``train.csv`` also holds the recordings
of ``train_synthetic.jsonl`` (from ``audio/slurp_synth``). Idempotent through ``slurp_prepare.json``.

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from efficient_ssl.data.manifest import Candidate, manifests_up_to_date, save_options, write_manifest
from efficient_ssl.data.text import normalize_text

logger = logging.getLogger(__name__)

COLUMNS = ["ID", "duration", "wav", "slurp_id", "intent", "wrd"]
OPTIONS_FILE = "slurp_prepare.json"
REQUIRED_KEYS = ("slurp_id", "sentence", "intent", "recordings")
LAYOUT = (
    "SLURP as distributed: <data_folder>/dataset/slurp/<split>.jsonl "
    "and the audio in <data_folder>/audio/slurp_real/ (slurp_synth/ for train_synthetic)"
)


def read_jsonl(jsonl_path: str | Path, audio_dir: str | Path) -> list[Candidate]:
    """Turns one SLURP jsonl into candidates, one per recording, in file order.

    Arguments
    ---------
    jsonl_path : str or Path
        ``dataset/slurp/<split>.jsonl``.
    audio_dir : str or Path
        Folder of its recordings (``audio/slurp_real`` or ``audio/slurp_synth``).

    Returns
    -------
    list of Candidate
        Fields slurp_id, intent, wrd.

    Example
    -------
    >>> path = getfixture("tmp_path") / "devel.jsonl"
    >>> line = {"slurp_id": 7, "sentence": "wake me up at five am", "intent": "alarm_set",
    ...         "recordings": [{"file": "audio-1-headset.flac"}, {"file": "audio-1.flac"}]}
    >>> _ = path.write_text(json.dumps(line) + "\\n")
    >>> [(c.ID, c.fields["intent"], c.fields["wrd"]) for c in read_jsonl(path, "audio")]
    [('audio-1-headset', 'alarm_set', 'WAKE ME UP AT FIVE AM'), ('audio-1', 'alarm_set', 'WAKE ME UP AT FIVE AM')]
    """
    candidates = []
    with open(jsonl_path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{jsonl_path}:{number}: not JSON ({error}); give the jsonl files of SLURP") from None
            missing = [key for key in REQUIRED_KEYS if key not in entry]
            if missing:
                raise ValueError(
                    f"{jsonl_path}:{number}: lacks {', '.join(missing)}; give the jsonl files of SLURP ({LAYOUT})"
                )
            fields = {
                "slurp_id": str(entry["slurp_id"]),
                "intent": entry["intent"],
                "wrd": normalize_text(entry["sentence"], "en"),
            }
            for recording in entry["recordings"]:
                name = recording["file"]
                candidates.append(Candidate(ID=Path(name).stem, path=Path(audio_dir) / name, fields=fields))
    return candidates


def _check_layout(data_folder: Path, jsonls: Sequence[Path], audio_dirs: Sequence[Path]) -> None:
    """Raises a one-line FileNotFoundError naming the first missing jsonl or audio folder."""
    for needed in [*jsonls, *audio_dirs]:
        if needed.exists():
            continue
        hint = "point data_folder at the SLURP folder (a clone of github.com/pswietojanski/slurp)"
        if needed in audio_dirs:
            hint = "download the audio into it (the repository's scripts/download_audio.sh)"
            if (data_folder / needed.name).is_dir():
                hint = f"move {data_folder / needed.name} into {needed.parent}"
        raise FileNotFoundError(f"{needed} not found (expected {LAYOUT}); {hint}")


def prepare_slurp(
    data_folder: str | Path,
    save_folder: str | Path,
    splits: Sequence[str] = ("train", "devel", "test"),
    train_synthetic: bool = False,
    skip_prep: bool = False,
    num_workers: int | None = None,
) -> dict[str, Path]:
    """Writes ``<save_folder>/<split>.csv`` for each SLURP split, one row per recording.

    Arguments
    ---------
    data_folder : str or Path
        The SLURP folder (holding dataset/slurp/ and audio/).
    save_folder : str or Path
        Where manifests, bad-file reports and the saved options go.
    splits : sequence of str
        jsonl names to prepare (train, devel, test).
    train_synthetic : bool
        If True, ``train.csv`` also holds the recordings of train_synthetic.jsonl.
    skip_prep : bool
        If True, do nothing and return the manifest paths.
    num_workers : int, optional
        Threads checking audio files.

    Returns
    -------
    dict
        {split: manifest path}.

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmp_path") / "slurp"
    >>> (root / "dataset" / "slurp").mkdir(parents=True)
    >>> (root / "audio" / "slurp_real").mkdir(parents=True)
    >>> soundfile.write(root / "audio" / "slurp_real" / "audio-1490200766-headset.flac", numpy.zeros(8000), 16000)
    >>> line = {"slurp_id": 13804, "sentence": "wake me up", "intent": "alarm_set",
    ...         "recordings": [{"file": "audio-1490200766-headset.flac", "wer": 0.0}]}
    >>> _ = (root / "dataset" / "slurp" / "devel.jsonl").write_text(json.dumps(line) + "\\n")
    >>> csvs = prepare_slurp(root, root.parent / "manifests", splits=["devel"])
    >>> print(csvs["devel"].read_text(), end="")
    ID,duration,wav,slurp_id,intent,wrd
    audio-1490200766-headset,0.5,$data_root/audio/slurp_real/audio-1490200766-headset.flac,13804,alarm_set,WAKE ME UP
    """
    data_folder, save_folder = Path(data_folder).resolve(), Path(save_folder)
    manifests = {split: save_folder / f"{split}.csv" for split in splits}
    if skip_prep:
        return manifests
    jsonl_dir, audio = data_folder / "dataset" / "slurp", data_folder / "audio"
    sources = {split: [(jsonl_dir / f"{split}.jsonl", audio / "slurp_real")] for split in splits}
    if train_synthetic:
        if "train" not in sources:
            raise ValueError(f"train_synthetic=True needs 'train' in splits (got {list(splits)}); add it")
        sources["train"].append((jsonl_dir / "train_synthetic.jsonl", audio / "slurp_synth"))
    pairs = [pair for found in sources.values() for pair in found]
    _check_layout(data_folder, [jsonl for jsonl, _ in pairs], sorted({audio_dir for _, audio_dir in pairs}))
    options = {"data_folder": str(data_folder), "splits": list(splits), "train_synthetic": train_synthetic}
    options_path = save_folder / OPTIONS_FILE
    if manifests_up_to_date(options_path, options, manifests.values()):
        return manifests
    options_path.unlink(missing_ok=True)  # an interrupted run must not look finished
    for split, csv_path in manifests.items():
        candidates = [c for jsonl, audio_dir in sources[split] for c in read_jsonl(jsonl, audio_dir)]
        rows = write_manifest(candidates, data_folder, csv_path, COLUMNS, num_workers)
        logger.info("SLURP %s: %d recordings of %d intents", split, len(rows), len({row["intent"] for row in rows}))
    save_options(options_path, options)
    return manifests
