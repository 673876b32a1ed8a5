"""The shared data pipeline: audio reading, datasets over manifests, loader options.

Every recipe reads data the same way:

* :func:`read_audio` reads any file libsndfile knows (WAV, FLAC, OGG, MP3) as a
  mono float32 tensor at the wanted sample rate;
* :func:`make_dataset` turns one or more manifests (``$data_root`` paths) into a
  ``DynamicItemDataset`` providing ``sig``, filtered by duration and sorted;
  recipes add their own items (text, labels) as SpeechBrain dynamic items;
* :func:`make_loader_kwargs` gives what ``Brain.fit`` / ``Brain.evaluate`` take as
  ``*_loader_kwargs``: fixed-size or dynamic batches, padded by ``PaddedBatch``;
* :func:`dataio_prepare` does all of it from standard hparams keys.

Authors
 * efficient_ssl contributors
"""

import functools
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile
import torch
import torchaudio
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataio import load_data_csv
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.data_pipeline import DynamicItem

from efficient_ssl.data.manifest import DATA_ROOT

logger = logging.getLogger(__name__)

SORTINGS = ("ascending", "descending", "random")


def read_audio(path: str | Path, sample_rate: int = 16000) -> torch.Tensor:
    """Reads an audio file as a mono float32 waveform at sample_rate.

    Channels are averaged; other sample rates are resampled with
    ``torchaudio.functional.resample``.

    Arguments
    ---------
    path : str or Path
        Audio file.
    sample_rate : int
        Wanted sample rate in Hz.

    Returns
    -------
    torch.Tensor
        Waveform, shape (samples,), float32.

    Example
    -------
    >>> import numpy
    >>> wav = getfixture("tmp_path") / "stereo.wav"
    >>> soundfile.write(wav, numpy.zeros((8000, 2)), 8000)
    >>> sig = read_audio(wav)
    >>> sig.shape, sig.dtype
    (torch.Size([16000]), torch.float32)
    """
    try:
        audio, file_rate = soundfile.read(path, dtype="float32", always_2d=True)  # (samples, channels)
    except soundfile.SoundFileError as error:
        raise RuntimeError(
            f"cannot read audio file {path}: {error}; "
            "run the prepare function again to list and skip bad files"
        ) from error
    sig = torch.from_numpy(audio).mean(dim=1)  # (samples,)
    if file_rate != sample_rate:
        sig = torchaudio.functional.resample(sig, orig_freq=file_rate, new_freq=sample_rate)
    return sig


def _load_manifests(csv_paths: Sequence[Path], data_folder: Path) -> dict[str, dict[str, Any]]:
    """Loads and merges manifests, resolving ``$data_root``; IDs must be unique across them."""
    data, source = {}, {}
    for csv_path in csv_paths:
        if not csv_path.is_file():
            raise FileNotFoundError(
                f"manifest {csv_path} not found; run the prepare step that writes it first"
            )
        for utt_id, row in load_data_csv(csv_path, replacements={DATA_ROOT: str(data_folder)}).items():
            if utt_id in data:
                raise ValueError(
                    f"ID {utt_id} is in both {source[utt_id]} and {csv_path}; give each manifest distinct IDs"
                )
            data[utt_id], source[utt_id] = row, csv_path
    if not data:
        names = ", ".join(str(p) for p in csv_paths)
        raise ValueError(f"manifest(s) {names} hold no utterances; see the *_skipped.csv reports beside them")
    return data


def _log_duration_filter(
    data: dict[str, dict[str, Any]], min_duration: float | None, max_duration: float | None
) -> None:
    """Logs how many utterances the duration limits leave out, naming the longest / shortest few."""
    low = -float("inf") if min_duration is None else min_duration
    high = float("inf") if max_duration is None else max_duration
    out = sorted((row["duration"], utt_id) for utt_id, row in data.items() if not low <= row["duration"] <= high)
    if out:
        shown = out if len(out) <= 6 else out[:3] + out[-3:]  # the shortest and the longest
        named = ", ".join(f"{utt_id} ({seconds:.1f} s)" for seconds, utt_id in shown)
        logger.info(
            "Left out %d of %d utterances outside the duration limits [%s, %s] s: %s",
            len(out), len(data), min_duration, max_duration, named,
        )


def as_paths(paths: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """Normalises a manifest entry of hparams (None, one path or several) to a list of paths."""
    if paths is None:
        return []
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]


def make_dataset(
    csv_paths: str | Path | Sequence[str | Path],
    data_folder: str | Path,
    sample_rate: int = 16000,
    max_duration: float | None = None,
    min_duration: float | None = None,
    sorting: str = "ascending",
    output_keys: Sequence[str] = ("id", "sig"),
    dynamic_items: Sequence[DynamicItem | Mapping[str, Any]] = (),
) -> DynamicItemDataset:
    """Builds a dataset over one or more manifests, with an audio item ``sig``.

    Arguments
    ---------
    csv_paths : str, Path or sequence of them
        Manifests (ID, duration, wav, ...); several are concatenated (e.g. the
        LibriSpeech-960 train splits, or one manifest per language).
    data_folder : str or Path
        What ``$data_root`` in the manifests stands for.
    sample_rate : int
        Sample rate of ``sig`` in Hz.
    max_duration, min_duration : float, optional
        Keep only utterances with min_duration <= duration <= max_duration (seconds).
    sorting : str
        "ascending" or "descending" by duration (less padding), or "random":
        manifest order, left to the loader to shuffle (``shuffle=True``).
    output_keys : sequence of str
        Keys each example yields ("id", "sig", manifest columns, items' keys).
    dynamic_items : sequence of DynamicItem or dict
        The recipe's own items, e.g. a text pipeline: functions decorated with
        ``speechbrain.utils.data_pipeline.takes`` / ``provides``, or dicts
        ``{"func": f, "takes": [...], "provides": [...]}``.

    Returns
    -------
    DynamicItemDataset
        Filtered and sorted; examples are dicts with output_keys.

    Example
    -------
    >>> import numpy
    >>> root = getfixture("tmp_path")
    >>> for n, seconds in enumerate([1.0, 0.5, 3.0]):
    ...     soundfile.write(root / f"u{n}.wav", numpy.zeros(int(seconds * 16000)), 16000)
    >>> rows = ["ID,duration,wav,wrd", "u0,1.0,$data_root/u0.wav,A B", "u1,0.5,$data_root/u1.wav,C",
    ...         "u2,3.0,$data_root/u2.wav,D"]
    >>> _ = (root / "train.csv").write_text("\\n".join(rows) + "\\n")
    >>> from speechbrain.utils.data_pipeline import takes, provides
    >>> @takes("wrd")
    ... @provides("n_words")
    ... def count_words(wrd):
    ...     return len(wrd.split())
    >>> dataset = make_dataset(root / "train.csv", root, max_duration=2.0,
    ...     output_keys=["id", "sig", "n_words"], dynamic_items=[count_words])
    >>> [(ex["id"], ex["sig"].shape[0], ex["n_words"]) for ex in dataset]
    [('u1', 8000, 1), ('u0', 16000, 2)]
    """
    if sorting not in SORTINGS:
        raise ValueError(f"sorting={sorting!r} is not one of {SORTINGS}; set sorting to one of them")
    data = _load_manifests(as_paths(csv_paths), Path(data_folder))
    _log_duration_filter(data, min_duration, max_duration)
    dataset = DynamicItemDataset(data)
    audio_pipeline = functools.partial(read_audio, sample_rate=sample_rate)  # picklable for workers
    dataset.add_dynamic_item(audio_pipeline, takes="wav", provides="sig")
    for item in dynamic_items:
        if isinstance(item, Mapping):
            dataset.add_dynamic_item(**item)
        else:
            dataset.add_dynamic_item(item)
    dataset.set_output_keys(list(output_keys))
    return dataset.filtered_sorted(
        key_min_value={} if min_duration is None else {"duration": min_duration},
        key_max_value={} if max_duration is None else {"duration": max_duration},
        sort_key=None if sorting == "random" else "duration",
        reverse=sorting == "descending",
    )


def make_loader_kwargs(
    dataset: DynamicItemDataset,
    batch_size: int = 8,
    dynamic_batching: bool = False,
    max_batch_length_s: float | None = None,
    num_buckets: int = 20,
    shuffle: bool = False,
    batch_ordering: str = "random",
    num_workers: int = 0,
) -> dict[str, Any]:
    """Returns the ``*_loader_kwargs`` for ``Brain.fit`` / ``Brain.evaluate``.

    Batches are collated by SpeechBrain's ``PaddedBatch``: ``batch.sig`` is
    (padded waveforms (B, max samples), relative lengths (B,)).

    Arguments
    ---------
    dataset : DynamicItemDataset
        From :func:`make_dataset` (needs a "duration" entry for dynamic batching).
    batch_size : int
        Utterances per batch, without dynamic batching.
    dynamic_batching : bool
        If True, batch by total duration with a ``DynamicBatchSampler``:
        utterances of similar length are bucketed so that batch size x longest
        utterance <= max_batch_length_s (an utterance longer than that is a
        batch of its own).
    max_batch_length_s : float, optional
        Seconds of (padded) audio per batch; required with dynamic batching.
    num_buckets : int
        Duration buckets of the dynamic batch sampler.
    shuffle : bool
        Shuffle utterances each epoch (fixed batches), or before bucketing
        (dynamic batches). Use False for a sorted dataset. ``Brain`` calls
        ``set_epoch`` on a batch sampler only under DDP: to draw new dynamic
        batches every epoch, set ``brain.train_sampler`` to it.
    batch_ordering : str
        Order of dynamic batches: "random", "ascending" or "descending" (by
        longest utterance).
    num_workers : int
        DataLoader worker processes.

    Returns
    -------
    dict
        DataLoader keyword arguments.

    Example
    -------
    >>> dataset = DynamicItemDataset({f"u{i}": {"duration": 1.0 + i} for i in range(6)}, output_keys=["id"])
    >>> kwargs = make_loader_kwargs(dataset, dynamic_batching=True, max_batch_length_s=6.0, num_buckets=3)
    >>> sorted(kwargs)
    ['batch_sampler', 'collate_fn', 'num_workers']
    >>> make_loader_kwargs(dataset, batch_size=4)["batch_size"]
    4
    """
    kwargs: dict[str, Any] = {"collate_fn": PaddedBatch, "num_workers": num_workers}
    if not dynamic_batching:
        return {**kwargs, "batch_size": batch_size, "shuffle": shuffle}
    if max_batch_length_s is None:
        raise ValueError("dynamic_batching needs max_batch_length_s (seconds of audio per batch); set it")
    sampler = DynamicBatchSampler(
        dataset,
        max_batch_length=max_batch_length_s,
        num_buckets=num_buckets,
        length_func=lambda example: example["duration"],
        shuffle=shuffle,
        batch_ordering=batch_ordering,
    )
    return {**kwargs, "batch_sampler": sampler}


def subsample(
    dataset: DynamicItemDataset, max_items: int | None = None, max_hours: float | None = None, seed: int = 0
) -> DynamicItemDataset:
    """A fixed random subset of at most ``max_items`` utterances and ``max_hours`` of audio.

    The utterances are drawn in a seeded random order until the next one would pass either cap,
    so a smaller cap gives a subset of a larger one (10 min within 1 h within 10 h, as
    Libri-light's splits). The subset keeps the dataset's order. None = no cap.

    Example
    -------
    >>> data = DynamicItemDataset({f"u{i}": {"duration": float(i)} for i in range(10)}, output_keys=["id"])
    >>> [d["id"] for d in subsample(data, 3, seed=1)]
    ['u6', 'u8', 'u9']
    >>> [d["id"] for d in subsample(data, max_hours=15 / 3600, seed=1)]  # 6 s + 8 s, then 9 s is too many
    ['u6', 'u8']
    >>> len(subsample(data))
    10
    """
    if max_items is None and max_hours is None:
        return dataset
    order = sorted(dataset.data_ids)
    random.Random(seed).shuffle(order)
    keep, seconds = set(), 0.0
    for utt_id in order:
        if max_items is not None and len(keep) >= max_items:
            break
        seconds += float(dataset.data[utt_id]["duration"]) if max_hours is not None else 0.0
        if max_hours is not None and seconds > max_hours * 3600:
            break
        keep.add(utt_id)
    if len(keep) == len(order):
        return dataset
    return dataset.filtered_sorted(key_test={"id": keep.__contains__})


# Keys of dataio_prepare's hparams that may be left out, with their defaults.
DATAIO_DEFAULTS: dict[str, Any] = {
    "valid_csv": None,
    "test_csv": None,
    "sample_rate": 16000,
    "max_duration": None,
    "max_train_utterances": None,
    "max_train_hours": None,
    "max_valid_utterances": None,
    "sorting": "ascending",
    "batch_size": 8,
    "dynamic_batching": False,
    "max_batch_length_s": None,
    "num_buckets": 20,
    "num_workers": 0,
}


@dataclass
class DataBundle:
    """What :func:`dataio_prepare` builds.

    Arguments
    ---------
    train : DynamicItemDataset
        Training data (filtered by max_duration, sorted by sorting).
    train_loader_kwargs : dict
        For ``Brain.fit(train_loader_kwargs=...)``.
    valid : DynamicItemDataset, optional
        Validation data (all of it, ascending duration).
    valid_loader_kwargs : dict
        For ``Brain.fit(valid_loader_kwargs=...)``.
    test : dict
        {name: dataset}, one per test manifest, each evaluated apart; the name is
        the manifest's stem ("test-clean"), or "<folder>_<stem>" ("cy_test") when
        stems repeat.
    test_loader_kwargs : dict
        {name: kwargs} for ``Brain.evaluate(test_loader_kwargs=...)``.

    Example
    -------
    >>> train = DynamicItemDataset({"u0": {"duration": 1.0}})
    >>> bundle = DataBundle(train=train, train_loader_kwargs={"batch_size": 2})
    >>> bundle.valid is None, bundle.test
    (True, {})
    """

    train: DynamicItemDataset
    train_loader_kwargs: dict[str, Any]
    valid: DynamicItemDataset | None = None
    valid_loader_kwargs: dict[str, Any] = field(default_factory=dict)
    test: dict[str, DynamicItemDataset] = field(default_factory=dict)
    test_loader_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _log_subset(name: str, full: DynamicItemDataset, subset: DynamicItemDataset) -> DynamicItemDataset:
    """Logs the size of a subset against its set (when they differ) and returns the subset."""
    if len(subset) < len(full):
        hours = [sum(float(d.data[i]["duration"]) for i in d.data_ids) / 3600 for d in (subset, full)]
        logger.info("%s on a fixed subset: %d of %d utterances, %.2f of %.2f h",
                    name.capitalize(), len(subset), len(full), *hours)
    return subset


def _test_names(csvs: list[Path]) -> dict[str, Path]:
    """Names test manifests by stem ("test-clean"), or "<folder>_<stem>" ("cy_test") when stems repeat."""
    stems = [csv.stem for csv in csvs]
    if len(set(stems)) == len(stems):
        return dict(zip(stems, csvs))
    return {f"{csv.parent.name}_{csv.stem}": csv for csv in csvs}


def dataio_prepare(
    hparams: Mapping[str, Any],
    dynamic_items: Sequence[DynamicItem | Mapping[str, Any]] = (),
    output_keys: Sequence[str] = ("id", "sig"),
) -> DataBundle:
    """Builds train / valid / test datasets and their loader kwargs from hparams.

    hparams keys (``data_folder`` and ``train_csv`` required, the others
    default to ``DATAIO_DEFAULTS``):

    * data_folder: what ``$data_root`` in the manifests stands for;
    * train_csv: a manifest or a list of them (concatenated);
    * valid_csv: a manifest or a list (concatenated), or None;
    * test_csv: a manifest or a list (one test set each), or None;
    * sample_rate: Hz of ``sig``;
    * max_duration: seconds; longer training utterances are dropped (valid and
      test are never filtered);
    * max_train_utterances, max_train_hours: train on a fixed random subset of at most this
      many utterances / hours (the same for every seed and model; see :func:`subsample`);
    * max_valid_utterances: validate on a fixed random subset (test sets stay whole);
    * sorting: "ascending", "descending" or "random" (training order; random
      shuffles every epoch); valid and test are sorted ascending;
    * batch_size: utterances per batch without dynamic batching;
    * dynamic_batching: batch every set by duration (DynamicBatchSampler);
    * max_batch_length_s: seconds of padded audio per dynamic batch;
    * num_buckets: duration buckets for dynamic batching;
    * num_workers: DataLoader worker processes.

    Arguments
    ---------
    hparams : mapping
        Loaded hyperparameters of the recipe.
    dynamic_items : sequence of DynamicItem or dict
        The recipe's own items (text pipelines, ...), added to every set.
    output_keys : sequence of str
        Keys each example yields.

    Returns
    -------
    DataBundle
        Datasets and loader kwargs.

    Example
    -------
    >>> import numpy
    >>> root = getfixture("tmp_path")
    >>> soundfile.write(root / "a.wav", numpy.zeros(16000), 16000)
    >>> _ = (root / "train.csv").write_text("ID,duration,wav\\na,1.0,$data_root/a.wav\\n")
    >>> hparams = {"data_folder": root, "train_csv": root / "train.csv", "test_csv": [root / "train.csv"]}
    >>> data = dataio_prepare(hparams)
    >>> len(data.train), data.valid, list(data.test), data.train_loader_kwargs["batch_size"]
    (1, None, ['train'], 8)
    """
    for key in ("data_folder", "train_csv"):
        if hparams.get(key) is None:
            raise KeyError(
                f"hparams has no {key!r} (see efficient_ssl.data.pipeline.dataio_prepare); add it to the YAML"
            )
    hp = {**DATAIO_DEFAULTS, **hparams}

    def dataset(csvs: list[Path], sorting: str, max_duration: float | None) -> DynamicItemDataset:
        return make_dataset(
            csvs, hp["data_folder"], hp["sample_rate"], max_duration=max_duration,
            sorting=sorting, output_keys=output_keys, dynamic_items=dynamic_items,
        )

    def loader_kwargs(data: DynamicItemDataset, shuffle: bool, ordering: str) -> dict[str, Any]:
        return make_loader_kwargs(
            data, hp["batch_size"], hp["dynamic_batching"], hp["max_batch_length_s"],
            hp["num_buckets"], shuffle=shuffle, batch_ordering=ordering, num_workers=hp["num_workers"],
        )

    train = dataset(as_paths(hp["train_csv"]), hp["sorting"], hp["max_duration"])
    train = _log_subset("training", train, subsample(train, hp["max_train_utterances"], hp["max_train_hours"]))
    shuffle = hp["sorting"] == "random"
    valid_csvs = as_paths(hp["valid_csv"])
    valid = dataset(valid_csvs, "ascending", None) if valid_csvs else None
    if valid is not None:
        valid = _log_subset("validation", valid, subsample(valid, hp["max_valid_utterances"]))
    test_csvs = _test_names(as_paths(hp["test_csv"]))
    test = {name: dataset([csv], "ascending", None) for name, csv in test_csvs.items()}
    return DataBundle(
        train=train,
        train_loader_kwargs=loader_kwargs(train, shuffle, "random" if shuffle else hp["sorting"]),
        valid=valid,
        valid_loader_kwargs={} if valid is None else loader_kwargs(valid, False, "ascending"),
        test=test,
        test_loader_kwargs={name: loader_kwargs(data, False, "ascending") for name, data in test.items()},
    )
