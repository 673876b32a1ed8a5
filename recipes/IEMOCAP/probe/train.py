#!/usr/bin/env python3
"""MP3S emotion probe on IEMOCAP as distributed: 4 classes, one leave-one-session-out fold.

A frozen SSL encoder (``pretrained_encoder``), a softmax-weighted sum of its hidden states, a probe
(time pooling or ECAPA-TDNN) and a linear classifier over neu, hap (+ exc), ang, sad; tested on
``Session<test_session>`` by accuracy. Manifests by ``efficient_ssl.data.iemocap.prepare_iemocap``;
writes ``probe_result.json``. The 5-fold figure is the mean over ``--test_session=1 ... 5``.

Usage:
    python train.py hparams/pool.yaml --data_folder /data/IEMOCAP_full_release --pretrained_encoder PATH
    python train.py hparams/ecapa.yaml ... --test_session=3
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.brains.probe import run_utterance_probe
from efficient_ssl.data.iemocap import prepare_iemocap
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    run_on_main(
        prepare_iemocap,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "test_session": hparams["test_session"],
            "valid_fraction": hparams["valid_fraction"],
            "seed": hparams["seed"],
        },
    )
    run_utterance_probe(hparams, run_opts)


if __name__ == "__main__":
    main()
