"""LibriSpeech preparation: one SpeechBrain CSV manifest per split.

Reads the corpus as distributed::

    <data_folder>/<split>/<spk>/<chap>/<spk>-<chap>-<utt>.flac
    <data_folder>/<split>/<spk>/<chap>/<spk>-<chap>.trans.txt   (lines "<ID> <TEXT>")

and writes ``<save_folder>/<split>.csv`` with columns ID, duration, wav, spk_id,
wrd (wav as ``$data_root/<split>/...``), plus ``<split>_skipped.csv`` listing
every utterance left out and why: missing, empty, unreadable or truncated
audio, NaN / Inf samples, audio without a transcript line, empty transcript, a
transcript line that is not UTF-8 (named by file and line number), an ID
repeated in a transcript file or in an earlier split of the same call (the
first one is kept). Audio in another sample rate or channel count is kept
(``read_audio`` resamples and downmixes) and named in a warning. Idempotent:
the options are saved in ``<save_folder>/librispeech_prepare.json`` and a
second call with the same options does nothing.

Authors
 * efficient_ssl contributors
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class Transcripts:
    """The transcript lines of one chapter folder.

    Arguments
    ---------
    texts : dict
        {ID: raw text} of the first usable line of each ID.
    problems : list of (str, str)
        (ID, reason) of every line that cannot be used: not UTF-8, or a repeated ID.
    """

    texts: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)


def _read_transcripts(chapter_dir: Path) -> Transcripts:
    """Reads every ``*.trans.txt`` of a chapter folder, line by line.

    A line that is not UTF-8 is reported (file, line number, the fix) rather than
    failing the whole preparation; a repeated ID is reported and its first line kept.
    """
    transcripts = Transcripts()
    first_line: dict[str, str] = {}
    for trans_file in sorted(chapter_dir.glob("*.trans.txt")):
        for number, raw in enumerate(trans_file.read_bytes().splitlines(), start=1):
            where = f"{trans_file.name} line {number}"
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                utt_id = raw.strip().partition(b" ")[0].decode("ascii", errors="replace")
                reason = (
                    f"transcript not UTF-8: {where} (byte 0x{raw[error.start]:02x} at column {error.start + 1}); "
                    f"re-save {trans_file.name} as UTF-8"
                )
                transcripts.problems.append((utt_id, reason))
                continue
            if not line:
                continue
            utt_id, _, text = line.partition(" ")
            if utt_id in first_line:
                transcripts.problems.append((utt_id, f"duplicate ID: {where} repeats {first_line[utt_id]}, which is used"))
                continue
            first_line[utt_id] = where
            transcripts.texts[utt_id] = text
    return transcripts


def _chapter_candidates(spk: str, chapter_dir: Path) -> list[Candidate]:
    """Lists the utterances of one chapter (from its transcripts and .flac files), by ID."""
    transcripts = _read_transcripts(chapter_dir)
    line_problems = dict(reversed(transcripts.problems))  # first problem of each ID
    flacs = {flac.name.removesuffix(".flac") for flac in chapter_dir.glob("*.flac")}
    candidates = []
    for utt_id in sorted(transcripts.texts.keys() | flacs | line_problems.keys()):
        words = normalize_text(transcripts.texts.get(utt_id, ""), "en")
        problem = None if words else "empty transcript"
        if utt_id not in transcripts.texts:
            problem = line_problems.get(utt_id, "no transcript line")
        path = chapter_dir / f"{utt_id}.flac"
        candidates.append(Candidate(ID=utt_id, path=path, fields={"spk_id": spk, "wrd": words}, problem=problem))
    # Every other unusable line (repeats, more bad lines of an ID) is listed as skipped too.
    for utt_id, reason in transcripts.problems:
        if utt_id in transcripts.texts or line_problems.get(utt_id) != reason:
            path = chapter_dir / f"{utt_id}.flac"
            candidates.append(Candidate(ID=utt_id, path=path, fields={"spk_id": spk, "wrd": ""}, problem=reason))
    return candidates


def _split_candidates(split_dir: Path) -> list[Candidate]:
    """Lists every utterance of one split, by speaker, chapter, ID."""
    candidates = []
    for spk_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        for chapter_dir in sorted(p for p in spk_dir.iterdir() if p.is_dir()):
            candidates.extend(_chapter_candidates(spk_dir.name, chapter_dir))
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
    seen_ids: dict[str, str] = {}  # an ID kept in an earlier split is a duplicate in a later one
    for split, csv_path in manifests.items():
        logger.info("Preparing LibriSpeech %s", split)
        candidates = _split_candidates(data_folder / split)
        write_manifest(candidates, data_folder, csv_path, COLUMNS, num_workers, seen_ids=seen_ids)
    save_options(options_path, options)
    return manifests
