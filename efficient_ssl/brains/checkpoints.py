"""Checkpoints that survive ``kill -9``: written whole or not at all, with the random state.

* :class:`AtomicCheckpointer` is speechbrain's ``Checkpointer`` whose checkpoints appear whole:
  each is written into ``<save>/.partial/`` and moved into place with one ``os.replace``, so a
  run killed while saving leaves at worst a stale partial folder (cleared on the next start),
  never a ``CKPT+...`` folder that recovery would pick but cannot load. Recipe YAMLs use it as
  ``checkpointer: !new:efficient_ssl.brains.checkpoints.AtomicCheckpointer``.
* :class:`RandomState` checkpoints torch's generators (CPU and, when used, CUDA), one file per
  rank, so a resumed run draws the same dropout masks, span masks and negatives as the run that
  was interrupted. ``efficient_ssl.brains.base.Brain`` registers it with every checkpointer.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import (
    CKPT_PREFIX,
    Checkpoint,
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import ddp_barrier, ddp_broadcast, if_main_process

from efficient_ssl.brains.distributed import rank

logger = logging.getLogger(__name__)

PARTIAL_DIR = ".partial"


class AtomicCheckpointer(Checkpointer):
    """speechbrain's ``Checkpointer``; a checkpoint folder appears only once every file is written.

    Arguments are those of ``speechbrain.utils.checkpoints.Checkpointer``.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> layer = torch.nn.Linear(2, 2)
    >>> checkpointer = AtomicCheckpointer(folder, recoverables={"layer": layer})
    >>> ckpt = checkpointer.save_checkpoint(meta={"loss": 1.0})
    >>> ckpt.path.parent == folder, sorted(p.name for p in ckpt.path.iterdir())
    (True, ['CKPT.yaml', 'layer.ckpt'])
    >>> list((folder / ".partial").iterdir())
    []
    """

    def __init__(self, checkpoints_dir, *args, **kwargs):
        super().__init__(checkpoints_dir, *args, **kwargs)
        partial = self.checkpoints_dir / PARTIAL_DIR
        if if_main_process() and partial.exists():  # left by a run killed while saving
            shutil.rmtree(partial)

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):  # noqa: B006
        """Saves like speechbrain into ``.partial/<name>``, then moves the folder into place.

        Returns the ``Checkpoint`` at its final path on the main process, None elsewhere.
        """
        final_dir = None
        if if_main_process():
            final_dir = self._new_checkpoint_dirpath() if name is None else self._custom_checkpoint_dirpath(name)
        final_dir = Path(ddp_broadcast(final_dir, src=0))
        checkpoints_dir = self.checkpoints_dir
        self.checkpoints_dir = checkpoints_dir / PARTIAL_DIR
        try:
            saved = super().save_checkpoint(
                meta, end_of_epoch, name=final_dir.name[len(CKPT_PREFIX) + 1 :], verbosity=logging.DEBUG
            )
        finally:
            self.checkpoints_dir = checkpoints_dir
        ddp_barrier()  # every rank's files are in the partial folder
        checkpoint = None
        if if_main_process():
            os.replace(saved.path, final_dir)
            paramfiles = {key: final_dir / path.name for key, path in saved.paramfiles.items()}
            checkpoint = Checkpoint(final_dir, saved.meta, paramfiles)
            kind = "end-of-epoch" if end_of_epoch else "intra-epoch"
            logger.log(verbosity, f"Saved an {kind} checkpoint in {final_dir}")
        ddp_barrier()  # no rank reads the folder before it is in place
        return checkpoint


@functools.partial(register_checkpoint_hooks, save_on_main_only=False)
class RandomState:
    """torch's random generators as a checkpoint recoverable: ``random_state.ckpt`` for rank 0,
    ``random_state.rank<r>.ckpt`` for the other ranks (a rank without its own file, e.g. after a
    change of the number of processes, takes rank 0's).

    Example
    -------
    >>> path = getfixture("tmp_path") / "random_state.ckpt"
    >>> state = RandomState()
    >>> state.save(path)
    >>> first = torch.rand(3)
    >>> state.load(path, end_of_epoch=False)
    >>> torch.equal(torch.rand(3), first)
    True
    """

    @staticmethod
    def _rank_path(path: Path, which: int) -> Path:
        return path if which == 0 else path.with_name(f"{path.stem}.rank{which}{path.suffix}")

    @mark_as_saver
    def save(self, path: str | Path) -> None:
        """Writes this rank's generator states."""
        states = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            states["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(states, self._rank_path(Path(path), rank()))

    @mark_as_loader
    def load(self, path: str | Path, end_of_epoch: bool) -> None:
        """Restores this rank's generator states (rank 0's if this rank has no file)."""
        path = Path(path)
        own = self._rank_path(path, rank())
        states = torch.load(own if own.exists() else path, weights_only=True)
        torch.set_rng_state(states["cpu"])
        if "cuda" in states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
