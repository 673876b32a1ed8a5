"""CTCModel and the faster-inference strategies: shapes, lengths, downsampling on the waveform and
on frames, early exit, the CTC length rule, save / load, decoding, and a smoke run of the
fine-tuning YAML."""

import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import speechbrain as sb
import torch

from efficient_ssl.brains.ctc import CTCBrain, ctc_min_frames
from efficient_ssl.data.tokens import CharTokenizer
from efficient_ssl.models import CTCModel, PretrainedEncoder, load_ctc_model

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "finetune"
TINY = {"num_layers": 3, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 3, "dropout": 0.0}


def _encoder() -> PretrainedEncoder:
    torch.manual_seed(0)
    return PretrainedEncoder("mel_cnn", dict(TINY), frontend_kwargs={"channels": 16}, input_dropout=0.0)


def _frames(model: CTCModel, seconds: float = 3.0) -> int:
    model.eval()
    with torch.no_grad():
        return int(model(torch.randn(1, int(16000 * seconds)), torch.ones(1)).mask.sum())


@pytest.mark.parametrize("kind, at", [("signal", "waveform"), ("avgpool", "waveform"), ("conv", "waveform"),
                                      ("avgpool", "frames"), ("conv", "frames")])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_downsampling_divides_the_frames_and_upsampling_restores_them(kind, at, factor):
    base = _frames(CTCModel(_encoder(), vocab_size=5))
    down = _frames(CTCModel(_encoder(), 5, downsampling=kind, downsampling_factor=factor, downsampling_at=at))
    assert abs(down - base / factor) <= 3  # valid convolutions lose a few edge frames
    if at == "frames":
        assert down == math.ceil(base / factor)
    up = _frames(CTCModel(_encoder(), 5, downsampling=kind, downsampling_factor=factor, downsampling_at=at,
                          upsampling=factor))
    assert up == down * factor and abs(up - base) <= 3 * factor


@pytest.mark.parametrize("kind", ["avgpool", "conv"])
def test_frames_downsampling_shapes_and_masks(kind):
    """A downsampled frame is real when its window starts on a real frame: ceil(real / factor)."""
    full = CTCModel(_encoder(), 5).eval()
    model = CTCModel(_encoder(), 5, downsampling=kind, downsampling_factor=3, downsampling_at="frames").eval()
    wavs, lens = torch.randn(3, 24000), torch.tensor([1.0, 0.73, 0.41])
    with torch.no_grad():
        base_mask = full(wavs, lens).mask
        latents, mask = model.features(wavs, lens)
        out = model(wavs, lens)
    assert latents.shape == (3, math.ceil(base_mask.shape[1] / 3), 16) and mask.shape == latents.shape[:2]
    assert mask.sum(dim=1).tolist() == [math.ceil(n / 3) for n in base_mask.sum(dim=1).tolist()]
    assert out.mask.equal(mask) and out.logits[-1].shape == (3, mask.shape[1], 5)
    assert model.frames_per_second == full.frames_per_second / 3 == 50 / 3


@pytest.mark.parametrize("kind, kernel", [("avgpool", None), ("conv", None), ("conv", 5), ("avgpool", 4)])
def test_frames_downsampling_keeps_padding_out_of_real_frames(kind, kernel):
    """An utterance gives the same logits alone and padded in a batch (eval mode)."""
    model = CTCModel(_encoder(), 5, downsampling=kind, downsampling_factor=3, downsampling_kernel=kernel,
                     downsampling_at="frames").eval()
    if model.downsampler.conv is not None:  # off the averaging start, so every tap counts
        torch.nn.init.normal_(model.downsampler.conv.weight)
    lengths = [24000, 17300, 9100]
    wavs = [torch.randn(n) for n in lengths]
    batch = torch.stack([torch.nn.functional.pad(w, (0, lengths[0] - len(w))) for w in wavs])
    with torch.no_grad():
        together = model(batch, torch.tensor(lengths) / lengths[0])
        for i, wav in enumerate(wavs):
            alone = model(wav.unsqueeze(0), torch.ones(1))
            real = int(together.mask[i].sum())
            assert real == alone.logits[-1].shape[1] == int(alone.mask.sum())
            assert (together.logits[-1][i, :real] - alone.logits[-1][0]).abs().max() <= 1e-5


def test_frames_conv_starts_as_average_pooling():
    """The learned conv on frames starts as the average of each window (see FrameDownsampler)."""
    conv = CTCModel(_encoder(), 5, downsampling="conv", downsampling_factor=2, downsampling_at="frames")
    pool = CTCModel(_encoder(), 5, downsampling="avgpool", downsampling_factor=2, downsampling_at="frames")
    x = torch.randn(2, 8, 16)  # 8 frames: every window holds 2 real frames
    (a, _), (b, _) = conv.downsampler(x), pool.downsampler(x)
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a[:, 1], x[:, 2:4].mean(dim=1), atol=1e-6)
    assert sum(p.numel() for p in conv.downsampler.parameters()) == 16 * 2 + 16  # depthwise: C * K + C


def test_auto_placement_follows_the_frontend():
    """auto: frames after a log-mel frontend, the waveform before a learned waveform CNN (raw_cnn,
    public checkpoints: no "frontend" key) and for signal resampling; config keeps the result."""
    raw = PretrainedEncoder("raw_cnn", dict(TINY), frontend_kwargs={"channels": 8})
    assert CTCModel(_encoder(), 5, downsampling="conv", downsampling_factor=3).config["downsampling_at"] == "frames"
    assert CTCModel(raw, 5, downsampling="conv", downsampling_factor=3).config["downsampling_at"] == "waveform"
    signal = CTCModel(_encoder(), 5, downsampling="signal", downsampling_factor=3)
    assert signal.config["downsampling_at"] == "waveform"
    forced = CTCModel(_encoder(), 5, downsampling="avgpool", downsampling_factor=3, downsampling_at="waveform")
    assert forced.config["downsampling_at"] == forced.downsampling_at == "waveform"
    from efficient_ssl.nnet.downsampling import FrameDownsampler

    assert not isinstance(forced.downsampler, FrameDownsampler)


def test_signal_on_frames_and_unknown_placements_are_refused():
    with pytest.raises(ValueError, match="downsampling='signal' with downsampling_at='frames'") as error:
        CTCModel(_encoder(), 5, downsampling="signal", downsampling_factor=2, downsampling_at="frames")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="downsampling_at='latents'"):
        CTCModel(_encoder(), 5, downsampling="conv", downsampling_factor=2, downsampling_at="latents")


def test_frames_model_saves_and_loads_and_old_configs_load_as_waveform(tmp_path):
    model = CTCModel(_encoder(), 7, downsampling="conv", downsampling_factor=3, upsampling=2).eval()
    torch.nn.init.normal_(model.downsampler.conv.weight)  # trained weights must come back
    loaded = load_ctc_model(model.save(tmp_path / "frames"))
    wavs, lens = torch.randn(2, 16000), torch.tensor([1.0, 0.6])
    with torch.no_grad():
        assert torch.equal(model(wavs, lens).logits[-1], loaded(wavs, lens).logits[-1])
    assert loaded.config["downsampling_at"] == "frames"
    old = CTCModel(_encoder(), 7, downsampling="conv", downsampling_factor=3, downsampling_at="waveform")
    old.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "ctc_model.json").read_text())
    del config["downsampling_at"]  # saved before the key existed
    (tmp_path / "old" / "ctc_model.json").write_text(json.dumps(config))
    assert load_ctc_model(tmp_path / "old").config["downsampling_at"] == "waveform"


def test_frames_downsampled_model_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    from efficient_ssl.deploy.export import OnnxCTC, export_onnx

    model = CTCModel(_encoder(), 6, downsampling="conv", downsampling_factor=3, downsampling_at="frames").eval()
    torch.nn.init.normal_(model.downsampler.conv.weight)
    path = export_onnx(model, tmp_path / "model.onnx", seconds=1.0)
    wav = 0.1 * torch.randn(1, 27100)  # not the tracing length, nor a multiple of the factor in frames
    with torch.inference_mode():
        reference = model(wav, torch.ones(1)).logits[-1].log_softmax(dim=-1)
    exported = OnnxCTC(path)(wav)
    assert exported.shape == reference.shape
    assert (exported - reference).abs().max() <= 1e-4


def test_relative_lengths_survive_downsampling():
    model = CTCModel(_encoder(), 5, downsampling="conv", downsampling_factor=3).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 48000), torch.tensor([1.0, 0.5]))
    full, half = out.mask.sum(dim=1).tolist()
    assert abs(half - full / 2) <= 2


def test_bad_strategy_values_are_named():
    with pytest.raises(ValueError, match="downsampling='wavelet'"):
        CTCModel(_encoder(), 5, downsampling="wavelet", downsampling_factor=2)
    with pytest.raises(ValueError, match="downsampling_factor >= 2"):
        CTCModel(_encoder(), 5, downsampling="conv", downsampling_factor=1)
    with pytest.raises(ValueError, match="keep_layers: 7"):
        CTCModel(_encoder(), 5, keep_layers=7)
    with pytest.raises(ValueError, match="exit_layers"):
        CTCModel(_encoder(), 5, keep_layers=2, exit_layers=[3])


def test_layer_removal_keeps_the_bottom_layers():
    encoder = _encoder()
    bottom = [p.clone() for p in encoder.context.layers[0].parameters()]
    model = CTCModel(encoder, 5, keep_layers=1)
    assert len(model.encoder.context.layers) == 1 and model.exits == [1]
    assert all(torch.equal(a, b) for a, b in zip(bottom, model.encoder.context.layers[0].parameters()))


def _exit_model(threshold):
    model = CTCModel(_encoder(), 6, exit_layers=[1, 2], exit_entropy=threshold).eval()
    return model


def test_early_exit_thresholds_pick_the_exit_and_its_logits():
    wavs, lens = torch.randn(3, 24000), torch.tensor([1.0, 0.8, 0.6])
    with torch.no_grad():
        model = _exit_model(None)
        every = model(wavs, lens)  # no threshold: the logits of every exit
        assert len(every.logits) == 3 and every.exit_layer.tolist() == [3, 3, 3]
        model.exit_entropy = float("inf")  # everything is confident enough at the first exit
        first = model(wavs, lens)
        model.exit_entropy = -1.0  # nothing is: every utterance runs to the top
        top = model(wavs, lens)
    mask = every.mask.unsqueeze(-1)
    assert first.exit_layer.tolist() == [1, 1, 1] and top.exit_layer.tolist() == [3, 3, 3]
    assert torch.allclose(first.logits[0] * mask, every.logits[0] * mask, atol=1e-5)
    assert torch.allclose(top.logits[0] * mask, every.logits[-1] * mask, atol=1e-5)


def test_early_exit_splits_a_batch_by_entropy():
    from efficient_ssl.models.asr import frame_entropy

    wavs, lens = torch.randn(4, 24000), torch.tensor([1.0, 0.9, 0.7, 0.5])
    with torch.no_grad():
        model = _exit_model(None)
        every = model(wavs, lens)
        entropy = frame_entropy(every.logits[0], every.mask)  # (B,) at the first exit
        model.exit_entropy = float(entropy.median())
        out = model(wavs, lens)
    assert (entropy < model.exit_entropy).any() and (entropy >= model.exit_entropy).any()
    assert (out.exit_layer[entropy < model.exit_entropy] == 1).all()
    assert (out.exit_layer[entropy >= model.exit_entropy] > 1).all()


def test_ctc_min_frames_counts_repeats():
    tokens = torch.tensor([[5, 5, 5, 2], [1, 2, 3, 0]])
    assert ctc_min_frames(tokens, torch.tensor([1.0, 0.75])).tolist() == [6, 3]


def test_too_short_sequences_are_reported_not_crashed_on(caplog):
    # Factor 4 without upsampling: 1 s of audio gives ~12 frames, the transcript needs 40.
    model = CTCModel(_encoder(), 5, downsampling="avgpool", downsampling_factor=4)
    tokenizer = CharTokenizer(["A", "B", "C", "D"])
    brain = CTCBrain(
        modules={"model": model},
        hparams={"tokenizer": tokenizer, "wav_augment": None, "freeze_encoder": False},
        run_opts={"device": "cpu"},
    )
    brain.on_stage_start(sb.Stage.TRAIN)
    batch = SimpleNamespace(
        id=["short_one", "fine_one"],
        sig=(torch.randn(2, 16000), torch.ones(2)),
        tokens=(torch.tensor([[1, 2] * 20, [1] + [0] * 39]), torch.tensor([1.0, 1 / 40])),
        to=lambda device: batch,
    )
    with caplog.at_level(logging.WARNING):
        loss = brain.compute_objectives(brain.compute_forward(batch, sb.Stage.TRAIN), batch, sb.Stage.TRAIN)
    assert torch.isfinite(loss)
    assert brain.too_short == 1
    assert "short_one" in caplog.text and "fine_one" not in caplog.text and "upsampling" in caplog.text


def test_save_and_load_give_the_same_model(tmp_path):
    model = CTCModel(
        _encoder(), 7, downsampling="conv", downsampling_factor=2, upsampling=2, keep_layers=2,
        exit_layers=[1], exit_entropy=0.5,
    ).eval()
    model.save(tmp_path / "model")
    loaded = load_ctc_model(tmp_path / "model")
    wavs, lens = torch.randn(2, 16000), torch.tensor([1.0, 0.7])
    with torch.no_grad():
        a, b = model(wavs, lens), loaded(wavs, lens)
    assert len(loaded.encoder.context.layers) == 2
    assert torch.equal(a.logits[-1], b.logits[-1]) and torch.equal(a.exit_layer, b.exit_layer)
    with pytest.raises(FileNotFoundError, match="ctc_model.ckpt"):
        load_ctc_model(tmp_path)


def test_beam_search_agrees_with_greedy_on_a_confident_output():
    tokenizer = CharTokenizer([" ", "A", "B"])
    path = [2, 2, 0, 3, 1, 1, 2, 0, 0, 2]  # "AB A" then a repeat split by a blank: "AB AA"
    log_probs = torch.full((1, len(path), 4), -20.0)
    log_probs[0, torch.arange(len(path)), torch.tensor(path)] = 0.0
    brain = SimpleNamespace(hparams=SimpleNamespace(tokenizer=tokenizer, decoder="greedy", beam_size=4))
    greedy = CTCBrain.decode(brain, log_probs, torch.ones(1))
    brain.hparams.decoder = "beam"
    beam = CTCBrain.decode(brain, log_probs, torch.ones(1))
    assert greedy == beam == ["AB AA"]


def test_finetune_yaml_smoke_run_with_every_strategy(tiny_corpus, tmp_path):
    pretrained = tmp_path / "pretrained"
    PretrainedEncoder("mel_cnn", dict(TINY), frontend_kwargs={"channels": 16}).save(pretrained)
    out = tmp_path / "exp"
    cmd = [
        sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "finetune_mini.yaml"),
        f"--data_folder={tiny_corpus / 'LibriSpeech'}", f"--output_folder={out}",
        f"--pretrained_encoder={pretrained}", "--number_of_epochs=1",
        "--downsampling=conv", "--downsampling_factor=3", "--upsampling=2", "--keep_layers=2",
        "--exit_layers=[1]", "--exit_entropy=0.5", "--freeze_frontend=True", "--decoder=beam",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())["test-clean"]
    assert {"WER", "CER", "macs_per_audio_s", "rtf", "mean_exit_layer"} <= set(results)
    assert 1.0 <= results["mean_exit_layer"] <= 2.0
    config = json.loads((out / "model" / "ctc_model.json").read_text())
    assert config["encoder"]["encoder"]["num_layers"] == 2 and config["downsampling_factor"] == 3
    assert config["downsampling_at"] == "frames"  # the YAML's auto, for a mel_cnn encoder
