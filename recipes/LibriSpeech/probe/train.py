#!/usr/bin/env python3
"""MP3S-style ASR probe on LibriSpeech (or the mini corpus): a frozen SSL encoder, CTC on characters.

The encoder (``pretrained_encoder``: a pretraining save folder, a checkpoint or an ``encoder.ckpt``)
stays frozen; a softmax-weighted sum of its hidden states feeds a BiLSTM (or linear) probe
trained with CTC. Reports WER and CER on test-clean and writes ``probe_result.json``.

Usage:
    python train.py hparams/bilstm_mini.yaml --data_folder data/mini/LibriSpeech \\
        --pretrained_encoder results/pt_SummaryMixing/save
    python train.py hparams/bilstm_mini.yaml ... --random_init=True   # the untrained control
"""

import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.brains.probe import run_ctc_probe
from efficient_ssl.data import prepare_librispeech
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
    tokenizer = CharTokenizer.load(tokenizer_file)
    run_ctc_probe(hparams, run_opts, tokenizer)


if __name__ == "__main__":
    main()
