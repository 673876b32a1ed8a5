#!/usr/bin/env python3
"""How much speaker information each hidden state of a frozen encoder holds, with no training.

A closed-form companion of the speaker verification probe (``recipes/MiniCorpus/probe``): for
every hidden state (encoder input, then every layer), each utterance becomes the mean and
standard deviation of its frames over time; an LDA fitted on the training speakers (within-class
whitening, at most ``speakers - 1`` dimensions) projects them, and the EER of cosine scores over
the test trials says how well that hidden state tells unseen speakers apart. Nothing is trained
by gradient, so the only randomness is the draw of an untrained control (``--random-draws``):
the number isolates the encoder from the probe's seed.

Writes ``DIR/speaker_layers.json`` and ``DIR/speaker_layers.md`` (rows = encoders, columns =
hidden states, EER in %; controls as mean ± std over their draws).

Usage:
    python tools/speaker_layers.py --encoder pt=results/pt_SummaryMixing/save --random-draws 4 \\
        --output results/speaker_layers
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from efficient_ssl.brains.probe import verification_eer  # noqa: E402
from efficient_ssl.data.labels import prepare_mini_labels  # noqa: E402
from efficient_ssl.data.pipeline import make_dataset  # noqa: E402
from efficient_ssl.models import load_pretrained_encoder  # noqa: E402
from efficient_ssl.models.probes import FrozenEncoder  # noqa: E402

FIRST_SEED = 1234


def pooled_states(frozen: FrozenEncoder, dataset) -> dict[str, torch.Tensor]:
    """{ID: (L, 2 * D)} mean and std over time of every hidden state of every utterance."""
    pooled = {}
    for example in dataset:
        with torch.no_grad():
            hidden, _ = frozen.hidden_states(example["sig"].unsqueeze(0), torch.ones(1))  # (L, 1, T, D)
        hidden = hidden[:, 0].double()  # (L, T, D)
        pooled[example["id"]] = torch.cat([hidden.mean(dim=1), hidden.std(dim=1)], dim=-1)  # (L, 2D)
    return pooled


def fit_lda(x: torch.Tensor, labels: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (F,) and projection (F, K) of Fisher's LDA over C classes, K = min(C - 1, F).

    The K most discriminant directions, each scaled to unit within-class variance, so that
    cosine scores in the projected space are not dominated by within-speaker variation.

    Example
    -------
    >>> x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [5.0, 1.0]], dtype=torch.float64)
    >>> mean, proj = fit_lda(x, ["a", "a", "b", "b"])
    >>> proj.shape, bool(proj[0, 0].abs() > 10 * proj[1, 0].abs())
    (torch.Size([2, 1]), True)
    """
    mean = x.mean(dim=0)
    x = x - mean
    classes = sorted(set(labels))
    within = torch.zeros(x.shape[1], x.shape[1], dtype=x.dtype)
    centres = []
    for label in classes:
        xc = x[[i for i, lab in enumerate(labels) if lab == label]]  # (n_c, F)
        centre = xc.mean(dim=0)
        centres.append(centre)
        within += (xc - centre).T @ (xc - centre)
    centres = torch.stack(centres)  # (C, F)
    between = centres.T @ centres
    within = within / len(labels)
    within += 1e-3 * within.trace() / x.shape[1] * torch.eye(x.shape[1], dtype=x.dtype)  # ridge
    values, vectors = torch.linalg.eig(torch.linalg.solve(within, between))
    order = values.real.argsort(descending=True)[: len(classes) - 1]
    proj = vectors.real[:, order]  # (F, K)
    return mean, proj / torch.sqrt(((within @ proj) * proj).sum(dim=0))  # within-class variance 1


def layer_eers(train: torch.Tensor, train_speakers: list[str], test: torch.Tensor, test_ids: list[str],
               trials: Path) -> list[float]:
    """EER (%) of every hidden state: LDA fitted on ``train`` (N, L, F), scored on ``test``."""
    eers = []
    for layer in range(train.shape[1]):
        mean, proj = fit_lda(train[:, layer], train_speakers)
        embeddings = (test[:, layer] - mean) @ proj  # (M, C - 1)
        eers.append(verification_eer(dict(zip(test_ids, embeddings)), trials))
    return eers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", action="append", required=True, help="PATH or NAME=PATH (repeat)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "mini", help="mini corpus root")
    parser.add_argument("--random-draws", type=int, default=0,
                        help="untrained controls of the first encoder's shape (seeds 1234, 1235, ...)")
    parser.add_argument("--train-split", default="train-clean-100")
    parser.add_argument("--test-split", default="test-clean")
    args = parser.parse_args(argv)

    data = args.data.resolve()
    manifests = prepare_mini_labels(data, args.output / "manifests", splits=[args.train_split, args.test_split])
    keys = ["id", "sig", "spk_id"]
    train_set = make_dataset(manifests[args.train_split], data, sorting="random", output_keys=keys)
    test_set = make_dataset(manifests[args.test_split], data, sorting="random", output_keys=keys)
    with train_set.output_keys_as(["spk_id"]):
        train_speakers = [example["spk_id"] for example in train_set]
    trials = manifests[f"{args.test_split}_trials"]

    runs = []
    for spec in args.encoder:
        name, sep, path = spec.partition("=")
        runs.append((name if sep else Path(spec).parent.name, Path(path if sep else spec), False, FIRST_SEED))
    runs += [("random init", runs[0][1], True, FIRST_SEED + k) for k in range(args.random_draws)]

    results: dict[str, list[list[float]]] = {}
    for name, path, random_init, seed in runs:
        torch.manual_seed(seed)  # the draw of an untrained encoder
        frozen = FrozenEncoder(load_pretrained_encoder(path, random_init=random_init)).eval()
        train, test = pooled_states(frozen, train_set), pooled_states(frozen, test_set)
        eers = layer_eers(torch.stack(list(train.values())), train_speakers, torch.stack(list(test.values())),
                          list(test), trials)
        results.setdefault(name, []).append(eers)
        print(f"{name} (seed {seed}): " + ", ".join(f"{e:.1f}" for e in eers), flush=True)

    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "speaker_layers.json").write_text(json.dumps(results, indent=2))
    num_layers = len(next(iter(results.values()))[0])
    lines = [
        "| encoder | " + " | ".join(["input"] + [f"layer {k}" for k in range(1, num_layers)]) + " |",
        "|---|" + "---|" * num_layers,
    ]
    for name, draws in results.items():
        cells = []
        for layer in range(num_layers):
            values = [draw[layer] for draw in draws]
            spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.1f}{spread}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (args.output / "speaker_layers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
