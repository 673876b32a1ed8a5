"""MACs of a public encoder configuration for CTC fine-tuning, full rate and downsampled (paper 5).

Builds the architecture of a transformers checkpoint from its configuration alone, with random
weights (nothing is downloaded): WavLM Large by default, the model of paper 5; or any folder /
cached hub id with ``--encoder``. Wraps it in ``CTCModel`` (character vocabulary, 1 linear CTC
layer) with no downsampling and with each ``--downsampling`` (``conv:3`` = learned strided Conv1d,
factor 3), and counts the MACs of one forward pass on ``--seconds`` of audio each
(``efficient_ssl.efficiency.count_flops`` / 2: matrix products, convolutions and attention;
elementwise operations and normalisations are not counted). MACs grow faster than linearly with
length (attention is quadratic), so the table gives MACs per second of audio at every length.

Writes DIR/public_encoder_cost.json and DIR/public_encoder_cost.md.

``--model`` picks another public architecture by name (``MODELS``: the architecture keys of the
checkpoints' own ``config.json``, random weights). ``--summary`` measures several of them side by
side in one process and writes DIR/public_encoder_summary.{json,md}: parameters (and those
trained: all but the CNN, or a routed model's scores), inference GMACs per audio second (1 s
and the mean LibriSpeech utterance, 12.7 s; conv x3 too), and the activation memory a training
forward keeps for backward (``efficient_ssl.efficiency.PeakMemory`` on CPU, fp32, one utterance
at two lengths, fitted as a * s + b * s^2 because attention keeps T x T maps), from which the
recipe READMEs estimate GPU memory and time per epoch.

Usage:
    python tools/public_encoder_cost.py --output results/public_cost [--encoder FOLDER_OR_ID | --model NAME] \
        [--seconds 1 7.4 20] [--downsampling conv:3 conv:2]
    # side by side; + DistilHuBERT-style students of HuBERT base; + S3-Router's setting (masks, kept 0.9)
    python tools/public_encoder_cost.py --output results/public_summary --summary \
        [--models wav2vec2-base hubert-base wavlm-base-plus wavlm-large data2vec-audio-base] \
        [--students hubert-base --student_layers 2] [--routed wav2vec2-base]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch

from efficient_ssl.efficiency import PeakMemory, count_flops, count_parameters
from efficient_ssl.models import CTCModel
from efficient_ssl.models.public import PublicEncoder, load_public_encoder

# WavLM Large (microsoft/wavlm-large's config.json, the architecture keys)
WAVLM_LARGE = dict(
    hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
    conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_bias=False, feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16, num_buckets=320, max_bucket_distance=800,
)
BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
            conv_bias=False, feat_extract_norm="group", do_stable_layer_norm=False)
# name: (transformers config class, architecture keys of the checkpoint's config.json)
MODELS = {
    "wav2vec2-base": ("Wav2Vec2Config", dict(BASE, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16)),
    "hubert-base": ("HubertConfig", dict(BASE, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16)),
    "wavlm-base-plus": ("WavLMConfig", dict(BASE, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                                            num_buckets=320, max_bucket_distance=800)),
    "wavlm-large": ("WavLMConfig", WAVLM_LARGE),
    "data2vec-audio-base": ("Data2VecAudioConfig", dict(BASE, conv_bias=True, feat_extract_norm="layer",
                                                        num_conv_pos_embeddings=5, conv_pos_kernel_size=19,
                                                        num_conv_pos_embedding_groups=16)),
}
VOCAB = 31  # LibriSpeech characters + blank
MEAN_UTTERANCE_S = 12.7  # LibriSpeech train-clean-100: 100.6 h in 28,539 utterances


def build(encoder: str | None, model: str = "wavlm-large") -> PublicEncoder:
    """The encoder architecture with random weights: a folder / cached hub id, or a ``MODELS`` name."""
    if encoder is not None:
        return load_public_encoder(encoder, random_init=True)
    import transformers

    config_class, settings = MODELS[model]
    return PublicEncoder(transformers.AutoModel.from_config(getattr(transformers, config_class)(**settings)))


def gmacs_per_s(model: CTCModel, seconds: float) -> float:
    """Inference GMACs per audio second of one utterance of ``seconds``."""
    wav = torch.randn(1, int(seconds * 16000))
    with torch.no_grad():
        return count_flops(lambda: model(wav, torch.ones(1))) / 2 / 1e9 / seconds


def training_activations_mb(model: CTCModel, seconds: float) -> float:
    """Peak MiB a training forward allocates (what backward keeps), one utterance, fp32."""
    wav = torch.randn(1, int(seconds * 16000))
    model.train()
    with PeakMemory("cpu") as memory:
        logits = model(wav, torch.ones(1)).logits[-1]
    del logits
    model.eval()
    return memory.peak_mb


def distil_students(teacher: str, num_layers: int) -> dict[str, torch.nn.Module]:
    """DistilHuBERT-style students of a ``MODELS`` teacher (recipes/LibriSpeech/distill): this
    project's encoder with the teacher's CNN and width, ``num_layers`` layers, MHSA or SummaryMixing."""
    from efficient_ssl.models.distill import build_student

    encoder = build(None, teacher)
    return {f"{teacher} student {num_layers}L {mixer}": build_student(encoder, num_layers=num_layers, attention_type=mixer)
            for mixer in ("regularMHA", "SummaryMixing")}


def summary(names: list[str], lengths: tuple[float, float], students: dict[str, torch.nn.Module],
            routed: tuple[str, ...] = ()) -> list[dict]:
    """Side by side: parameters, GMACs per audio second, training activations (see the module);
    ``routed`` models also as S3-Router fine-tunes them (kept 0.9, recipes/LibriSpeech/finetune's
    route_mini.yaml): their training memory then holds each routed weight's mask and masked copy,
    a fixed part (measured against the plain model's fit, which must come first in ``names``)."""
    rows = []
    for name in [*names, *students, *(f"{n} routed 0.9" for n in routed)]:
        torch.manual_seed(0)
        base = name.removesuffix(" routed 0.9")
        encoder = students[name] if name in students else build(None, base)
        encoder.eval().context.layerdrop = 0.0  # every layer runs: the measured memory is the whole model's
        routing = {"routing": "unstructured", "kept": 0.9} if name.endswith(" routed 0.9") else {}
        model = CTCModel(encoder, VOCAB, freeze_frontend=True, mask_prob=0.0, **routing).eval()
        second = copy.deepcopy(students[name]) if name in students else build(None, base).eval()
        conv3 = CTCModel(second, VOCAB, downsampling="conv", downsampling_factor=3).eval()
        short, long = (training_activations_mb(model, s) for s in lengths)
        fixed = 0.0
        plain = next((r for r in rows if r["model"] == base), None)
        if routing and plain is not None:  # the plain model's a, b; a fixed part for the masks
            a, b = plain["act_mb_per_s"], plain["act_mb_per_s2"]
            fixed = sum(m - a * s - b * s**2 for m, s in zip((short, long), lengths)) / 2
        else:  # peak(s) = a * s + b * s^2 through the two measured lengths (b >= 0)
            b = max(0.0, (long / lengths[1] - short / lengths[0]) / (lengths[1] - lengths[0]))
            a = short / lengths[0] - b * lengths[0] if b > 0 else max(short / lengths[0], long / lengths[1])
        params = sum(p.numel() for n, p in encoder.named_parameters() if not n.endswith("scores"))
        frontend = count_parameters(encoder.frontend)
        scores = sum(p.numel() for n, p in encoder.named_parameters() if n.endswith("scores"))
        row = {"model": name, "params_m": params / 1e6,
               "trained_params_m": scores / 1e6 if routing else (params - frontend) / 1e6,
               "gmacs_per_s_1s": gmacs_per_s(model, 1.0), "gmacs_per_s_mean": gmacs_per_s(model, MEAN_UTTERANCE_S),
               "gmacs_per_s_mean_conv3": gmacs_per_s(conv3, MEAN_UTTERANCE_S),
               "act_mb_fixed": fixed, "act_mb_per_s": a, "act_mb_per_s2": b,
               "act_mb_mean_utterance": fixed + a * MEAN_UTTERANCE_S + b * MEAN_UTTERANCE_S**2,
               "measured_lengths_s": list(lengths), "measured_act_mb": [short, long]}
        rows.append(row)
        print(f"{name}: {row['params_m']:.1f} M, {row['gmacs_per_s_mean']:.2f} GMACs/s, "
              f"activations {fixed:.0f} MB + {a:.0f} MB/s + {b:.1f} MB/s^2", flush=True)
    return rows


def _fixed(row: dict) -> str:
    return f"{row['act_mb_fixed']:.0f} + " if row["act_mb_fixed"] else ""


def summary_table(rows: list[dict]) -> str:
    """The markdown table of :func:`summary` rows."""
    lines = ["| model | params (M) | trained (M) | GMACs / audio s, 1 s | 12.7 s | 12.7 s, conv x3 "
             "| training activations, MB (fp32) | one 12.7 s utterance (MB) |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['params_m']:.1f} | {r['trained_params_m']:.1f} | {r['gmacs_per_s_1s']:.2f} | "
              f"{r['gmacs_per_s_mean']:.2f} | "
              f"{r['gmacs_per_s_mean_conv3']:.2f} | {_fixed(r)}"
              f"{r['act_mb_per_s']:.0f} s + {r['act_mb_per_s2']:.1f} s^2 | "
              f"{r['act_mb_mean_utterance']:.0f} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--encoder", help="transformers folder or cached hub id (default: --model)")
    parser.add_argument("--model", choices=sorted(MODELS), default="wavlm-large",
                        help="a public architecture from its config values, random weights (default: wavlm-large)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 7.4, 20.0])
    parser.add_argument("--downsampling", nargs="*", default=["conv:3", "conv:2"])
    parser.add_argument("--summary", action="store_true", help="the side-by-side table of --models instead")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--students", choices=sorted(MODELS), help="--summary: add the distillation students of this teacher")
    parser.add_argument("--student_layers", type=int, default=2)
    parser.add_argument("--routed", nargs="*", choices=sorted(MODELS), default=[],
                        help="--summary: add these models as S3-Router fine-tunes them (kept 0.9)")
    parser.add_argument("--memory_seconds", type=float, nargs=2, default=[2.0, 4.0],
                        help="the two lengths of the training-activation measurement")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.summary:
        students = {} if args.students is None else distil_students(args.students, args.student_layers)
        rows = summary(args.models, tuple(args.memory_seconds), students, tuple(args.routed))
        result = {"rows": rows, "wall_s": time.perf_counter() - start, "threads": torch.get_num_threads()}
        (args.output / "public_encoder_summary.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (args.output / "public_encoder_summary.md").write_text(summary_table(rows) + "\n", encoding="utf-8")
        print(summary_table(rows))
        return
    torch.manual_seed(0)
    encoder = build(args.encoder, args.model).eval()
    name = args.encoder or f"{args.model} (config, random weights)"
    rows = []
    for strategy in ["none"] + args.downsampling:
        method, _, factor = strategy.partition(":")
        model = CTCModel(encoder, VOCAB, downsampling=method, downsampling_factor=int(factor or 1)).eval()
        for seconds in args.seconds:
            wav = torch.randn(1, int(seconds * 16000))
            with torch.no_grad():
                macs = count_flops(lambda model=model, wav=wav: model(wav, torch.ones(1))) // 2
            rows.append({"downsampling": strategy, "seconds": seconds, "gmacs": macs / 1e9,
                         "gmacs_per_audio_s": macs / 1e9 / seconds})
            print(f"{strategy:8s} {seconds:5.1f} s: {macs / 1e9:8.1f} GMACs ({macs / 1e9 / seconds:.2f} per audio second)")
    result = {"encoder": name, "parameters": count_parameters(encoder), "rows": rows,
              "wall_s": time.perf_counter() - start}
    (args.output / "public_encoder_cost.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    lines = [f"{name}: {result['parameters'] / 1e6:.1f} M parameters (encoder)", "",
             "| downsampling | audio (s) | GMACs | GMACs per audio second |", "|---|---|---|---|"]
    lines += [f"| {r['downsampling']} | {r['seconds']:g} | {r['gmacs']:.1f} | {r['gmacs_per_audio_s']:.2f} |" for r in rows]
    (args.output / "public_encoder_cost.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
