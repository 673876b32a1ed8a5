"""Brain.measure_inference is bounded: a few profiled batches, every batch streamed once for time."""

import json

import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataset import DynamicItemDataset

from efficient_ssl.brains.base import Brain


class _FrameBrain(Brain):
    """A linear layer over 160-sample frames of the waveform (100 frames per audio second)."""

    def compute_forward(self, batch, stage):
        self.forwards.append(len(batch))
        wavs, _ = batch.sig
        frames = wavs[:, : wavs.shape[1] // 160 * 160].reshape(len(batch), -1, 160)  # (B, T, 160)
        return self.modules.model(frames)


def test_measure_inference_profiles_a_few_batches_and_streams_all(tmp_path):
    seconds = [0.5 + 0.1 * (i // 2) for i in range(20)]  # sorted, as test sets are; no padding in pairs
    data = {f"u{i:02d}": {"sig": torch.rand(int(s * 16000))} for i, s in enumerate(seconds)}
    dataset = DynamicItemDataset(data, output_keys=["id", "sig"])
    brain = _FrameBrain(
        modules={"model": torch.nn.Linear(160, 10)},
        hparams={"output_folder": str(tmp_path), "measure_profile_batches": 3},
        run_opts={"device": "cpu"},
    )
    brain.forwards = []
    report = brain.measure_inference(dataset, {"batch_size": 2, "collate_fn": PaddedBatch}, name="bounded")

    assert report.extra["batches"] == 10 and report.extra["profiled_batches"] == 3
    assert brain.forwards == [2] * 13  # 3 profiled batches, then each of the 10 batches once
    assert abs(report.audio_s - sum(seconds)) < 1e-3
    # FLOPs counted on 3 batches, scaled by audio: a linear layer costs the same per second
    assert abs(report.macs_per_audio_s - 160 * 10 * 100) / (160 * 10 * 100) < 0.02
    assert report.extra["flops_profiled_audio_s"] < report.audio_s
    saved = json.loads((tmp_path / "cost_bounded.json").read_text())
    assert saved["extra"]["batches"] == 10

    brain.forwards = []
    brain.hparams.measure_max_batches = 4
    report = brain.measure_inference(dataset, {"batch_size": 2, "collate_fn": PaddedBatch}, name="capped")
    assert report.extra["batches"] == 4 and len(brain.forwards) == 3 + 4
    assert sb.utils.distributed.if_main_process()
