"""Sustainable student-teacher SSL (paper 3): EMA teacher, progressive downsampling, learning,
the cost table and the recipes (one process, every YAML of LibriSpeech and Common Voice, two
processes)."""

import json
import sys
from io import StringIO
from pathlib import Path

import pytest
import ruamel.yaml
import torch

from conftest import run_checked, torchrun_command
from efficient_ssl.hparams import compose
from efficient_ssl.models import CTCModel, PretrainedEncoder, load_pretrained_encoder
from efficient_ssl.models.sustainable import EMATeacher, SustainablePretrainer, frame_contrastive_loss

ROOT = Path(__file__).parents[1]
PRETRAIN = ROOT / "recipes" / "LibriSpeech" / "pretrain"
CV_PRETRAIN = ROOT / "recipes" / "CommonVoice" / "pretrain"
sys.path.insert(0, str(ROOT / "tools"))
import cost_table  # noqa: E402

TINY_STEM = {"channels": [16, 24, 24, 48, 32], "nhead": 2, "d_ffn": 48, "n_mels": 40}


def tiny_student(attention_type: str = "regularMHA", seed: int = 0) -> SustainablePretrainer:
    torch.manual_seed(seed)
    encoder = PretrainedEncoder(
        "progressive_stem",
        {"num_layers": 2, "d_model": 32, "nhead": 2, "d_ffn": 64, "layer_type": "transformer",
         "attention_type": attention_type},
        frontend_kwargs={**TINY_STEM, "attention_type": attention_type},
    )
    return SustainablePretrainer(encoder, final_dim=16, max_position_shift=4)


def tones(lengths_s, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded batch of sines with a little noise, and relative lengths."""
    generator = torch.Generator().manual_seed(seed)
    longest = int(max(lengths_s) * 16000)
    wav = torch.zeros(len(lengths_s), longest)
    for n, seconds in enumerate(lengths_s):
        t = torch.arange(int(seconds * 16000)) / 16000
        pitch = 150 + 40 * n + 60 * torch.sin(2 * torch.pi * 0.7 * t)  # gliding pitch
        wav[n, : len(t)] = 0.3 * torch.sin(2 * torch.pi * pitch.cumsum(0) / 16000) + 0.02 * torch.randn(
            len(t), generator=generator)
    return wav, torch.tensor([s / max(lengths_s) for s in lengths_s])


def test_ema_teacher_follows_the_cosine_schedule_and_gets_no_gradient():
    student = tiny_student()
    teacher = EMATeacher(student, momentum_start=0.995, momentum_end=1.0, total_steps=10)
    assert [teacher.momentum(s) for s in (0, 5, 10, 20)] == [0.995, 0.9975, 1.0, 1.0]
    assert not any(p.requires_grad for p in teacher.parameters())
    # a training step: the loss reaches the student only
    wav, lens = tones([1.0, 0.8])
    targets, _ = teacher(wav, lens)
    out = student(wav, lens)
    frame_contrastive_loss(out.predictions, targets, out.mask, 10, 0.3)[0].backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert any(p.grad is not None for p in student.parameters())
    before = [p.clone() for p in teacher.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    m = teacher.update(student, step=3)
    assert m == pytest.approx(teacher.momentum(3)) and 0.995 < m < 1.0
    students = list(student.encoder.parameters()) + list(student.projection.parameters())
    for t, t0, s in zip(teacher.parameters(), before, students):
        torch.testing.assert_close(t, m * t0 + (1 - m) * s)
    moved = [p.clone() for p in teacher.parameters()]
    teacher.update(student, step=10)  # momentum 1.0: the teacher stays put
    assert all(torch.equal(a, b) for a, b in zip(moved, teacher.parameters()))
    assert not teacher.train().training  # always eval: no dropout, no layerdrop


@pytest.mark.parametrize("attention_type", ["regularMHA", "SummaryMixing"])
def test_downsampling_lengths_and_masks_padding_never_leaks(attention_type):
    encoder = tiny_student(attention_type).encoder.eval()
    stem = encoder.frontend
    assert stem.hop_samples == 1280  # 10 ms x 2 x 2 x 2: 80 ms frames
    wav, lens = tones([2.0, 1.3, 0.7])
    with torch.no_grad():
        out, hidden, mask = encoder(wav, lens)
        assert out.shape[1] == mask.shape[1] == int(stem.output_lengths(torch.tensor(wav.shape[1])))
        assert len(hidden) == 3 and all(h.shape == (3, mask.shape[1], 32) for h in hidden)
        for n, seconds in enumerate([2.0, 1.3, 0.7]):
            alone = wav[n : n + 1, : int(seconds * 16000)]
            out_alone, hidden_alone, mask_alone = encoder(alone, torch.ones(1))
            frames = int(mask[n].sum())
            assert frames == int(mask_alone.sum()) == int(stem.output_lengths(torch.tensor(alone.shape[1])))
            torch.testing.assert_close(out[n, :frames], out_alone[0, :frames], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(hidden[1][n, :frames], hidden_alone[1][0, :frames], atol=1e-4, rtol=1e-4)
        # the middle Transformer layers see a mask of their own (40 ms frames)
        fbank_frames = stem.input_steps(torch.round(lens * wav.shape[1]).long())
        after_two_convs = ((fbank_frames - 5) // 2 + 1 - 5) // 2 + 1  # k5 s2, k5 s2 (then k1)
        assert stem.middle_mask(lens, wav.shape[1]).sum(dim=1).tolist() == after_two_convs.tolist()


def test_loss_falls_and_agreement_rises_on_tiny_data():
    student = tiny_student(seed=1)
    teacher = EMATeacher(student, total_steps=20)
    optimizer = torch.optim.AdamW(student.parameters(), lr=3e-3)
    wav, lens = tones([1.2, 1.0], seed=2)
    losses, agreement = [], []
    for step in range(1, 21):
        targets, _ = teacher(wav, lens)
        out = student(wav, lens)
        loss, _ = frame_contrastive_loss(out.predictions, targets, out.mask, 20, 0.3)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        teacher.update(student, step)
        losses.append(float(loss.detach()))
        with torch.no_grad():
            cosine = torch.nn.functional.cosine_similarity(out.predictions, targets, dim=-1)  # (B, T)
        agreement.append(float(cosine[out.mask].mean()))
    assert sum(losses[-5:]) / 5 < 0.9 * sum(losses[:5]) / 5, losses  # measured: 0.85x after 20 steps
    assert sum(agreement[-5:]) / 5 > sum(agreement[:5]) / 5, agreement


def test_cost_table_on_tiny_configs(tmp_path):
    records = cost_table.run(tmp_path, seconds=1.0, size="tiny", models=("wav2vec2_base", "sustainable"))
    saved = json.loads((tmp_path / "cost_table.json").read_text())
    assert [r["model"] for r in saved] == ["wav2vec2_base", "sustainable"] == [r["model"] for r in records]
    for record in saved:
        for key in ("params", "flops_per_audio_s", "train_flops_per_audio_s", "peak_train_mem_mb_per_audio_s",
                    "pretrain_run_flops", "step_energy_kwh", "pretrain_run_energy_kwh_estimate"):
            assert record[key] > 0, key
        assert record["train_flops_per_audio_s"] > 2 * record["flops_per_audio_s"]  # backward + teacher
        assert record["pretrain_run_flops"] == pytest.approx(
            record["train_flops_per_audio_s"] * record["pretrain_steps"] * record["pretrain_audio_s_per_step"])
    assert saved[0]["train_flops_per_audio_s_vs_wav2vec2_base"] == 1.0
    assert "## Targets" in (tmp_path / "cost_table.md").read_text()


TINY_OVERRIDES = ["--stem_channels=[16, 24, 24, 48, 32]", "--stem_nhead=2", "--stem_d_ffn=48", "--d_model=32",
                  "--num_layers=1", "--nhead=2", "--d_ffn=64", "--final_dim=16", "--num_negatives=10"]


BASE_ON_CPU = ["--total_steps=2", "--precision=fp32", "--max_batch_length_s=20", "--grad_accumulation_factor=1",
               "--num_workers=0", "--num_buckets=5", *TINY_OVERRIDES]


@pytest.mark.parametrize("recipe, yaml, extra", [
    ("LibriSpeech", "sustainable_mini.yaml", ["--total_steps=3", "--attention_type=SummaryMixing"]),
    pytest.param("LibriSpeech", "sustainable_base.yaml", BASE_ON_CPU,
                 marks=pytest.mark.slow),  # the mini YAML is a variant of it: same code, other keys
    ("CommonVoice", "sustainable_mini.yaml", ["--total_steps=2", *TINY_OVERRIDES]),
    pytest.param("CommonVoice", "sustainable_base.yaml", BASE_ON_CPU, marks=pytest.mark.slow),
])
def test_every_sustainable_yaml_runs_and_leaves_a_loadable_encoder(recipe, yaml, extra, tiny_corpus, tmp_path):
    out = tmp_path / "exp"
    folder = ROOT / "recipes" / recipe / "pretrain"
    run_checked([sys.executable, str(folder / "train.py"), str(folder / "hparams" / yaml),
                 f"--data_folder={tiny_corpus / recipe}", f"--output_folder={out}", *extra], tmp_path)
    checkpoint = sorted((out / "save").glob("CKPT+*"))[-1]
    assert (checkpoint / "teacher.ckpt").is_file() and (checkpoint / "encoder_config.json").is_file()
    assert "valid agreement" in (out / "train_log.txt").read_text()
    encoder = load_pretrained_encoder(out / "save")
    wav, lens = tones([1.0, 0.6])
    _, hidden, mask = encoder(wav, lens)
    expected = encoder.frontend.output_lengths(torch.tensor([16000, 9600]))
    assert mask.sum(dim=1).tolist() == expected.tolist() and len(hidden) == len(encoder.context.layers) + 1
    ctc = CTCModel(encoder, vocab_size=30, upsampling=2)  # fine-tuning takes it unchanged
    assert ctc(wav, lens).logits[-1].shape == (2, 2 * int(expected[0]), 30)


def test_sustainable_recipe_runs_on_two_processes(tiny_corpus, tmp_path):
    out = tmp_path / "exp"
    run_checked([*torchrun_command(2), str(PRETRAIN / "train.py"), str(PRETRAIN / "hparams" / "sustainable_mini.yaml"),
                 f"--data_folder={tiny_corpus / 'LibriSpeech'}", f"--output_folder={out}", "--total_steps=2",
                 "--distributed_backend=gloo", "--device=cpu", *TINY_OVERRIDES], tmp_path)
    assert json.loads((out / "cost_train.json").read_text())["extra"]["world_size"] == 2
    checkpoint = sorted((out / "save").glob("CKPT+*"))[-1]
    assert (checkpoint / "teacher.ckpt").is_file() and (checkpoint / "random_state.rank1.ckpt").is_file()
    assert "steps: 2" in (out / "train_log.txt").read_text()


def yaml_text(value) -> str:
    """A YAML value as text, tags (!new, !ref) included: equal text, equal hparams."""
    stream = StringIO()
    ruamel.yaml.YAML().dump({"value": value}, stream)
    return stream.getvalue()


def test_common_voice_trains_the_librispeech_sustainable_model():
    """Common Voice's sustainable YAMLs change paths and data only: the rest (the shared fragments) is LibriSpeech's."""
    paths_and_data = {"data_folder", "output_folder", "languages", "splits", "train_csv", "valid_csv"}
    for size in ("base", "mini"):
        librispeech = compose(PRETRAIN / "hparams" / f"sustainable_{size}.yaml")
        common_voice = compose(CV_PRETRAIN / "hparams" / f"sustainable_{size}.yaml")
        assert set(common_voice) - paths_and_data == set(librispeech) - paths_and_data
        for key in set(librispeech) - paths_and_data:
            assert yaml_text(common_voice[key]) == yaml_text(librispeech[key]), (size, key)
    assert compose(CV_PRETRAIN / "hparams" / "sustainable_base.yaml")["languages"] == ["cy", "eu"]
