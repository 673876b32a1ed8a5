#!/usr/bin/env python3
"""DistilHuBERT-style distillation on unlabelled LibriSpeech (or the mini corpus in the same layout).

A small student encoder (the teacher's frontend + a few layers, SummaryMixing or MHSA) learns to
predict chosen hidden states of a frozen pretrained teacher (``--teacher``: a pretraining save
folder, a checkpoint or an ``encoder.ckpt``, or a public transformers folder such as HuBERT base:
then the student gets the teacher's CNN and what else maps onto this project's layers, the rest
random, as one log line says). The student is exported in the encoder format to
``<output_folder>/student`` (every checkpoint in ``<output_folder>/save`` holds it too), so the
fine-tuning and probing recipes take it with ``--pretrained_encoder``.

Usage:
    python train.py hparams/distill_mini.yaml --data_folder data/mini/LibriSpeech --teacher PATH
    python train.py hparams/distill_base.yaml --data_folder /data/LibriSpeech --teacher PATH --attention_type=regularMHA
    python train.py hparams/distill_base.yaml --data_folder /data/LibriSpeech --teacher models/hubert-base-ls960 \
        --attention_type=regularMHA  # DistilHuBERT
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distill import DistillBrain, load_distill_modules
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
    brain = DistillBrain(
        modules=load_distill_modules(hparams),
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit_bundle(data)
    brain.export_student(hparams["student_folder"])


if __name__ == "__main__":
    main()
