"""S3-Router multilingual masks (issue 12): one frozen shared encoder, one packed mask + CTC head
per language. The Common Voice route_mini.yaml exports a task file that reassembles into the
routed model; a language's packed mask is under 1/30 of the encoder's fp32 bytes; the table
tool's --multilingual mode."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import run_checked, tiny_encoder
from efficient_ssl.models import (
    CTCModel,
    PretrainedEncoder,
    export_routing_task,
    load_ctc_model,
    load_pretrained_encoder,
    load_routing_task,
)
from efficient_ssl.nnet import router

ROOT = Path(__file__).resolve().parents[1]
CV_FINETUNE = ROOT / "recipes" / "CommonVoice" / "finetune"


def small_encoder(seed=0, **encoder) -> PretrainedEncoder:
    torch.manual_seed(seed)
    config = {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 3, "dropout": 0.0, **encoder}
    return PretrainedEncoder("mel_cnn", config, frontend_kwargs={"channels": config["d_model"]}, input_dropout=0.0)


def logits(model, seed=1):
    torch.manual_seed(seed)
    wav, wav_lens = torch.randn(2, 8000), torch.tensor([1.0, 0.6])
    model.eval()
    with torch.no_grad():
        out = model(wav, wav_lens)
    return out.logits[-1] * out.mask.unsqueeze(-1)


def trained_task(tmp_path, routing, **model_kwargs) -> tuple[CTCModel, Path]:
    """A routed model over the shared encoder saved in tmp_path/shared, its masks and head moved."""
    small_encoder().save(tmp_path / "shared")
    model = CTCModel(load_pretrained_encoder(tmp_path / "shared"), vocab_size=7, routing=routing, kept=0.6,
                     **model_kwargs)
    torch.manual_seed(3)
    with torch.no_grad():  # as after training: other masks, another head
        for r in router.routers(model).values():
            r.scores.normal_()
        for p in model.heads.parameters():
            p.normal_()
    model.save(tmp_path / "model")
    return model, export_routing_task(tmp_path / "model", tmp_path / "shared", tmp_path / "task")


@pytest.mark.parametrize("routing, kwargs", [("unstructured", {}), ("rows", {}), ("structured", {}),
                                             ("unstructured", {"keep_layers": 1, "route_select": "ffn"})])
def test_shared_encoder_plus_task_file_equals_the_routed_model(tmp_path, routing, kwargs):
    model, task = trained_task(tmp_path, routing, **kwargs)
    rebuilt = load_routing_task(task.parent, tmp_path / "shared", fold_routing=False)
    for name, r in router.routers(model).items():
        assert torch.equal(router.routers(rebuilt)[name].mask(), r.mask()), name
    expected = logits(model)
    assert torch.equal(logits(rebuilt), expected)
    folded = load_routing_task(task, tmp_path / "shared")  # inference: masks folded into the weights
    assert not router.routers(folded)
    assert (logits(folded) - expected).abs().max() <= 1e-5
    stored = torch.load(task, weights_only=True)  # no encoder weight in the task file
    assert not [n for n in stored["head"] if n.startswith("encoder.")]
    assert task.stat().st_size * 5 < (tmp_path / "shared" / "encoder.ckpt").stat().st_size


def test_a_task_refuses_another_encoder_and_a_changed_one(tmp_path):
    _, task = trained_task(tmp_path, "unstructured")
    small_encoder(seed=9).save(tmp_path / "other")
    with pytest.raises(ValueError, match="other encoder weights"):
        load_routing_task(task, tmp_path / "other")
    co_trained = CTCModel(small_encoder(), vocab_size=7, routing="unstructured", train_weights=True)
    with torch.no_grad():
        co_trained.encoder.input_proj.bias.add_(1.0)  # the weights moved with the masks
    co_trained.save(tmp_path / "co_trained")
    with pytest.raises(ValueError, match="differ from"):
        export_routing_task(tmp_path / "co_trained", tmp_path / "shared", tmp_path / "task2")


@pytest.mark.parametrize("select", ["all", "ffn"])
def test_packed_mask_is_under_a_thirtieth_of_the_encoder_fp32(select):
    # The mini encoder (hparams/sizes/mini.yaml) at kept 0.9: 1 bit per routed weight against 32
    # bits per encoder weight, plus the names and sizes of the masks in the serialised file.
    encoder = small_encoder(num_layers=4, d_model=144, nhead=4, d_ffn=576, kernel_size=15)
    model = CTCModel(encoder, vocab_size=51, routing="unstructured", kept=0.9, route_select=select)
    sizes = router.task_sizes(router.pack_task(model))
    encoder_bytes = router.tensor_bytes(model.encoder)
    routed = router.sparsity(model)["total"]
    assert sizes["mask_bytes"] == -(-routed // 8)  # all masks in one bit string, no per-mask padding
    assert sizes["mask_file_bytes"] * 30 <= encoder_bytes
    assert sizes["mask_file_bytes"] - sizes["mask_bytes"] < 0.05 * sizes["mask_bytes"]  # header overhead


def test_cv_route_mini_yaml_runs_and_its_task_reassembles(tiny_corpus, tmp_path):
    tiny_encoder().save(tmp_path / "shared")
    out = tmp_path / "exp"
    run_checked([sys.executable, str(CV_FINETUNE / "train.py"), str(CV_FINETUNE / "hparams" / "route_mini.yaml"),
                 f"--data_folder={tiny_corpus / 'CommonVoice'}", f"--output_folder={out}", "--languages=[eu]",
                 f"--pretrained_encoder={tmp_path / 'shared'}", "--number_of_epochs=1", "--bpe_vocab_size=40"],
                tmp_path)
    assert {"WER", "CER"} <= set(json.loads((out / "results.json").read_text())["test"])
    assert (out / "task" / "tokenizer.model").is_file()
    routed = load_ctc_model(out / "model", fold_routing=False)
    assert router.sparsity(routed)["kept_fraction"] == pytest.approx(0.9, abs=1e-3)
    rebuilt = load_routing_task(out / "task", tmp_path / "shared", fold_routing=False)
    assert torch.equal(logits(rebuilt), logits(routed))


@pytest.mark.slow
def test_router_table_multilingual_tiny(tiny_corpus, tmp_path):
    tiny_encoder().save(tmp_path / "shared")
    out = tmp_path / "table"
    cmd = [sys.executable, str(ROOT / "tools" / "router_table.py"), "--multilingual", "--output", str(out), "--tiny",
           "--data_folder", str(tiny_corpus / "CommonVoice"), "--pretrained", str(tmp_path / "shared"),
           "--languages", "cy", "eu", "--", "--bpe_vocab_size=40"]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    records = json.loads((out / "router.json").read_text())
    assert {(r["language"], r["mode"]) for r in records} == {(lang, mode) for lang in ("cy", "eu")
                                                               for mode in ("weights", "router")}
    for record in records:
        assert {"mode", "kept", "language", "wer", "cer", "macs_per_audio_s", "cpu_rtf", "bytes"} <= set(record)
        if record["mode"] == "router":
            assert record["reassembly_max_abs_diff"] == 0.0 and record["mask_fraction"] <= 1 / 30
    storage = json.loads((out / "router_storage.json").read_text())
    assert storage["router_0.9"]["total_bytes"] < storage["finetuned_copies_bytes"]
    assert "PASS" in (out / "router.md").read_text()
