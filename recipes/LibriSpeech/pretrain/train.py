#!/usr/bin/env python3
"""wav2vec 2.0 pretraining on unlabelled LibriSpeech (or the mini corpus in the same layout).

Pretrains a SummaryMixing (or MHSA) Conformer with the wav2vec 2.0 objective on
train-clean-100 + train-clean-360 and validates on dev-clean. Every checkpoint in
``<output_folder>/save`` holds the encoder for fine-tuning, probing and distillation:
``efficient_ssl.models.load_pretrained_encoder("<output_folder>/save")``.

Usage:
    python train.py hparams/wav2vec2_mini.yaml --data_folder data/mini/LibriSpeech
    python train.py hparams/wav2vec2_base.yaml --data_folder /data/LibriSpeech --attention_type=regularMHA
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.data import dataio_prepare, prepare_librispeech
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    run_on_main(
        prepare_librispeech,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "splits": hparams["splits"],
        },
    )
    data = dataio_prepare(hparams)
    brain = hparams["brain_class"](  # PretrainBrain, or SustainableBrain (sustainable_*.yaml)
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit_bundle(data)


if __name__ == "__main__":
    main()
