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

from efficient_ssl.brains.ctc import ctc_text_pipeline
from efficient_ssl.brains.probe import CTCProbeBrain, load_probe_modules, probe_data, save_probe_result
from efficient_ssl.data import prepare_librispeech
from efficient_ssl.data.tokens import CharTokenizer, manifest_texts
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
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
    hparams["tokenizer"] = tokenizer
    modules = load_probe_modules(hparams, tokenizer.vocab_size)
    data = probe_data(
        hparams, dynamic_items=[ctc_text_pipeline(tokenizer)], output_keys=["id", "sig", "wrd", "tokens"]
    )
    brain = CTCProbeBrain(modules=modules, hparams=hparams, run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.fit(
        hparams["epoch_counter"],
        data.train,
        data.valid,
        train_loader_kwargs=data.train_loader_kwargs,
        valid_loader_kwargs=data.valid_loader_kwargs,
    )
    name, test_set = next(iter(data.test.items()))
    brain.evaluate(test_set, min_key="error", test_loader_kwargs=data.test_loader_kwargs[name])
    stats = brain.test_stats
    save_probe_result(
        hparams["output_folder"], hparams["task"], "WER", stats["WER"], brain.layer_weights(),
        CER=stats["CER"], test_set=name, pretrained_encoder=str(hparams["pretrained_encoder"]), random_init=hparams["random_init"],
    )
    print(f"{hparams['task']} {name}: WER {stats['WER']:.2f}%  CER {stats['CER']:.2f}%")


if __name__ == "__main__":
    main()
