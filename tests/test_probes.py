"""MP3S-style probing: the frozen encoder's weighted layer sum, the probe heads, the label
manifests, and a smoke run of every probe recipe on the tiny corpus."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import speechbrain as sb
import torch
from speechbrain.nnet.linear import Linear
from speechbrain.nnet.losses import AdditiveAngularMargin, AngularMargin, LogSoftmaxWrapper

from conftest import tiny_encoder
from efficient_ssl.brains.probe import verification_eer
from efficient_ssl.data.labels import prepare_mini_labels
from efficient_ssl.models.probes import (
    BiLSTM,
    CosineClassifier,
    EcapaEmbedding,
    FrozenEncoder,
    MeanPooling,
    WeightedLayerSum,
    XvectorEmbedding,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("probe_encoder")
    tiny_encoder().save(folder)
    return folder


def waves(batch: int = 3, seconds: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(batch, int(seconds * 16000), generator=g), torch.tensor([1.0, 0.7, 0.4])[:batch]


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_one_hot_weights_give_that_plain_layer(layer):
    encoder = tiny_encoder()
    frozen = FrozenEncoder(encoder)
    with torch.no_grad():
        frozen.layer_sum.weights.fill_(-1e4)
        frozen.layer_sum.weights[layer] = 1e4
    frozen.train()  # the encoder must stay in eval mode: same output as a plain eval call
    wavs, lens = waves()
    x, mask = frozen(wavs, lens)
    _, hidden, plain_mask = encoder.eval()(wavs, lens)
    torch.testing.assert_close(x, hidden[layer])
    assert torch.equal(mask, plain_mask)


def test_equal_weights_average_layers_and_only_the_weights_get_gradients():
    frozen = FrozenEncoder(tiny_encoder())
    wavs, lens = waves()
    x, _ = frozen(wavs, lens)
    hidden, _ = frozen.hidden_states(wavs, lens)
    torch.testing.assert_close(x, hidden.mean(dim=0))
    (x**2).sum().backward()
    assert frozen.layer_sum.weights.grad is not None and frozen.layer_sum.weights.grad.abs().sum() > 0
    assert all(p.grad is None for p in frozen.encoder.parameters())


def test_layer_norm_makes_the_sum_scale_free():
    layer_sum = WeightedLayerSum(2, layer_norm=True)
    a = torch.randn(2, 5, 8)
    torch.testing.assert_close(layer_sum([a, a]), layer_sum([100 * a, a]), atol=1e-4, rtol=1e-4)


def test_cache_returns_the_encoder_features_whatever_the_batch():
    frozen = FrozenEncoder(tiny_encoder(), cache=True)
    wavs, lens = waves()
    x, mask = frozen(wavs, lens, ids=["a", "b", "c"])
    assert set(frozen.cache) == {"a", "b", "c"}
    # "b" alone, from the cache (the waveform passed is ignored): its real frames are unchanged.
    xb, mb = frozen(torch.zeros(1, 16000), torch.tensor([0.7]), ids=["b"])
    n = int(mask[1].sum())
    assert mb.shape == (1, n) and bool(mb.all())
    torch.testing.assert_close(xb[0], x[1, :n], atol=2e-2, rtol=1e-2)  # half-precision storage


def _train(params, step, steps: int) -> tuple[float, float]:
    opt = torch.optim.Adam(params, lr=0.01)
    first = None
    for _ in range(steps):
        loss = step()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    return first, loss.item()


@pytest.mark.parametrize("probe", ["bilstm", "linear"])
def test_ctc_probes_overfit_a_few_items(probe):
    torch.manual_seed(0)
    x = torch.randn(4, 40, 32)
    lens = torch.tensor([1.0, 0.9, 0.8, 0.7])
    tokens = torch.randint(1, 6, (4, 6))
    token_lens = torch.ones(4)
    head = BiLSTM(32, hidden_size=32, num_layers=1, dropout=0.0) if probe == "bilstm" else None
    classifier = Linear(input_size=head.output_size if head else 32, n_neurons=6)
    modules = torch.nn.ModuleList([m for m in (head, classifier) if m is not None])

    def step():
        h = head(x, lens) if head else x
        log_probs = classifier(h).log_softmax(dim=-1)
        return sb.nnet.losses.ctc_loss(log_probs, tokens, lens, token_lens, blank_index=0)

    first, last = _train(modules.parameters(), step, 300)
    assert last < 0.1 * first


PROBES = {
    "pool+linear": (lambda: MeanPooling(16), Linear, LogSoftmaxWrapper(torch.nn.Identity())),
    "bilstm+linear": (lambda: BiLSTM(16, 16, 1, 0.0, pool=True), Linear, LogSoftmaxWrapper(torch.nn.Identity())),
    "xvector+am": (
        lambda: XvectorEmbedding(16, channels=32, lin_neurons=16),
        CosineClassifier,
        LogSoftmaxWrapper(AngularMargin(margin=0.2, scale=30)),
    ),
    "ecapa+aam": (
        lambda: EcapaEmbedding(16, channels=32, lin_neurons=16, attention_channels=16),
        CosineClassifier,
        LogSoftmaxWrapper(AdditiveAngularMargin(margin=0.2, scale=30)),
    ),
}


@pytest.mark.parametrize("name", list(PROBES))
def test_utterance_probes_overfit_a_few_items(name):
    torch.manual_seed(0)
    make_probe, make_classifier, loss_fn = PROBES[name]
    x = torch.randn(8, 30, 16) + 2 * torch.randn(8, 1, 16)  # each item its own mean
    lens = torch.ones(8)
    labels = torch.arange(4).repeat(2).unsqueeze(1)  # (8, 1): 4 classes
    probe = make_probe()
    classifier = make_classifier(input_size=probe.output_size, n_neurons=4)
    modules = torch.nn.ModuleList([probe, classifier])

    def step():
        return loss_fn(classifier(probe(x, lens)), labels)

    first, last = _train(modules.parameters(), step, 150)
    assert last < 0.2 * first
    modules.eval()
    with torch.no_grad():
        assert torch.equal(classifier(probe(x, lens)).argmax(dim=-1), labels.squeeze(1))


def test_verification_eer_separates_speakers(tmp_path):
    trials = tmp_path / "trials.csv"
    trials.write_text("label,enrol,test\n1,a1,a2\n1,b1,b2\n0,a1,b1\n0,a2,b2\n")
    by_speaker = {u: torch.tensor([1.0, 0.0]) if u[0] == "a" else torch.tensor([0.0, 1.0]) for u in ("a1", "a2", "b1", "b2")}
    assert verification_eer(by_speaker, trials) == 0.0
    # Every same-speaker pair orthogonal, every different-speaker pair identical: all wrong.
    crossed = {"a1": by_speaker["a1"], "b1": by_speaker["a1"], "a2": by_speaker["b1"], "b2": by_speaker["b1"]}
    assert verification_eer(crossed, trials) > 50.0
    with pytest.raises(KeyError, match="no embedding"):
        verification_eer({"a1": by_speaker["a1"]}, trials)


def test_mini_labels_manifests(tiny_corpus, tmp_path):
    paths = prepare_mini_labels(tiny_corpus, tmp_path, splits=["train-clean-100", "dev-clean"])
    rows = list(csv.DictReader(open(paths["dev-clean"])))
    commands = list(csv.DictReader(open(paths["dev-clean_commands"])))
    assert rows and commands and all(r["intent"] != "none" for r in commands)
    assert {r["ID"] for r in commands} < {r["ID"] for r in rows}
    speaker = {r["ID"]: r["spk_id"] for r in rows}
    trials = list(csv.DictReader(open(paths["dev-clean_trials"])))
    assert {t["label"] for t in trials} == {"0", "1"}
    assert all((speaker[t["enrol"]] == speaker[t["test"]]) == (t["label"] == "1") for t in trials)
    # Idempotent: a second call with the same options rewrites nothing.
    stamp = paths["dev-clean"].stat().st_mtime_ns
    prepare_mini_labels(tiny_corpus, tmp_path, splits=["train-clean-100", "dev-clean"])
    assert paths["dev-clean"].stat().st_mtime_ns == stamp


SMOKE = ["--number_of_epochs=1", "--batch_size=4"]
RECIPES = {
    "ls_linear": ("LibriSpeech", "linear_mini.yaml", "LibriSpeech", []),
    "cv_linear": ("CommonVoice", "linear_mini.yaml", "CommonVoice", ["--language=eu", "--bpe_vocab_size=30"]),
    "speaker_ecapa": ("MiniCorpus", "speaker_ecapa.yaml", ".", ["--emb_channels=16", "--emb_size=16"]),
    "emotion_pool": ("MiniCorpus", "emotion_pool.yaml", ".", []),
    "emotion_ecapa": ("MiniCorpus", "emotion_ecapa.yaml", ".", ["--emb_channels=16", "--emb_size=16"]),
    "intent_pool": ("MiniCorpus", "intent_pool.yaml", ".", []),
    "intent_bilstm": ("MiniCorpus", "intent_bilstm.yaml", ".", ["--lstm_hidden=16"]),
}


@pytest.mark.parametrize("name", list(RECIPES))
def test_probe_recipes_run(name, tiny_corpus, encoder_folder, tmp_path):
    dataset, yaml, data, extra = RECIPES[name]
    recipe = ROOT / "recipes" / dataset / "probe"
    out = tmp_path / "exp"
    cmd = [
        sys.executable, str(recipe / "train.py"), str(recipe / "hparams" / yaml),
        f"--data_folder={tiny_corpus / data}", f"--pretrained_encoder={encoder_folder}", f"--output_folder={out}",
        *SMOKE, *extra,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "probe_result.json").is_file()


def test_run_probes_table_for_an_encoder_and_its_control(tiny_corpus, encoder_folder, tmp_path):
    out = tmp_path / "suite"
    overrides = [f"--override={o}" for o in SMOKE + ["--max_valid_utterances=null"]]
    tasks = ["librispeech_asr", "cv_eu_asr", "speaker_verification"]  # the other YAMLs run above
    cmd = [
        sys.executable, str(ROOT / "tools" / "run_probes.py"), f"--encoder=tiny={encoder_folder}",
        "--random-control", f"--output={out}", f"--data={tiny_corpus}", "--tasks", *tasks, *overrides,
    ]
    run = subprocess.run(cmd + ["--seeds=2"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = list(csv.DictReader(open(out / "probes.csv")))
    assert [r["encoder"] for r in rows] == ["tiny", "tiny (random init)"]
    # encoder, tasks, the CER of the two CTC tasks, the std of every task and of the two CERs (2 seeds), CPU and
    # wall minutes
    assert len(rows[0]) == 1 + len(tasks) + 2 + len(tasks) + 2 + 2
    assert {"librispeech_asr (CER std)", "cv_eu_asr (CER std)"} <= set(rows[0])
    assert all(float(v) >= 0 for r in rows for k, v in r.items() if k != "encoder")
    # Each seed is its own run of the recipe, with its seed, and the cell is their mean.
    for task in tasks:
        values = [
            json.loads((out / "runs" / "tiny" / task / str(seed) / "probe_result.json").read_text())["value"]
            for seed in (1234, 1235)
        ]
        assert float(rows[0][f"{task} ({'EER' if task.startswith('speaker') else 'WER'})"]) == pytest.approx(
            sum(values) / 2, abs=0.01
        )
    seed_file = out / "runs" / "tiny" / "speaker_verification" / "1235" / "hyperparams.yaml"
    assert "seed: 1235" in seed_file.read_text()
    assert (out / "layer_weights.png").stat().st_size > 0
    assert "± " in (out / "probes.md").read_text()
    # A second call finds every run finished and only rewrites the table.
    again = subprocess.run(cmd + ["--seeds=2"], capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0 and list(csv.DictReader(open(out / "probes.csv"))) == rows
