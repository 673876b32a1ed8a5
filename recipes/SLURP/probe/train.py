#!/usr/bin/env python3
"""MP3S intent probe on SLURP as distributed: accuracy over the test recordings.

A frozen SSL encoder (``pretrained_encoder``), a softmax-weighted sum of its hidden states, a probe
(time pooling or a BiLSTM) and a linear classifier over the intents (scenario_action), one
example per recording. Manifests by ``efficient_ssl.data.slurp.prepare_slurp``; writes
``probe_result.json``.

Usage:
    python train.py hparams/bilstm.yaml --data_folder /data/slurp --pretrained_encoder PATH
    python train.py hparams/pool.yaml ... --train_synthetic=True
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.brains.probe import run_utterance_probe
from efficient_ssl.data.slurp import prepare_slurp
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    run_on_main(
        prepare_slurp,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "splits": hparams["splits"],
            "train_synthetic": hparams["train_synthetic"],
        },
    )
    run_utterance_probe(hparams, run_opts)


if __name__ == "__main__":
    main()
