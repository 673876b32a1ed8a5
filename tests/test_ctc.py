"""CTC Brain: overfits a handful of synthesised utterances; the recipe runs and resumes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import speechbrain as sb
import torch

from efficient_ssl.brains.ctc import CTCBrain, ctc_text_pipeline
from efficient_ssl.data import make_dataset, make_loader_kwargs, prepare_librispeech
from efficient_ssl.data.tokens import CharTokenizer, manifest_texts
from efficient_ssl.models import CTCModel, PretrainedEncoder

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "finetune"


@pytest.fixture(scope="module")
def manifests(tiny_corpus, tmp_path_factory):
    save = tmp_path_factory.mktemp("ctc_manifests")
    return prepare_librispeech(tiny_corpus / "LibriSpeech", save)


def _tiny_brain(tokenizer, save_folder):
    torch.manual_seed(0)
    encoder = PretrainedEncoder(
        "mel_cnn",
        {"num_layers": 2, "d_model": 96, "nhead": 2, "d_ffn": 192, "kernel_size": 7, "dropout": 0.0},
        frontend_kwargs={"channels": 96},
        input_dropout=0.0,
    )
    model = CTCModel(encoder, tokenizer.vocab_size)
    hparams = {
        "tokenizer": tokenizer,
        "freeze_encoder": False,
        "decoder": "greedy",
        "beam_size": 10,
        "wav_augment": None,
        "encoder_opt_class": lambda p: torch.optim.Adam(p, lr=3e-3),
        "head_opt_class": lambda p: torch.optim.Adam(p, lr=3e-3),
        "epoch_counter": sb.utils.epoch_loop.EpochCounter(1),
        "train_logger": sb.utils.train_logger.FileTrainLogger(save_folder / "log.txt"),
        "test_wer_file": save_folder / "wer.txt",
    }
    checkpointer = sb.utils.checkpoints.Checkpointer(save_folder / "ckpt", {"model": model})
    return CTCBrain(
        modules={"model": model},
        hparams=hparams,
        run_opts={"device": "cpu"},
        checkpointer=checkpointer,
    )


def test_ctc_brain_overfits_a_handful_of_utterances(tiny_corpus, manifests, tmp_path):
    tokenizer = CharTokenizer.from_texts(manifest_texts(manifests["train-clean-100"]))
    dataset = make_dataset(
        manifests["train-clean-100"],
        tiny_corpus / "LibriSpeech",
        output_keys=["id", "sig", "wrd", "tokens"],
        dynamic_items=[ctc_text_pipeline(tokenizer)],
    )
    few = dataset.filtered_sorted(select_n=4)
    brain = _tiny_brain(tokenizer, tmp_path)
    brain.on_fit_start()
    batch = next(iter(sb.dataio.dataloader.make_dataloader(few, **make_loader_kwargs(few, batch_size=4))))
    losses = [brain.fit_batch(batch).item() for _ in range(120)]
    assert losses[-1] < 0.2 * losses[0]

    brain.on_stage_start(sb.Stage.TEST)
    brain.modules.eval()
    brain.evaluate_batch(batch, sb.Stage.TEST)
    assert brain.cer_metric.summarize("error_rate") < 15.0


def test_warmup_ramps_every_learning_rate_and_resumes_from_the_optimiser_state(tmp_path):
    tokenizer = CharTokenizer.from_texts(["AB"])
    brain = _tiny_brain(tokenizer, tmp_path)
    brain.hparams.warmup_steps = 4
    brain.on_fit_start()
    lrs = []
    for _ in range(6):
        brain.on_fit_batch_start(None, should_step=True)
        lrs.append([opt.param_groups[0]["lr"] for opt in brain.optimizers_dict.values()])
        brain.optimizer_step += 1
    assert [lr[0] for lr in lrs] == pytest.approx([3e-3 * k / 4 for k in (1, 2, 3, 4, 4, 4)])
    assert all(lr[0] == lr[1] for lr in lrs)  # head and encoder alike

    # A run stopped after 2 steps: the optimiser state keeps the peak, the counter the step.
    fresh = _tiny_brain(tokenizer, tmp_path)
    fresh.hparams.warmup_steps = 4
    fresh.on_fit_start()
    for _ in range(2):
        fresh.on_fit_batch_start(None, should_step=True)
        fresh.optimizer_step += 1
    states = {name: opt.state_dict() for name, opt in fresh.optimizers_dict.items()}
    resumed = _tiny_brain(tokenizer, tmp_path)
    resumed.hparams.warmup_steps = 4
    resumed.on_fit_start()
    for name, opt in resumed.optimizers_dict.items():
        opt.load_state_dict(states[name])
    resumed.optimizer_step = 2
    resumed.on_fit_batch_start(None, should_step=True)
    assert resumed.optimizers_dict["head"].param_groups[0]["lr"] == pytest.approx(3e-3 * 3 / 4)


def test_recipe_skips_corrupted_audio_runs_one_epoch_and_resumes(tiny_corpus, tmp_path):
    # A copy of the corpus with two broken training files: both are reported, training goes on.
    data = tmp_path / "LibriSpeech"
    shutil.copytree(tiny_corpus / "LibriSpeech", data)
    flacs = sorted((data / "train-clean-100").rglob("*.flac"))
    flacs[0].write_bytes(b"not a flac file")
    flacs[1].write_bytes(flacs[1].read_bytes()[:200])  # truncated
    out = tmp_path / "exp"
    cmd = [
        sys.executable,
        str(RECIPE / "train.py"),
        str(RECIPE / "hparams" / "scratch_mini.yaml"),
        f"--data_folder={data}",
        f"--output_folder={out}",
        "--number_of_epochs=1",
        "--num_layers=1",
        "--d_model=32",
        "--frontend_channels=32",
        "--d_ffn=64",
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "test-clean: WER" in first.stdout and "CER" in first.stdout
    assert list((out / "save").glob("CKPT+*"))
    assert (out / "save" / "tokenizer.json").is_file()
    assert (out / "model" / "ctc_model.ckpt").is_file() and (out / "model" / "tokenizer.json").is_file()
    assert "WER" in json.loads((out / "results.json").read_text())["test-clean"]
    skipped = (out / "save" / "train-clean-100_skipped.csv").read_text()
    assert flacs[0].stem in skipped and flacs[1].stem in skipped

    # Started again, the run finds its finished checkpoint and trains no further epoch.
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Going into epoch" not in second.stderr + second.stdout
    assert "test-clean: WER" in second.stdout
