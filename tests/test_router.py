"""S3-Router (efficient_ssl.nnet.router): exact sparsity, gradients, frozen weights, packing,
folding, the CTC integration, the route_mini.yaml recipe (1 and 2 processes), the table tool and
public (transformers) encoders: their named linears routed, folded, and route_mini.yaml on one."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import run_checked, tiny_encoder, torchrun_command
from efficient_ssl.models import CTCModel, PretrainedEncoder, load_ctc_model, load_pretrained_encoder
from efficient_ssl.nnet import router
from efficient_ssl.nnet.encoders import ContextEncoder

ROOT = Path(__file__).resolve().parents[1]
FINETUNE = ROOT / "recipes" / "LibriSpeech" / "finetune"
TINY_CTC = ["--num_layers=1", "--d_model=32", "--frontend_channels=32", "--d_ffn=64", "--nhead=2"]
ENCODERS = [
    (layer, mixer)
    for layer in ("conformer", "branchformer", "transformer")
    for mixer in ("SummaryMixing", "regularMHA", "speechbrain_mha")
]


def small_encoder(layer_type="conformer", attention_type="SummaryMixing", seed=0) -> PretrainedEncoder:
    torch.manual_seed(seed)
    return PretrainedEncoder(
        "mel_cnn",
        {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 3,
         "layer_type": layer_type, "attention_type": attention_type, "dropout": 0.0},
        frontend_kwargs={"channels": 16}, input_dropout=0.0,
    )


def batch(seed=1):
    torch.manual_seed(seed)
    return torch.randn(2, 8000), torch.tensor([1.0, 0.6])


@pytest.mark.parametrize("layer_type, attention_type", ENCODERS)
def test_exact_sparsity_per_layer_on_every_encoder(layer_type, attention_type):
    encoder = small_encoder(layer_type, attention_type)
    routed = router.route_encoder(encoder, kept={"ffn": 0.5, "context.layers.0.*": 0.8, "default": 0.9})
    categories = {t.category for t in router.find_targets(encoder).values()}
    assert {"mixer", "ffn", "proj"} <= categories
    report = router.sparsity(encoder)
    assert set(report["layers"]) == set(routed)
    for name, (kept, total) in report["layers"].items():
        category = router.find_targets(encoder)[name].category
        ratio = 0.5 if category == "ffn" else 0.8 if name.startswith("context.layers.0.") else 0.9
        assert kept == router.kept_count(ratio, total), name


def test_structured_rows_and_columns_keep_whole_units():
    layer = torch.nn.Linear(6, 10)
    torch.nn.utils.parametrize.register_parametrization(
        layer, "weight", router.RoutedWeight(layer.weight, 0.3, structure="rows", unit_dims=(0,), fan_in=6)
    )
    zero_rows = (layer.weight == 0).all(dim=1)
    assert int((~zero_rows).sum()) == 3 and int(zero_rows.sum()) == 7
    mixer = small_encoder().context.layers[0].mixer  # SummaryMixing: block-diagonal (H, in, out) weights
    router.route_encoder(mixer, kept=0.5, structure="columns")
    weight = mixer.first.weight  # (H, in / H, out / H)
    kept_inputs = (weight != 0).any(dim=2)  # (H, in / H)
    assert int(kept_inputs.sum()) == kept_inputs.numel() // 2
    assert torch.equal((weight != 0), kept_inputs.unsqueeze(-1).expand_as(weight))


@pytest.mark.parametrize("routing", ["unstructured", "rows", "structured"])
@pytest.mark.parametrize("ste", ["ste", "sigmoid"])
def test_gradients_reach_scores_not_frozen_weights(routing, ste):
    model = CTCModel(small_encoder(), vocab_size=6, routing=routing, kept=0.7, route_ste=ste)
    model(*batch()).logits[-1].square().mean().backward()
    scores = router.score_parameters(model)
    assert scores and all(p.grad is not None and p.grad.abs().sum() > 0 for p in scores)
    score_ids = {id(p) for p in scores}
    for name, p in model.named_parameters():
        if id(p) in score_ids:
            continue
        if name.startswith("encoder."):
            assert not p.requires_grad and p.grad is None, name
        else:  # the head: every trainable parameter gets a gradient (DDP never waits)
            assert p.requires_grad and p.grad is not None, name


def test_frozen_weights_bit_identical_after_training_and_masks_move():
    model = CTCModel(small_encoder(), vocab_size=6, routing="unstructured", kept=0.9, score_init="kaiming")
    frozen = {n: t.clone() for n, t in model.state_dict().items() if n.startswith("encoder.") and "scores" not in n}
    masks = {n: r.mask().detach().clone() for n, r in router.routers(model).items()}
    scores = router.score_parameters(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in scores} <= {id(p) for p in trainable}
    optimiser = torch.optim.AdamW(trainable, lr=0.05, weight_decay=0.01)
    for step in range(3):
        optimiser.zero_grad()
        model(*batch(step)).logits[-1].square().mean().backward()
        optimiser.step()
    after = model.state_dict()
    assert all(torch.equal(t, after[n]) for n, t in frozen.items())
    changed = sum(int((r.mask() != masks[n]).sum()) for n, r in router.routers(model).items())
    assert changed > 0
    assert router.sparsity(model)["kept_fraction"] == pytest.approx(0.9, abs=1e-3)


@pytest.mark.parametrize("routing", ["unstructured", "columns", "structured"])
def test_pack_unpack_round_trip_restores_the_routing(routing):
    mask = torch.rand(5, 13) > 0.3
    assert torch.equal(router.unpack_mask(router.pack_mask(mask), mask.shape), mask)
    trained = CTCModel(small_encoder(), vocab_size=6, routing=routing, kept=0.6, score_init="kaiming")
    packed = router.pack_masks(trained)
    torch.manual_seed(5)
    fresh = CTCModel(small_encoder(), vocab_size=6, routing=routing, kept=0.6, score_init="kaiming")
    fresh.heads.load_state_dict(trained.heads.state_dict())
    router.load_masks(fresh, packed)
    for name, r in router.routers(trained).items():
        assert torch.equal(router.routers(fresh)[name].mask(), r.mask()), name
    trained.eval(), fresh.eval()
    with torch.no_grad():
        assert torch.equal(trained(*batch()).logits[-1], fresh(*batch()).logits[-1])
    encoder_bytes = router.tensor_bytes(trained.encoder)
    assert router.packed_bytes(packed) * 30 <= encoder_bytes


@pytest.mark.parametrize("layer_type, attention_type", ENCODERS)
def test_fold_equals_the_masked_forward(layer_type, attention_type):
    encoder = small_encoder(layer_type, attention_type).context.eval()
    router.route_encoder(encoder, kept=0.6, score_init="magnitude_rank")
    if layer_type != "branchformer":  # its cgMLP is not a FeedForward block
        router.route_ffn_units(encoder, kept=0.5)
    x = torch.randn(2, 7, 16)
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    with torch.no_grad():
        masked = encoder(x, mask)[0]
        params = sum(p.numel() for n, p in encoder.named_parameters() if not n.endswith("scores"))
        folded = router.fold(encoder)(x, mask)[0]
    assert not router.routers(encoder)
    assert (folded - masked)[mask].abs().max() <= 1e-5
    if layer_type != "branchformer":  # hidden units removed: a smaller dense model
        assert sum(p.numel() for p in encoder.parameters()) < params
        ffn = encoder.layers[0].ffn_in if layer_type == "conformer" else encoder.layers[0].ffn
        assert ffn[1].out_features == 16 and ffn[4].in_features == 16


def test_saved_routed_model_loads_folded_and_equal(tmp_path):
    model = CTCModel(small_encoder(), vocab_size=6, routing="structured", kept=0.5, score_init="kaiming").eval()
    model.save(tmp_path / "model")
    loaded = load_ctc_model(tmp_path / "model")
    assert not router.routers(loaded)
    with torch.no_grad():
        assert (loaded(*batch()).logits[-1] - model(*batch()).logits[-1]).abs().max() <= 1e-5
    assert sum(p.numel() for p in loaded.parameters()) < sum(
        p.numel() for n, p in model.named_parameters() if "scores" not in n
    )


def test_bad_routing_options_are_named():
    with pytest.raises(ValueError, match="'everything'"):
        router.route_encoder(ContextEncoder(1, 8, 2, 16), select="everything")
    with pytest.raises(ValueError, match="kept=1.5"):
        router.route_encoder(ContextEncoder(1, 8, 2, 16), kept=1.5)
    with pytest.raises(ValueError, match="'bogus'"):
        CTCModel(small_encoder(), vocab_size=6, routing="bogus")


def test_route_mini_yaml_runs(tiny_corpus, tmp_path):
    tiny_encoder().save(tmp_path / "encoder")
    out = tmp_path / "exp"
    run_checked([sys.executable, str(FINETUNE / "train.py"), str(FINETUNE / "hparams" / "route_mini.yaml"),
                 f"--data_folder={tiny_corpus / 'LibriSpeech'}", f"--output_folder={out}",
                 f"--pretrained_encoder={tmp_path / 'encoder'}", "--number_of_epochs=1",
                 "--routing=structured", "--kept=0.5"], tmp_path)
    results = json.loads((out / "results.json").read_text())
    assert {"WER", "CER"} <= set(results["test-clean"])
    loaded = load_ctc_model(out / "model")  # folded: half of each block's hidden units
    assert loaded.encoder.context.layers[0].ffn_in[1].out_features == 32


def test_route_mini_runs_on_two_processes(tiny_corpus, tmp_path):
    tiny_encoder().save(tmp_path / "encoder")
    out = tmp_path / "exp"
    run_checked([*torchrun_command(2), str(FINETUNE / "train.py"), str(FINETUNE / "hparams" / "route_mini.yaml"),
                 f"--data_folder={tiny_corpus / 'LibriSpeech'}", f"--output_folder={out}",
                 f"--pretrained_encoder={tmp_path / 'encoder'}", "--number_of_epochs=1",
                 "--distributed_backend=gloo", "--device=cpu"], tmp_path)
    assert json.loads((out / "cost_train.json").read_text())["extra"]["world_size"] == 2
    assert list((out / "save").glob("CKPT+*"))


@pytest.mark.slow
def test_router_table_tiny(tiny_corpus, tmp_path):
    tiny_encoder().save(tmp_path / "encoder")
    out = tmp_path / "table"
    cmd = [sys.executable, str(ROOT / "tools" / "router_table.py"), "--output", str(out), "--tiny",
           "--data_folder", str(tiny_corpus / "LibriSpeech"), "--pretrained", str(tmp_path / "encoder")]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    records = json.loads((out / "router.json").read_text())
    modes = {r["mode"] for r in records}
    assert {"weights", "router", "magnitude", "router_structured", "magnitude_structured"} <= modes
    for record in records:
        assert {"mode", "kept", "wer", "cer", "macs_per_audio_s", "cpu_rtf", "bytes"} <= set(record)
    bench = json.loads((out / "router_bench.json").read_text())
    assert bench["fold_max_abs_diff"] <= 1e-5 and bench["packed_mask_fraction"] <= 1 / 30
    assert bench["context_s_full"] > 0 and bench["context_time_ratio_ffn_half"] > 0  # the context network alone
    assert (out / "router.png").stat().st_size > 0 and "| router |" in (out / "router.md").read_text()


def _public_folder(family: str, folder: Path, **overrides) -> Path:
    """A tiny random transformers model of ``family`` saved to ``folder`` (skips without transformers)."""
    pytest.importorskip("transformers")
    from test_public_checkpoints import save_tiny

    return save_tiny(family, folder, **overrides)


PUBLIC_NAMES = {"mixer": ("q_proj", "k_proj", "v_proj", "out_proj", "linear_q", "linear_k", "linear_v", "linear_out"),
                "ffn": ("intermediate_dense", "output_dense"), "conv": ("pointwise_conv1", "pointwise_conv2"),
                "proj": ("projection",)}


@pytest.mark.parametrize("family", ["wav2vec2_base", "wavlm_large", "conformer", "data2vec"])
def test_a_public_encoder_routes_its_linears_and_folds(family, tmp_path):
    encoder = load_pretrained_encoder(_public_folder(family, tmp_path / family))
    routed = router.route_encoder(encoder, kept={"ffn": 0.5, "default": 0.8}, score_init="magnitude_rank")
    for name, target in router.find_targets(encoder).items():  # the named linears only, never the CNN
        assert name.rsplit(".", 2)[-2] in PUBLIC_NAMES[target.category], name
        assert not name.startswith("frontend.") and "pos_conv" not in name and "gru_rel_pos" not in name, name
    categories = {t.category for t in router.find_targets(encoder).values()}
    assert categories == ({"mixer", "ffn", "proj", "conv"} if family == "conformer" else {"mixer", "ffn", "proj"})
    assert len(routed) == 1 + 2 * (4 + 2 * (2 if family == "conformer" else 1) + (2 if family == "conformer" else 0))
    for name, (kept, total) in router.sparsity(encoder)["layers"].items():
        ratio = 0.5 if router.find_targets(encoder)[name].category == "ffn" else 0.8
        assert kept == router.kept_count(ratio, total), name
    trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith("scores") for n in trainable)
    router.route_ffn_units(encoder, kept=0.5)
    wav, wav_lens = torch.randn(2, 4000), torch.tensor([1.0, 0.6])
    with torch.no_grad():
        masked, _, mask = encoder(wav, wav_lens)
        params = sum(p.numel() for n, p in encoder.named_parameters() if not n.endswith("scores"))
        folded = router.fold(encoder)(wav, wav_lens)[0]
    assert not router.routers(encoder)
    assert (folded - masked)[mask].abs().max() <= 1e-5
    assert sum(p.numel() for p in encoder.parameters()) < params  # half of every hidden layer removed


def test_route_mini_yaml_runs_on_a_public_encoder(tiny_corpus, tmp_path):
    from test_public_checkpoints import small_librispeech

    folder = _public_folder("wavlm_large", tmp_path / "wavlm", conv_dim=(16,) * 5, conv_kernel=(10, 3, 3, 3, 2),
                            conv_stride=(5, 2, 2, 2, 2))
    data = small_librispeech(tiny_corpus, tmp_path / "LibriSpeech")
    out = tmp_path / "exp"
    run_checked([sys.executable, str(FINETUNE / "train.py"), str(FINETUNE / "hparams" / "route_mini.yaml"),
                 f"--data_folder={data}", f"--output_folder={out}", f"--pretrained_encoder={folder}",
                 "--number_of_epochs=1"], tmp_path)
    assert {"WER", "CER"} <= set(json.loads((out / "results.json").read_text())["test-clean"])
    routed = load_ctc_model(out / "model", fold_routing=False)
    report = router.sparsity(routed)
    assert len(report["layers"]) == 1 + 2 * 6  # projection + q, k, v, out, 2 feed-forward linears per layer
    assert all(kept == router.kept_count(0.9, total) for kept, total in report["layers"].values())
    start = load_pretrained_encoder(folder)  # the frozen weights are bit-identical after training
    reference = {n: t.detach() for n, t in start.named_parameters()}  # (not the layerdrop counter)
    weights = {re.sub(r"\.parametrizations\.(\w+)\.original$", r".\1", n.replace("encoder.", "", 1)): t
               for n, t in routed.state_dict().items() if n.startswith("encoder.") and "scores" not in n}
    assert set(reference) <= set(weights)
    assert [n for n, t in reference.items() if not torch.equal(t, weights[n])] == []
    folded = load_ctc_model(out / "model")
    wav, wav_lens = torch.randn(2, 6000), torch.tensor([1.0, 0.7])
    routed.eval()
    with torch.no_grad():
        a, b = routed(wav, wav_lens), folded(wav, wav_lens)
    assert ((a.logits[-1] - b.logits[-1]).abs() * a.mask.unsqueeze(-1)).max() <= 1e-5


# Hidden-unit masks over SummaryMixing's local and summary units (route_units, category "mixer")


def summary_mixing(nhead=4, mode="SummaryMixing", seed=0) -> torch.nn.ModuleDict:
    """A SummaryMixing with hidden layers of unequal sizes and random biases, in a holder."""
    from efficient_ssl.nnet.summary_mixing import SummaryMixing

    torch.manual_seed(seed)
    layer = SummaryMixing(16, nhead, local_proj_hid_dim=[32, 16], summary_hid_dim=[24], mode=mode, dropout=0.1)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.endswith("bias"):
                p.normal_()
    return torch.nn.ModuleDict({"mixer": layer})


def test_summary_mixing_units_keep_as_many_units_in_every_head():
    holder = summary_mixing(nhead=4)
    routed = router.route_units(holder, "mixer", kept=0.5, score_init="kaiming")
    assert list(routed) == ["mixer"] and list(router.routers(holder)) == ["mixer"]
    mask = routed["mixer"].mask()  # (H, [32 local ; 24 summary] / H)
    assert mask.shape == (4, 14)
    assert mask[:, :8].sum(dim=1).tolist() == [4.0] * 4 and mask[:, 8:].sum(dim=1).tolist() == [3.0] * 4
    assert router.sparsity(holder)["kept"] == 4 * (4 + 3)
    lite = router.route_units(summary_mixing(mode="SummaryMixing-lite"), "mixer", kept={"mixer": 0.25})
    assert lite["mixer"].mask().sum(dim=1).tolist() == [2.0] * 4  # summary units only: 6 per head
    with pytest.raises(ValueError, match="not the -fast mode"):  # its first layer's outputs feed LayerNorms
        router.route_units(summary_mixing(mode="SummaryMixing-fast"), "mixer")
    with pytest.raises(ValueError, match="'conv'"):
        router.route_units(holder, ["ffn", "conv"])
    with pytest.raises(ValueError, match="has a unit mask already"):
        router.route_units(holder, "mixer")


@pytest.mark.parametrize("mode", ["SummaryMixing", "SummaryMixing-lite"])
@pytest.mark.parametrize("nhead", [1, 4])
@pytest.mark.parametrize("chunk", [0, 3])
def test_fold_summary_mixing_units_equals_the_masked_layer(mode, nhead, chunk):
    from efficient_ssl.nnet.summary_mixing import chunk_context_mask

    holder = summary_mixing(nhead, mode).eval()
    router.route_units(holder, "mixer", kept=0.4, score_init="kaiming")
    layer = holder["mixer"]
    x = torch.randn(3, 10, 16)
    mask = torch.tensor([[True] * 10, [True] * 6 + [False] * 4, [True] * 2 + [False] * 8])
    context = chunk_context_mask(10, chunk) if chunk else None
    params = sum(p.numel() for n, p in holder.named_parameters() if not n.endswith("scores"))
    with torch.no_grad():
        masked = layer(x, mask, context)
        router.fold(holder)
        folded = layer(x, mask, context)
    assert layer.hidden_mask is None and not router.routers(holder)
    assert (folded - masked)[mask].abs().max() <= 1e-5
    assert sum(p.numel() for p in holder.parameters()) < params
    local = 0 if mode == "SummaryMixing-lite" else router.kept_count(0.4, 32 // nhead)
    summary = router.kept_count(0.4, 24 // nhead)
    assert tuple(layer.first.weight.shape) == (nhead, 16 // nhead, local + summary) and layer.local_split == local
    assert layer.summary_layers[0].weight.shape[1] == summary


@pytest.mark.parametrize("ste", ["ste", "sigmoid"])
def test_summary_mixing_unit_scores_get_gradients_not_frozen_weights(ste):
    torch.manual_seed(0)
    encoder = PretrainedEncoder("mel_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32, "kernel_size": 3,
                                            "dropout": 0.1}, frontend_kwargs={"channels": 16})
    model = CTCModel(encoder, vocab_size=6, routing="structured", kept=0.5, route_select=["ffn", "mixer"],
                     route_ste=ste).train()  # SummaryMixing recomputed in the backward pass, with dropout
    assert encoder.context.layers[0].mixer.recompute
    assert {"encoder.context.layers.0.mixer", "encoder.context.layers.0.ffn_in"} <= set(router.routers(model))
    model(*batch()).logits[-1].square().mean().backward()
    scores = router.score_parameters(model)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in scores)
    score_ids = {id(p) for p in scores}
    frozen = [(n, p) for n, p in model.encoder.named_parameters() if id(p) not in score_ids]
    assert frozen and all(not p.requires_grad and p.grad is None for _, p in frozen)


def test_structured_routing_masks_summary_mixing_units_only_when_selected(tmp_path):
    default = CTCModel(small_encoder(), vocab_size=6, routing="structured", kept=0.5)  # "all": feed-forward only
    assert all(".ffn" in name for name in router.routers(default))
    model = CTCModel(small_encoder(), vocab_size=6, routing="structured", kept=0.5, score_init="kaiming",
                     route_select=["ffn", "mixer"]).eval()
    assert sum(name.endswith(".mixer") for name in router.routers(model)) == 2
    model.save(tmp_path / "model")
    loaded = load_ctc_model(tmp_path / "model")  # rebuilt from the config, folded
    assert not router.routers(loaded)
    assert loaded.encoder.context.layers[0].mixer.first.weight.shape[-1] == 8  # 16 of 32 units (2 heads)
    with torch.no_grad():
        assert (loaded(*batch()).logits[-1] - model(*batch()).logits[-1]).abs().max() <= 1e-5
    fresh = CTCModel(small_encoder(seed=3), vocab_size=6, routing="structured", kept=0.5, route_select=["ffn", "mixer"])
    router.load_masks(fresh, router.pack_masks(model))
    for name, r in router.routers(model).items():
        assert torch.equal(router.routers(fresh)[name].mask(), r.mask()), name


def test_folded_summary_mixing_units_stream_like_the_full_forward():
    torch.manual_seed(0)
    encoder = ContextEncoder(2, 16, 4, 32, kernel_size=3, chunk_size=4, causal=True, dropout=0.0).eval()
    router.route_units(encoder, kept=0.5, score_init="kaiming")
    x = torch.randn(2, 12, 16)
    with torch.no_grad():
        masked = encoder(x)[0]  # chunked context of 4 frames
        router.fold(encoder)
        full = encoder(x)[0]
        outs, state = [], None
        for start in range(0, 12, 4):
            out, state = encoder.forward_chunk(x[:, start:start + 4], state)
            outs.append(out)
    assert (full - masked).abs().max() <= 1e-5
    assert (torch.cat(outs, dim=1) - full).abs().max() <= 1e-5
    total, count = state[0]["mixer"]
    assert total.shape == (2, 16) and count.shape == (2, 1)  # the summary keeps its size
