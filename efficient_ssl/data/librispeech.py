"""LibriSpeech preparation: one SpeechBrain CSV manifest per split.

Reads the corpus as distributed::

    <data_folder>/<split>/<spk>/<chap>/<spk>-<chap>-<utt>.flac
    <data_folder>/<split>/<spk>/<chap>/<spk>-<chap>.trans.txt   (lines "<ID> <TEXT>")

and writes ``<save_folder>/<split>.csv`` with columns ID, duration, wav, spk_id,
wrd (wav as ``$data_root/<split>/...``), plus ``<split>_skipped.csv`` listing
every utterance left out and why: missing or unreadable audio, audio without
a transcript line, empty transcript. Idempotent: the options are saved in
``<save_folder>/librispeech_prepare.json`` and a second call with the same
options does nothing.

Authors
 * efficient_ssl contributors
"""

import logging
from pathlib import Path
from typing import Sequence

from efficient_ssl.data.manifest import Candidate, manifests_up_to_date, save_options, write_manifest
from efficient_ssl.data.text import normalize_text

logger = logging.getLogger(__name__)

COLUMNS = ["ID", "duration", "wav", "spk_id", "wrd"]
OPTIONS_FILE = "librispeech_prepare.json"
LAYOUT = "LibriSpeech as distributed: <data_folder>/<split>/<spk>/<chap>/*.flac"


def _check_layout(data_folder: Path, splits: Sequence[str]) -> None:
    """Raises a one-line FileNotFoundError when a split folder is missing."""
    for split in splits:
        if (data_folder / split).is_dir():
            continue
        hint = "point data_folder at the LibriSpeech folder"
        if (data_folder / "LibriSpeech" / split).is_dir():
            hint = f"use data_folder={data_folder / 'LibriSpeech'}"
        raise FileNotFoundError(f"data_folder={data_folder} has no {split}/ (expected {LAYOUT}); {hint}")


def _read_transcripts(chapter_dir: Path) -> dict[str, str]:
    """Reads every ``*.trans.txt`` of a chapter folder into {ID: raw text}."""
    transcripts = {}
    for trans_file in sorted(chapter_dir.glob("*.trans.txt")):
        for line in trans_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                utt_id, _, text = line.strip().partition(" ")
                transcripts[utt_id] = text
    return transcripts


def _split_candidates(split_dir: Path) -> list[Candidate]:
    """Lists every utterance of one split (from transcripts and .flac files), by speaker, chapter, ID."""
    candidates = []
    for spk_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        for chapter_dir in sorted(p for p in spk_dir.iterdir() if p.is_dir()):
            transcripts = _read_transcripts(chapter_dir)
            flacs = {flac.name.removesuffix(".flac") for flac in chapter_dir.glob("*.flac")}
            for utt_id in sorted(transcripts.keys() | flacs):
                words = normalize_text(transcripts.get(utt_id, ""), "en")
                problem = None if words else "empty transcript"
                if utt_id not in transcripts:
                    problem = "no transcript line"
                candidates.append(
                    Candidate(
                        ID=utt_id,
                        path=chapter_dir / f"{utt_id}.flac",
                        fields={"spk_id": spk_dir.name, "wrd": words},
                        problem=problem,
                    )
                )
    return candidates


def prepare_librispeech(
    data_folder: str | Path,
    save_folder: str | Path,
    splits: Sequence[str] = ("train-clean-100", "dev-clean", "test-clean"),
    skip_prep: bool = False,
    num_workers: int | None = None,
) -> dict[str, Path]:
    """Writes ``<save_folder>/<split>.csv`` for each LibriSpeech split.

    Arguments
    ---------
    data_folder : str or Path
        The LibriSpeech folder (holding train-clean-100/, dev-clean/, ...).
    save_folder : str or Path
        Where manifests, bad-file reports and the saved options go.
    splits : sequence of str
        Split folders to prepare, e.g. ("train-clean-100", "train-clean-360",
        "train-other-500", "dev-clean", "test-clean", "test-other").
    skip_prep : bool
        If True, do nothing and return the manifest paths.
    num_workers : int, optional
        Threads checking audio files; default min(8, number of CPUs).

    Returns
    -------
    dict
        {split: manifest path}.

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmp_path") / "LibriSpeech"
    >>> chapter = root / "dev-clean" / "84" / "121123"
    >>> chapter.mkdir(parents=True)
    >>> soundfile.write(chapter / "84-121123-0000.flac", numpy.zeros(16000), 16000)
    >>> _ = (chapter / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\\n")
    >>> csvs = prepare_librispeech(root, root.parent / "manifests", splits=["dev-clean"])
    >>> print(csvs["dev-clean"].read_text(), end="")
    ID,duration,wav,spk_id,wrd
    84-121123-0000,1.0,$data_root/dev-clean/84/121123/84-121123-0000.flac,84,GO DO YOU HEAR
    """
    data_folder, save_folder = Path(data_folder).resolve(), Path(save_folder)
    manifests = {split: save_folder / f"{split}.csv" for split in splits}
    if skip_prep:
        return manifests
    _check_layout(data_folder, splits)
    options = {"data_folder": str(data_folder), "splits": list(splits)}
    options_path = save_folder / OPTIONS_FILE
    if manifests_up_to_date(options_path, options, manifests.values()):
        return manifests
    options_path.unlink(missing_ok=True)  # an interrupted run must not look finished
    for split, csv_path in manifests.items():
        logger.info("Preparing LibriSpeech %s", split)
        write_manifest(_split_candidates(data_folder / split), data_folder, csv_path, COLUMNS, num_workers)
    save_options(options_path, options)
    return manifests
