"""CTC speech recognition Brain: fine-tuning of an SSL encoder, or training from scratch.

The Brain is agnostic of the encoder. ``modules.encoder`` is any module with the project's
encoder interface::

    out, hidden_states, mask = encoder(wavs, wav_lens)
    # wavs (B, S) float, wav_lens (B,) relative lengths in [0, 1]
    # out (B, T, D); hidden_states list of (B, T, D); mask (B, T) bool, True = real frame

and ``modules.ctc_head`` maps ``out`` to ``(B, T, vocab)`` logits.

Hparams read by the Brain (declare them in the recipe YAML):
    tokenizer          object with encode / decode / blank_index (efficient_ssl.data.tokens)
    encoder_opt_class  optimiser factory for the encoder (ignored when freeze_encoder)
    head_opt_class     optimiser factory for every other trainable module
    freeze_encoder     bool: keep the encoder fixed (eval mode, no gradient)
    lr_annealing_encoder, lr_annealing_head   per-epoch schedulers on the valid loss (NewBob) or null
    wav_augment        a speechbrain Augmenter applied to training waveforms, or null
    epoch_counter, train_logger, test_wer_file
"""

from __future__ import annotations

import speechbrain as sb
import torch
from speechbrain.decoders.ctc import ctc_greedy_decode
from speechbrain.nnet.schedulers import update_learning_rate
from speechbrain.utils.metric_stats import ErrorRateStats

from efficient_ssl.brains.base import Brain


class CTCBrain(Brain):
    """Trains ``encoder`` + ``ctc_head`` with CTC; reports WER and CER on valid / test.

    The training batch needs ``sig`` (waveforms), ``tokens`` (padded token ids) and ``wrd``
    (reference text); see :func:`efficient_ssl.brains.ctc.ctc_text_pipeline`.
    """

    def compute_forward(self, batch, stage):
        """Returns CTC log-probabilities (B, T, vocab) and relative output lengths (B,)."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        if stage == sb.Stage.TRAIN and self.hparams.wav_augment is not None:
            wavs, wav_lens = self.hparams.wav_augment(wavs, wav_lens)
        if self.hparams.freeze_encoder:
            with torch.no_grad():
                out, _, mask = self.modules.encoder(wavs, wav_lens)
        else:
            out, _, mask = self.modules.encoder(wavs, wav_lens)
        logits = self.modules.ctc_head(out)  # (B, T, vocab)
        log_probs = logits.float().log_softmax(dim=-1)
        out_lens = mask.sum(dim=1).float() / mask.shape[1]  # (B,) relative
        return log_probs, out_lens

    def compute_objectives(self, predictions, batch, stage):
        """CTC loss; on valid / test also greedy decoding into the WER and CER trackers."""
        log_probs, out_lens = predictions
        tokens, token_lens = batch.tokens
        if stage == sb.Stage.TRAIN and self.hparams.wav_augment is not None:
            tokens = self.hparams.wav_augment.replicate_labels(tokens)
            token_lens = self.hparams.wav_augment.replicate_labels(token_lens)
        tokenizer = self.hparams.tokenizer
        loss = sb.nnet.losses.ctc_loss(
            log_probs, tokens, out_lens, token_lens, blank_index=tokenizer.blank_index
        )
        if stage != sb.Stage.TRAIN:
            predicted = [t.split() for t in greedy_transcripts(log_probs, out_lens, tokenizer)]
            target = [text.split() for text in batch.wrd]
            self.wer_metric.append(batch.id, predicted, target)
            self.cer_metric.append(batch.id, predicted, target)
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Resets the error-rate trackers at the start of valid / test."""
        if stage != sb.Stage.TRAIN:
            self.wer_metric = ErrorRateStats()
            self.cer_metric = ErrorRateStats(split_tokens=True)
        if self.hparams.freeze_encoder:
            self.modules.encoder.eval()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs losses and error rates, anneals learning rates, checkpoints on the best CER."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats["WER"] = self.wer_metric.summarize("error_rate")
        stats["CER"] = self.cer_metric.summarize("error_rate")
        if stage == sb.Stage.VALID:
            lrs = {}
            for name, opt in self.optimizers_dict.items():
                scheduler = getattr(self.hparams, f"lr_annealing_{name}", None)
                lrs[f"lr_{name}"] = opt.param_groups[0]["lr"]
                if scheduler is not None:  # on the valid loss: CER sits at 100% on the CTC plateau
                    _, new_lr = scheduler(stats["loss"])
                    update_learning_rate(opt, new_lr)
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
            with open(self.hparams.test_wer_file, "w", encoding="utf-8") as f:
                self.wer_metric.write_stats(f)
            self.test_stats = stats

    def init_optimizers(self):
        """One optimiser for the encoder (unless frozen) and one for everything else."""
        encoder_params = [p for p in self.modules.encoder.parameters() if p.requires_grad]
        encoder_ids = {id(p) for p in self.modules.encoder.parameters()}
        head_params = [
            p for p in self.modules.parameters() if p.requires_grad and id(p) not in encoder_ids
        ]
        self.optimizers_dict = {"head": self.hparams.head_opt_class(head_params)}
        if self.hparams.freeze_encoder:
            for p in encoder_params:
                p.requires_grad_(False)
        else:
            self.optimizers_dict["encoder"] = self.hparams.encoder_opt_class(encoder_params)
        if self.checkpointer is not None:
            for name, opt in self.optimizers_dict.items():
                self.checkpointer.add_recoverable(f"{name}_optimizer", opt)


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
