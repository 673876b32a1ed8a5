#!/usr/bin/env python3
"""MP3S speaker verification probe on VoxCeleb1 as distributed: EER over the official trials.

A frozen SSL encoder (``pretrained_encoder``), a softmax-weighted sum of its hidden states and an
x-vector (or ECAPA-TDNN) probe trained to classify the training speakers; the test set is scored
by the EER of cosine scores between the probe's embeddings over the trial list
(``verification_file``, veri_test2.txt), whose speakers are unseen in training. Manifests by
``efficient_ssl.data.voxceleb.prepare_voxceleb1``; writes ``probe_result.json``.

Usage:
    python train.py hparams/xvector.yaml --data_folder /data/voxceleb1 --pretrained_encoder PATH
    python train.py hparams/ecapa.yaml ... --verification_file /data/voxceleb1/meta/veri_test2.txt
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.brains.probe import run_utterance_probe
from efficient_ssl.data.voxceleb import prepare_voxceleb1
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    run_on_main(
        prepare_voxceleb1,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "verification_file": hparams["verification_file"],
            "valid_fraction": hparams["valid_fraction"],
            "trials_per_utterance": hparams["trials_per_utterance"],
            "seed": hparams["seed"],
        },
    )
    run_utterance_probe(hparams, run_opts)


if __name__ == "__main__":
    main()
