#!/usr/bin/env python3
"""MP3S-style utterance probes on the mini corpus's labels: speaker verification, emotion, intent.

The stand-ins of VoxCeleb1 (speaker verification, EER), IEMOCAP (emotion, accuracy) and SLURP
(intent, accuracy) on the synthesised corpus's ``labels.csv``: a frozen SSL encoder
(``pretrained_encoder``), a softmax-weighted sum of its hidden states, a probe (time pooling, BiLSTM,
x-vector or ECAPA-TDNN) and a classifier over ``label_column``. With ``test_trials`` set, the
test set is scored by the EER of cosine scores between the probe's embeddings over those trials
(speakers unseen in training); else by accuracy. Writes ``probe_result.json``.

Usage:
    python train.py hparams/emotion_pool.yaml --data_folder data/mini --pretrained_encoder PATH
    python train.py hparams/speaker_xvector.yaml --data_folder data/mini --pretrained_encoder PATH
    python train.py hparams/intent_pool.yaml ... --random_init=True   # the untrained control
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.brains.probe import run_utterance_probe
from efficient_ssl.data.labels import prepare_mini_labels
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    run_on_main(
        prepare_mini_labels,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "splits": hparams["splits"],
            "trials_per_utterance": hparams["trials_per_utterance"],
        },
    )
    run_utterance_probe(hparams, run_opts)


if __name__ == "__main__":
    main()
