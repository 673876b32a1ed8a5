"""The mini corpus: a plan of utterances, synthesis over a worker pool, and the files.

Layout written under the output folder::

    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt:04d>.flac   16 kHz
    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    LibriSpeech/SPEAKERS.TXT
    CommonVoice/<lang>/clips/common_voice_<lang>_<n>.mp3                        16 kHz
    CommonVoice/<lang>/{train,dev,test,validated}.tsv
    labels.csv                                   ID, corpus, split, spk_id, emotion, intent, text
    .synth_done.json                             the options; written last

Every random choice comes from a ``random.Random`` seeded by the corpus seed and the
utterance index, and every chunk of work (one LibriSpeech chapter, one Common Voice
speaker) runs on a fresh eSpeak NG state, so the files are byte-identical for the same
size and seed whatever the number of workers.

Authors
 * efficient_ssl contributors
"""

import csv
import hashlib
import json
import math
import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from efficient_ssl.data.synth import commands, espeak
from efficient_ssl.data.synth.espeak import Espeak, Voice
from efficient_ssl.data.synth.text import (
    MAX_SECONDS,
    MIN_SECONDS,
    SENTENCE_MAKERS,
    draw_sentence,
    librispeech_transcript,
)
from efficient_ssl.data.synth.voices import (
    EMOTIONS,
    PROBE_SENTENCES,
    Speaker,
    check_distinct,
    make_speakers,
    probe,
    with_emotion,
)

SYNTH_VERSION = 1  # bump whenever the same options would give different files
DONE_FILE = ".synth_done.json"
LIBRISPEECH_RATE = 16000
# Common Voice ships 48 kHz MP3; 16 kHz encodes twice as fast and needs no resampling later.
COMMON_VOICE_RATE = 16000
COMMAND_FRACTION = 0.25
CV_AGES = ("teens", "twenties", "thirties", "fourties", "fifties", "sixties")  # Common Voice's spelling
CV_COLUMNS = (
    "client_id",
    "path",
    "sentence",
    "up_votes",
    "down_votes",
    "age",
    "gender",
    "accents",
    "locale",
    "segment",
)
LABEL_COLUMNS = ("ID", "corpus", "split", "spk_id", "emotion", "intent", "text")


@dataclass(frozen=True)
class SizeSpec:
    """How much to synthesise.

    Arguments
    ---------
    librispeech : tuple
        ``(split, speakers, chapters per speaker, utterances per chapter)`` per split.
    common_voice : tuple
        ``(split, speakers, clips per speaker)`` per split, for every language.
    languages : tuple of str
        Common Voice languages.
    """

    librispeech: tuple[tuple[str, int, int, int], ...]
    common_voice: tuple[tuple[str, int, int], ...]
    languages: tuple[str, ...] = ("cy", "eu", "en", "fr", "de", "es")


SIZES = {
    # ~15 min of audio, made in seconds: a few speakers, a few dozen utterances per split.
    "tiny": SizeSpec(
        (
            ("train-clean-100", 3, 1, 10),
            ("train-clean-360", 3, 1, 10),
            ("dev-clean", 2, 1, 12),
            ("test-clean", 2, 1, 12),
        ),
        (("train", 2, 6), ("dev", 1, 4), ("test", 1, 4)),
    ),
    # ~7 h: ~1 h in train-clean-100, ~4 h in train-clean-360, 300 utterances in dev and
    # test, ~15 min per Common Voice language (utterances average ~4 s).
    "small": SizeSpec(
        (
            ("train-clean-100", 40, 2, 12),
            ("train-clean-360", 80, 2, 23),
            ("dev-clean", 10, 1, 30),
            ("test-clean", 10, 1, 30),
        ),
        (("train", 14, 11), ("dev", 3, 11), ("test", 3, 11)),
    ),
    # ~20 h in all.
    "medium": SizeSpec(
        (
            ("train-clean-100", 80, 3, 15),
            ("train-clean-360", 160, 3, 22),
            ("dev-clean", 20, 1, 40),
            ("test-clean", 20, 1, 40),
        ),
        (("train", 28, 12), ("dev", 6, 10), ("test", 6, 10)),
    ),
}


@dataclass(frozen=True)
class Job:
    """One audio file to make: what to say, how, and where."""

    path: str  # relative to the corpus root
    text: str  # what eSpeak NG reads, with punctuation
    voice: Voice
    seed: int
    sample_rate: int
    audio_format: str  # "FLAC" or "MP3"
    silence: tuple[float, float]  # seconds before and after the speech


@dataclass(frozen=True)
class Reader:
    """A speaker as the metadata files see it."""

    speaker_id: str  # LibriSpeech reader ID or Common Voice client_id
    speaker: Speaker
    split: str
    age: str = ""


@dataclass(frozen=True)
class Utterance:
    """One planned utterance with its labels."""

    utt_id: str  # LibriSpeech utterance ID or Common Voice clip file stem
    corpus: str  # "LibriSpeech" or "CommonVoice/<lang>"
    split: str
    reader: Reader
    text: str  # LibriSpeech transcript or Common Voice sentence
    emotion: str
    intent: str
    job: Job


@dataclass
class Plan:
    """Everything to synthesise: utterances, their readers, and chunks of jobs."""

    utterances: list[Utterance]
    readers: dict[str, list[Reader]]  # corpus -> readers
    chunks: list[tuple[str, list[int]]]  # (progress group, utterance indices)


Cast = dict[str, tuple[str, list[Speaker]]]  # corpus -> (language, speakers)


def cast_speakers(spec: SizeSpec, seed: int) -> Cast:
    """The speakers of every corpus: LibriSpeech (English) and each Common Voice language.

    Arguments
    ---------
    spec : SizeSpec
        How much to synthesise.
    seed : int
        Seed of every random choice.

    Returns
    -------
    cast : dict
        ``corpus -> (language, speakers)``.

    Example
    -------
    >>> cast = cast_speakers(SIZES["tiny"], seed=1)
    >>> {corpus: len(speakers) for corpus, (_, speakers) in cast.items()}["LibriSpeech"]
    10
    """
    total = sum(split[1] for split in spec.librispeech)
    cast = {"LibriSpeech": ("en", make_speakers("en", total, random.Random(f"{seed}:LibriSpeech:speakers")))}
    total = sum(split[1] for split in spec.common_voice)
    for language in spec.languages:
        corpus = f"CommonVoice/{language}"
        cast[corpus] = (language, make_speakers(language, total, random.Random(f"{seed}:{corpus}:speakers")))
    return cast


def _split_labels(rng: random.Random, n: int, with_commands: bool) -> list[tuple[str, str]]:
    """Balanced (emotion, intent) labels for the ``n`` utterances of one split."""
    names = list(EMOTIONS)
    emotions = [names[i % len(names)] for i in range(n)]
    rng.shuffle(emotions)
    intents = ["none"] * n
    if with_commands:
        intent_names = sorted(commands.INTENTS)
        rng.shuffle(intent_names)
        for j, position in enumerate(sorted(rng.sample(range(n), round(n * COMMAND_FRACTION)))):
            intents[position] = intent_names[j % len(intent_names)]
    return list(zip(emotions, intents))


def _silence(rng: random.Random) -> tuple[float, float]:
    """Silence before and after the speech, as recordings have (eSpeak NG leaves ~10 ms)."""
    return round(rng.uniform(0.05, 0.25), 3), round(rng.uniform(0.05, 0.3), 3)


def _plan_librispeech(
    spec: SizeSpec, seed: int, speakers: list[Speaker], pace: dict[Voice, float], plan: Plan
) -> None:
    corpus = "LibriSpeech"
    taken: set[str] = set()
    readers = plan.readers.setdefault(corpus, [])
    chapter_id = 0
    for split, n_speakers, n_chapters, n_utterances in spec.librispeech:
        labels = iter(
            _split_labels(
                random.Random(f"{seed}:{corpus}:{split}"), n_speakers * n_chapters * n_utterances, True
            )
        )
        for _ in range(n_speakers):
            reader = Reader(str(len(readers) + 1), speakers[len(readers)], split)
            readers.append(reader)
            for _ in range(n_chapters):
                chapter_id += 1
                indices = []
                for number in range(n_utterances):
                    emotion, intent = next(labels)
                    rng = random.Random(f"{seed}:{corpus}:{len(plan.utterances)}")
                    voice = with_emotion(reader.speaker.voice, emotion)
                    make = (
                        SENTENCE_MAKERS["en"]
                        if intent == "none"
                        else partial(commands.command, intent=intent)
                    )
                    text = draw_sentence(rng, make, pace[voice], taken)
                    utt_id = f"{reader.speaker_id}-{chapter_id}-{number:04d}"
                    path = f"{corpus}/{split}/{reader.speaker_id}/{chapter_id}/{utt_id}.flac"
                    job = Job(
                        path, text, voice, rng.randrange(2**31), LIBRISPEECH_RATE, "FLAC", _silence(rng)
                    )
                    transcript = librispeech_transcript(text)
                    indices.append(len(plan.utterances))
                    plan.utterances.append(
                        Utterance(utt_id, corpus, split, reader, transcript, emotion, intent, job)
                    )
                plan.chunks.append((f"{corpus}/{split}", indices))


def _plan_common_voice(
    spec: SizeSpec, seed: int, language: str, speakers: list[Speaker], pace: dict[Voice, float], plan: Plan
) -> None:
    corpus = f"CommonVoice/{language}"
    age_rng = random.Random(f"{seed}:{corpus}:ages")
    taken: set[str] = set()
    readers = plan.readers.setdefault(corpus, [])
    first = len(plan.utterances)
    for split, n_speakers, n_clips in spec.common_voice:
        labels = iter(_split_labels(random.Random(f"{seed}:{corpus}:{split}"), n_speakers * n_clips, False))
        for _ in range(n_speakers):
            client_id = hashlib.sha512(f"{seed}:{corpus}:{len(readers)}".encode()).hexdigest()
            reader = Reader(client_id, speakers[len(readers)], split, age_rng.choice(CV_AGES))
            readers.append(reader)
            indices = []
            for _ in range(n_clips):
                emotion, intent = next(labels)
                rng = random.Random(f"{seed}:{corpus}:{len(plan.utterances) - first}")
                voice = with_emotion(reader.speaker.voice, emotion)
                text = draw_sentence(rng, SENTENCE_MAKERS[language], pace[voice], taken)
                stem = f"common_voice_{language}_{len(plan.utterances) - first + 1}"
                path = f"{corpus}/clips/{stem}.mp3"
                job = Job(path, text, voice, rng.randrange(2**31), COMMON_VOICE_RATE, "MP3", _silence(rng))
                indices.append(len(plan.utterances))
                plan.utterances.append(Utterance(stem, corpus, split, reader, text, emotion, intent, job))
            plan.chunks.append((corpus, indices))


def make_plan(spec: SizeSpec, seed: int, cast: Cast, pace: dict[Voice, float]) -> Plan:
    """Every utterance of the corpus: text, voice, labels and file, without audio.

    Arguments
    ---------
    spec : SizeSpec
        How much to synthesise.
    seed : int
        Seed of every random choice.
    cast : dict
        The speakers, from :func:`cast_speakers`.
    pace : dict
        Seconds per character of every voice with every emotion (:func:`measure_voices`);
        sentence lengths are chosen with it so that the audio lasts 2 to 8 seconds.

    Returns
    -------
    plan : Plan

    Example
    -------
    >>> spec = SizeSpec((("dev-clean", 1, 1, 4),), (("test", 1, 2),), ("eu",))
    >>> cast = cast_speakers(spec, 3)
    >>> plan = make_plan(spec, 3, cast, measure_voices(cast))
    >>> [u.utt_id for u in plan.utterances]
    ['1-1-0000', '1-1-0001', '1-1-0002', '1-1-0003', 'common_voice_eu_1', 'common_voice_eu_2']
    >>> sum(u.intent != "none" for u in plan.utterances)
    1
    """
    plan = Plan([], {}, [])
    _plan_librispeech(spec, seed, cast["LibriSpeech"][1], pace, plan)
    for language in spec.languages:
        _plan_common_voice(spec, seed, language, cast[f"CommonVoice/{language}"][1], pace, plan)
    return plan


# ---------------------------------------------------------------- synthesis (in workers)
def _render(engine: Espeak, job: Job, root: str) -> int:
    """Synthesises one job into its file; returns the number of samples written.

    The file lasts ``MIN_SECONDS`` to ``MAX_SECONDS``: speech that runs long is spoken
    again a little faster, and short speech gets more trailing silence.
    """
    wave = engine.synthesize(job.text, job.voice, job.seed)
    before, after = job.silence
    room = MAX_SECONDS - before - after
    if len(wave) / espeak.SAMPLE_RATE > room:
        faster = math.ceil(job.voice.rate * len(wave) / espeak.SAMPLE_RATE / room * 1.05)
        wave = engine.synthesize(job.text, replace(job.voice, rate=faster), job.seed)
    after = max(after, MIN_SECONDS - before - len(wave) / espeak.SAMPLE_RATE)
    common = math.gcd(job.sample_rate, espeak.SAMPLE_RATE)
    audio = resample_poly(wave.astype(np.float64), job.sample_rate // common, espeak.SAMPLE_RATE // common)
    pad = (round(before * job.sample_rate), round(after * job.sample_rate))
    audio = np.pad(np.clip(np.round(audio), -32768, 32767).astype(np.int16), pad)
    path = os.path.join(root, job.path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subtype = "PCM_16" if job.audio_format == "FLAC" else "MPEG_LAYER_III"
    sf.write(path, audio, job.sample_rate, format=job.audio_format, subtype=subtype)
    return len(audio)


def _synthesize_chunk(task: tuple[str, list[Job]]) -> list[int]:
    """One chunk on a fresh eSpeak NG state: the same chunk always gives the same files."""
    root, jobs = task
    with Espeak() as engine:
        return [_render(engine, job, root) for job in jobs]


def _probe(task: tuple[str, Voice]) -> tuple[str, float]:
    language, voice = task
    return probe(voice, PROBE_SENTENCES[language])


@contextmanager
def _mapper(workers: int) -> Iterator[Callable[[Callable, Iterable], Iterator]]:
    """An ordered ``map``: in this process for one worker, over a pool otherwise."""
    if workers == 1:
        yield map
        return
    with multiprocessing.Pool(workers) as pool:
        yield lambda function, tasks: pool.imap(function, tasks, chunksize=1)


def measure_voices(cast: Cast, mapper: Callable = map) -> dict[Voice, float]:
    """Probes every voice: raises if two of one corpus sound the same; measures their pace.

    Every speaker is probed with every emotion, and every timbre (voice + variant) at
    the default prosody, each from a fresh eSpeak NG state, on a fixed sentence per
    language. Timbres catch names that fall back to another voice and variants that
    sound alike; the emotion voices give the pace used to choose sentence lengths.

    Arguments
    ---------
    cast : dict
        ``corpus -> (language, speakers)`` (:func:`cast_speakers`).
    mapper : callable
        A ``map`` to run the probes with (a pool's ``imap``).

    Returns
    -------
    pace : dict
        ``voice -> seconds per character`` for each speaker with each emotion.

    Raises
    ------
    ValueError
        When a voice name is unknown to eSpeak NG, or two voices sound the same.

    Example
    -------
    >>> speakers = [Speaker(Voice("en-us+f3"), "F"), Speaker(Voice("en-us+m3"), "M")]
    >>> pace = measure_voices({"LibriSpeech": ("en", speakers)})
    >>> len(pace), all(0.03 < value < 0.1 for value in pace.values())
    (8, True)
    >>> measure_voices({"LibriSpeech": ("en", [Speaker(Voice("en-gb+m3"), "M")])})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: eSpeak NG voice 'en-gb+m3' is unknown (not found): use a file name from ...
    """
    tasks, owners = [], []
    for corpus, (language, speakers) in cast.items():
        voices = [with_emotion(speaker.voice, emotion) for speaker in speakers for emotion in EMOTIONS]
        voices += [Voice(speaker.timbre) for speaker in speakers]
        voices = list(dict.fromkeys(voices))
        tasks += [(language, voice) for voice in voices]
        owners += [corpus] * len(voices)
    results = list(mapper(_probe, tasks))
    for corpus in cast:
        chosen = [i for i, owner in enumerate(owners) if owner == corpus]
        check_distinct([tasks[i][1] for i in chosen], [results[i][0] for i in chosen])
    return {
        voice: seconds / len(PROBE_SENTENCES[language])
        for (language, voice), (_, seconds) in zip(tasks, results)
    }


# ---------------------------------------------------------------- files
def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        file.writelines(line + "\n" for line in lines)


def _write_librispeech(root: Path, plan: Plan, seconds: list[float]) -> None:
    chapters: dict[Path, list[str]] = {}
    minutes: dict[str, float] = {}
    for utterance, duration in zip(plan.utterances, seconds):
        if utterance.corpus != "LibriSpeech":
            continue
        folder = (root / utterance.job.path).parent
        trans = folder / f"{folder.parent.name}-{folder.name}.trans.txt"
        chapters.setdefault(trans, []).append(f"{utterance.utt_id} {utterance.text}")
        minutes[utterance.reader.speaker_id] = minutes.get(utterance.reader.speaker_id, 0.0) + duration / 60
    for trans, lines in chapters.items():
        _write_lines(trans, lines)
    header = [
        "; Some pipe(|) separated metadata about the eSpeak NG speakers of this synthetic corpus,",
        "; in the format of LibriSpeech's SPEAKERS.TXT",
        ";",
        "; ID: reader ID",
        "; SEX: 'F' for female, 'M' for male",
        "; SUBSET: the corpus subset to which the reader's audio is assigned",
        "; MINUTES: the total amount of speech(in minutes) in the corpus, read by this reader",
        "; NAME: the eSpeak NG voice and prosody of the reader",
        ";",
        ";ID     |SEX| SUBSET           |MINUTES| NAME",
    ]
    rows = []
    for reader in plan.readers["LibriSpeech"]:
        voice = reader.speaker.voice
        name = f"eSpeak NG {voice.name} pitch {voice.pitch} range {voice.range} rate {voice.rate}"
        rows.append(
            f"{reader.speaker_id:<5}| {reader.speaker.sex} | {reader.split:<17}| "
            f"{minutes[reader.speaker_id]:5.2f} | {name}"
        )
    _write_lines(root / "LibriSpeech" / "SPEAKERS.TXT", header + rows)


def _write_common_voice(root: Path, plan: Plan, language: str) -> None:
    corpus = f"CommonVoice/{language}"
    rows: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for utterance in plan.utterances:
        if utterance.corpus == corpus:
            reader = utterance.reader
            gender = "female" if reader.speaker.sex == "F" else "male"
            fields = (
                reader.speaker_id,
                f"{utterance.utt_id}.mp3",
                utterance.text,
                "2",
                "0",
                reader.age,
                gender,
                "",
                language,
                "",
            )
            rows[utterance.split].append("\t".join(fields))
    header = "\t".join(CV_COLUMNS)
    for split, lines in rows.items():
        _write_lines(root / corpus / f"{split}.tsv", [header] + lines)
    _write_lines(root / corpus / "validated.tsv", [header] + rows["train"] + rows["dev"] + rows["test"])


def _write_labels(root: Path, plan: Plan) -> None:
    with open(root / "labels.csv", "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        for u in plan.utterances:
            writer.writerow((u.utt_id, u.corpus, u.split, u.reader.speaker_id, u.emotion, u.intent, u.text))


def _check_splits_disjoint(plan: Plan) -> None:
    """Test and dev sentences must never be training sentences."""
    for corpus in plan.readers:
        seen: dict[str, str] = {}
        for u in plan.utterances:
            if u.corpus == corpus:
                key = librispeech_transcript(u.text)
                split = seen.setdefault(key, u.split)
                if split != u.split:
                    raise RuntimeError(f"{corpus}: the sentence {u.text!r} is in both {split} and {u.split}")


# ---------------------------------------------------------------- entry point
def _describe(options: dict) -> str:
    """``size tiny, seed 1234, version 1``."""
    return ", ".join(f"{key} {value}" for key, value in options.items())


def _finished_options(output: Path, options: dict) -> bool:
    """True when ``output`` already holds this corpus; raises when it holds something else."""
    if not output.exists() or not any(output.iterdir()):
        return False
    done = output / DONE_FILE
    if not done.is_file():
        raise FileExistsError(
            f"{output} is not empty and has no {DONE_FILE}: pick another --output or delete {output}"
        )
    found = json.loads(done.read_text(encoding="utf-8"))
    if found != options:
        raise FileExistsError(
            f"{output} holds the corpus {_describe(found)}, not {_describe(options)}: "
            f"pick another --output or delete {output}"
        )
    return True


def _synthesize_plan(plan: Plan, root: Path, mapper: Callable) -> list[float]:
    """Synthesises every chunk into ``root``, printing a line per group; returns seconds per utterance."""
    samples = [0] * len(plan.utterances)
    tasks = [(str(root), [plan.utterances[i].job for i in indices]) for _, indices in plan.chunks]
    group_start, group_seconds, group_count = time.perf_counter(), 0.0, 0
    for number, ((group, indices), lengths) in enumerate(zip(plan.chunks, mapper(_synthesize_chunk, tasks))):
        for index, length in zip(indices, lengths):
            samples[index] = length
            group_seconds += length / plan.utterances[index].job.sample_rate
        group_count += len(indices)
        if number + 1 == len(plan.chunks) or plan.chunks[number + 1][0] != group:
            wall = time.perf_counter() - group_start
            print(
                f"{group}: {group_count} utterances, {group_seconds / 60:.1f} min of audio "
                f"in {wall:.1f} s ({group_seconds / wall:.0f}x real time)"
            )
            group_start, group_seconds, group_count = time.perf_counter(), 0.0, 0
    return [n / u.job.sample_rate for n, u in zip(samples, plan.utterances)]


def build_corpus(output: Path, spec: SizeSpec, options: dict, workers: int) -> Path:
    """Synthesises ``spec`` into ``output`` (see :func:`synthesize_corpus`).

    Arguments
    ---------
    output : Path
        Corpus folder; built in a sibling temporary folder, then moved into place.
    spec : SizeSpec
        How much to synthesise.
    options : dict
        ``size``, ``seed`` and ``version``, saved in ``.synth_done.json``.
    workers : int
        Worker processes (1: synthesise in this process).

    Returns
    -------
    output : Path
    """
    if _finished_options(output, options):
        print(
            f"{output} already holds the {options['size']} corpus with seed {options['seed']}: nothing to do"
        )
        return output
    start = time.perf_counter()
    cast = cast_speakers(spec, options["seed"])
    with _mapper(workers) as mapper:
        pace = measure_voices(cast, mapper)
        plan = make_plan(spec, options["seed"], cast, pace)
        _check_splits_disjoint(plan)
        print(
            f"Probed {sum(len(group) for _, group in cast.values())} speakers (all distinct) and planned "
            f"{len(plan.utterances)} utterances in {time.perf_counter() - start:.1f} s; {workers} workers"
        )
        staging = output.parent / f".{output.name}.partial"
        if staging.exists():
            shutil.rmtree(staging)  # left by an interrupted run
        staging.mkdir(parents=True)
        seconds = _synthesize_plan(plan, staging, mapper)
    _write_librispeech(staging, plan, seconds)
    for language in spec.languages:
        _write_common_voice(staging, plan, language)
    _write_labels(staging, plan)
    (staging / DONE_FILE).write_text(json.dumps(options, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    os.replace(staging, output)  # onto a missing or empty folder: an interrupted run never looks finished
    print(f"Done: {sum(seconds) / 3600:.2f} h of audio in {time.perf_counter() - start:.1f} s into {output}")
    return output


def synthesize_corpus(
    output: str | Path, size: str = "tiny", seed: int = 1234, workers: int | None = None
) -> Path:
    """Synthesises the eSpeak NG mini corpus in the LibriSpeech and Common Voice layouts.

    Same ``size`` and ``seed`` give byte-identical files. A rerun with the same options
    returns at once; a different corpus already in ``output`` is an error.

    Arguments
    ---------
    output : str or Path
        Corpus folder (must be missing, empty, or hold this same corpus).
    size : str
        ``"tiny"`` (tests, seconds), ``"small"`` (the main job) or ``"medium"`` (~20 h).
    seed : int
        Seed of every random choice.
    workers : int, optional
        Worker processes; ``os.cpu_count()`` when None.

    Returns
    -------
    output : Path
        The corpus folder.
    """
    if size not in SIZES:
        raise ValueError(f"unknown corpus size {size!r}: use one of {', '.join(SIZES)}")
    options = {"size": size, "seed": seed, "version": SYNTH_VERSION}
    return build_corpus(Path(output), SIZES[size], options, workers or os.cpu_count() or 1)
