"""Shared helpers of the prepare functions: manifests, saved options, audio checks.

A manifest is a SpeechBrain CSV (``ID, duration, wav, ...``) whose ``wav``
column holds ``$data_root/<path relative to data_folder>``, so manifests move
with the data: ``DynamicItemDataset.from_csv(csv, replacements={"data_root":
data_folder})`` resolves them. Files are written atomically (temporary file in
the same folder, then ``os.replace``). The options a manifest was built with are
saved beside it in a JSON file; a prepare function skips its work when the
manifests exist and the saved options are the same.

Audio files are checked before they enter a manifest, cheaply
(``soundfile.info`` plus a decode of the last 0.1 s, which catches truncated
files; a full decode only when the header gives no usable frame count, or when
the samples are stored as floats, the only encoding that can hold NaN or Inf),
in a thread pool. Every file that fails, every entry that was rejected earlier
(missing file, empty transcript, transcript line not UTF-8, ...) and every
duplicate ID is logged (one line each, naming the file and the reason) and
listed with its reason in ``<manifest>_skipped.csv``: a bad file is skipped here
and never crashes training later. Files kept in another format than most of the
manifest (channels, sample rate) are named in one warning: ``read_audio``
downmixes and resamples them.

Cost of the checks on real corpora: LibriSpeech (16-bit FLAC) and Common Voice
(MP3) never hold float samples, so no file of theirs is decoded fully; a float
WAV (or a float file behind another extension, which libsndfile reads by its
content) is decoded once, in blocks of 64k frames.

Authors
 * efficient_ssl contributors
"""

import csv
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy
import soundfile
from tqdm import tqdm

logger = logging.getLogger(__name__)

# The $-variable that manifests use for the data folder.
DATA_ROOT = "data_root"
# Seconds decoded at the end of each file to detect truncation.
TAIL_S = 0.1
# A file whose decodable part is shorter than this fraction of its header's length is truncated.
MIN_DECODABLE_FRACTION = 0.9
# Frame counts at or above this are libsndfile's "unknown" (SF_COUNT_MAX and the like).
UNKNOWN_FRAMES = 2**62
# libsndfile subtypes that store samples as floats: the only ones that can hold NaN or Inf.
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
SKIPPED_COLUMNS = ["ID", "path", "reason"]
# At most this many skipped (or unusual) files of one manifest get a log line each; all are in the report.
MAX_LOGGED = 50


@dataclass
class Candidate:
    """One utterance that may enter a manifest.

    Arguments
    ---------
    ID : str
        Utterance ID (unique within a manifest).
    path : Path
        Absolute path of its audio file.
    fields : dict
        Manifest columns other than ID, duration and wav (spk_id, wrd, ...).
    problem : str, optional
        Why the entry must be skipped, when already known before the audio check
        (e.g. "empty transcript"); None if it is fine so far.
    """

    ID: str
    path: Path
    fields: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


class AudioCheck(NamedTuple):
    """Result of :func:`check_audio`: a duration in seconds, or the reason it failed.

    ``sample_rate`` and ``channels`` are those of the file when it opened.
    """

    duration: float | None
    problem: str | None
    sample_rate: int | None = None
    channels: int | None = None


def data_root_path(path: str | Path, data_folder: str | Path) -> str:
    """Returns path written relative to data_folder as ``$data_root/...``.

    Arguments
    ---------
    path : str or Path
        A file inside data_folder.
    data_folder : str or Path
        The corpus root that ``$data_root`` stands for.

    Returns
    -------
    str
        ``$data_root/<relative path>`` with forward slashes.

    Example
    -------
    >>> data_root_path("/data/LibriSpeech/dev-clean/84/121123/84-121123-0000.flac", "/data/LibriSpeech")
    '$data_root/dev-clean/84/121123/84-121123-0000.flac'
    """
    relative = Path(path).relative_to(Path(data_folder))
    return f"${DATA_ROOT}/{relative.as_posix()}"


def _write_atomic(path: Path, write: Callable[[TextIO], Any]) -> None:
    """Calls write(file) on a temporary file beside path, then moves it onto path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its files are private (0600); this one gets the umask's permissions.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", newline="", encoding="utf-8") as file:
            write(file)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_csv_atomic(path: str | Path, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    """Writes rows as a CSV with the given columns, atomically.

    Arguments
    ---------
    path : str or Path
        Destination; its folder is created if needed.
    rows : iterable of dict
        One dict per row, keyed by column.
    columns : sequence of str
        Column names, in order.

    Example
    -------
    >>> out = getfixture("tmp_path") / "m.csv"
    >>> write_csv_atomic(out, [{"ID": "a", "duration": 1.5}], ["ID", "duration"])
    >>> print(out.read_text(), end="")
    ID,duration
    a,1.5
    """

    def write(file):
        writer = csv.DictWriter(file, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    _write_atomic(Path(path), write)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Writes obj as indented JSON, atomically."""
    _write_atomic(Path(path), lambda file: json.dump(obj, file, indent=2, sort_keys=True))


def manifests_up_to_date(
    options_path: str | Path, options: dict[str, Any], manifests: Iterable[Path]
) -> bool:
    """Whether every manifest exists and options equal those saved in options_path.

    Logs the decision. The caller redoes the preparation when this is False.

    Arguments
    ---------
    options_path : str or Path
        JSON file written by :func:`save_options` after the last preparation.
    options : dict
        The options of this call (JSON-serialisable).
    manifests : iterable of Path
        Manifests the preparation writes.

    Returns
    -------
    bool
        True when the preparation can be skipped.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> write_csv_atomic(folder / "dev.csv", [], ["ID"])
    >>> save_options(folder / "opts.json", {"splits": ("dev",)})
    >>> manifests_up_to_date(folder / "opts.json", {"splits": ("dev",)}, [folder / "dev.csv"])
    True
    >>> manifests_up_to_date(folder / "opts.json", {"splits": ("test",)}, [folder / "dev.csv"])
    False
    """
    options_path = Path(options_path)
    if not options_path.is_file() or not all(Path(path).is_file() for path in manifests):
        return False
    saved = json.loads(options_path.read_text(encoding="utf-8"))
    if saved != json.loads(json.dumps(options)):  # compare in JSON form: tuples read back as lists
        logger.info("Options differ from those saved in %s: preparing again", options_path)
        return False
    logger.info("Manifests in %s are up to date (same options): skipping preparation", options_path.parent)
    return True


def save_options(options_path: str | Path, options: dict[str, Any]) -> None:
    """Saves the options of a finished preparation (written last, atomically)."""
    write_json_atomic(options_path, options)


def _count_frames(file: soundfile.SoundFile) -> int:
    """Decodes the whole file and returns its number of frames."""
    file.seek(0)
    return sum(len(block) for block in file.blocks(blocksize=65536))


def _count_non_finite(file: soundfile.SoundFile) -> int:
    """Decodes the whole file and returns how many samples are NaN or infinite."""
    file.seek(0)
    return sum(int(numpy.count_nonzero(~numpy.isfinite(block))) for block in file.blocks(blocksize=65536))


def check_audio(path: str | Path) -> AudioCheck:
    """Checks that an audio file exists, opens and holds decodable, finite audio.

    Cheap: reads the header and decodes only the last 0.1 s, unless the header
    has no usable frame count or the tail is short, in which case the file is
    decoded fully. Files storing float samples (``FLOAT_SUBTYPES``, e.g. a float
    WAV) are decoded fully to look for NaN and Inf; integer PCM (FLAC, 16-bit
    WAV) and MP3 cannot hold them.

    Arguments
    ---------
    path : str or Path
        Audio file (any format libsndfile reads: WAV, FLAC, OGG, MP3).

    Returns
    -------
    AudioCheck
        (duration in seconds, None) when usable, else (None, reason).

    Example
    -------
    >>> import numpy
    >>> folder = getfixture("tmp_path")
    >>> soundfile.write(folder / "ok.flac", numpy.zeros(8000), 16000)
    >>> check_audio(folder / "ok.flac")
    AudioCheck(duration=0.5, problem=None, sample_rate=16000, channels=1)
    >>> check_audio(folder / "gone.flac")
    AudioCheck(duration=None, problem='missing file', sample_rate=None, channels=None)
    >>> soundfile.write(folder / "nan.wav", numpy.full(800, numpy.nan, dtype="float32"), 16000, subtype="FLOAT")
    >>> check_audio(folder / "nan.wav").problem
    'non-finite samples: 800 of 800 are NaN or Inf (WAV FLOAT)'
    """
    path = Path(path)
    if not path.is_file():
        return AudioCheck(None, "missing file")
    if path.stat().st_size == 0:
        return AudioCheck(None, "empty file (0 bytes)")
    try:
        file = soundfile.SoundFile(path)
    except soundfile.SoundFileError as error:
        return AudioCheck(None, f"unreadable: {error}")
    with file:
        try:
            frames = file.frames
            if frames <= 0 or frames >= UNKNOWN_FRAMES:
                frames = _count_frames(file)
            if frames == 0:
                return AudioCheck(None, "no audio frames")
            tail = min(frames, max(1, int(TAIL_S * file.samplerate)))
            file.seek(frames - tail)
            if len(file.read(tail)) < tail:
                decodable = _count_frames(file)
                if decodable < MIN_DECODABLE_FRACTION * frames:
                    return AudioCheck(
                        None,
                        f"truncated: header says {frames / file.samplerate:.2f} s, "
                        f"only {decodable / file.samplerate:.2f} s decodable",
                    )
                frames = decodable
            if file.subtype in FLOAT_SUBTYPES:
                non_finite = _count_non_finite(file)
                if non_finite:
                    return AudioCheck(
                        None,
                        f"non-finite samples: {non_finite} of {frames * file.channels} are NaN or Inf "
                        f"({file.format} {file.subtype})",
                    )
        except soundfile.SoundFileError as error:
            return AudioCheck(None, f"corrupt or truncated: {error}")
        return AudioCheck(frames / file.samplerate, None, file.samplerate, file.channels)


def check_audio_files(
    paths: Sequence[Path], num_workers: int | None = None, desc: str = "checking audio"
) -> list[AudioCheck]:
    """Runs :func:`check_audio` over many files in a thread pool, with a progress bar.

    libsndfile runs outside the GIL, so threads scale to LibriSpeech-960 size
    without pickling anything.

    Arguments
    ---------
    paths : sequence of Path
        Audio files.
    num_workers : int, optional
        Threads; default min(8, number of CPUs).
    desc : str
        Label of the progress bar.

    Returns
    -------
    list of AudioCheck
        One per path, in order.
    """
    num_workers = num_workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=num_workers) as pool:
        return list(tqdm(pool.map(check_audio, paths), total=len(paths), desc=desc, unit="file"))


def skipped_report_path(csv_path: str | Path) -> Path:
    """The bad-file report beside a manifest: ``<stem>_skipped.csv``."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}_skipped.csv")


def _log_skipped(csv_path: Path, skipped: list[dict[str, str]], total: int, report: Path) -> None:
    """Logs one warning line per skipped entry (at most MAX_LOGGED), then a summary line."""
    for entry in skipped[:MAX_LOGGED]:
        logger.warning("%s: skipped %s (ID %s): %s", csv_path.name, entry["path"], entry["ID"], entry["reason"])
    more = f"; {len(skipped) - MAX_LOGGED} more not logged" if len(skipped) > MAX_LOGGED else ""
    logger.warning(
        "%s: skipped %d of %d utterances, all listed with their reasons in %s%s",
        csv_path.name, len(skipped), total, report, more,
    )


def _log_unusual_formats(csv_path: Path, kept: list[tuple[str, AudioCheck]]) -> None:
    """Names the kept files whose (sample rate, channels) differ from the manifest's most common one.

    They are usable: ``read_audio`` averages channels and resamples. A rate
    below the recipe's loses bandwidth, which is worth knowing.
    """
    formats = Counter((check.sample_rate, check.channels) for _, check in kept)
    if len(formats) < 2:
        return
    (usual_rate, usual_channels), _ = formats.most_common(1)[0]
    unusual = [
        f"{relative} ({check.channels} ch, {check.sample_rate} Hz)"
        for relative, check in kept
        if (check.sample_rate, check.channels) != (usual_rate, usual_channels)
    ]
    more = f" and {len(unusual) - MAX_LOGGED} more" if len(unusual) > MAX_LOGGED else ""
    logger.warning(
        "%s: kept %d file(s) not in the usual %d ch, %d Hz (read_audio downmixes and resamples them): %s%s",
        csv_path.name, len(unusual), usual_channels, usual_rate, ", ".join(unusual[:MAX_LOGGED]), more,
    )


def write_manifest(
    candidates: Sequence[Candidate],
    data_folder: str | Path,
    csv_path: str | Path,
    columns: Sequence[str],
    num_workers: int | None = None,
    seen_ids: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Checks the candidates' audio and writes the manifest and its bad-file report.

    Candidates with a known problem, a duplicate ID (the first one is kept), or
    audio that fails :func:`check_audio` go to ``<stem>_skipped.csv`` (ID, path,
    reason; always written, so no stale report survives) and are logged one line
    each; the others go to csv_path in the given order.

    Arguments
    ---------
    candidates : sequence of Candidate
        Utterances, with audio paths inside data_folder.
    data_folder : str or Path
        Corpus root that ``$data_root`` stands for.
    csv_path : str or Path
        Manifest to write.
    columns : sequence of str
        Manifest columns: "ID", "duration", "wav", then the candidates' fields.
    num_workers : int, optional
        Threads for the audio checks.
    seen_ids : dict, optional
        {ID: where it was kept} of manifests written before by the same
        preparation (e.g. other splits): an ID already there is skipped as a
        duplicate. Updated in place with the IDs kept here.

    Returns
    -------
    list of dict
        The rows written to the manifest.

    Example
    -------
    >>> import numpy
    >>> root = getfixture("tmp_path")
    >>> soundfile.write(root / "a.wav", numpy.zeros(4000), 16000)
    >>> rows = write_manifest(
    ...     [Candidate("a", root / "a.wav", {"wrd": "HI"}), Candidate("b", root / "b.wav", {"wrd": "HO"})],
    ...     root, root / "dev.csv", ["ID", "duration", "wav", "wrd"])
    >>> print((root / "dev.csv").read_text(), end="")
    ID,duration,wav,wrd
    a,0.25,$data_root/a.wav,HI
    >>> print((root / "dev_skipped.csv").read_text(), end="")
    ID,path,reason
    b,b.wav,missing file
    """
    csv_path = Path(csv_path)
    to_check = [candidate.path for candidate in candidates if candidate.problem is None]
    desc = f"checking {csv_path.parent.name}/{csv_path.name}"
    checks = iter(check_audio_files(to_check, num_workers, desc))
    seen = {} if seen_ids is None else seen_ids
    rows, skipped, kept = [], [], []
    for candidate in candidates:
        check = next(checks) if candidate.problem is None else None
        relative = Path(candidate.path).relative_to(Path(data_folder)).as_posix()
        problem = candidate.problem
        if problem is None and candidate.ID in seen:
            problem = f"duplicate ID (also {seen[candidate.ID]}, kept there)"
        if problem is None:
            problem = check.problem
        if problem is not None:
            skipped.append({"ID": candidate.ID, "path": relative, "reason": problem})
            continue
        seen[candidate.ID] = relative
        kept.append((relative, check))
        wav = data_root_path(candidate.path, data_folder)
        rows.append({"ID": candidate.ID, "duration": check.duration, "wav": wav, **candidate.fields})
    write_csv_atomic(csv_path, rows, columns)
    report = skipped_report_path(csv_path)
    write_csv_atomic(report, skipped, SKIPPED_COLUMNS)
    if skipped:
        _log_skipped(csv_path, skipped, len(candidates), report)
    _log_unusual_formats(csv_path, kept)
    hours = sum(row["duration"] for row in rows) / 3600
    logger.info("Wrote %s (%d utterances, %.2f h)", csv_path, len(rows), hours)
    return rows
