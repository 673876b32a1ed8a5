"""CTC speech recognition Brain: fine-tuning of an SSL encoder, or training from scratch.

``modules.model`` is a :class:`efficient_ssl.models.CTCModel` (waveform -> [downsampler] ->
encoder -> CTC head(s)); its ``encoder`` gets its own optimiser and learning rate.

Hparams read by the Brain (declare them in the recipe YAML):
    tokenizer          object with encode / decode / blank_index / vocab_list (efficient_ssl.data.tokens)
    encoder_opt_class  optimiser factory for the encoder (ignored when freeze_encoder)
    head_opt_class     optimiser factory for every other trainable parameter (heads, downsampler)
    scores_opt_class   optimiser factory for the S3-Router scores (needed when the model is routed)
    freeze_encoder     bool: keep the encoder fixed (eval mode, no gradient)
    lr_annealing_encoder, lr_annealing_head, lr_annealing_scores   per-epoch schedulers on the
                       valid loss (NewBob) or null
    warmup_steps       optimiser steps of linear learning-rate warm-up from 0 (0 or absent: none)
    wav_augment        a speechbrain Augmenter applied to training waveforms, or null
    decoder            "greedy" or "beam" (speechbrain's CTCBeamSearcher, ``beam_size`` beams)
    epoch_counter, train_logger, test_wer_file

:func:`train_and_test` is the body every CTC recipe shares: fit, test each set with its cost,
write ``results.json`` and export the best model for ``transcribe``; a model routed over a frozen
pretrained encoder (S3-Router) is also exported as a task file, its packed masks and heads
without the encoder (:func:`efficient_ssl.models.asr.export_routing_task`), which
:func:`~efficient_ssl.models.asr.load_routing_task` puts back on the shared encoder: N tasks
(languages) = one encoder file + N small files.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import speechbrain as sb
import torch
from speechbrain.decoders.ctc import CTCBeamSearcher, ctc_greedy_decode
from speechbrain.nnet.schedulers import update_learning_rate
from speechbrain.utils.metric_stats import ErrorRateStats

from efficient_ssl.brains.base import Brain
from efficient_ssl.brains.distributed import all_gather, merge_metric_over_ranks, sum_over_ranks
from efficient_ssl.models.asr import export_routing_task
from efficient_ssl.nnet.router import score_parameters

logger = logging.getLogger(__name__)


class CTCBrain(Brain):
    """Trains ``modules.model`` (a CTCModel) with CTC; reports WER and CER on valid / test.

    The training batch needs ``sig`` (waveforms), ``tokens`` (padded token ids) and ``wrd``
    (reference text); see :func:`efficient_ssl.brains.ctc.ctc_text_pipeline`. With early-exit
    heads the loss is the mean of every exit's CTC loss. Utterances whose transcript needs more
    CTC frames than the model gives them (too strong downsampling) are counted, named in the
    log and left out of the loss, and ``too_short`` appears in the epoch's train stats.
    """

    def compute_forward(self, batch, stage):
        """Returns the model's CTCOutput (logits per exit, frame mask, exit layers)."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        if stage == sb.Stage.TRAIN and self.hparams.wav_augment is not None:
            wavs, wav_lens = self.hparams.wav_augment(wavs, wav_lens)
        return self.modules.model(wavs, wav_lens)

    def compute_objectives(self, predictions, batch, stage):
        """CTC loss (mean over exits); on valid / test also decoding into the WER and CER trackers."""
        tokens, token_lens = batch.tokens
        if stage == sb.Stage.TRAIN and self.hparams.wav_augment is not None:
            tokens = self.hparams.wav_augment.replicate_labels(tokens)
            token_lens = self.hparams.wav_augment.replicate_labels(token_lens)
        frames = predictions.mask.sum(dim=1)  # (B,)
        out_lens = frames.float() / predictions.mask.shape[1]
        too_short = frames < ctc_min_frames(tokens, token_lens)
        if too_short.any():
            self._report_too_short(batch.id, too_short, stage)
        blank = self.hparams.tokenizer.blank_index
        losses = [
            sb.nnet.losses.ctc_loss(
                logits.float().log_softmax(dim=-1), tokens, out_lens, token_lens, blank_index=blank
            )
            for logits in predictions.logits
        ]
        loss = sum(losses) / len(losses)
        if stage != sb.Stage.TRAIN:
            log_probs = predictions.logits[-1].float().log_softmax(dim=-1)
            predicted = [t.split() for t in self.decode(log_probs, out_lens)]
            target = [text.split() for text in batch.wrd]
            self.wer_metric.append(batch.id, predicted, target)
            self.cer_metric.append(batch.id, predicted, target)
            self.exit_layers.extend(predictions.exit_layer.tolist())
        return loss

    def decode(self, log_probs: torch.Tensor, out_lens: torch.Tensor) -> list[str]:
        """Greedy or beam-search transcripts of a batch, per ``hparams.decoder``."""
        if getattr(self, "decoder", None) is None:
            self.decoder = CTCDecoder(self.hparams.tokenizer, self.hparams.decoder, self.hparams.beam_size)
        return self.decoder(log_probs, out_lens)

    def _report_too_short(self, ids, too_short: torch.Tensor, stage) -> None:
        names = [i for i, short in zip(ids, too_short.tolist()) if short]
        self.too_short += len(names)
        logger.warning(
            "%s: %d utterance(s) have fewer CTC frames than their transcript needs (%s); they "
            "add nothing to the loss. Lower downsampling_factor or raise upsampling.",
            stage.name.lower(), len(names), ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""),
        )

    def on_stage_start(self, stage, epoch=None):
        """Resets the error-rate trackers at the start of valid / test."""
        self.too_short = 0
        if stage != sb.Stage.TRAIN:
            self.wer_metric = ErrorRateStats()
            self.cer_metric = ErrorRateStats(split_tokens=True)
            self.exit_layers = []
        if self.hparams.freeze_encoder:
            self.unwrapped("model").encoder.eval()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs losses and error rates, anneals learning rates, checkpoints on the best CER."""
        stats = {"loss": self.stage_loss_over_ranks(stage, stage_loss)}
        self.too_short = int(sum_over_ranks([self.too_short])[0])
        if self.too_short:
            stats["too_short"] = self.too_short
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        merge_metric_over_ranks(self.wer_metric)
        merge_metric_over_ranks(self.cer_metric)
        stats["WER"] = self.wer_metric.summarize("error_rate")
        stats["CER"] = self.cer_metric.summarize("error_rate")
        if len(self.unwrapped("model").exits) > 1:
            exit_layers = [layer for part in all_gather(self.exit_layers) for layer in part]
            stats["mean_exit_layer"] = sum(exit_layers) / max(len(exit_layers), 1)
        if stage == sb.Stage.VALID:
            lrs = {}
            for name, opt in self.optimizers_dict.items():
                scheduler = getattr(self.hparams, f"lr_annealing_{name}", None)
                lrs[f"lr_{name}"] = opt.param_groups[0]["lr"]
                if scheduler is not None:  # on the valid loss: CER sits at 100% on the CTC plateau
                    _, new_lr = scheduler(stats["loss"])
                    update_learning_rate(opt, new_lr)
                    for group in opt.param_groups:  # still warming up: towards the annealed lr
                        if "peak_lr" in group:
                            group["peak_lr"] = new_lr
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, **lrs},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(meta={"CER": stats["CER"]}, min_keys=["CER"])
        elif stage == sb.Stage.TEST:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
            if sb.utils.distributed.if_main_process():
                with open(self.hparams.test_wer_file, "w", encoding="utf-8") as f:
                    self.wer_metric.write_stats(f)
            self.test_stats = stats

    def on_fit_batch_start(self, batch, should_step: bool) -> None:
        """Linear warm-up: the first ``warmup_steps`` optimiser steps scale each learning rate
        from 1/warmup_steps up to its value (``peak_lr``, kept in the optimiser's state, so a
        resumed run goes on where it stopped)."""
        warmup = getattr(self.hparams, "warmup_steps", 0) or 0
        if not should_step or self.optimizer_step >= warmup:
            return
        scale = (self.optimizer_step + 1) / warmup
        for opt in self.optimizers_dict.values():
            for group in opt.param_groups:
                group["lr"] = group.setdefault("peak_lr", group["lr"]) * scale

    def freeze_parameters(self):
        """With ``freeze_encoder``, the encoder gets no gradient (set before DDP wraps the model)."""
        if self.hparams.freeze_encoder:
            self.unwrapped("model").encoder.requires_grad_(False)

    def init_optimizers(self):
        """One optimiser for the encoder (unless frozen or routed without co-training), one for
        the router's scores (``scores_opt_class``, when the model is routed) and one for
        everything else."""
        encoder = self.unwrapped("model").encoder
        scores = [p for p in score_parameters(encoder) if p.requires_grad]
        score_ids = {id(p) for p in scores}
        encoder_params = [p for p in encoder.parameters() if p.requires_grad and id(p) not in score_ids]
        encoder_ids = {id(p) for p in encoder.parameters()}
        head_params = [
            p for p in self.modules.parameters() if p.requires_grad and id(p) not in encoder_ids
        ]
        self.optimizers_dict = {"head": self.hparams.head_opt_class(head_params)}
        if not self.hparams.freeze_encoder and encoder_params:
            self.optimizers_dict["encoder"] = self.hparams.encoder_opt_class(encoder_params)
        if scores:
            self.optimizers_dict["scores"] = self.hparams.scores_opt_class(scores)
        if self.checkpointer is not None:
            for name, opt in self.optimizers_dict.items():
                self.checkpointer.add_recoverable(f"{name}_optimizer", opt)


def train_and_test(hparams: dict, run_opts: dict, data, tokenizer_file: str | Path) -> dict:
    """The body shared by the CTC recipes, after data preparation.

    Builds ``hparams["model"]`` (a CTCModel factory) for the tokenizer's vocabulary, fits it,
    tests the best checkpoint (lowest valid CER) on every test set, measures its inference cost
    (``cost_inference_<set>.json``), writes ``results.json`` and exports the model with its
    tokenizer to ``<output_folder>/model`` (the input of ``transcribe``). A model routed over
    the frozen ``pretrained_encoder`` (``routing`` set, ``train_weights`` off) is also exported
    to ``<output_folder>/task``: its packed masks and heads
    (:func:`~efficient_ssl.models.asr.export_routing_task`) and the tokenizer.

    Arguments
    ---------
    hparams : dict
        The loaded recipe YAML, with ``tokenizer`` set.
    run_opts : dict
        From ``speechbrain.parse_arguments``.
    data : efficient_ssl.data.DataBundle
        From ``dataio_prepare`` with ``ctc_text_pipeline``.
    tokenizer_file : str or Path
        The tokenizer's file, copied beside the exported model.

    Returns
    -------
    dict
        ``{test set: {"WER", "CER", "macs_per_audio_s", "rtf", ...}}`` as in ``results.json``
        (empty on ranks other than 0).
    """
    model = hparams["model"](vocab_size=hparams["tokenizer"].vocab_size)
    hparams["checkpointer"].add_recoverable("model", model)
    brain = CTCBrain(
        modules={"model": model}, hparams=hparams, run_opts=run_opts, checkpointer=hparams["checkpointer"]
    )
    brain.fit_bundle(data)
    output = Path(hparams["output_folder"])
    results = {}
    for name, test_set in data.test.items():
        brain.hparams.test_wer_file = output / f"wer_{name}.txt"
        brain.evaluate(test_set, min_key="CER", test_loader_kwargs=data.test_loader_kwargs[name])
        cost = brain.measure_inference(test_set, data.test_loader_kwargs[name], name=f"inference_{name}")
        if cost is None:  # not rank 0: rank 0 measures and writes the results
            continue
        results[name] = {
            **{k: float(v) for k, v in brain.test_stats.items()},
            "macs_per_audio_s": cost.macs_per_audio_s,
            "rtf": cost.rtf,
            "peak_mem_mb": cost.peak_mem_mb,
            "params": cost.params,
            "device": cost.device,
            "num_threads": cost.num_threads,
        }
        print(
            f"{name}: WER {results[name]['WER']:.2f}%  CER {results[name]['CER']:.2f}%  "
            f"({cost.macs_per_audio_s / 1e6:.1f} MMACs per audio second, RTF {cost.rtf:.4f} on {cost.device})"
        )
    if sb.utils.distributed.if_main_process():
        model_folder = model.save(output / "model")
        shutil.copy(tokenizer_file, model_folder / Path(tokenizer_file).name)
        if model.config["routing"] and not model.config["train_weights"] and hparams["pretrained_encoder"]:
            try:
                task = export_routing_task(model_folder, hparams["pretrained_encoder"], output / "task")
                shutil.copy(tokenizer_file, task.parent / Path(tokenizer_file).name)
            except ValueError as error:  # the model itself is exported: say why no task file
                logger.warning("no task file (%s): %s", output / "task", error)
        (output / "results.json").write_text(json.dumps(results, indent=2))
    return results


def ctc_min_frames(tokens: torch.Tensor, token_lens: torch.Tensor) -> torch.Tensor:
    """Fewest CTC frames each transcript needs: its length plus one blank per repeated token.

    Arguments
    ---------
    tokens : torch.Tensor
        (B, L) padded token ids.
    token_lens : torch.Tensor
        (B,) relative lengths.

    Returns
    -------
    torch.Tensor
        (B,) long.

    Example
    -------
    >>> ctc_min_frames(torch.tensor([[1, 1, 2, 0], [3, 4, 0, 0]]), torch.tensor([0.75, 0.5]))
    tensor([4, 2])
    """
    lengths = (token_lens * tokens.shape[1]).round().long()  # (B,)
    real = torch.arange(tokens.shape[1], device=tokens.device) < lengths.unsqueeze(1)  # (B, L)
    repeats = (tokens[:, 1:] == tokens[:, :-1]) & real[:, 1:]
    return lengths + repeats.sum(dim=1)


def ctc_text_pipeline(tokenizer) -> sb.utils.data_pipeline.DynamicItem:
    """Dynamic item mapping the manifest's ``wrd`` to ``tokens`` (a LongTensor of ids).

    Example
    -------
    >>> from efficient_ssl.data.tokens import CharTokenizer
    >>> item = ctc_text_pipeline(CharTokenizer.from_texts(["AB C"]))
    >>> item("CAB")
    tensor([4, 2, 3])
    """

    @sb.utils.data_pipeline.takes("wrd")
    @sb.utils.data_pipeline.provides("tokens")
    def text_pipeline(wrd: str) -> torch.Tensor:
        return torch.LongTensor(tokenizer.encode(wrd))

    return text_pipeline


class CTCDecoder:
    """CTC log-probabilities -> transcripts: greedy, or speechbrain's ``CTCBeamSearcher`` (no LM).

    Arguments
    ---------
    tokenizer : object
        With ``decode``, ``blank_index`` and ``vocab_list`` (efficient_ssl.data.tokens).
    decoder : str
        ``"greedy"`` or ``"beam"``.
    beam_size : int
        Beams of the beam search.

    Example
    -------
    >>> from efficient_ssl.data.tokens import CharTokenizer
    >>> decode = CTCDecoder(CharTokenizer(["A", "B"]), "beam", beam_size=2)
    >>> log_probs = torch.tensor([[[-9.0, 0.0, -9.0], [0.0, -9.0, -9.0], [-9.0, 0.0, -9.0]]])
    >>> decode(log_probs, torch.ones(1))
    ['AA']
    """

    DECODERS = ("greedy", "beam")

    def __init__(self, tokenizer, decoder: str = "greedy", beam_size: int = 10):
        if decoder not in self.DECODERS:
            raise ValueError(f"decoder={decoder!r}: use one of {', '.join(self.DECODERS)}")
        self.tokenizer = tokenizer
        self.searcher = None
        if decoder == "beam":
            self.searcher = CTCBeamSearcher(
                blank_index=tokenizer.blank_index, vocab_list=tokenizer.vocab_list, beam_size=beam_size
            )

    def __call__(self, log_probs: torch.Tensor, out_lens: torch.Tensor) -> list[str]:
        """(B, T, vocab) log-probabilities, (B,) relative lengths -> B whitespace-normalised strings."""
        if self.searcher is None:
            return greedy_transcripts(log_probs, out_lens, self.tokenizer)
        return [" ".join(hyps[0].text.split()) for hyps in self.searcher(log_probs, out_lens)]


def greedy_transcripts(log_probs: torch.Tensor, out_lens: torch.Tensor, tokenizer) -> list[str]:
    """Greedy CTC decoding of a batch into strings.

    Arguments
    ---------
    log_probs : torch.Tensor
        (B, T, vocab) log-probabilities.
    out_lens : torch.Tensor
        (B,) relative lengths.
    tokenizer : object
        With ``decode`` and ``blank_index``.

    Returns
    -------
    One string per utterance, whitespace-normalised.
    """
    hyps = ctc_greedy_decode(log_probs, out_lens, blank_id=tokenizer.blank_index)
    return [" ".join(tokenizer.decode(h).split()) for h in hyps]
