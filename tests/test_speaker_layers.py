"""tools/speaker_layers.py: the closed-form speaker measure per hidden state, and a run on the tiny corpus."""

import json
import sys
from pathlib import Path

import torch

from conftest import tiny_encoder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import speaker_layers  # noqa: E402


def trials_csv(path: Path, ids: list[str], speakers: list[str]) -> Path:
    lines = ["label,enrol,test"]
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            lines.append(f"{int(speakers[i] == speakers[j])},{ids[i]},{ids[j]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_layer_eers_find_the_state_that_carries_the_speaker(tmp_path):
    # Two "hidden states" of 8 features: state 0 holds a per-speaker offset under noise that
    # varies along other directions; state 1 is noise only. Test speakers are unseen in training.
    g = torch.Generator().manual_seed(0)

    def utterances(speakers: list[str]) -> torch.Tensor:
        offsets = {s: torch.randn(8, generator=g, dtype=torch.float64) for s in sorted(set(speakers))}
        noise = torch.randn(len(speakers), 2, 8, generator=g, dtype=torch.float64)
        noise[:, 0, :4] *= 0.1  # the speaker directions are quiet within a speaker
        states = noise.clone()
        states[:, 0, :4] += torch.stack([offsets[s][:4] for s in speakers])
        states[:, 0, 4:] *= 3.0  # loud nuisance directions: only the LDA's whitening removes them
        return states

    train_speakers = [f"s{k % 12}" for k in range(120)]
    test_speakers = [f"t{k % 6}" for k in range(36)]
    test_ids = [f"u{k}" for k in range(36)]
    trials = trials_csv(tmp_path / "trials.csv", test_ids, test_speakers)
    eers = speaker_layers.layer_eers(utterances(train_speakers), train_speakers, utterances(test_speakers),
                                     test_ids, trials)
    assert eers[0] < 10 and eers[1] > 30


def test_speaker_layers_runs_on_the_tiny_corpus(tiny_corpus, tmp_path):
    encoder = tmp_path / "encoder"
    tiny_encoder().save(encoder)
    out = tmp_path / "out"
    speaker_layers.main([f"--encoder=tiny={encoder}", "--random-draws=2", f"--output={out}", f"--data={tiny_corpus}"])
    results = json.loads((out / "speaker_layers.json").read_text())
    assert list(results) == ["tiny", "random init"] and len(results["random init"]) == 2
    assert all(len(draw) == 3 and all(0 <= e <= 100 for e in draw) for draws in results.values() for draw in draws)
    assert results["random init"][0] != results["random init"][1]  # two different untrained draws
    assert "±" in (out / "speaker_layers.md").read_text()
