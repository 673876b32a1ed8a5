"""Distillation (DistilHuBERT-style): student + heads, loss, frozen teacher, target cache, recipe.

* heads give (K, B, T, teacher width) whatever the student's width;
* the loss is 0 when the student's predictions copy the teacher's hidden states;
* the loss falls on a tiny batch;
* the teacher's weights are bit-identical after training through the Brain, and it gets no gradient;
* targets read back from the fp16 cache give the loss of on-the-fly targets;
* the recipe runs with its mini YAML (1 process) and its base YAML (2 processes, gloo), and
  exports a student that ``load_pretrained_encoder`` reads.
"""

import json
import sys
from pathlib import Path

import pytest
import torch
from speechbrain.utils.epoch_loop import EpochCounter
from speechbrain.utils.train_logger import FileTrainLogger

from conftest import run_checked, tiny_encoder, tone, torchrun_command
from efficient_ssl.brains.checkpoints import AtomicCheckpointer
from efficient_ssl.brains.distill import DistillBrain, load_distill_modules
from efficient_ssl.brains.pretrain import WarmupDecayLR
from efficient_ssl.data import dataio_prepare
from efficient_ssl.models import load_pretrained_encoder
from efficient_ssl.models.distill import (
    Distiller,
    FrozenTeacher,
    TeacherCache,
    build_student,
    init_from_public_teacher,
)

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "distill"


def _batch(lengths=(1.0, 0.6)) -> tuple[torch.Tensor, torch.Tensor]:
    samples = int(16000 * max(lengths))
    wav = torch.zeros(len(lengths), samples)
    for row, seconds in enumerate(lengths):
        n = int(16000 * seconds)
        wav[row, :n] = torch.from_numpy(tone(seconds, 16000, row))[:n]
    return wav, torch.tensor(lengths) / max(lengths)


def _teacher(layers=(1, 2), attention_type="regularMHA") -> FrozenTeacher:
    torch.manual_seed(0)
    from efficient_ssl.models import PretrainedEncoder

    encoder = PretrainedEncoder(
        "mel_cnn",
        {"num_layers": 2, "d_model": 32, "nhead": 2, "d_ffn": 64, "kernel_size": 7, "attention_type": attention_type},
        frontend_kwargs={"channels": 32},
    )
    return FrozenTeacher(encoder, list(layers))


def test_head_shapes():
    teacher = _teacher(layers=(1, 2))
    student = build_student(teacher.encoder, num_layers=1, d_model=16, nhead=2, d_ffn=32, attention_type="SummaryMixing")
    distiller = Distiller(student, num_heads=2, target_dim=teacher.d_model)
    wav, lens = _batch()
    predictions, mask = distiller.predict(wav, lens)
    targets, target_mask = teacher(wav, lens)
    assert predictions.shape == targets.shape == (2, 2, mask.shape[1], 32)
    assert torch.equal(mask, target_mask)
    assert student.config["encoder"]["attention_type"] == "SummaryMixing"


def test_loss_is_zero_when_the_student_copies_the_teacher():
    teacher = _teacher(layers=(2,))
    student = build_student(teacher.encoder, num_layers=2, attention_type=None).eval()  # an exact copy
    distiller = Distiller(student, num_heads=1, target_dim=32).eval()
    with torch.no_grad():
        distiller.heads[0].weight.copy_(torch.eye(32))
        distiller.heads[0].bias.zero_()
    wav, lens = _batch()
    with torch.no_grad():
        targets, mask = teacher(wav, lens)  # the teacher's last layer; the heads read the student's
        out = distiller(wav, lens, teacher.encoder.context.norm(targets), mask)  # output, after its norm
    assert abs(float(out.loss)) < 1e-5 and float(out.cos[0]) == pytest.approx(1.0, abs=1e-5)
    with torch.no_grad():
        out = Distiller(build_student(teacher.encoder, num_layers=2, attention_type="SummaryMixing"), 1, 32).eval()(
            wav, lens, *teacher(wav, lens)
        )
    assert float(out.loss) > 0.1  # another mixer, random heads: far from the teacher


def test_loss_falls_on_tiny_data():
    teacher = _teacher(layers=(1, 2))
    torch.manual_seed(1)
    distiller = Distiller(build_student(teacher.encoder, num_layers=1, attention_type="SummaryMixing"), 2, 32)
    optimizer = torch.optim.Adam(distiller.parameters(), lr=3e-3)
    wav, lens = _batch((0.5, 0.3))
    targets, mask = teacher(wav, lens)
    losses = []
    for _ in range(15):
        loss = distiller(wav, lens, targets, mask).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0], losses


def test_cache_gives_the_loss_of_on_the_fly_targets(tmp_path):
    teacher = _teacher(layers=(1, 2))
    distiller = Distiller(build_student(teacher.encoder, num_layers=1), 2, 32).eval()
    cache = TeacherCache(tmp_path, teacher)
    wav, lens = _batch()
    on_the_fly = distiller(wav, lens, *teacher(wav, lens))
    first = distiller(wav, lens, *cache.targets(["a", "b"], wav, lens))  # computed and stored
    assert cache.hits == 0 and len(list(cache.folder.glob("*.pt"))) == 2
    cached = distiller(wav, lens, *cache.targets(["a", "b"], wav, lens))  # read back (fp16)
    assert cache.hits == 2
    assert float(first.loss) == pytest.approx(float(on_the_fly.loss), rel=1e-6)
    assert float(cached.loss) == pytest.approx(float(on_the_fly.loss), rel=1e-3)
    assert TeacherCache(tmp_path, _teacher(layers=(2,))).folder != cache.folder  # another teacher, another cache


def test_teacher_is_bit_identical_after_training(wav_manifest, tmp_path):
    data_root, manifest, _ = wav_manifest
    tiny_encoder().save(tmp_path / "teacher")
    hparams = {
        "data_folder": data_root, "train_csv": manifest, "valid_csv": manifest, "batch_size": 5,
        "output_folder": str(tmp_path / "out"), "teacher": tmp_path / "teacher", "teacher_layers": [1, 2],
        "num_layers": 1, "d_model": None, "nhead": None, "d_ffn": None, "attention_type": "regularMHA",
        "frontend": None, "init_from_teacher": True, "cos_weight": 1.0, "cache_teacher": True,
        "cache_folder": tmp_path / "cache", "log_interval": 1,
        "lr_scheduler": WarmupDecayLR(lr=1e-3, warmup_steps=0, total_steps=10),
        "checkpointer": AtomicCheckpointer(tmp_path / "save", recoverables={}),
        "step_logger": FileTrainLogger(tmp_path / "steps.txt"), "train_logger": FileTrainLogger(tmp_path / "log.txt"),
    }
    modules = load_distill_modules(hparams)
    teacher_before = {k: v.clone() for k, v in modules["teacher"].state_dict().items()}
    student_before = {k: v.clone() for k, v in modules["distiller"].student.state_dict().items()}
    brain = DistillBrain(modules=modules, opt_class=lambda p: torch.optim.AdamW(p, lr=1e-3), hparams=hparams,
                         run_opts={"device": "cpu"}, checkpointer=hparams["checkpointer"])
    data = dataio_prepare(hparams)
    brain.fit(EpochCounter(2), data.train, data.valid, train_loader_kwargs=data.train_loader_kwargs,
              valid_loader_kwargs=data.valid_loader_kwargs)
    teacher_after = modules["teacher"].state_dict()
    assert all(torch.equal(teacher_before[k], teacher_after[k]) for k in teacher_before)
    assert not any(p.requires_grad for p in modules["teacher"].parameters()) and not modules["teacher"].training
    assert any(not torch.equal(student_before[k], v) for k, v in modules["distiller"].student.state_dict().items())
    assert brain.cache.hits > 0  # epoch 2 read epoch 1's targets
    student = load_pretrained_encoder(tmp_path / "save")  # the checkpoint holds the student
    assert len(student.context.layers) == 1 and student.config["encoder"]["attention_type"] == "regularMHA"
    assert "valid loss" in (tmp_path / "log.txt").read_text()


TINY = ["--teacher_layers=[1, 2]", "--num_layers=1", "--max_batch_length_s=8.0", "--total_steps=2",
        "--warmup_steps=1", "--num_workers=0", "--precision=fp32"]


def test_mini_yaml_runs_and_exports_the_student(tiny_corpus, tmp_path):
    tiny_encoder().save(tmp_path / "teacher")
    out = tmp_path / "exp"
    run_checked([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "distill_mini.yaml"),
                 f"--data_folder={tiny_corpus / 'LibriSpeech'}", f"--teacher={tmp_path / 'teacher'}",
                 f"--output_folder={out}", *TINY], tmp_path)
    student = load_pretrained_encoder(out / "student")
    assert len(student.context.layers) == 1 and student.config["encoder"]["attention_type"] == "SummaryMixing"
    assert list((out / "teacher_cache").glob("*/*.pt"))
    assert "valid loss" in (out / "train_log.txt").read_text()


def test_base_yaml_runs_on_two_processes(tiny_corpus, tmp_path):
    tiny_encoder().save(tmp_path / "teacher")
    out = tmp_path / "exp"
    result = run_checked([*torchrun_command(2), str(RECIPE / "train.py"), str(RECIPE / "hparams" / "distill_base.yaml"),
                          f"--data_folder={tiny_corpus / 'LibriSpeech'}", f"--teacher={tmp_path / 'teacher'}",
                          f"--output_folder={out}", "--distributed_backend=gloo", "--device=cpu",
                          "--attention_type=regularMHA", *TINY], tmp_path)
    assert json.loads((out / "cost_train.json").read_text())["extra"]["world_size"] == 2
    checkpoint = sorted((out / "save").glob("CKPT+*"))[-1]
    assert (checkpoint / "encoder.ckpt").is_file() and (checkpoint / "random_state.rank1.ckpt").is_file()
    assert load_pretrained_encoder(out / "student").config["encoder"]["attention_type"] == "regularMHA"
    assert result.stdout.count("Student encoder saved") + result.stderr.count("Student encoder saved") <= 1


def test_report_by_construction(tmp_path):
    """tools/distill_report.py --construct-only (mini only, short utterances to stay fast)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import distill_report

    records = distill_report.main(["--construct-only", "--configs", "mini", "--short-s", "1", "--long-s", "6",
                                   "--output", str(tmp_path)])
    assert json.loads((tmp_path / "distill.json").read_text()) == records
    by_model = {r["model"]: r for r in records}
    assert set(by_model) == {"teacher", "student_mha", "student_summarymixing"}
    assert all({"model", "config", "params", "macs_per_audio_s", "macs_ratio", "rtf_cpu_1s"} <= set(r) for r in records)
    teacher, student = by_model["teacher"], by_model["student_summarymixing"]
    assert student["params"] < teacher["params"] and student["macs_ratio"] < 1.0
    assert student["macs_growth"] == pytest.approx(1.0, abs=0.05)  # linear time
    assert teacher["macs_growth"] > student["macs_growth"]  # attention: quadratic
    assert "student_summarymixing" in (tmp_path / "distill.md").read_text()


def _public_teacher(family: str, folder: Path, **overrides) -> Path:
    """A tiny random transformers model of ``family`` (tests/test_public_checkpoints.py), saved to ``folder``."""
    pytest.importorskip("transformers")
    from test_public_checkpoints import save_tiny

    return save_tiny(family, folder, **overrides)


@pytest.mark.parametrize("family", ["wav2vec2_base", "wavlm_large", "data2vec", "conformer"])
def test_a_public_teacher_gets_a_student_in_the_encoder_format(family, tmp_path, caplog):
    teacher = load_pretrained_encoder(_public_teacher(family, tmp_path / family))
    with caplog.at_level("INFO", logger="efficient_ssl.models.distill"):
        student = build_student(teacher, num_layers=1, attention_type="regularMHA")
    assert sum("Student of a public" in r.getMessage() for r in caplog.records) == 1  # one log line
    assert student.config["frontend"] == "raw_cnn" and student.frontend.hop_samples == teacher.frontend.hop_samples
    hf = teacher.config["transformers"]
    for i in range(3):  # the CNN convolutions and the feature projection are the teacher's
        ours = getattr(student.frontend.extractor.extractor, f"convblock_{i}").convs.conv_0.conv.weight
        assert torch.equal(ours, teacher.frontend.conv_layers[i].conv.weight)
    assert torch.equal(student.input_proj.weight, teacher.projection.projection.weight)
    layer, theirs = student.context.layers[0], teacher.context.layers[0].layer
    if family != "conformer":  # layer 0: attention (q, k, v packed) and feed-forward linears of teacher layer 0
        assert torch.equal(layer.mixer.in_proj_weight[:16], theirs.attention.q_proj.weight)
        assert torch.equal(layer.ffn[1].weight, theirs.feed_forward.intermediate_dense.weight)
        copied = init_from_public_teacher(student, teacher)  # norms only from a pre-LN teacher, as ours
        assert ("context.layers.0.ffn.0.weight" in copied) == bool(hf.get("do_stable_layer_norm"))
    own_frontend = build_student(teacher, num_layers=1, frontend="mel_cnn", frontend_kwargs={"channels": 8})
    assert not any(n.startswith(("frontend.", "input_proj")) for n in init_from_public_teacher(own_frontend, teacher))
    wav, lens = _batch()
    targets, mask = FrozenTeacher(teacher, [1, 2])(wav, lens)
    assert student.eval()(wav, lens)[2].equal(mask)  # the same frames as the teacher's
    student.save(tmp_path / "student")
    reloaded = load_pretrained_encoder(tmp_path / "student")
    with torch.no_grad():
        assert torch.equal(reloaded(wav, lens)[0], student(wav, lens)[0])


def test_mini_yaml_distils_a_public_teacher(tiny_corpus, tmp_path):
    from test_public_checkpoints import small_librispeech

    folder = _public_teacher("wav2vec2_base", tmp_path / "hubert_like", conv_dim=(16,) * 5,
                             conv_kernel=(10, 3, 3, 3, 2), conv_stride=(5, 2, 2, 2, 2))
    data = small_librispeech(tiny_corpus, tmp_path / "LibriSpeech", splits=("train-clean-100", "train-clean-360", "dev-clean"))
    out = tmp_path / "exp"
    run = run_checked([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "distill_mini.yaml"),
                       f"--data_folder={data}", f"--teacher={folder}", f"--output_folder={out}", *TINY,
                       "--number_of_epochs=1"], tmp_path)
    assert "Student of a public wav2vec2 teacher" in run.stdout + run.stderr
    student = load_pretrained_encoder(out / "student")  # this project's encoder format
    assert (out / "student" / "encoder_config.json").is_file() and student.config["frontend"] == "raw_cnn"
    assert len(student.context.layers) == 1 and student.frontend.hop_samples == 80
    assert list((out / "teacher_cache").glob("*/*.pt")) and "valid loss" in (out / "train_log.txt").read_text()
