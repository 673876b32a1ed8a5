"""Tests of the shared data pipeline: audio reading, datasets, batching, dataio_prepare."""

import pickle

import numpy as np
import pytest
import soundfile
import speechbrain as sb
import torch
from speechbrain.dataio.dataloader import make_dataloader

from efficient_ssl.data import dataio_prepare, make_dataset, make_loader_kwargs, read_audio


def dominant_frequency(sig: torch.Tensor, sample_rate: int) -> float:
    spectrum = torch.fft.rfft(sig).abs()
    return float(spectrum.argmax()) * sample_rate / len(sig)


def word_lengths(wrd: str) -> torch.Tensor:
    """A stand-in text pipeline: the length of each word, shape (words,)."""
    return torch.tensor([len(word) for word in wrd.split()])


@pytest.mark.parametrize("file_rate, channels", [(8000, 1), (44100, 1), (16000, 2), (44100, 2)])
def test_read_audio_gives_16k_mono_float32(tmp_path, file_rate, channels):
    t = np.arange(file_rate // 2) / file_rate  # 0.5 s
    left = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    audio = left if channels == 1 else np.stack([left, np.zeros_like(left)], axis=1)  # (samples, 2)
    soundfile.write(tmp_path / "x.wav", audio, file_rate)
    sig = read_audio(tmp_path / "x.wav", sample_rate=16000)
    assert sig.dtype == torch.float32 and sig.dim() == 1
    assert abs(len(sig) - 8000) <= 1
    assert dominant_frequency(sig, 16000) == pytest.approx(440.0, abs=4.0)
    expected_peak = 0.5 if channels == 1 else 0.25  # mean of the two channels
    assert float(sig.abs().max()) == pytest.approx(expected_peak, abs=0.05)


def test_read_audio_error_names_the_file(tmp_path):
    (tmp_path / "bad.flac").write_bytes(b"garbage" * 10)
    with pytest.raises(RuntimeError, match="bad.flac"):
        read_audio(tmp_path / "bad.flac")


def test_padded_batches_have_correct_relative_lengths(wav_manifest):
    data_folder, manifest, durations = wav_manifest
    dataset = make_dataset(manifest, data_folder, sorting="descending", output_keys=["id", "sig", "duration"])
    loader = make_dataloader(dataset, **make_loader_kwargs(dataset, batch_size=4))
    seen = []
    for batch in loader:
        wavs, lengths = batch.sig
        assert wavs.shape[0] == len(batch.id) and wavs.dim() == 2
        assert float(lengths[0]) == 1.0  # descending: the first is the longest
        for wav, rel_length, utt_id in zip(wavs, lengths, batch.id):
            n = int(round(float(rel_length) * wavs.shape[1]))
            assert n == int(round(durations[utt_id] * 16000))
            assert wav[:n].abs().max() > 0.1 and (wav[n:] == 0).all()
        seen += batch.id
    assert sorted(seen) == sorted(durations)


def test_dynamic_batching_respects_max_batch_length(wav_manifest):
    data_folder, manifest, durations = wav_manifest
    dataset = make_dataset(manifest, data_folder, sorting="random")
    kwargs = make_loader_kwargs(
        dataset, dynamic_batching=True, max_batch_length_s=3.0, num_buckets=4, shuffle=True
    )
    batches = list(kwargs["batch_sampler"])
    assert any(len(batch) > 1 for batch in batches)
    for batch in batches:
        lengths = [dataset.data[dataset.data_ids[i]]["duration"] for i in batch]
        assert len(batch) == 1 or len(batch) * max(lengths) <= 3.0
    assert sorted(i for batch in batches for i in batch) == list(range(len(durations)))
    for batch in make_dataloader(dataset, **kwargs):
        wavs = batch.sig.data  # (B, max samples)
        assert wavs.shape[0] == 1 or wavs.shape[0] * wavs.shape[1] / 16000 <= 3.0 + 1e-6


def test_dynamic_batching_needs_max_batch_length(wav_manifest):
    data_folder, manifest, _ = wav_manifest
    with pytest.raises(ValueError, match="max_batch_length_s"):
        make_loader_kwargs(make_dataset(manifest, data_folder), dynamic_batching=True)


def test_duration_filtering_and_sorting(wav_manifest):
    data_folder, manifest, durations = wav_manifest
    dataset = make_dataset(manifest, data_folder, max_duration=1.5, min_duration=0.6, output_keys=["duration"])
    kept = [example["duration"] for example in dataset]
    assert kept == sorted(d for d in durations.values() if 0.6 <= d <= 1.5)
    descending = make_dataset(manifest, data_folder, sorting="descending", output_keys=["duration"])
    assert [example["duration"] for example in descending] == sorted(durations.values(), reverse=True)
    unsorted = make_dataset(manifest, data_folder, sorting="random", output_keys=["id"])
    assert [example["id"] for example in unsorted] == list(durations)  # manifest order, shuffled by the loader
    with pytest.raises(ValueError, match="sorting='shortest'"):
        make_dataset(manifest, data_folder, sorting="shortest")


def test_several_manifests_are_concatenated(wav_manifest, tmp_path):
    data_folder, manifest, durations = wav_manifest
    lines = manifest.read_text().splitlines()
    other = tmp_path / "other.csv"
    other.write_text("\n".join([lines[0]] + ["b_" + line for line in lines[1:]]) + "\n")
    both = make_dataset([manifest, other], data_folder, output_keys=["id"])
    assert len(both) == 2 * len(durations)
    with pytest.raises(ValueError, match="utt00 is in both"):
        make_dataset([manifest, manifest], data_folder)
    with pytest.raises(FileNotFoundError, match="missing.csv not found"):
        make_dataset(tmp_path / "missing.csv", data_folder)


def test_recipe_items_are_added_and_padded(wav_manifest):
    data_folder, manifest, _ = wav_manifest
    text_item = {"func": word_lengths, "takes": "wrd", "provides": "tokens"}
    dataset = make_dataset(manifest, data_folder, output_keys=["id", "wrd", "tokens"], dynamic_items=[text_item])
    batch = next(iter(make_dataloader(dataset, **make_loader_kwargs(dataset, batch_size=3))))
    padded, lengths = batch.tokens
    for row, rel_length, wrd in zip(padded, lengths, batch.wrd):
        n = len(wrd.split())
        assert float(rel_length) * padded.shape[1] == pytest.approx(n)
        assert row[:n].tolist() == [len(word) for word in wrd.split()]
    pickle.dumps(dataset)  # loader workers can receive it under spawn / forkserver too


def test_dataio_prepare_from_hparams(wav_manifest):
    data_folder, manifest, durations = wav_manifest
    hparams = {
        "data_folder": data_folder,
        "train_csv": [manifest],
        "valid_csv": manifest,
        "test_csv": [manifest],
        "max_duration": 1.0,
        "sorting": "random",
        "dynamic_batching": True,
        "max_batch_length_s": 2.5,
        "num_buckets": 3,
    }
    data = dataio_prepare(hparams, output_keys=["id", "sig", "duration"])
    assert len(data.train) == sum(d <= 1.0 for d in durations.values())
    assert len(data.valid) == len(data.test["train"]) == len(durations)  # never filtered
    for dataset, kwargs in [
        (data.train, data.train_loader_kwargs),
        (data.valid, data.valid_loader_kwargs),
        (data.test["train"], data.test_loader_kwargs["train"]),
    ]:
        for batch in make_dataloader(dataset, **kwargs):
            assert len(batch.id) == 1 or len(batch.id) * max(batch.duration) <= 2.5
    fixed = dataio_prepare({"data_folder": data_folder, "train_csv": manifest, "batch_size": 3})
    assert fixed.train_loader_kwargs["batch_size"] == 3 and fixed.valid is None and fixed.test == {}
    with pytest.raises(KeyError, match="'train_csv'"):
        dataio_prepare({"data_folder": data_folder})


def test_training_subsets_are_fixed_nested_and_batched_dynamically(wav_manifest):
    """max_train_hours / max_train_utterances: the same subset for any seed, smaller caps inside larger."""
    data_folder, manifest, durations = wav_manifest
    hparams = {"data_folder": data_folder, "train_csv": manifest, "valid_csv": manifest, "seed": 1,
               "dynamic_batching": True, "max_batch_length_s": 2.5, "num_buckets": 3}
    total_h = sum(durations.values()) / 3600
    half = dataio_prepare({**hparams, "max_train_hours": total_h / 2}, output_keys=["id", "duration"])
    same = dataio_prepare({**hparams, "max_train_hours": total_h / 2, "seed": 2}, output_keys=["id", "duration"])
    most = dataio_prepare({**hparams, "max_train_hours": total_h * 0.9, "max_valid_utterances": 2},
                          output_keys=["id", "duration"])
    ids = {name: set(d.data_ids) for name, d in (("half", half.train), ("same", same.train), ("most", most.train))}
    assert 0 < len(ids["half"]) < len(ids["most"]) < len(durations)
    assert ids["half"] == ids["same"] and ids["half"] < ids["most"]
    assert sum(durations[i] for i in ids["half"]) <= total_h / 2 * 3600
    assert len(most.valid) == 2 and len(half.valid) == len(durations)
    batched = [i for batch in make_dataloader(half.train, **half.train_loader_kwargs) for i in batch.id]
    assert sorted(batched) == sorted(ids["half"])  # the dynamic batches cover the subset, nothing else
    two = dataio_prepare({**hparams, "max_train_utterances": 2})
    assert len(two.train) == 2


def test_loader_kwargs_work_with_brain_fit(wav_manifest, tmp_path):
    data_folder, manifest, _ = wav_manifest

    class MeanBrain(sb.Brain):
        def compute_forward(self, batch, stage):
            wavs, _ = batch.sig  # (B, samples)
            return self.modules.scale(wavs.unsqueeze(-1)).mean()  # (B, samples, 1) -> scalar

        def compute_objectives(self, predictions, batch, stage):
            return predictions.abs()

    hparams = {"data_folder": data_folder, "train_csv": manifest, "valid_csv": manifest, "test_csv": manifest}
    data = dataio_prepare({**hparams, "dynamic_batching": True, "max_batch_length_s": 3.0, "num_buckets": 3})
    brain = MeanBrain(
        modules={"scale": torch.nn.Linear(1, 1)},
        opt_class=lambda params: torch.optim.SGD(params, lr=0.01),
        run_opts={"device": "cpu", "noprogressbar": True},
    )
    brain.fit(range(1), data.train, data.valid, data.train_loader_kwargs, data.valid_loader_kwargs)
    loss = brain.evaluate(data.test["train"], test_loader_kwargs=data.test_loader_kwargs["train"])
    assert np.isfinite(loss)
