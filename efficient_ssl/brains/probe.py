"""Probe Brains (MP3S-style benchmark): a frozen encoder, a learned layer sum and a small probe.

Modules of every probe Brain (built by :func:`load_probe_modules` from the recipe YAML):

    encoder     efficient_ssl.models.probes.FrozenEncoder: the frozen encoder + its WeightedLayerSum
    probe       optional: (B, T, D), (B,) relative lengths -> (B, T, E) or (B, E)
    classifier  (.., E) -> (.., n_outputs): token logits (CTC) or class scores

Only the layer weights and the probe + classifier train, with two optimisers:
``layer_weights_opt_class`` (the MP3S setting: its own, larger learning rate) and
``head_opt_class``. The encoder runs under ``torch.no_grad`` in eval mode.

- :class:`CTCProbeBrain`: speech recognition; CTC loss, greedy decoding
  (:func:`~efficient_ssl.brains.ctc.greedy_transcripts`), WER / CER, checkpoints on the best
  valid CER.
- :class:`UtteranceProbeBrain`: one label per utterance (emotion, intent, speaker). Reports
  accuracy, or, when the stage has trials (``valid_trials`` / ``test_trials``), the speaker
  verification EER of cosine scores between embeddings (the probe's output), computed with
  speechbrain's ``EER``. Checkpoints on the lowest valid error (EER, or 100 - accuracy).

The recipes call :func:`run_ctc_probe` or :func:`run_utterance_probe` once their manifests
exist; both end with :func:`save_probe_result`, the ``probe_result.json`` that
``tools/run_probes.py`` gathers into one table.

Authors
 * efficient_ssl contributors 2025
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.nnet.schedulers import update_learning_rate
from speechbrain.utils.metric_stats import EER, ClassificationStats, ErrorRateStats

from efficient_ssl.brains.base import Brain
from efficient_ssl.brains.ctc import ctc_text_pipeline, greedy_transcripts
from efficient_ssl.brains.distributed import all_gather, merge_metric_over_ranks
from efficient_ssl.data.manifest import write_json_atomic
from efficient_ssl.data.pipeline import as_paths, dataio_prepare
from efficient_ssl.data.tokens import manifest_texts
from efficient_ssl.models.wav2vec2 import load_pretrained_encoder

RESULT_FILE = "probe_result.json"
TRIAL_COLUMNS = ("label", "enrol", "test")


def load_probe_modules(hparams: Mapping[str, Any], n_outputs: int) -> dict[str, torch.nn.Module]:
    """Loads the frozen encoder and finishes the probe and classifier factories of the YAML.

    hparams keys: ``pretrained_encoder`` (what ``load_pretrained_encoder`` takes), ``random_init``
    (the untrained control of the same shape), ``frozen_encoder`` (a ``FrozenEncoder`` factory
    taking ``encoder``), ``probe`` (a factory taking ``input_size``, or null), ``classifier`` (a
    factory taking ``input_size`` and ``n_neurons``), ``checkpointer``.

    Arguments
    ---------
    hparams : mapping
        Loaded hyperparameters.
    n_outputs : int
        Outputs of the classifier (vocabulary size, number of classes).

    Returns
    -------
    dict
        {"encoder", "probe" (when not null), "classifier"}; the trainable ones are registered
        with the checkpointer (the encoder's layer sum, not its frozen weights).
    """
    encoder = load_pretrained_encoder(hparams["pretrained_encoder"], random_init=hparams["random_init"])
    frozen = hparams["frozen_encoder"](encoder=encoder)
    modules = {"encoder": frozen}
    size = frozen.output_size
    if hparams["probe"] is not None:
        modules["probe"] = hparams["probe"](input_size=size)
        size = modules["probe"].output_size
    modules["classifier"] = hparams["classifier"](input_size=size, n_neurons=n_outputs)
    hparams["checkpointer"].add_recoverable("layer_sum", frozen.layer_sum)
    for name in ("probe", "classifier"):
        if name in modules:
            hparams["checkpointer"].add_recoverable(name, modules[name])
    return modules


def label_pipeline(label_encoder, column: str) -> dict[str, Any]:
    """Dynamic item (dict form, for ``dataio_prepare``) mapping a manifest column to ``label_encoded``.

    Example
    -------
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> encoder = CategoricalEncoder()
    >>> encoder.update_from_iterable(["loud", "neutral"])
    >>> item = label_pipeline(encoder, "emotion")
    >>> item["takes"], item["func"]("neutral")
    (['emotion'], tensor([1]))
    """

    def encode(label: str) -> torch.Tensor:
        return torch.LongTensor([label_encoder.encode_label(label)])

    return {"func": encode, "takes": [column], "provides": ["label_encoded"]}


def save_probe_result(
    output_folder: str | Path, task: str, metric: str, value: float, layer_weights: torch.Tensor, **extra: Any
) -> Path:
    """Writes ``<output_folder>/probe_result.json`` (atomically): what ``tools/run_probes.py`` reads.

    Arguments
    ---------
    output_folder : str or Path
        The run's output folder.
    task : str
        Task name (a column of the results table).
    metric : str
        "WER", "EER" or "accuracy" (percentages).
    value : float
        The test value.
    layer_weights : torch.Tensor
        (L,) learned shares of the hidden states (``WeightedLayerSum.probabilities()``).
    **extra
        Anything else worth keeping (CER, encoder path, ...).

    Returns
    -------
    Path
        The JSON file.

    Example
    -------
    >>> path = save_probe_result(getfixture("tmp_path"), "emotion", "accuracy", 50.0, torch.ones(2) / 2)
    >>> import json; json.loads(path.read_text())["layer_weights"]
    [0.5, 0.5]
    """
    path = Path(output_folder) / RESULT_FILE
    result = {"task": task, "metric": metric, "value": float(value), "layer_weights": layer_weights.tolist(), **extra}
    if sb.utils.distributed.if_main_process():
        write_json_atomic(path, result)
    return path


class ProbeBrain(Brain):
    """What the probe Brains share: frozen features -> probe -> classifier, two optimisers, and
    the end of a valid / test stage (log, anneal, checkpoint on the lowest valid error)."""

    def probe_forward(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Runs the frozen encoder, its layer sum, the probe and the classifier.

        Returns
        -------
        outputs : torch.Tensor
            Classifier outputs, (B, T, n_outputs) or (B, n_outputs).
        probed : torch.Tensor
            What the classifier read (the probe's output, or the layer sum without a probe).
        lens : torch.Tensor
            (B,) relative lengths of the encoder frames.
        """
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        x, mask = self.modules.encoder(wavs, wav_lens, ids=batch.id)  # (B, T, D), (B, T)
        lens = mask.sum(dim=1).float() / mask.shape[1]  # (B,) relative
        if "probe" in self.modules:
            x = self.modules.probe(x, lens)
        return self.modules.classifier(x), x, lens

    def init_optimizers(self):
        """``layer_weights`` for the layer sum, ``head`` for the probe and classifier."""
        layer_params = list(self.unwrapped("encoder").layer_sum.parameters())
        layer_ids = {id(p) for p in layer_params}
        head_params = [p for p in self.modules.parameters() if p.requires_grad and id(p) not in layer_ids]
        self.optimizers_dict = {
            "layer_weights": self.hparams.layer_weights_opt_class(layer_params),
            "head": self.hparams.head_opt_class(head_params),
        }
        if self.checkpointer is not None:
            for name, opt in self.optimizers_dict.items():
                self.checkpointer.add_recoverable(f"{name}_optimizer", opt)

    def layer_weights(self) -> torch.Tensor:
        """(L,) learned shares of the encoder's hidden states."""
        return self.unwrapped("encoder").layer_sum.probabilities().cpu()

    def finish_stage(self, stage, stats: dict[str, float], error: float, anneal_on: float, epoch=None) -> None:
        """Valid: logs, anneals the head's rate on ``anneal_on`` (``lr_annealing_head`` or null),
        checkpoints with ``error`` (lowest kept). Test: logs and keeps ``stats`` as ``test_stats``."""
        if stage == sb.Stage.VALID:
            lrs = {f"lr_{name}": opt.param_groups[0]["lr"] for name, opt in self.optimizers_dict.items()}
            scheduler = getattr(self.hparams, "lr_annealing_head", None)
            if scheduler is not None:
                _, new_lr = scheduler(anneal_on)
                update_learning_rate(self.optimizers_dict["head"], new_lr)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, **lrs}, train_stats=self.train_stats, valid_stats=stats
            )
            self.checkpointer.save_and_keep_only(meta={"error": error}, min_keys=["error"])
        elif stage == sb.Stage.TEST:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats
            )
            self.test_stats = stats


class CTCProbeBrain(ProbeBrain):
    """CTC probe: the classifier gives token logits per frame; WER and CER on valid / test.

    hparams read: ``tokenizer`` (``encode`` / ``decode`` / ``blank_index``), the layer and head
    optimisers, ``lr_annealing_head`` (on the valid loss, or null), ``epoch_counter``,
    ``train_logger``, ``test_wer_file``. The batch needs ``sig``, ``tokens`` and ``wrd`` (see
    :func:`efficient_ssl.brains.ctc.ctc_text_pipeline`). Checkpoints on the lowest valid CER.
    """

    def compute_forward(self, batch, stage):
        """Returns CTC log-probabilities (B, T, vocab) and relative output lengths (B,)."""
        logits, _, lens = self.probe_forward(batch)
        return logits.float().log_softmax(dim=-1), lens

    def compute_objectives(self, predictions, batch, stage):
        """CTC loss; on valid / test also greedy decoding into the WER and CER trackers."""
        log_probs, lens = predictions
        tokens, token_lens = batch.tokens
        tokenizer = self.hparams.tokenizer
        loss = sb.nnet.losses.ctc_loss(log_probs, tokens, lens, token_lens, blank_index=tokenizer.blank_index)
        if stage != sb.Stage.TRAIN:
            predicted = [t.split() for t in greedy_transcripts(log_probs, lens, tokenizer)]
            target = [text.split() for text in batch.wrd]
            self.wer_metric.append(batch.id, predicted, target)
            self.cer_metric.append(batch.id, predicted, target)
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Resets the error-rate trackers."""
        self.wer_metric = ErrorRateStats()
        self.cer_metric = ErrorRateStats(split_tokens=True)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs loss, WER and CER; anneals on the valid loss; checkpoints on the best valid CER."""
        stage_loss = self.stage_loss_over_ranks(stage, stage_loss)
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        merge_metric_over_ranks(self.wer_metric)
        merge_metric_over_ranks(self.cer_metric)
        stats["WER"] = self.wer_metric.summarize("error_rate")
        stats["CER"] = self.cer_metric.summarize("error_rate")
        self.finish_stage(stage, stats, error=stats["CER"], anneal_on=stage_loss, epoch=epoch)
        if stage == sb.Stage.TEST and sb.utils.distributed.if_main_process():
            with open(self.hparams.test_wer_file, "w", encoding="utf-8") as f:
                self.wer_metric.write_stats(f)


class UtteranceProbeBrain(ProbeBrain):
    """Utterance classification probe (emotion, intent, speaker identities), or speaker verification.

    hparams read: ``label_encoder`` (speechbrain ``CategoricalEncoder``), ``loss`` (a callable
    ``loss(scores (B, C), targets (B, 1))``, e.g. ``LogSoftmaxWrapper``), ``valid_trials`` and
    ``test_trials`` (CSV with columns label, enrol, test; or null for accuracy), the layer and head
    optimisers, ``lr_annealing_head`` (on the valid error, or null), ``epoch_counter``,
    ``train_logger``. Checkpoints on the lowest valid error (EER, or 100 - accuracy).

    The batch needs ``label_encoded`` (B, 1) for training and on stages scored by accuracy.
    """

    def compute_forward(self, batch, stage):
        """Returns class scores (B, C) and utterance embeddings (B, E)."""
        scores, embeddings, _ = self.probe_forward(batch)
        return scores, embeddings

    def compute_objectives(self, predictions, batch, stage):
        """The classification loss; on valid / test also accuracy, or embeddings for trials."""
        scores, embeddings = predictions
        if self._trials(stage) is not None:
            self.embeddings.update(zip(batch.id, embeddings.detach().cpu()))
            return torch.zeros((), device=scores.device)
        labels, _ = batch.label_encoded  # (B, 1)
        loss = self.hparams.loss(scores, labels)
        if stage != sb.Stage.TRAIN:
            decode = self.hparams.label_encoder.decode_ndim
            self.accuracy.append(batch.id, decode(scores.argmax(dim=-1)), decode(labels.squeeze(1)))
        return loss

    def _trials(self, stage) -> str | None:
        """The trials file of a valid / test stage, or None (accuracy)."""
        key = {sb.Stage.VALID: "valid_trials", sb.Stage.TEST: "test_trials"}.get(stage)
        return None if key is None else getattr(self.hparams, key, None)

    def on_stage_start(self, stage, epoch=None):
        """Resets the accuracy tracker and the embeddings of trials."""
        self.accuracy = ClassificationStats()
        self.embeddings: dict[str, torch.Tensor] = {}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs accuracy or EER, anneals on the valid error, checkpoints on the lowest error."""
        stage_loss = self.stage_loss_over_ranks(stage, stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        trials = self._trials(stage)
        if trials is not None:
            embeddings = {key: value for part in all_gather(self.embeddings) for key, value in part.items()}
            stats = {"EER": verification_eer(embeddings, trials)}
            error = stats["EER"]
        else:
            merge_metric_over_ranks(self.accuracy)
            stats = {"loss": stage_loss, "accuracy": 100.0 * self.accuracy.summarize("accuracy")}
            error = 100.0 - stats["accuracy"]
        self.finish_stage(stage, stats, error=error, anneal_on=error, epoch=epoch)


def read_trials(path: str | Path) -> list[tuple[int, str, str]]:
    """Reads a trials CSV (label, enrol, test; label 1 = same speaker) as (label, enrol, test) tuples."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not set(TRIAL_COLUMNS) <= set(reader.fieldnames):
            raise ValueError(f"{path}: a trials file needs the columns {', '.join(TRIAL_COLUMNS)}")
        return [(int(row["label"]), row["enrol"], row["test"]) for row in reader]


def verification_eer(embeddings: Mapping[str, torch.Tensor], trials_csv: str | Path) -> float:
    """Equal error rate (%) of cosine scores between embeddings over a list of trials.

    Arguments
    ---------
    embeddings : mapping
        {utterance ID: (E,) embedding}; every ID of the trials must be there.
    trials_csv : str or Path
        CSV with columns label (1 = same speaker, 0 = not), enrol, test.

    Returns
    -------
    float
        EER in percent (speechbrain's ``EER``).

    Example
    -------
    >>> path = getfixture("tmp_path") / "trials.csv"
    >>> _ = path.write_text("label,enrol,test\\n1,a,b\\n0,a,c\\n")
    >>> emb = {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.9, 0.1]), "c": torch.tensor([0.0, 1.0])}
    >>> verification_eer(emb, path)
    0.0
    """
    trials = read_trials(trials_csv)
    missing = sorted({u for _, e, t in trials for u in (e, t)} - embeddings.keys())
    if missing:
        raise KeyError(
            f"{trials_csv}: {len(missing)} trial utterances (e.g. {missing[0]}) have no embedding; "
            "the evaluated manifest must hold every utterance of its trials"
        )
    labels = torch.tensor([label for label, _, _ in trials], dtype=torch.bool)
    enrol = F.normalize(torch.stack([embeddings[e] for _, e, _ in trials]).float(), dim=-1)
    test = F.normalize(torch.stack([embeddings[t] for _, _, t in trials]).float(), dim=-1)
    scores = (enrol * test).sum(dim=-1)  # (N,) cosine
    eer, _ = EER(scores[labels], scores[~labels])
    return 100.0 * float(eer)


def run_ctc_probe(hparams: dict, run_opts: dict, tokenizer) -> dict:
    """The body shared by the CTC probe recipes, once manifests and tokenizer exist.

    Builds the frozen encoder + probe, fits, tests the best checkpoint (lowest valid error) on
    the first test set and writes ``probe_result.json`` (WER, CER, layer weights).

    Arguments
    ---------
    hparams : dict
        The loaded probe YAML.
    run_opts : dict
        From ``speechbrain.parse_arguments``.
    tokenizer : object
        CharTokenizer or SentencePieceTokenizer (efficient_ssl.data.tokens).

    Returns
    -------
    dict
        The test stats (``WER``, ``CER``, ``loss``).
    """
    hparams["tokenizer"] = tokenizer
    modules = load_probe_modules(hparams, tokenizer.vocab_size)
    data = dataio_prepare(
        hparams, dynamic_items=[ctc_text_pipeline(tokenizer)], output_keys=["id", "sig", "wrd", "tokens"]
    )
    brain = CTCProbeBrain(modules=modules, hparams=hparams, run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.fit_bundle(data)
    name, test_set = next(iter(data.test.items()))
    brain.evaluate(test_set, min_key="error", test_loader_kwargs=data.test_loader_kwargs[name])
    stats = brain.test_stats
    save_probe_result(
        hparams["output_folder"], hparams["task"], "WER", stats["WER"], brain.layer_weights(),
        CER=stats["CER"], test_set=name, pretrained_encoder=str(hparams["pretrained_encoder"]),
        random_init=hparams["random_init"],
    )
    if sb.utils.distributed.if_main_process():
        print(f"{hparams['task']} {name}: WER {stats['WER']:.2f}%  CER {stats['CER']:.2f}%")
    return stats


def run_utterance_probe(hparams: dict, run_opts: dict) -> dict:
    """The body shared by the utterance probe recipes (speaker, emotion, intent), once manifests exist.

    Builds the label encoder over ``label_column`` (saved as ``labels_<column>.txt`` in the save
    folder), the frozen encoder + probe, fits, tests the best checkpoint (lowest valid error) on
    the first test set and writes ``probe_result.json``. A set with trials (``valid_trials`` /
    ``test_trials``) is scored by the EER of cosine scores between the probe's embeddings and
    needs no labels of its own (its speakers are unseen in training); the others by accuracy.

    Arguments
    ---------
    hparams : dict
        The loaded probe YAML (keys of ``recipes/MiniCorpus/probe/hparams/emotion_pool.yaml``).
    run_opts : dict
        From ``speechbrain.parse_arguments``.

    Returns
    -------
    dict
        The test stats (``EER``, or ``accuracy`` and ``loss``).
    """
    # Classes: every label of the sets scored by accuracy (a class missing from a small training
    # set is then an error, not a crash); trial-scored sets hold speakers unseen in training.
    label_csvs = as_paths(hparams["train_csv"])
    if hparams["valid_trials"] is None:
        label_csvs += as_paths(hparams["valid_csv"])
    if hparams["test_trials"] is None:
        label_csvs += as_paths(hparams["test_csv"])
    label_encoder = CategoricalEncoder()
    label_encoder.load_or_create(
        Path(hparams["save_folder"]) / f"labels_{hparams['label_column']}.txt",
        from_iterables=[manifest_texts(label_csvs, column=hparams["label_column"])],
    )
    hparams["label_encoder"] = label_encoder
    modules = load_probe_modules(hparams, len(label_encoder))
    data = dataio_prepare(
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
    stats = brain.test_stats
    save_probe_result(
        hparams["output_folder"], hparams["task"], metric, stats[metric], brain.layer_weights(),
        test_set=name, pretrained_encoder=str(hparams["pretrained_encoder"]), random_init=hparams["random_init"],
    )
    if sb.utils.distributed.if_main_process():
        print(f"{hparams['task']} {name}: {metric} {stats[metric]:.2f}%")
    return stats
