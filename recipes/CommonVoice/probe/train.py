#!/usr/bin/env python3
"""MP3S-style low-resource ASR probe on one Common Voice language (Welsh, Basque, ...): BPE CTC.

A frozen SSL encoder (``pretrained_encoder``), a softmax-weighted sum of its hidden states, a BiLSTM
(or linear) probe trained with CTC on sentencepiece BPE units (``bpe_vocab_size``, 100 in MP3S)
learned from the language's training transcripts. Reports WER and CER on its test set and
writes ``probe_result.json``.

Usage:
    python train.py hparams/bilstm_mini.yaml --data_folder data/mini/CommonVoice --language=cy \\
        --pretrained_encoder results/pt_SummaryMixing/save
"""

import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.brains.probe import run_ctc_probe
from efficient_ssl.data import prepare_common_voice
from efficient_ssl.data.tokens import SentencePieceTokenizer, manifest_texts
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    run_on_main(
        prepare_common_voice,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "languages": [hparams["language"]],
            "splits": hparams["splits"],
        },
    )
    tokenizer_file = Path(hparams["save_folder"]) / f"bpe{hparams['bpe_vocab_size']}.model"
    run_on_main(
        SentencePieceTokenizer.load_or_create,
        kwargs={
            "path": tokenizer_file,
            "texts": manifest_texts(hparams["train_csv"]),
            "vocab_size": hparams["bpe_vocab_size"],
            "model_type": "bpe",
        },
    )
    tokenizer = SentencePieceTokenizer.load(tokenizer_file)
    run_ctc_probe(hparams, run_opts, tokenizer)


if __name__ == "__main__":
    main()
