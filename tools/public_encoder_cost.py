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

Usage:
    python tools/public_encoder_cost.py --output results/public_cost [--encoder FOLDER_OR_ID] \
        [--seconds 1 7.4 20] [--downsampling conv:3 conv:2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from efficient_ssl.efficiency import count_flops, count_parameters
from efficient_ssl.models import CTCModel
from efficient_ssl.models.public import PublicEncoder, load_public_encoder

# WavLM Large (microsoft/wavlm-large's config.json, the architecture keys)
WAVLM_LARGE = dict(
    hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
    conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_bias=False, feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16, num_buckets=320, max_bucket_distance=800,
)
VOCAB = 31  # LibriSpeech characters + blank


def build(encoder: str | None) -> PublicEncoder:
    """The encoder architecture with random weights."""
    if encoder is not None:
        return load_public_encoder(encoder, random_init=True)
    from transformers import AutoModel, WavLMConfig

    return PublicEncoder(AutoModel.from_config(WavLMConfig(**WAVLM_LARGE)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--encoder", help="transformers folder or cached hub id (default: WavLM Large config)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 7.4, 20.0])
    parser.add_argument("--downsampling", nargs="*", default=["conv:3", "conv:2"])
    args = parser.parse_args()
    torch.manual_seed(0)
    start = time.perf_counter()
    encoder = build(args.encoder).eval()
    name = args.encoder or "WavLM Large (config, random weights)"
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
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "public_encoder_cost.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    lines = [f"{name}: {result['parameters'] / 1e6:.1f} M parameters (encoder)", "",
             "| downsampling | audio (s) | GMACs | GMACs per audio second |", "|---|---|---|---|"]
    lines += [f"| {r['downsampling']} | {r['seconds']:g} | {r['gmacs']:.1f} | {r['gmacs_per_audio_s']:.2f} |" for r in rows]
    (args.output / "public_encoder_cost.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
