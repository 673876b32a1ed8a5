#!/usr/bin/env python3
"""CTC ASR on LibriSpeech (or the synthesised mini corpus in the same layout), on characters.

Fine-tunes a pretrained encoder (``--pretrained_encoder=<pretraining save folder>``), its random
control (``--random_init=True``) or trains one from scratch (``make ctc``),
with the faster-inference strategies of paper 5 as YAML keys (``downsampling``,
``upsampling``, ``keep_layers``, ``exit_layers``). Reports WER, CER and the inference cost on
test-clean, writes ``results.json`` and exports ``model/`` for ``transcribe``.

Usage:
    python train.py hparams/scratch_mini.yaml --data_folder data/mini/LibriSpeech
    python train.py hparams/finetune_mini.yaml --data_folder data/mini/LibriSpeech \\
        --pretrained_encoder results/wav2vec2_mini/SummaryMixing_mel_cnn/1234/save
"""

import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.ctc import ctc_text_pipeline, train_and_test
from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.data import dataio_prepare, prepare_librispeech
from efficient_ssl.data.tokens import CharTokenizer, manifest_texts
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
    tokenizer_file = Path(hparams["save_folder"]) / "tokenizer.json"
    run_on_main(
        CharTokenizer.load_or_create,
        kwargs={
            "path": tokenizer_file,
            "texts": manifest_texts(hparams["train_csv"]),
            "base_chars": hparams["base_characters"],
        },
    )
    hparams["tokenizer"] = CharTokenizer.load(tokenizer_file)
    data = dataio_prepare(
        hparams,
        dynamic_items=[ctc_text_pipeline(hparams["tokenizer"])],
        output_keys=["id", "sig", "wrd", "tokens"],
    )
    train_and_test(hparams, run_opts, data, tokenizer_file)


if __name__ == "__main__":
    main()
