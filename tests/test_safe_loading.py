"""Loading refuses pickled code: every file the project reads back with ``torch.load``.

Each test writes a malicious pickle (an object whose ``__reduce__`` runs a shell command that
creates a marker file) in place of one file that loading reads: an exported encoder's weights,
an exported CTC model's weights, and each kind of speechbrain checkpoint recoverable a recipe
registers (model, optimiser, NewBob scheduler, wav2vec 2.0 pretrainer). Loading must raise and
the marker must not exist. A first test checks the payload really runs when unpickled unsafely,
so the others cannot pass vacuously.
"""

import os
import pickle
import shlex
from pathlib import Path

import pytest
import torch
from speechbrain.nnet.schedulers import NewBobScheduler
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter

from conftest import tiny_encoder
from efficient_ssl.models import CTCModel, load_ctc_model, load_pretrained_encoder
from efficient_ssl.models.wav2vec2 import ENCODER_WEIGHTS, Wav2Vec2Pretrainer

FORMATS = ["torch_zip", "plain_pickle"]

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")


class Payload:
    """Unpickling this runs ``touch <marker>`` through ``os.system``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def write_malicious(path: Path, marker: Path, kind: str = "torch_zip") -> None:
    """Overwrites ``path`` with a pickle of :class:`Payload`: ``torch.save``'s zip format or a
    plain (legacy) pickle stream."""
    if kind == "torch_zip":
        torch.save({"weight": Payload(marker)}, path)
    else:
        with open(path, "wb") as f:
            pickle.dump({"weight": Payload(marker)}, f)


@pytest.fixture
def marker(tmp_path) -> Path:
    """Where the payload would write; must still be absent after every refused load."""
    return tmp_path / "PWNED"


@pytest.fixture(autouse=True)
def _torch_default_weights_only(monkeypatch):
    # speechbrain's loaders call torch.load without weights_only: they rely on torch's default.
    monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)


@pytest.mark.parametrize("kind", FORMATS)
def test_the_payload_runs_when_unpickled_unsafely(tmp_path, marker, kind):
    path = tmp_path / "evil.ckpt"
    write_malicious(path, marker, kind)
    if kind == "torch_zip":
        torch.load(path, weights_only=False)
    else:
        with open(path, "rb") as f:
            pickle.load(f)
    assert marker.is_file()


@pytest.mark.parametrize("kind", FORMATS)
def test_exported_encoder_weights_are_refused(tmp_path, marker, kind):
    tiny_encoder().save(tmp_path / "encoder")
    write_malicious(tmp_path / "encoder" / ENCODER_WEIGHTS, marker, kind)
    for path in (tmp_path / "encoder", tmp_path / "encoder" / ENCODER_WEIGHTS):
        with pytest.raises(pickle.UnpicklingError):
            load_pretrained_encoder(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", FORMATS)
def test_exported_ctc_model_weights_are_refused(tmp_path, marker, kind):
    folder = CTCModel(tiny_encoder(), vocab_size=5).save(tmp_path / "model")
    write_malicious(folder / "ctc_model.ckpt", marker, kind)
    with pytest.raises(pickle.UnpicklingError):
        load_ctc_model(folder)
    assert not marker.exists()


def _recipe_recoverables() -> dict:
    """One of each kind of recoverable the recipes register, each with some state."""
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(4, 3)).sum().backward()
    optimizer.step()
    scheduler = NewBobScheduler(initial_value=1.0)
    scheduler(2.0)
    counter = EpochCounter(3)
    next(iter(counter))
    return {"model": model, "model_optimizer": optimizer, "lr_annealing": scheduler, "counter": counter}


def test_recipe_checkpoints_load_as_weights_only(tmp_path):
    """Every pickled file speechbrain writes for the recipes' recoverables holds data only."""
    checkpoint = Checkpointer(tmp_path, recoverables=_recipe_recoverables()).save_checkpoint()
    for name in ("model", "model_optimizer", "lr_annealing"):
        torch.load(checkpoint.path / f"{name}.ckpt", weights_only=True)
    assert Checkpointer(tmp_path, recoverables=_recipe_recoverables()).recover_if_possible() is not None


@pytest.mark.parametrize("name", ["model", "model_optimizer", "lr_annealing"])
@pytest.mark.parametrize("kind", FORMATS)
def test_speechbrain_checkpoint_recoverables_are_refused(tmp_path, marker, name, kind):
    checkpoint = Checkpointer(tmp_path / "save", recoverables=_recipe_recoverables()).save_checkpoint()
    write_malicious(checkpoint.path / f"{name}.ckpt", marker, kind)
    with pytest.raises(pickle.UnpicklingError):
        Checkpointer(tmp_path / "save", recoverables=_recipe_recoverables()).recover_if_possible()
    assert not marker.exists()


@pytest.mark.parametrize("file", ["wav2vec2.ckpt", ENCODER_WEIGHTS])
def test_pretrainer_checkpoint_files_are_refused(tmp_path, marker, file):
    def pretrainer() -> Wav2Vec2Pretrainer:
        return Wav2Vec2Pretrainer(tiny_encoder(), final_dim=16, num_negatives=4, quantiser_entries=8)

    checkpoint = Checkpointer(tmp_path / "save", recoverables={"wav2vec2": pretrainer()}).save_checkpoint()
    write_malicious(checkpoint.path / file, marker)
    with pytest.raises(pickle.UnpicklingError):
        Checkpointer(tmp_path / "save", recoverables={"wav2vec2": pretrainer()}).recover_if_possible()
    if file == ENCODER_WEIGHTS:  # what downstream recipes load from a pretraining save folder
        with pytest.raises(pickle.UnpicklingError):
            load_pretrained_encoder(tmp_path / "save")
    assert not marker.exists()
