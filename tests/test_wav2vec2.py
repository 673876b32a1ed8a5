"""wav2vec 2.0 pretraining: frontends, masking, negatives, learning, checkpoints, Brain."""

import copy
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter
from speechbrain.utils.train_logger import FileTrainLogger
from tqdm import tqdm

from efficient_ssl.brains.pretrain import PretrainBrain, WarmupDecayLR, show_on_progress_bar
from efficient_ssl.models import PretrainedEncoder, Wav2Vec2Pretrainer, build_encoder, load_pretrained_encoder
from efficient_ssl.models.wav2vec2 import (
    ENCODER_CONFIG,
    ENCODER_WEIGHTS,
    compute_span_mask,
    gather_masked,
    sample_cross_negatives,
    sample_negatives,
)
from efficient_ssl.nnet.frontends import MelCNN, RawWaveformCNN

SAMPLE_RATE = 16000
FRONTENDS = {"raw_cnn": RawWaveformCNN, "mel_cnn": MelCNN}


def tone_sequences(num: int, seconds: float, seed: int = 1) -> torch.Tensor:
    """(num, samples) waveforms made of 100 ms tones of random pitch: structure to learn."""
    g = torch.Generator().manual_seed(seed)
    segments = int(seconds * 10)
    freqs = 200 + 1800 * torch.rand(num, segments, generator=g)
    freqs = freqs.repeat_interleave(SAMPLE_RATE // 10, dim=1)  # (num, samples)
    return torch.sin(2 * math.pi * torch.cumsum(freqs, dim=1) / SAMPLE_RATE)


def tiny_model(frontend: str = "raw_cnn") -> Wav2Vec2Pretrainer:
    encoder = PretrainedEncoder(
        frontend,
        {"num_layers": 2, "d_model": 32, "nhead": 2, "d_ffn": 64, "kernel_size": 3, "dropout": 0.0},
        frontend_kwargs={"channels": 32},
        input_dropout=0.0,
    )
    return Wav2Vec2Pretrainer(
        encoder,
        final_dim=16,
        num_negatives=10,
        quantiser_entries=16,
        temperature_decay=(2.0, 0.5, 0.95),
    )


@pytest.mark.parametrize("name", FRONTENDS)
def test_frontend_frames_are_20ms_and_mask_matches_lengths(name):
    frontend = FRONTENDS[name](channels=8)
    wav = torch.randn(3, 3 * SAMPLE_RATE)
    wav_lens = torch.tensor([1.0, 0.5, 0.25])
    feats = frontend(wav, wav_lens)
    mask = frontend.frame_mask(wav_lens, wav.shape[1])
    assert frontend.hop_samples == SAMPLE_RATE // 50
    assert mask.shape == feats.shape[:2] and mask.dtype == torch.bool
    real = mask.sum(dim=1)
    expected = torch.round(wav_lens * wav.shape[1]) / frontend.hop_samples  # frames at 20 ms
    assert torch.all((real - expected).abs() <= 3)
    assert torch.equal(real, frontend.output_lengths(torch.round(wav_lens * wav.shape[1])))
    assert torch.all(mask[:, :-1] >= mask[:, 1:])  # real frames first, then padding


@pytest.mark.parametrize("name", FRONTENDS)
def test_frontend_real_frames_ignore_padding(name):
    frontend = FRONTENDS[name](channels=8).eval()
    short = torch.randn(1, SAMPLE_RATE)
    padded = torch.cat([short, 5 * torch.randn(1, SAMPLE_RATE)], dim=1)  # junk "padding"
    alone = frontend(short, torch.tensor([1.0]))
    batched = frontend(padded, torch.tensor([0.5]))
    real = int(frontend.frame_mask(torch.tensor([0.5]), padded.shape[1]).sum())
    assert real == alone.shape[1]
    torch.testing.assert_close(batched[:, :real], alone, atol=1e-4, rtol=1e-4)


def test_span_mask_fraction_matches_expectation():
    torch.manual_seed(0)
    mask_prob, mask_length = 0.65, 10
    expected = 1 - (1 - mask_prob / mask_length) ** mask_length  # ~0.49 with overlaps
    frame_mask = torch.ones(1, 1000, dtype=torch.bool)
    fractions = torch.tensor(
        [compute_span_mask(frame_mask, mask_prob, mask_length).float().mean() for _ in range(100)]
    )
    assert abs(fractions.mean().item() - expected) < 0.02


def test_span_mask_never_masks_padding_and_is_rectangular():
    torch.manual_seed(0)
    lengths = torch.tensor([300, 250, 120, 40])
    frame_mask = torch.arange(300).unsqueeze(0) < lengths.unsqueeze(1)
    for _ in range(20):
        spans = compute_span_mask(frame_mask, 0.65, 10)
        assert not (spans & ~frame_mask).any()
        counts = spans.sum(dim=1)
        assert torch.all(counts == counts[0]) and counts[0] > 0


def test_negatives_come_from_the_same_utterance_masked_frames():
    torch.manual_seed(0)
    lengths = torch.tensor([200, 150, 60])
    frame_mask = torch.arange(200).unsqueeze(0) < lengths.unsqueeze(1)
    spans = compute_span_mask(frame_mask, 0.65, 10)
    # Encode (utterance, frame) in the features to trace where each negative comes from.
    utt = torch.arange(3).view(3, 1, 1).expand(3, 200, 1)
    frame = torch.arange(200).view(1, 200, 1).expand(3, 200, 1)
    targets = gather_masked(torch.cat([utt, frame], dim=-1).float(), spans)  # (B, M, 2)
    negatives = sample_negatives(targets, 50)  # (N, B, M, 2)
    for b in range(3):
        allowed = set(spans[b].nonzero().squeeze(1).tolist())
        assert torch.all(negatives[:, b, :, 0] == b)
        assert set(negatives[:, b, :, 1].long().flatten().tolist()) <= allowed
        assert not torch.any(negatives[:, b, :, 1] == targets[b, :, 1])  # never the positive


def test_cross_negatives_cover_the_whole_batch_but_never_the_positive():
    torch.manual_seed(0)
    batch, masked = 3, 40
    # Encode (utterance, masked index) in the features to trace where each negative comes from.
    utt = torch.arange(batch).view(batch, 1, 1).expand(batch, masked, 1)
    index = torch.arange(masked).view(1, masked, 1).expand(batch, masked, 1)
    targets = torch.cat([utt, index], dim=-1).float()  # (B, M, 2)
    negatives = sample_cross_negatives(targets, 300)  # (N, B, M, 2)
    assert negatives.shape == (300, batch, masked, 2)
    same = (negatives == targets.unsqueeze(0)).all(dim=-1)  # (N, B, M)
    assert not same.any()
    for b in range(batch):
        # uniform over the other B * M - 1 frames: about (B - 1) / B of them from other utterances
        other = (negatives[:, b, :, 0] != b).float().mean().item()
        assert abs(other - (batch - 1) * masked / (batch * masked - 1)) < 0.02


def test_cross_sample_negatives_join_the_contrastive_loss():
    # An untrained model scores all candidates alike: its loss is about log(1 + distractors).
    wav, wav_lens = tone_sequences(2, 2.0), torch.tensor([1.0, 0.7])
    model = tiny_model().eval()
    losses = {}
    for cross in (0, 50):
        model.cross_sample_negatives = cross
        torch.manual_seed(0)
        losses[cross] = model(wav, wav_lens).contrastive_loss.item()
    assert abs(losses[0] - math.log(11)) < 0.5
    assert abs(losses[50] - math.log(61)) < 0.5


def test_frontend_grad_scale_scales_only_the_frontend_gradient():
    wav, wav_lens = tone_sequences(2, 2.0), torch.tensor([1.0, 0.7])
    model = tiny_model().eval()
    grads, losses = {}, {}
    for scale in (1.0, 0.1):
        model.frontend_grad_scale = scale
        model.zero_grad()
        torch.manual_seed(0)
        out = model(wav, wav_lens)
        out.loss.backward()
        losses[scale] = out.loss.item()
        grads[scale] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert losses[0.1] == pytest.approx(losses[1.0])
    for name, grad in grads[1.0].items():
        expected = grad * 0.1 if name.startswith("encoder.frontend.") else grad
        torch.testing.assert_close(grads[0.1][name], expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_tiny_model_overfits_a_batch(frontend):
    torch.manual_seed(0)
    model = tiny_model(frontend)
    wav, wav_lens = tone_sequences(4, 2.0), torch.tensor([1.0, 1.0, 0.8, 0.6])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses, accuracies = [], []
    for step in range(1, 31):
        out = model(wav, wav_lens)
        assert torch.isfinite(out.loss)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        model.update_temperature(step)
        losses.append(out.loss.item())
        accuracies.append(out.accuracy.item())
    chance = 1 / (1 + model.num_negatives)
    assert sum(losses[-5:]) < sum(losses[:5]) - 0.5
    assert sum(accuracies[-5:]) / 5 > 2 * chance
    assert out.code_perplexity > 2  # the codebook did not collapse
    assert out.temperature < 2.0 and out.num_masked > 0


def test_load_pretrained_encoder_round_trip(tmp_path):
    torch.manual_seed(0)
    model = tiny_model()
    checkpointer = Checkpointer(tmp_path / "save", recoverables={"wav2vec2": model})
    checkpoint = checkpointer.save_checkpoint()
    assert (checkpoint.path / ENCODER_WEIGHTS).is_file() and (checkpoint.path / ENCODER_CONFIG).is_file()

    wav, wav_lens = tone_sequences(2, 1.0), torch.tensor([1.0, 0.7])
    out, hidden, mask = model.encoder.eval()(wav, wav_lens)
    for path in (tmp_path / "save", checkpoint.path, checkpoint.path / ENCODER_WEIGHTS):
        loaded = load_pretrained_encoder(path)
        assert not loaded.training
        out2, hidden2, mask2 = loaded(wav, wav_lens)
        assert torch.equal(mask, mask2) and len(hidden2) == len(hidden) == 3
        for a, b in zip(hidden + [out], hidden2 + [out2]):
            torch.testing.assert_close(a[mask], b[mask], rtol=0, atol=0)

    random = load_pretrained_encoder(tmp_path / "save", random_init=True)
    out3, hidden3, _ = random(wav, wav_lens)
    assert out3.shape == out.shape and len(hidden3) == len(hidden)
    assert not torch.allclose(out3[mask], out[mask])


@pytest.mark.parametrize("attention_type", ["SummaryMixing", "regularMHA"])
def test_fine_tuning_dropout_and_layerdrop_replace_the_pretraining_values(tmp_path, attention_type, caplog):
    torch.manual_seed(0)
    config = {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 3,
              "attention_type": attention_type, "dropout": 0.3, "layerdrop": 0.5}
    PretrainedEncoder("mel_cnn", config, input_dropout=0.3).save(tmp_path)
    wav, wav_lens = tone_sequences(2, 1.0), torch.tensor([1.0, 0.7])

    kept = build_encoder(tmp_path, encoder=dict(config)).train()  # same values: nothing changes
    assert kept.context.layerdrop == 0.5
    with caplog.at_level("INFO"):
        encoder = build_encoder(tmp_path, encoder={**config, "dropout": 0.0, "layerdrop": 0.0}, input_dropout=0.0)
    assert "dropout 0.3 -> 0, layerdrop 0.5 -> 0, input_dropout 0.3 -> 0" in caplog.text
    assert encoder.context.layerdrop == 0.0 and encoder.config["encoder"]["layerdrop"] == 0.0
    encoder.train()  # without any dropout or layerdrop, two training forwards agree
    first, second = encoder(wav, wav_lens)[0], encoder(wav, wav_lens)[0]
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert not torch.equal(kept(wav, wav_lens)[0], kept(wav, wav_lens)[0])
    encoder.save(tmp_path / "finetuned")  # the saved config records what fine-tuning used
    assert load_pretrained_encoder(tmp_path / "finetuned").config["encoder"]["dropout"] == 0.0


def test_pretrainer_checkpoint_restores_encoder_and_heads(tmp_path):
    torch.manual_seed(0)
    model = tiny_model()
    Checkpointer(tmp_path, recoverables={"wav2vec2": model}).save_checkpoint()
    torch.manual_seed(1)
    other = tiny_model()
    Checkpointer(tmp_path, recoverables={"wav2vec2": other}).recover_if_possible()
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), name


def test_load_pretrained_encoder_explains_a_wrong_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_pretrained_encoder(tmp_path)


def test_warmup_decay_lr_shapes():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    for decay in ("linear", "cosine"):
        schedule = WarmupDecayLR(lr=1.0, warmup_steps=10, total_steps=110, decay=decay)
        rates = [schedule.rate(step) for step in range(1, 121)]
        assert max(rates) == pytest.approx(1.0) and rates[9] == pytest.approx(1.0)
        assert all(a <= b for a, b in zip(rates[:10], rates[1:10]))  # warmup rises
        assert all(a >= b for a, b in zip(rates[9:], rates[10:]))  # then decays
        assert rates[-1] == 0.0
    schedule(opt, 5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)


def test_progress_bar_shows_step_statistics():
    with tqdm(range(3), disable=False) as bar:
        show_on_progress_bar("acc=0.5")
        assert bar.desc == "acc=0.5"


def make_brain(tmp_path, model, epochs):
    counter = EpochCounter(epochs)
    hparams = {
        "lr_scheduler": WarmupDecayLR(lr=1e-3, warmup_steps=2, total_steps=20),
        "log_interval": 1,
        "step_logger": FileTrainLogger(tmp_path / "steps.txt"),
        "train_logger": FileTrainLogger(tmp_path / "train.txt"),
    }
    checkpointer = Checkpointer(tmp_path / "save", recoverables={"wav2vec2": model, "counter": counter})
    brain = PretrainBrain(
        modules={"wav2vec2": model},
        opt_class=lambda params: torch.optim.AdamW(params, lr=1e-3),
        hparams=hparams,
        run_opts={"device": "cpu", "grad_accumulation_factor": 2, "noprogressbar": True},
        checkpointer=checkpointer,
    )
    return brain, counter


def test_pretrain_brain_trains_logs_and_resumes(tmp_path):
    torch.manual_seed(0)
    wavs = tone_sequences(8, 1.0)
    data = [{"id": str(i), "sig": wav[: SAMPLE_RATE - 800 * i]} for i, wav in enumerate(wavs)]
    loader = torch.utils.data.DataLoader(data, batch_size=2, collate_fn=PaddedBatch)

    model = tiny_model()
    brain, counter = make_brain(tmp_path, model, epochs=1)
    brain.fit(counter, loader, loader)
    assert brain.optimizer_step == 2  # 4 batches, accumulation 2
    steps = (tmp_path / "steps.txt").read_text().splitlines()
    assert len(steps) == 2
    assert all(key in steps[0] for key in ("accuracy", "code_perplexity", "temperature", "lr"))
    assert "valid loss" in (tmp_path / "train.txt").read_text()
    assert model.quantiser.curr_temp == pytest.approx(2.0 * 0.95**2)
    assert load_pretrained_encoder(tmp_path / "save") is not None

    torch.manual_seed(1)
    resumed_model = tiny_model()
    resumed, counter = make_brain(tmp_path, resumed_model, epochs=2)
    resumed.fit(counter, loader, loader)
    assert resumed.optimizer_step == 4  # continued from step 2, one more epoch
    assert resumed_model.quantiser.curr_temp == pytest.approx(2.0 * 0.95**4)


def write_librispeech(root, wavs):
    """LibriSpeech layout with unlabelled-looking tone utterances (transcripts are never used)."""
    for s, split in enumerate(["train-clean-100", "train-clean-360", "dev-clean"]):
        chapter = root / split / str(100 + s) / "1"
        chapter.mkdir(parents=True)
        lines = []
        for u, wav in enumerate(wavs):
            utt = f"{100 + s}-1-{u:04d}"
            soundfile.write(chapter / f"{utt}.flac", wav.numpy(), SAMPLE_RATE)
            lines.append(f"{utt} A B")
        (chapter / f"{100 + s}-1.trans.txt").write_text("\n".join(lines) + "\n")


def write_common_voice(root, wavs):
    """Common Voice layout (cy, eu) with tone clips."""
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"
    for lang in ("cy", "eu"):
        (root / lang / "clips").mkdir(parents=True)
        for split in ("train", "dev"):
            rows = [header]
            for u, wav in enumerate(wavs):
                name = f"{lang}_{split}_{u}.mp3"
                soundfile.write(root / lang / "clips" / name, wav.numpy(), SAMPLE_RATE, format="MP3")
                rows.append(f"c{u}\t{name}\ta b\t2\t0\t\t\t\t{lang}\t")
            (root / lang / f"{split}.tsv").write_text("\n".join(rows) + "\n")


TINY_OVERRIDES = [
    "--frontend_channels=16", "--d_model=16", "--num_layers=1", "--nhead=2", "--d_ffn=32",
    "--kernel_size=3", "--final_dim=16", "--quantiser_entries=8", "--num_negatives=5",
    "--total_steps=3", "--warmup_steps=1", "--max_batch_length_s=4.0", "--log_interval=1", "--noprogressbar",
]


@pytest.mark.parametrize(
    "recipe,write", [("LibriSpeech", write_librispeech), ("CommonVoice", write_common_voice)]
)
def test_pretrain_recipe_runs_and_leaves_a_loadable_encoder(tmp_path, recipe, write):
    write(tmp_path / "data", tone_sequences(3, 1.5))
    folder = Path(__file__).parents[1] / "recipes" / recipe / "pretrain"
    output = tmp_path / "exp"
    subprocess.run(
        [sys.executable, str(folder / "train.py"), str(folder / "hparams" / "wav2vec2_mini.yaml"),
         f"--data_folder={tmp_path / 'data'}", f"--output_folder={output}", *TINY_OVERRIDES],
        check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert "valid accuracy" in (output / "train_log.txt").read_text()
    assert (output / "steps_log.txt").read_text().count("step:") == 3
    out, hidden, mask = load_pretrained_encoder(output / "save")(tone_sequences(1, 1.0), torch.ones(1))
    assert out.shape[-1] == 16 and len(hidden) == 2 and mask.all()


def one_step_update(model, batches, seeds, mode, tmp_path) -> torch.Tensor:
    """The parameter change of one SGD (lr 1) step of a PretrainBrain accumulating ``batches``."""
    brain = PretrainBrain(
        modules={"wav2vec2": model},
        opt_class=lambda params: torch.optim.SGD(params, lr=1.0),
        hparams={
            "loss_normalisation": mode,
            "lr_scheduler": lambda optimizer, num_updates: None,  # keeps lr = 1
            "log_interval": 1,
            "step_logger": FileTrainLogger(tmp_path / f"steps_{mode}.txt"),
        },
        run_opts={"device": "cpu", "grad_accumulation_factor": len(batches), "max_grad_norm": 1e9,
                  "noprogressbar": True},
    )
    brain.on_fit_start()
    brain.on_stage_start(sb.Stage.TRAIN)
    before = torch.cat([p.detach().flatten() for p in model.parameters() if p.requires_grad])
    for batch, seed in zip(batches, seeds):
        brain.step += 1
        torch.manual_seed(seed)  # the masks, negatives and Gumbel noise of the reference
        brain.fit_batch(batch)
    assert brain.optimizer_step == 1
    return torch.cat([p.detach().flatten() for p in model.parameters() if p.requires_grad]) - before


def mean_loss_gradient(model, batch, seed) -> tuple[torch.Tensor, int, float]:
    """Gradient of one micro-batch's mean loss (flattened), its masked frames and the loss."""
    torch.manual_seed(seed)
    wavs, wav_lens = batch.sig
    out = model(wavs, wav_lens)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(out.loss, params, allow_unused=True)
    flat = torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads)])
    return flat, out.num_masked, float(out.loss)


@pytest.mark.parametrize("mode", ["step", "micro_batch"])
def test_loss_normalisation_weights_micro_batches_by_masked_frames(tmp_path, mode):
    torch.manual_seed(0)
    wavs = tone_sequences(4, 1.0)
    long_batch = PaddedBatch([{"id": str(i), "sig": wav} for i, wav in enumerate(wavs[:3])])
    short_batch = PaddedBatch([{"id": "3", "sig": wavs[3, : int(0.6 * SAMPLE_RATE)]}])
    batches, seeds = [long_batch, short_batch], [11, 12]
    model = tiny_model()  # dropout 0, layerdrop 0
    reference = copy.deepcopy(model)
    (g1, n1, loss1), (g2, n2, loss2) = (mean_loss_gradient(reference, b, s) for b, s in zip(batches, seeds))
    assert n1 > 3 * n2  # 3 long utterances against 1 short one
    per_frame = -(n1 * g1 + n2 * g2) / (n1 + n2)  # fairseq: every masked frame of the step counts the same
    per_batch = -(g1 + g2) / 2  # every micro-batch counts the same
    assert (per_frame - per_batch).norm() > 0.1 * per_batch.norm()  # the two modes are told apart

    update = one_step_update(model, batches, seeds, mode, tmp_path)
    expected = per_frame if mode == "step" else per_batch
    assert (update - expected).norm() < 1e-3 * expected.norm()
    logged = (tmp_path / f"steps_{mode}.txt").read_text()
    logged_loss = float(logged.split("loss: ")[1].split(",")[0])
    assert logged_loss == pytest.approx((n1 * loss1 + n2 * loss2) / (n1 + n2), abs=0.006)  # per frame, both modes
