"""Public (transformers-format) encoders behind ``load_pretrained_encoder``: tiny random
configurations of every family, saved as transformers folders, must give transformers' own hidden
states, never let padding change the real frames, work in CTCModel (downsampling, early exit, save
and load) and in the fine-tuning and probe recipes, and a hub id missing from the cache must fail
in one line saying how to download it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from efficient_ssl.efficiency import count_parameters  # noqa: E402
from efficient_ssl.models import CTCModel, load_ctc_model, load_pretrained_encoder  # noqa: E402
from efficient_ssl.models.public import PublicEncoder  # noqa: E402
from efficient_ssl.nnet.frontends import masked_normalise, sample_mask  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            conv_dim=(8, 8, 8), conv_kernel=(10, 3, 2), conv_stride=(5, 4, 2))
POS_CONV = dict(num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2)
# name: (config class, settings, does transformers' own padded batch equal each utterance alone?)
FAMILIES = {
    "wav2vec2_base": (transformers.Wav2Vec2Config, dict(POS_CONV, feat_extract_norm="group"), False),
    "wav2vec2_large": (transformers.Wav2Vec2Config, dict(POS_CONV, feat_extract_norm="layer", do_stable_layer_norm=True), True),
    "conformer": (transformers.Wav2Vec2ConformerConfig, dict(feat_extract_norm="layer", conv_depthwise_kernel_size=7,
                                                             position_embeddings_type="relative"), False),
    "hubert": (transformers.HubertConfig, dict(POS_CONV, feat_extract_norm="layer", do_stable_layer_norm=True), True),
    "wavlm_base": (transformers.WavLMConfig, dict(POS_CONV, feat_extract_norm="group", num_buckets=8), False),
    "wavlm_large": (transformers.WavLMConfig, dict(POS_CONV, feat_extract_norm="layer", do_stable_layer_norm=True,
                                                   num_buckets=8), True),
    "data2vec": (transformers.Data2VecAudioConfig, dict(conv_pos_kernel_size=5, num_conv_pos_embeddings=3), False),
}


def save_tiny(family: str, folder: Path, **overrides) -> Path:
    """Saves a random tiny model of ``family`` as a transformers folder."""
    config_class, settings, _ = FAMILIES[family]
    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(config_class(**{**TINY, **settings, **overrides}))
    PublicEncoder(model).save(folder)
    return folder


def hf_input(encoder: PublicEncoder, wav: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """What transformers' feature extractor would feed the model."""
    return masked_normalise(wav, real, eps=1e-7) if encoder.frontend.do_normalize else wav


@pytest.mark.parametrize("family", list(FAMILIES))
def test_hidden_states_equal_transformers_and_ignore_padding(family, tmp_path):
    folder = save_tiny(family, tmp_path / family)
    encoder = load_pretrained_encoder(folder)
    reference = transformers.AutoModel.from_pretrained(folder).eval()
    assert count_parameters(encoder) == sum(
        p.numel() for name, p in reference.named_parameters() if not name.startswith("encoder.pos_conv_embed.")
        or family != "conformer"  # the Conformer never runs its positional convolution
    )
    torch.manual_seed(1)
    wav, wav_lens = torch.randn(3, 4000), torch.tensor([1.0, 0.62, 0.3])
    real = sample_mask(wav_lens, wav.shape[1])
    with torch.no_grad():
        out, hidden, mask = encoder(wav, wav_lens)
        assert len(hidden) == 3 and out.shape == hidden[-1].shape == (3, mask.shape[1], 16)
        x = hf_input(encoder, wav, real)
        for i in range(3):  # each utterance alone (no padding), and each padded a second time
            n, frames = int(real[i].sum()), int(mask[i].sum())
            alone = reference(x[i : i + 1, :n], output_hidden_states=True)
            ours = list(hidden) + [out]
            theirs = list(alone.hidden_states) + [alone.last_hidden_state]
            assert max((a[i, :frames] - b[0, :frames]).abs().max() for a, b in zip(ours, theirs)) <= 1e-5
            longer = torch.cat([wav[i : i + 1, :n], torch.randn(1, 1500)], dim=1)  # noise as padding
            out_2, _, mask_2 = encoder(longer, torch.tensor([n / longer.shape[1]]))
            assert int(mask_2.sum()) == frames
            assert (out_2[0, :frames] - out[i, :frames]).abs().max() <= 1e-5
        if FAMILIES[family][2]:  # transformers is padding-invariant here: its padded batch too
            batch = reference(x, attention_mask=real.long(), output_hidden_states=True)
            theirs = list(batch.hidden_states) + [batch.last_hidden_state]
            diff = max(((a - b).abs() * mask.unsqueeze(-1)).max() for a, b in zip(list(hidden) + [out], theirs))
            assert diff <= 1e-5


def test_ctc_model_with_a_public_encoder_downsamples_exits_early_and_reloads(tmp_path):
    encoder = load_pretrained_encoder(save_tiny("wavlm_large", tmp_path / "wavlm", num_hidden_layers=3))
    model = CTCModel(encoder, vocab_size=6, downsampling="conv", downsampling_factor=3, keep_layers=2,
                     exit_layers=[1], freeze_frontend=True, mask_prob=0.2, mask_length=2).eval()
    assert len(encoder.context.layers) == 2 and not any(p.requires_grad for p in encoder.frontend.parameters())
    assert model.frames_per_second == 16000 / (40 * 3)
    wav, wav_lens = torch.randn(2, 6000), torch.tensor([1.0, 0.7])
    with torch.no_grad():
        full = model(wav, wav_lens)
        model.exit_entropy = -1.0  # never confident: early exit runs every layer one by one
        layer_by_layer = model(wav, wav_lens)
    assert full.mask.equal(layer_by_layer.mask)
    real = full.mask.unsqueeze(-1)
    assert ((full.logits[-1] - layer_by_layer.logits[0]).abs() * real).max() <= 1e-5
    reloaded = load_ctc_model(model.save(tmp_path / "model"))
    assert reloaded.config["encoder"]["transformers"]["num_hidden_layers"] == 2
    with torch.no_grad():
        again = reloaded(wav, wav_lens)
    assert ((again.logits[-1] - full.logits[-1]).abs() * real).max() <= 1e-5
    model.train()  # training: span masking with the mask embedding, gradients reach the layers
    model(wav, wav_lens).logits[-1].sum().backward()
    assert encoder.mask_emb.grad is not None and encoder.context.layers[1].layer.attention.q_proj.weight.grad is not None


def test_a_hub_id_missing_from_the_cache_fails_in_one_line(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(FileNotFoundError) as error:
        load_pretrained_encoder("microsoft/wavlm-large")
    message = str(error.value)
    assert "\n" not in message and "microsoft/wavlm-large" in message
    assert "huggingface-cli download microsoft/wavlm-large --local-dir" in message and "snapshot_download" in message


def test_importing_the_models_does_not_import_transformers():
    code = "import sys, efficient_ssl.models; assert 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def small_librispeech(tiny_corpus: Path, folder: Path, per_split: int = 4,
                      splits: tuple[str, ...] = ("train-clean-100", "dev-clean", "test-clean")) -> Path:
    """The first ``per_split`` utterances of one chapter of each of ``splits`` of the tiny corpus."""
    source = tiny_corpus / "LibriSpeech"
    folder.mkdir(parents=True)
    shutil.copy(source / "SPEAKERS.TXT", folder / "SPEAKERS.TXT")
    for split in splits:
        chapter = sorted(p for p in (source / split).glob("*/*") if p.is_dir())[0]
        target = folder / chapter.relative_to(source)
        target.mkdir(parents=True)
        lines = next(chapter.glob("*.trans.txt")).read_text().splitlines()[:per_split]
        (target / next(chapter.glob("*.trans.txt")).name).write_text("\n".join(lines) + "\n")
        for line in lines:
            shutil.copy(chapter / f"{line.split()[0]}.flac", target)
    return folder


def test_finetune_and_probe_recipes_take_a_public_encoder(tiny_corpus, tmp_path):
    folder = save_tiny("wavlm_large", tmp_path / "wavlm", conv_dim=(16,) * 5, conv_kernel=(10, 3, 3, 3, 2),
                       conv_stride=(5, 2, 2, 2, 2))  # 200 frames per second
    data = small_librispeech(tiny_corpus, tmp_path / "LibriSpeech")
    common = [f"--data_folder={data}", f"--pretrained_encoder={folder}", "--number_of_epochs=1"]
    finetune = ROOT / "recipes" / "LibriSpeech" / "finetune"
    run = subprocess.run(
        [sys.executable, str(finetune / "train.py"), str(finetune / "hparams" / "finetune_mini.yaml"), *common,
         f"--output_folder={tmp_path / 'ft'}", "--downsampling=conv", "--downsampling_factor=3"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "ft" / "results.json").is_file()
    assert load_ctc_model(tmp_path / "ft" / "model").config["downsampling_factor"] == 3
    probe = ROOT / "recipes" / "LibriSpeech" / "probe"
    run = subprocess.run(
        [sys.executable, str(probe / "train.py"), str(probe / "hparams" / "linear_mini.yaml"), *common,
         f"--output_folder={tmp_path / 'probe'}", "--batch_size=4"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "probe" / "probe_result.json").is_file()


@pytest.mark.slow
def test_finetune_recipe_with_a_public_encoder_on_two_processes(tiny_corpus, tmp_path):
    from conftest import run_checked, torchrun_command

    folder = save_tiny("wavlm_large", tmp_path / "wavlm", conv_dim=(16,) * 5, conv_kernel=(10, 3, 3, 3, 2),
                       conv_stride=(5, 2, 2, 2, 2))  # layerdrop 0.1: the Brain turns find_unused_parameters on
    data = small_librispeech(tiny_corpus, tmp_path / "LibriSpeech")
    finetune = ROOT / "recipes" / "LibriSpeech" / "finetune"
    out = tmp_path / "exp"
    run_checked([*torchrun_command(2), str(finetune / "train.py"), str(finetune / "hparams" / "finetune_mini.yaml"),
                 f"--data_folder={data}", f"--pretrained_encoder={folder}", f"--output_folder={out}",
                 "--number_of_epochs=1", "--downsampling=conv", "--downsampling_factor=3",
                 "--max_batch_length_s=8",  # >= 2 batches: one per rank (16 s of training audio)
                 "--distributed_backend=gloo", "--device=cpu"], tmp_path)
    assert (out / "results.json").is_file()


def test_public_encoder_cost_summary_runs_on_tiny_configurations(monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    import public_encoder_cost

    tiny = dict(TINY, **POS_CONV, conv_dim=(16,) * 3, conv_kernel=(10, 8, 8), conv_stride=(5, 8, 8))  # 20 ms frames
    monkeypatch.setattr(public_encoder_cost, "MODELS", {"tiny": ("HubertConfig", dict(tiny, feat_extract_norm="group"))})
    students = public_encoder_cost.distil_students("tiny", num_layers=1)
    rows = public_encoder_cost.summary(["tiny"], (0.5, 1.0), students, routed=("tiny",))
    by_model = {row["model"]: row for row in rows}
    assert set(by_model) == {"tiny", "tiny student 1L regularMHA", "tiny student 1L SummaryMixing", "tiny routed 0.9"}
    plain, routed = by_model["tiny"], by_model["tiny routed 0.9"]
    assert routed["gmacs_per_s_mean"] == plain["gmacs_per_s_mean"] and plain["act_mb_fixed"] == 0.0
    assert routed["trained_params_m"] < plain["trained_params_m"] < plain["params_m"]
    assert all(row["gmacs_per_s_mean_conv3"] < row["gmacs_per_s_mean"] for row in rows)
    assert "| tiny routed 0.9 |" in public_encoder_cost.summary_table(rows)
