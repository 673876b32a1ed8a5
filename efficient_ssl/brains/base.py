"""Behaviour shared by every Brain of the project."""

from __future__ import annotations

import speechbrain as sb


class Brain(sb.Brain):
    """speechbrain's Brain, with dynamic batches that are a function of the epoch.

    speechbrain calls ``set_epoch`` on ``self.train_sampler`` at each epoch, but only sets it
    for DDP or ``shuffle=True``. A ``DynamicBatchSampler`` given as ``batch_sampler`` on a
    single process is registered here, so its batches are drawn from (seed, epoch): a run
    resumed from a checkpoint sees the batches the uninterrupted run would have seen.
    """

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """See speechbrain.core.Brain.make_dataloader."""
        batch_sampler = loader_kwargs.get("batch_sampler")
        loader = super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)
        if stage == sb.Stage.TRAIN and self.train_sampler is None and hasattr(batch_sampler, "set_epoch"):
            self.train_sampler = batch_sampler
        return loader
