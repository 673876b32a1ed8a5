#!/usr/bin/env python3
"""CTC ASR on LibriSpeech (or the synthesised mini corpus in the same layout).

Trains an encoder + linear CTC head on characters and reports WER and CER on test-clean.
The encoder is built from the YAML (``encoder:``), so the same recipe trains from scratch
(the main job of ``make mini``) and, with a pretrained encoder, fine-tunes.

Usage:
    python train.py hparams/scratch_mini.yaml --data_folder data/mini/LibriSpeech
"""

import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.ctc import CTCBrain, ctc_text_pipeline
from efficient_ssl.data import dataio_prepare, prepare_librispeech
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
    # The head's size depends on the vocabulary: the YAML gives a factory, finished here.
    ctc_head = hparams["ctc_head"](n_neurons=tokenizer.vocab_size)
    hparams["checkpointer"].add_recoverable("ctc_head", ctc_head)
    modules = {"encoder": hparams["encoder"], "ctc_head": ctc_head}

    data = dataio_prepare(
        hparams,
        dynamic_items=[ctc_text_pipeline(tokenizer)],
        output_keys=["id", "sig", "wrd", "tokens"],
    )
    brain = CTCBrain(
        modules=modules,
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        hparams["epoch_counter"],
        data.train,
        data.valid,
        train_loader_kwargs=data.train_loader_kwargs,
        valid_loader_kwargs=data.valid_loader_kwargs,
    )
    for name, test_set in data.test.items():
        brain.hparams.test_wer_file = Path(hparams["output_folder"]) / f"wer_{name}.txt"
        brain.evaluate(test_set, min_key="CER", test_loader_kwargs=data.test_loader_kwargs[name])
        stats = brain.test_stats
        cost = brain.measure_inference(test_set, data.test_loader_kwargs[name], name=f"inference_{name}")
        print(
            f"{name}: WER {stats['WER']:.2f}%  CER {stats['CER']:.2f}%  "
            f"({cost.macs_per_audio_s / 1e6:.1f} MMACs per audio second, RTF {cost.rtf:.4f} on {cost.device})"
        )


if __name__ == "__main__":
    main()
