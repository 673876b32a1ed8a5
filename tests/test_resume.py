"""A run killed with SIGKILL and started again ends as the uninterrupted run would have.

Unit tests of ``efficient_ssl.brains.checkpoints.AtomicCheckpointer`` (a checkpoint whose save
fails or is killed never appears as a ``CKPT+`` folder), and recipe runs on the tiny mini
corpus driven by the helpers of ``tools/fault_drill.py`` (its ``resume`` group): the CTC recipe
killed once after a few intra-epoch checkpoints (fast), and the wav2vec 2.0 recipe with gradient
accumulation killed at six seeded points (slow).
"""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

from efficient_ssl.brains.checkpoints import PARTIAL_DIR, AtomicCheckpointer

REPO = Path(__file__).resolve().parent.parent
DRILL = REPO / "tools" / "fault_drill.py"


def load_drill():
    """tools/fault_drill.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fault_drill_resume", DRILL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@register_checkpoint_hooks
class FailingSave:
    """A recoverable whose save writes part of its file, then raises."""

    @mark_as_saver
    def save(self, path: Path) -> None:
        """Writes a few bytes, then fails like a full disk."""
        Path(path).write_bytes(b"half")
        raise OSError("No space left on device (simulated)")

    @mark_as_loader
    def load(self, path: Path, end_of_epoch: bool) -> None:
        """Never reached: nothing is ever saved."""
        raise AssertionError("a failed save was loaded")


def test_failed_save_leaves_no_checkpoint(tmp_path):
    """A save hook that raises: no CKPT+ folder, the last whole checkpoint is the one recovered,
    and the next AtomicCheckpointer clears the partial folder."""
    layer = torch.nn.Linear(3, 2)
    AtomicCheckpointer(tmp_path, recoverables={"layer": layer}).save_checkpoint(meta={"n": 1})
    saved_weight = layer.weight.detach().clone()
    checkpointer = AtomicCheckpointer(tmp_path, recoverables={"layer": layer, "failing": FailingSave()})
    with torch.no_grad():
        layer.weight.add_(1.0)
    with pytest.raises(OSError, match="simulated"):
        checkpointer.save_checkpoint(meta={"n": 2})
    folders = sorted(p.name for p in tmp_path.glob("CKPT+*"))
    assert len(folders) == 1, folders
    assert any((tmp_path / PARTIAL_DIR).iterdir()), "the failed save should be left in .partial"
    restarted = AtomicCheckpointer(tmp_path, recoverables={"layer": layer})
    assert not (tmp_path / PARTIAL_DIR).exists() or not any((tmp_path / PARTIAL_DIR).iterdir())
    assert restarted.recover_if_possible().meta["n"] == 1
    assert torch.equal(layer.weight, saved_weight)


KILLED_MID_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import torch
    from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
    from efficient_ssl.brains.checkpoints import AtomicCheckpointer

    @register_checkpoint_hooks
    class KilledSave:
        @mark_as_saver
        def save(self, path):
            Path(path).write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)

        @mark_as_loader
        def load(self, path, end_of_epoch):
            pass

    save = Path(sys.argv[1])
    layer = torch.nn.Linear(3, 2)
    AtomicCheckpointer(save, recoverables={"layer": layer}).save_checkpoint(meta={"n": 1})
    AtomicCheckpointer(save, recoverables={"layer": layer, "killed": KilledSave()}).save_checkpoint(meta={"n": 2})
    """
)


def test_kill_during_save_leaves_no_checkpoint(tmp_path):
    """A process killed (SIGKILL) in the middle of writing a checkpoint leaves only whole CKPT+
    folders; the next AtomicCheckpointer clears what it left in .partial."""
    result = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(tmp_path)], cwd=REPO, check=False)
    assert result.returncode == -9, f"the process was meant to die of SIGKILL, exit {result.returncode}"
    folders = list(tmp_path.glob("CKPT+*"))
    assert len(folders) == 1 and {p.name for p in folders[0].iterdir()} == {"CKPT.yaml", "layer.ckpt"}
    partial = tmp_path / PARTIAL_DIR
    assert list(partial.glob("CKPT+*/killed.ckpt")), "the killed save's files should be in .partial"
    checkpointer = AtomicCheckpointer(tmp_path, recoverables={"layer": torch.nn.Linear(3, 2)})
    assert not partial.exists()
    assert checkpointer.recover_if_possible().meta["n"] == 1


def _weights_equal(drill, reference: Path, resumed: Path, weights: str) -> None:
    """Asserts that the newest end-of-epoch checkpoints of two runs hold equal weights and optimiser states."""
    ref, res = drill.final_checkpoint(reference / "save"), drill.final_checkpoint(resumed / "save")
    for name in (weights, "optimizer.ckpt", "head_optimizer.ckpt", "encoder_optimizer.ckpt", "random_state.ckpt"):
        if (ref / name).exists():
            diff = drill.compare_saved(ref / name, res / name)
            assert not diff.differing, f"{name}: {len(diff.differing)} of {diff.leaves} entries differ " \
                                       f"(max abs {diff.max_abs:.3g}), e.g. {diff.differing[:3]}"


def test_ctc_recipe_killed_mid_epoch_resumes_exactly(tiny_corpus, tmp_path):
    """The CTC recipe (1 epoch, 2 layers, a checkpoint every batch) killed with SIGKILL just after
    its third intra-epoch checkpoint and started again ends with the uninterrupted run's weights."""
    drill = load_drill()
    recipe = drill.ResumeRecipe(
        "finetune", drill.RECIPE, drill.RECIPE_HPARAMS, ("--number_of_epochs=1", "--num_layers=2"), "model.ckpt"
    )
    data = tiny_corpus / "LibriSpeech"
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    proc, _ = drill._attempt(drill.resume_command(recipe, data, reference), reference)
    assert proc.wait(timeout=drill.RUN_TIMEOUT_S) == 0, (tmp_path / "reference_attempts.txt").read_text()
    command = drill.resume_command(recipe, data, resumed)
    counter = drill.SaveCounter(resumed / "log.txt")
    proc, started = drill._attempt(command, resumed)
    assert drill.kill_at(proc, started, drill.KillTarget("after 3 checkpoints", saves=3), counter, resumed / "save")
    assert counter.update() < 6, "killed too late: the epoch was over"
    assert not drill.checkpoint_problems(resumed / "save", {p.name for p in drill.final_checkpoint(
        reference / "save").iterdir()})
    proc, _ = drill._attempt(command, resumed)
    assert proc.wait(timeout=drill.RUN_TIMEOUT_S) == 0, (tmp_path / "resumed_attempts.txt").read_text()
    assert "Loading a checkpoint" in (resumed / "log.txt").read_text(encoding="utf-8")
    _weights_equal(drill, reference, resumed, "model.ckpt")


@pytest.mark.slow
def test_pretrain_recipe_killed_six_times_resumes_exactly(tiny_corpus, tmp_path):
    """wav2vec 2.0 pretraining with gradient accumulation, killed at the drill's six seeded
    points (mid-step, start-up, mid-save, validation, after a save, end-of-epoch save): it
    finishes, no checkpoint is ever half-written, and the weights equal the uninterrupted run's."""
    drill = load_drill()
    out = drill.run_resume_drill(drill.RESUME_RECIPES["pretrain"], tiny_corpus / "LibriSpeech", tmp_path)
    assert out.returncode == 0 and len(out.kills) == out.planned, [k.target.moment for k in out.kills]
    assert not [k.problems for k in out.kills if k.problems]
    _weights_equal(drill, out.reference, out.resumed, "wav2vec2.ckpt")
    _weights_equal(drill, out.reference, out.resumed, "encoder.ckpt")
