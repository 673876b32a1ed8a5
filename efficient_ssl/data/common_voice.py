"""Common Voice preparation: one SpeechBrain CSV manifest per language and split.

Reads the corpus as distributed, one folder per language::

    <data_folder>/<lang>/clips/*.mp3
    <data_folder>/<lang>/{train,dev,test}.tsv

TSV columns are read by header name (client_id, path, sentence are needed;
releases add or drop others, e.g. up_votes ... segment, variant). Writes
``<save_folder>/<lang>/<split>.csv`` with columns ID, duration, wav, spk_id,
wrd, language (wav as ``$data_root/<lang>/clips/...``; wrd normalised for the
language by :func:`~efficient_ssl.data.text.normalize_text`), plus
``<split>_skipped.csv`` beside it listing every clip left out and why
(missing, empty, unreadable or truncated audio, NaN / Inf samples, empty
sentence, a tsv line that is not UTF-8, a clip listed twice in one tsv: the
first row is kept). A tsv lacking a needed column is skipped as a whole: its
manifest is written empty, its report holds one row (ID ``*``) naming the file,
the missing column(s) and the fix, and the options are not saved, so the next
call prepares again. Clips in another sample rate or channel count are kept
(``read_audio`` resamples and downmixes) and named in a warning. With
``combine=True``, ``<save_folder>/<split>.csv`` also holds all languages
together for multilingual training. Idempotent through
``<save_folder>/common_voice_prepare.json``.

Splits are not checked against each other for repeated clips: in a release,
validated.tsv holds the clips of train, dev and test.

Authors
 * efficient_ssl contributors
"""

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

from efficient_ssl.data.manifest import (
    Candidate,
    manifests_up_to_date,
    save_options,
    write_csv_atomic,
    write_manifest,
)
from efficient_ssl.data.text import normalize_text

logger = logging.getLogger(__name__)

COLUMNS = ["ID", "duration", "wav", "spk_id", "wrd", "language"]
REQUIRED_TSV_COLUMNS = ("client_id", "path", "sentence")
OPTIONS_FILE = "common_voice_prepare.json"
LAYOUT = (
    "Common Voice as distributed: <data_folder>/<lang>/{train,dev,test}.tsv "
    "and <data_folder>/<lang>/clips/*.mp3"
)


def _check_layout(data_folder: Path, languages: Sequence[str], splits: Sequence[str]) -> None:
    """Raises a one-line FileNotFoundError when a language's tsv or clips/ is missing."""
    for lang in languages:
        for needed in [f"{split}.tsv" for split in splits] + ["clips/"]:
            if (data_folder / lang / needed).exists():
                continue
            hint = "point data_folder at the folder holding the language folders"
            releases = sorted(data_folder.glob(f"*/{lang}/clips"))
            if releases:
                hint = f"use data_folder={releases[-1].parent.parent}"
            raise FileNotFoundError(
                f"data_folder={data_folder} has no {lang}/{needed} (expected {LAYOUT}); {hint}"
            )


class TsvColumnError(ValueError):
    """A Common Voice tsv lacks a column the preparation needs (the message names file, column and fix)."""


def _decode_lines(tsv_path: Path) -> tuple[list[str], dict[int, str]]:
    """Reads a tsv as text lines, decoding each line on its own.

    Returns the lines (a line that is not UTF-8 decoded with replacement
    characters) and {line number: reason} of those lines. A UTF-8 byte order
    mark (left by some spreadsheet editors) is dropped.
    """
    lines, problems = [], {}
    raw_lines = tsv_path.read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines(keepends=True)
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            lines.append(raw.decode("utf-8", errors="replace"))
            problems[number] = (
                f"tsv line not UTF-8: {tsv_path.name} line {number} "
                f"(byte 0x{raw[error.start]:02x} at column {error.start + 1}); re-save {tsv_path.name} as UTF-8"
            )
    return lines, problems


def _read_tsv(tsv_path: Path, lang: str) -> list[Candidate]:
    """Turns one Common Voice tsv into candidates, in file order.

    Raises a one-line :class:`TsvColumnError` when a needed column is missing.
    """
    lines, problems = _decode_lines(tsv_path)
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = [column for column in REQUIRED_TSV_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise TsvColumnError(
            f"{tsv_path} lacks the column(s) {', '.join(missing)} "
            f"(header: {reader.fieldnames}); use the tsv files of a Common Voice release"
        )
    candidates = []
    for row in reader:
        clip = row["path"] or ""
        words = normalize_text(row["sentence"] or "", lang)
        candidates.append(
            Candidate(
                ID=Path(clip).stem,
                path=tsv_path.parent / "clips" / clip,
                fields={"spk_id": row["client_id"] or "", "wrd": words, "language": lang},
                problem=problems.get(reader.line_num, None if words else "empty transcript"),
            )
        )
    return candidates


def _tsv_candidates(tsv_path: Path, lang: str) -> tuple[list[Candidate], bool]:
    """Candidates of one tsv, and whether it could be read.

    A tsv lacking a needed column becomes one candidate (ID ``*``, the tsv
    itself as path) whose problem is the one-line error, logged as an error.
    """
    try:
        return _read_tsv(tsv_path, lang), True
    except TsvColumnError as error:
        logger.error("Skipped a whole tsv: %s", error)
        return [Candidate(ID="*", path=tsv_path, problem=str(error))], False


def prepare_common_voice(
    data_folder: str | Path,
    save_folder: str | Path,
    languages: Sequence[str] = ("cy", "eu"),
    splits: Sequence[str] = ("train", "dev", "test"),
    combine: bool = False,
    skip_prep: bool = False,
    num_workers: int | None = None,
) -> dict[str, Path]:
    """Writes ``<save_folder>/<lang>/<split>.csv`` for each language and split.

    Arguments
    ---------
    data_folder : str or Path
        The folder holding one Common Voice folder per language (cy/, eu/, ...).
    save_folder : str or Path
        Where manifests, bad-file reports and the saved options go.
    languages : sequence of str
        Common Voice language codes.
    splits : sequence of str
        TSV names to prepare (train, dev, test; also e.g. validated, other).
    combine : bool
        If True, also write ``<save_folder>/<split>.csv`` over all languages.
    skip_prep : bool
        If True, do nothing and return the manifest paths.
    num_workers : int, optional
        Threads checking audio files; default min(8, number of CPUs).

    Returns
    -------
    dict
        {"<lang>/<split>": manifest path}, plus {"<split>": path} with combine.

    Example
    -------
    >>> import numpy, soundfile
    >>> root = getfixture("tmp_path") / "cv"
    >>> (root / "cy" / "clips").mkdir(parents=True)
    >>> soundfile.write(root / "cy" / "clips" / "common_voice_cy_1.mp3", numpy.zeros(16000), 16000)
    >>> columns = "client_id path sentence up_votes down_votes age gender accents locale segment"
    >>> values = ["c1", "common_voice_cy_1.mp3", "Bore da!", "2", "0", "", "", "", "cy", ""]
    >>> lines = ["\\t".join(columns.split()), "\\t".join(values)]
    >>> _ = (root / "cy" / "dev.tsv").write_text("\\n".join(lines) + "\\n")
    >>> csvs = prepare_common_voice(root, root.parent / "manifests", languages=["cy"], splits=["dev"])
    >>> print(csvs["cy/dev"].read_text(), end="")
    ID,duration,wav,spk_id,wrd,language
    common_voice_cy_1,1.0,$data_root/cy/clips/common_voice_cy_1.mp3,c1,BORE DA,cy
    """
    data_folder, save_folder = Path(data_folder).resolve(), Path(save_folder)
    manifests = {
        f"{lang}/{split}": save_folder / lang / f"{split}.csv" for lang in languages for split in splits
    }
    combined = {split: save_folder / f"{split}.csv" for split in splits} if combine else {}
    if skip_prep:
        return {**manifests, **combined}
    _check_layout(data_folder, languages, splits)
    options = {
        "data_folder": str(data_folder),
        "languages": list(languages),
        "splits": list(splits),
        "combine": combine,
    }
    options_path = save_folder / OPTIONS_FILE
    if manifests_up_to_date(options_path, options, [*manifests.values(), *combined.values()]):
        return {**manifests, **combined}
    options_path.unlink(missing_ok=True)  # an interrupted run must not look finished
    rows_per_split: dict[str, list[dict]] = {split: [] for split in splits}
    unread = []
    for lang in languages:
        for split in splits:
            logger.info("Preparing Common Voice %s %s", lang, split)
            candidates, read = _tsv_candidates(data_folder / lang / f"{split}.tsv", lang)
            rows = write_manifest(candidates, data_folder, manifests[f"{lang}/{split}"], COLUMNS, num_workers)
            rows_per_split[split].extend(rows)
            if not read:
                unread.append(f"{lang}/{split}.tsv")
    for split, csv_path in combined.items():
        write_csv_atomic(csv_path, rows_per_split[split], COLUMNS)
        logger.info("Wrote %s (%d utterances, %s)", csv_path, len(rows_per_split[split]), "+".join(languages))
    if unread:
        logger.error(
            "Common Voice preparation skipped %s (see the errors above); options not saved, so the next run "
            "prepares again: fix the tsv file(s) and rerun", ", ".join(unread),
        )
        return {**manifests, **combined}
    save_options(options_path, options)
    return {**manifests, **combined}
