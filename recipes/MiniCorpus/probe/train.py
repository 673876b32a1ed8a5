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
from pathlib import Path

import speechbrain as sb
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.utils.distributed import run_on_main

from efficient_ssl.brains.probe import (
    UtteranceProbeBrain,
    label_pipeline,
    load_probe_modules,
    probe_data,
    save_probe_result,
)
from efficient_ssl.data.labels import prepare_mini_labels
from efficient_ssl.data.tokens import manifest_texts
from efficient_ssl.hparams import create_experiment_directory, load_hparams


def main() -> None:
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    hparams = load_hparams(hparams_file, overrides)
    create_experiment_directory(hparams_file, overrides, hparams)
    run_on_main(
        prepare_mini_labels,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "splits": hparams["splits"],
        },
    )
    # Classes: every label of the sets scored by accuracy (a class missing from a small training
    # set is then an error, not a crash); trial-scored sets hold speakers unseen in training.
    label_csvs = list(hparams["train_csv"])
    if hparams["valid_trials"] is None:
        label_csvs.append(hparams["valid_csv"])
    if hparams["test_trials"] is None:
        label_csvs.extend(hparams["test_csv"])
    label_encoder = CategoricalEncoder()
    label_encoder.load_or_create(
        Path(hparams["save_folder"]) / f"labels_{hparams['label_column']}.txt",
        from_iterables=[manifest_texts(label_csvs, column=hparams["label_column"])],
    )
    hparams["label_encoder"] = label_encoder
    modules = load_probe_modules(hparams, len(label_encoder))
    data = probe_data(
        hparams,
        dynamic_items=[label_pipeline(label_encoder, hparams["label_column"])],
        output_keys=["id", "sig", "label_encoded"],
    )
    name, test_set = next(iter(data.test.items()))
    for dataset, trials in ((data.valid, hparams["valid_trials"]), (test_set, hparams["test_trials"])):
        if trials is not None:
            dataset.set_output_keys(["id", "sig"])
    brain = UtteranceProbeBrain(
        modules=modules, hparams=hparams, run_opts=run_opts, checkpointer=hparams["checkpointer"]
    )
    brain.fit_bundle(data)
    brain.evaluate(test_set, min_key="error", test_loader_kwargs=data.test_loader_kwargs[name])
    metric = "EER" if hparams["test_trials"] is not None else "accuracy"
    value = brain.test_stats[metric]
    save_probe_result(
        hparams["output_folder"], hparams["task"], metric, value, brain.layer_weights(),
        test_set=name, pretrained_encoder=str(hparams["pretrained_encoder"]), random_init=hparams["random_init"],
    )
    print(f"{hparams['task']} {name}: {metric} {value:.2f}%")


if __name__ == "__main__":
    main()
