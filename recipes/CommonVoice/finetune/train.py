#!/usr/bin/env python3
"""CTC ASR on Common Voice (or the synthesised mini corpus in the same layout), on BPE subwords.

One language or several pooled: the train clips of every language in ``languages`` form one
training set, their dev clips one validation set, and each language's test clips are scored
apart (``test`` for one language; ``cy_test``, ``eu_test``, ... for several). Transcripts
are tokenised with a sentencepiece BPE model trained on the training text (``bpe_vocab_size``
pieces). Fine-tunes a pretrained encoder (``--pretrained_encoder=<pretraining save folder>``),
its random control (``--random_init=True``) or trains one from scratch
(``pretrained_encoder: null``), with the faster-inference keys of the LibriSpeech recipe.
Reports WER, CER and the inference cost, writes ``results.json`` and exports ``model/`` (with
``tokenizer.model``) for ``transcribe``.

Usage:
    python train.py hparams/finetune_mini.yaml --data_folder data/mini/CommonVoice
    python train.py hparams/finetune_mini.yaml --data_folder data/mini/CommonVoice \\
        --pretrained_encoder results/wav2vec2_cv_mini/SummaryMixing_mel_cnn/1234/save
    python train.py hparams/multilingual_mini.yaml --data_folder data/mini/CommonVoice
"""

import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.ctc import ctc_text_pipeline, train_and_test
from efficient_ssl.brains.distributed import ddp_init_group
from efficient_ssl.data import dataio_prepare, prepare_common_voice
from efficient_ssl.data.tokens import SentencePieceTokenizer, manifest_texts
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    prepare_kwargs = {
        "data_folder": hparams["data_folder"],
        "save_folder": hparams["save_folder"],
        "languages": hparams["languages"],
        "splits": hparams["splits"],
        "combine": True,
    }
    run_on_main(prepare_common_voice, kwargs=prepare_kwargs)
    manifests = prepare_common_voice(**prepare_kwargs, skip_prep=True)
    if hparams["test_csv"] is None:  # each language's test split scored apart
        hparams["test_csv"] = [manifests[f"{lang}/test"] for lang in hparams["languages"]]
    tokenizer_file = Path(hparams["save_folder"]) / "tokenizer.model"
    run_on_main(
        SentencePieceTokenizer.load_or_create,
        kwargs={
            "path": tokenizer_file,
            "texts": manifest_texts(hparams["train_csv"]),
            "vocab_size": hparams["bpe_vocab_size"],
            "model_type": hparams["bpe_model_type"],
        },
    )
    hparams["tokenizer"] = SentencePieceTokenizer.load(tokenizer_file)
    data = dataio_prepare(
        hparams,
        dynamic_items=[ctc_text_pipeline(hparams["tokenizer"])],
        output_keys=["id", "sig", "wrd", "tokens"],
    )
    train_and_test(hparams, run_opts, data, tokenizer_file)


if __name__ == "__main__":
    main()
