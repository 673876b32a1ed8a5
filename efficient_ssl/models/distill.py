"""Knowledge distillation in the manner of DistilHuBERT (Chang et al. 2022): a small student
encoder predicts hidden states of a frozen teacher encoder.

Pieces:

- :func:`build_student`: a ``PretrainedEncoder`` of any depth, width and mixer, its config taken
  from the teacher's where not given, initialised from the teacher where shapes allow
  (:func:`init_from_teacher`: student layer i from teacher layer i, as DistilHuBERT; the mixer
  only when both have the same mixer, so a SummaryMixing student of an MHSA teacher keeps a
  random mixer and the teacher's feed-forward, convolution and norm weights).
- A public teacher (a transformers ``PublicEncoder``: HuBERT, wav2vec 2.0, WavLM, data2vec-audio,
  as DistilHuBERT distils HuBERT base) gets a student in this project's format all the same
  (:func:`teacher_config`: the raw-waveform CNN with the teacher's kernels, strides, channels and
  input normalisation, Transformer layers of its width), initialised by
  :func:`init_from_public_teacher` with what maps onto it: the CNN convolutions, the feature
  projection, and in layer i the attention and feed-forward linears of teacher layer i (the
  norms too when both are pre-LN). Everything else stays random: the CNN's biases and norms where
  the teacher's differ (``feat_extract_norm="group"``: one GroupNorm over time, no other norm;
  ours: a LayerNorm after every convolution), the positional convolution (ours: sinusoidal
  positions), WavLM's relative position bias, a Conformer teacher's layers.
- :class:`FrozenTeacher`: the teacher, never trained (parameters frozen at construction, always
  in eval mode, run under ``no_grad``), returning the chosen hidden states. It is a module of its
  own in a Brain, so DistributedDataParallel never wraps it (it has no trainable parameter).
- :class:`Distiller`: the student + one prediction head (Linear) per chosen teacher layer, all on
  the student's last layer, and the loss :func:`distillation_loss`.
- :class:`TeacherCache`: teacher targets of every utterance stored on disk in fp16 and reused
  across epochs.

Loss per head k, over real frames: ``L1(pred_k, target_k) + lambda * (-log sigmoid(cos(pred_k,
target_k)))``, summed over the heads (DistilHuBERT, lambda = 1). The cosine term is offset by
its minimum ``-log sigmoid(1)``, so a student whose predictions equal the teacher's hidden
states has loss exactly 0; the offset is a constant and changes no gradient.

Checkpoints: a ``Distiller`` saved by a speechbrain ``Checkpointer`` writes its heads to its own
file and the student as ``encoder.ckpt`` + ``encoder_config.json`` in the same folder, so
``load_pretrained_encoder(<distillation save folder>)`` returns the student, as it returns the
encoder of a pretraining save folder.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from torch import nn

from efficient_ssl.models.wav2vec2 import ENCODER_WEIGHTS, PretrainedEncoder

logger = logging.getLogger(__name__)

MIXER_KEYS = ("attention_type", "mode")
COS_FLOOR = -math.log(torch.sigmoid(torch.tensor(1.0, dtype=torch.float64)).item())  # -log sigmoid(1)


def student_config(
    teacher_config: dict,
    num_layers: int,
    d_model: int | None = None,
    nhead: int | None = None,
    d_ffn: int | None = None,
    attention_type: str | None = None,
    frontend: str | None = None,
    frontend_kwargs: dict | None = None,
    layerdrop: float = 0.0,
    **encoder_overrides,
) -> dict:
    """The ``PretrainedEncoder`` config of a student: the teacher's, with what is given changed.

    Arguments
    ---------
    teacher_config : dict
        ``PretrainedEncoder.config`` of the teacher.
    num_layers : int
        Student layers.
    d_model, nhead, d_ffn : int, optional
        Student width; None keeps the teacher's.
    attention_type : str, optional
        "SummaryMixing" or "regularMHA"; None keeps the teacher's.
    frontend : str, optional
        Frontend name; None keeps the teacher's (and then its ``frontend_kwargs``).
    frontend_kwargs : dict, optional
        Replaces the teacher's frontend kwargs.
    layerdrop : float
        Student layerdrop (0: every layer always runs).
    **encoder_overrides
        Further ``ContextEncoder`` keys (``kernel_size``, ``dropout``, ``mode``, ...).

    Returns
    -------
    dict
        Keyword arguments of ``PretrainedEncoder``.

    Example
    -------
    >>> teacher = {"frontend": "mel_cnn", "frontend_kwargs": {"channels": 8}, "input_dropout": 0.1,
    ...            "max_len": 2500, "encoder": {"num_layers": 4, "d_model": 16, "nhead": 2, "d_ffn": 32}}
    >>> config = student_config(teacher, num_layers=2, attention_type="SummaryMixing")
    >>> config["encoder"]["num_layers"], config["encoder"]["d_model"], config["encoder"]["attention_type"]
    (2, 16, 'SummaryMixing')
    """
    config = copy.deepcopy(teacher_config)
    encoder = config["encoder"]
    encoder["num_layers"] = num_layers
    encoder["layerdrop"] = layerdrop
    for key, value in {"d_model": d_model, "nhead": nhead, "d_ffn": d_ffn, "attention_type": attention_type}.items():
        if value is not None:
            encoder[key] = value
    encoder.update(encoder_overrides)
    if frontend is not None and frontend != config["frontend"]:
        config["frontend"] = frontend
        config["frontend_kwargs"] = {}
    if frontend_kwargs is not None:
        config["frontend_kwargs"] = dict(frontend_kwargs)
    return config


def _mixer(config: dict) -> tuple:
    encoder = config["encoder"]
    return encoder.get("attention_type", "SummaryMixing"), encoder.get("mode", "SummaryMixing")


@torch.no_grad()
def init_from_teacher(student: PretrainedEncoder, teacher: PretrainedEncoder) -> list[str]:
    """Copies into ``student`` every teacher tensor of the same name and shape.

    Student layer i takes teacher layer i (the first layers, as DistilHuBERT); a mixer's weights
    are copied only when both encoders have the same mixer (``attention_type`` and ``mode``), so
    tensors of one mixer never land in another that happens to have the same shapes. The
    layerdrop counter is the student's own.

    Arguments
    ---------
    student, teacher : PretrainedEncoder
        Any sizes.

    Returns
    -------
    list of str
        The names of the student tensors copied from the teacher.

    Example
    -------
    >>> teacher = PretrainedEncoder("mel_cnn", {"num_layers": 3, "d_model": 16, "nhead": 2, "d_ffn": 32})
    >>> student = PretrainedEncoder("mel_cnn", {"num_layers": 1, "d_model": 16, "nhead": 2, "d_ffn": 32})
    >>> copied = init_from_teacher(student, teacher)
    >>> len(copied) == len(student.state_dict()) - 1  # all but the layerdrop counter
    True
    """
    same_mixer = _mixer(student.config) == _mixer(teacher.config)
    source = teacher.state_dict()
    copied = []
    for name, tensor in student.state_dict().items():
        if name.endswith("layerdrop_draws") or (".mixer." in name and not same_mixer):
            continue
        if name in source and source[name].shape == tensor.shape:
            tensor.copy_(source[name])
            copied.append(name)
    return copied


def teacher_config(teacher: nn.Module) -> dict:
    """The ``PretrainedEncoder`` config a student starts from: the teacher's own, or for a public
    (transformers) teacher the nearest encoder of this project: the raw-waveform CNN with the
    teacher's kernels, strides, channels and input normalisation (so both have the same frames),
    and Transformer layers (Conformer for a wav2vec 2.0-Conformer) of the teacher's width, heads
    and feed-forward size, with MHSA.

    Arguments
    ---------
    teacher : PretrainedEncoder or PublicEncoder

    Returns
    -------
    dict
        ``PretrainedEncoder`` keyword arguments.

    Example
    -------
    >>> hf = {"model_type": "hubert", "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    ...       "conv_stride": [5, 2, 2, 2, 2, 2, 2], "hidden_size": 768, "num_hidden_layers": 12,
    ...       "num_attention_heads": 12, "intermediate_size": 3072}
    >>> teacher = nn.Module()
    >>> teacher.config = {"transformers": hf, "do_normalize": False}
    >>> config = teacher_config(teacher)
    >>> config["frontend"], config["frontend_kwargs"]["strides"], config["encoder"]["d_ffn"]
    ('raw_cnn', [5, 2, 2, 2, 2, 2, 2], 3072)
    """
    config = teacher.config
    if "transformers" not in config:
        return config
    hf = config["transformers"]
    if len(set(hf["conv_dim"])) != 1:
        raise ValueError(
            f"distillation: the teacher's CNN has channels {hf['conv_dim']}; a student's raw_cnn frontend "
            "needs the same number in every layer (pass --frontend=mel_cnn for a student with its own frontend)"
        )
    conformer = hf["model_type"] == "wav2vec2-conformer"
    encoder = {"num_layers": hf["num_hidden_layers"], "d_model": hf["hidden_size"], "nhead": hf["num_attention_heads"],
               "d_ffn": hf["intermediate_size"], "layer_type": "conformer" if conformer else "transformer",
               "attention_type": "regularMHA", "dropout": float(hf.get("hidden_dropout", 0.1))}
    if conformer:
        encoder["kernel_size"] = hf.get("conv_depthwise_kernel_size", 31)
    frontend = {"channels": hf["conv_dim"][-1], "kernel_sizes": list(hf["conv_kernel"]),
                "strides": list(hf["conv_stride"]), "normalisation": "utterance" if config["do_normalize"] else "none"}
    return {"frontend": "raw_cnn", "frontend_kwargs": frontend, "encoder": encoder,
            "input_dropout": float(hf.get("feat_proj_dropout", 0.1)), "max_len": 2500}


def _public_sources(student: PretrainedEncoder, teacher: nn.Module) -> dict[str, torch.Tensor]:
    """{student tensor name: teacher tensor} for everything of a public teacher that maps onto the
    student (see :func:`init_from_public_teacher`)."""
    hf = teacher.config["transformers"]
    source = teacher.state_dict()
    frontend = teacher_config(teacher)["frontend_kwargs"]
    same_cnn = student.config["frontend"] == "raw_cnn" and all(
        student.config["frontend_kwargs"].get(key) == frontend[key] for key in ("channels", "kernel_sizes", "strides"))
    pairs = {}
    if same_cnn:  # another frontend (--frontend=mel_cnn) takes nothing of the teacher's CNN nor projection
        pairs = {"frontend.extractor.norm": "projection.layer_norm", "input_proj": "projection.projection"}
        for i in range(len(hf["conv_dim"])):
            block = f"frontend.extractor.extractor.convblock_{i}.convs"
            pairs[f"{block}.conv_0.conv"] = f"frontend.conv_layers.{i}.conv"
            if hf.get("feat_extract_norm", "layer") == "layer":  # conv -> LayerNorm -> GELU, as ours
                pairs[f"{block}.norm_0.norm"] = f"frontend.conv_layers.{i}.layer_norm"
    layer_type = student.config["encoder"].get("layer_type", "conformer")
    pre_ln = bool(hf.get("do_stable_layer_norm", False))
    mha = student.config["encoder"].get("attention_type") == "regularMHA"
    if layer_type == "transformer" and hf["model_type"] != "wav2vec2-conformer":
        for i in range(min(len(student.context.layers), len(teacher.context.layers))):
            ours, theirs = f"context.layers.{i}", f"context.layers.{i}.layer"
            pairs[f"{ours}.ffn.1"] = f"{theirs}.feed_forward.intermediate_dense"
            pairs[f"{ours}.ffn.4"] = f"{theirs}.feed_forward.output_dense"
            if mha:
                pairs[f"{ours}.mixer.out_proj"] = f"{theirs}.attention.out_proj"
            if pre_ln:  # LN -> attention -> residual, LN -> FFN -> residual: our layer's order
                pairs[f"{ours}.norm_mixer"] = f"{theirs}.layer_norm"
                pairs[f"{ours}.ffn.0"] = f"{theirs}.final_layer_norm"
        if pre_ln and len(student.context.layers) == len(teacher.context.layers):
            pairs["context.norm"] = "context.norm"  # the final LayerNorm (of the last layer's output)
    found = {}
    for ours, theirs in pairs.items():
        for kind in ("weight", "bias"):
            if f"{theirs}.{kind}" in source:
                found[f"{ours}.{kind}"] = source[f"{theirs}.{kind}"]
    if mha and layer_type == "transformer" and hf["model_type"] != "wav2vec2-conformer":
        for i in range(min(len(student.context.layers), len(teacher.context.layers))):
            theirs = f"context.layers.{i}.layer.attention"
            for kind, ours in (("weight", "in_proj_weight"), ("bias", "in_proj_bias")):
                parts = [source.get(f"{theirs}.{proj}.{kind}") for proj in ("q_proj", "k_proj", "v_proj")]
                if all(part is not None for part in parts):
                    found[f"context.layers.{i}.mixer.{ours}"] = torch.cat(parts)  # (3 D, D) / (3 D,)
    return found


@torch.no_grad()
def init_from_public_teacher(student: PretrainedEncoder, teacher: nn.Module) -> list[str]:
    """Copies into ``student`` what of a public (transformers) teacher maps onto it, same shapes only.

    What maps: the CNN convolution weights (our convolutions have no bias: a ``conv_bias=True``
    teacher's are left out), the CNN LayerNorms of a ``feat_extract_norm="layer"`` teacher, the
    feature projection (its LayerNorm -> the CNN's final LayerNorm, its Linear -> ``input_proj``),
    and for a Transformer student of a non-Conformer teacher, in layer i, teacher layer i's
    feed-forward linears, its attention (q, k, v packed into ``in_proj``, and ``out_proj``) for an
    MHSA student, and its norms (and the final norm) when the teacher is pre-LN
    (``do_stable_layer_norm``: the large models), as our layers are. The rest stays random.

    Arguments
    ---------
    student : PretrainedEncoder
        From :func:`teacher_config` (any depth).
    teacher : PublicEncoder
        The teacher.

    Returns
    -------
    list of str
        The names of the student tensors copied from the teacher.
    """
    target = student.state_dict()
    copied = []
    for name, tensor in _public_sources(student, teacher).items():
        if name in target and target[name].shape == tensor.shape:
            target[name].copy_(tensor)
            copied.append(name)
    return copied


def _group(name: str) -> str:
    """A short label of a student tensor for the log: frontend.conv / frontend.norm, input_proj,
    mask_emb, context.layers.<i>.<part>, context.norm."""
    parts = name.split(".")
    if parts[0] == "frontend":
        return "frontend.norm" if "norm" in name else "frontend.conv"
    if parts[0] == "context":
        return ".".join(parts[:4]) if parts[1] == "layers" else ".".join(parts[:2])
    return parts[0]


def build_student(teacher: PretrainedEncoder, init: bool = True, **config) -> PretrainedEncoder:
    """A student encoder for ``teacher``: :func:`student_config`, then :func:`init_from_teacher`.

    Arguments
    ---------
    teacher : PretrainedEncoder or PublicEncoder
        The teacher (only its config and weights are read); a public one gets a student in this
        project's format (:func:`teacher_config`, :func:`init_from_public_teacher`), and one log
        line says what was copied.
    init : bool
        Initialise from the teacher where shapes allow (False: random initialisation).
    **config
        :func:`student_config` arguments (``num_layers`` required).

    Returns
    -------
    PretrainedEncoder

    Example
    -------
    >>> teacher = PretrainedEncoder("mel_cnn", {"num_layers": 4, "d_model": 16, "nhead": 2, "d_ffn": 32,
    ...                                         "attention_type": "regularMHA"})
    >>> student = build_student(teacher, num_layers=2, attention_type="SummaryMixing")
    >>> len(student.context.layers), student.config["encoder"]["attention_type"]
    (2, 'SummaryMixing')
    >>> bool((student.context.layers[1].conv.depthwise.weight == teacher.context.layers[1].conv.depthwise.weight).all())
    True
    """
    student = PretrainedEncoder(**student_config(teacher_config(teacher), **config))
    public = "transformers" in teacher.config
    if init and not public:
        init_from_teacher(student, teacher)
    elif init:
        copied = set(init_from_public_teacher(student, teacher))
        groups: dict[str, list[bool]] = {}
        for name, _ in student.named_parameters():
            groups.setdefault(_group(name), []).append(name in copied)
        listed = {label: [g for g, flags in groups.items() if test(flags)] for label, test in (
            ("copied", all), ("partly", lambda flags: any(flags) and not all(flags)), ("random", lambda f: not any(f)))}
        logger.info(
            "Student of a public %s teacher (its layers and ours differ): %d of %d parameter tensors copied "
            "from it; copied: %s; partly: %s; random: %s", teacher.config["transformers"]["model_type"],
            len(copied), sum(map(len, groups.values())), *(", ".join(v) or "-" for v in listed.values()),
        )
    return student


class FrozenTeacher(nn.Module):
    """A teacher encoder that never trains: frozen, always in eval mode, run without gradients.

    Arguments
    ---------
    encoder : PretrainedEncoder
        The teacher.
    layers : sequence of int
        Which hidden states to return: 1..num_layers (layer outputs; 0 is the encoder input).

    Example
    -------
    >>> enc = PretrainedEncoder("mel_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32})
    >>> teacher = FrozenTeacher(enc, layers=[1, 2]).train()
    >>> targets, mask = teacher(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> targets.shape, mask.shape, teacher.encoder.training, any(p.requires_grad for p in teacher.parameters())
    (torch.Size([2, 2, 48, 16]), torch.Size([2, 48]), False, False)
    """

    def __init__(self, encoder: PretrainedEncoder, layers: Sequence[int]):
        super().__init__()
        num_layers = len(encoder.context.layers)
        layers = [int(layer) for layer in layers]
        if not layers or not all(1 <= layer <= num_layers for layer in layers):
            raise ValueError(
                f"FrozenTeacher: teacher_layers={layers} must be in [1, {num_layers}] (the teacher's layers)"
            )
        self.encoder = encoder
        self.layers = layers
        self.d_model = encoder.d_model
        self.encoder.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True) -> FrozenTeacher:
        """Stays in eval mode whatever ``mode`` (no dropout, no layerdrop)."""
        del mode
        return super().train(False)

    @torch.no_grad()
    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The chosen hidden states.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths.

        Returns
        -------
        targets : torch.Tensor
            (K, B, T, D) for the K chosen layers.
        mask : torch.Tensor
            (B, T) bool, True = real frame.
        """
        _, hidden_states, mask = self.encoder(wav, wav_lens)
        return torch.stack([hidden_states[layer] for layer in self.layers]), mask

    def fingerprint(self) -> str:
        """A hash of the teacher's weights, config and chosen layers (names a target cache)."""
        digest = hashlib.sha256(json.dumps([self.encoder.config, self.layers], sort_keys=True).encode())
        for name, tensor in sorted(self.encoder.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()[:16]


class DistillOutput(NamedTuple):
    """What ``Distiller.forward`` returns."""

    loss: torch.Tensor  # scalar, summed over heads
    l1: torch.Tensor  # (K,) per head, detached
    cos: torch.Tensor  # (K,) mean cosine similarity per head, detached
    num_frames: int


def distillation_loss(
    predictions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, cos_weight: float = 1.0
) -> DistillOutput:
    """DistilHuBERT's loss, summed over heads: L1 + cos_weight * (-log sigmoid(cos) - COS_FLOOR).

    Arguments
    ---------
    predictions, targets : torch.Tensor
        (K, B, T, D).
    mask : torch.Tensor
        (B, T) bool, True = real frame; only real frames count.
    cos_weight : float
        lambda.

    Returns
    -------
    DistillOutput

    Example
    -------
    >>> targets = torch.randn(2, 3, 5, 4)
    >>> mask = torch.ones(3, 5, dtype=torch.bool)
    >>> abs(float(distillation_loss(targets.clone(), targets, mask).loss)) < 1e-6
    True
    >>> float(distillation_loss(torch.zeros_like(targets), targets, mask).loss) > 0
    True
    """
    mask = mask.to(predictions.device)
    weights = mask.to(predictions.dtype)  # (B, T)
    frames = weights.sum().clamp(min=1.0)
    l1 = ((predictions - targets).abs().mean(dim=-1) * weights).sum(dim=(1, 2)) / frames  # (K,)
    cos = F.cosine_similarity(predictions, targets, dim=-1)  # (K, B, T)
    cos_term = ((-F.logsigmoid(cos) - COS_FLOOR) * weights).sum(dim=(1, 2)) / frames  # (K,)
    mean_cos = (cos * weights).sum(dim=(1, 2)) / frames
    loss = (l1 + cos_weight * cos_term).sum()
    return DistillOutput(loss, l1.detach(), mean_cos.detach(), int(mask.sum()))


@register_checkpoint_hooks
class Distiller(nn.Module):
    """Student encoder + one linear prediction head per teacher layer, on the student's output
    (its last layer after the final LayerNorm, so every student parameter learns).

    Arguments
    ---------
    student : PretrainedEncoder
        The student (see :func:`build_student`).
    num_heads : int
        Teacher layers predicted (K).
    target_dim : int
        Width of the teacher's hidden states.
    cos_weight : float
        lambda of :func:`distillation_loss`.

    Example
    -------
    >>> student = PretrainedEncoder("mel_cnn", {"num_layers": 1, "d_model": 16, "nhead": 2, "d_ffn": 32})
    >>> distiller = Distiller(student, num_heads=3, target_dim=24)
    >>> wav, lens = torch.randn(2, 16000), torch.tensor([1.0, 0.5])
    >>> predictions, mask = distiller.predict(wav, lens)
    >>> predictions.shape
    torch.Size([3, 2, 48, 24])
    >>> out = distiller(wav, lens, torch.randn(3, 2, 48, 24), mask)
    >>> out.loss.shape, out.l1.shape
    (torch.Size([]), torch.Size([3]))
    """

    def __init__(self, student: PretrainedEncoder, num_heads: int, target_dim: int, cos_weight: float = 1.0):
        super().__init__()
        self.student = student
        self.heads = nn.ModuleList(nn.Linear(student.d_model, target_dim) for _ in range(num_heads))
        self.cos_weight = cos_weight

    def predict(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, B, T, target_dim) predictions of the heads and the (B, T) frame mask."""
        out, _, mask = self.student(wav, wav_lens)  # (B, T, d_model), after the final LayerNorm
        return torch.stack([head(out) for head in self.heads]), mask

    def forward(
        self, wav: torch.Tensor, wav_lens: torch.Tensor, targets: torch.Tensor, target_mask: torch.Tensor
    ) -> DistillOutput:
        """The loss against ``targets`` (K, B, T', D) with mask (B, T'): frames beyond the shorter
        of the two sequences (a student frontend other than the teacher's) are left out."""
        predictions, mask = self.predict(wav, wav_lens)
        frames = min(predictions.shape[2], targets.shape[2])
        mask = mask[:, :frames] & target_mask[:, :frames].to(mask.device)
        return distillation_loss(
            predictions[:, :, :frames], targets[:, :, :frames].to(predictions.dtype), mask, self.cos_weight
        )

    @mark_as_saver
    def _save(self, path: Path) -> None:
        """Heads to ``path``; the student as ``encoder.ckpt`` + config in the same folder."""
        path = Path(path)
        if path.name == ENCODER_WEIGHTS:
            raise ValueError(f"Distiller: register it under another name than 'encoder' ({ENCODER_WEIGHTS})")
        self.student.save(path.parent)
        torch.save({k: v for k, v in self.state_dict().items() if not k.startswith("student.")}, path)

    @mark_as_loader
    def _load(self, path: Path, end_of_epoch: bool) -> None:
        """Restores the heads from ``path`` and the student from ``encoder.ckpt`` beside it."""
        del end_of_epoch
        path = Path(path)
        self.student.load_state_dict(torch.load(path.parent / ENCODER_WEIGHTS, map_location="cpu", weights_only=True))
        missing, unexpected = self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=False)
        missing = [k for k in missing if not k.startswith("student.")]
        if missing or unexpected:
            raise RuntimeError(
                f"{path}: does not match this Distiller (missing {missing}, unexpected {unexpected}); "
                "was it saved with other teacher_layers or student sizes?"
            )


class TeacherCache:
    """Teacher targets on disk, one fp16 file per utterance, reused across epochs.

    The folder is named by the teacher's fingerprint (weights, config, chosen layers), so a
    cache is never read for another teacher. Files are written atomically (temporary name, then
    ``os.replace``): processes of a distributed run may write the same folder.

    Arguments
    ---------
    folder : str or Path
        Parent folder; the cache lives in ``folder/<teacher fingerprint>``.
    teacher : FrozenTeacher
        The teacher whose targets are stored.

    Example
    -------
    >>> enc = PretrainedEncoder("mel_cnn", {"num_layers": 2, "d_model": 16, "nhead": 2, "d_ffn": 32})
    >>> cache = TeacherCache(getfixture("tmp_path"), FrozenTeacher(enc, [2]))
    >>> wav, lens = torch.randn(2, 16000), torch.tensor([1.0, 0.5])
    >>> targets, mask = cache.targets(["a", "b"], wav, lens)
    >>> again, _ = cache.targets(["a", "b"], wav, lens)  # read from disk
    >>> cache.hits, torch.allclose(targets[:, 0], again[:, 0], atol=1e-2)  # fp16 on disk
    (2, True)
    """

    def __init__(self, folder: str | Path, teacher: FrozenTeacher):
        self.teacher = teacher
        self.folder = Path(folder) / teacher.fingerprint()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0

    def _path(self, utt_id: str) -> Path:
        return self.folder / f"{utt_id}.pt"

    def targets(self, ids: Sequence[str], wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets (K, B, T, D) and mask (B, T) for a batch: from disk when every utterance is
        stored, else computed by the teacher (in fp32) and stored in fp16."""
        paths = [self._path(utt_id) for utt_id in ids]
        mask = self.teacher.encoder.frontend.frame_mask(wav_lens, wav.shape[1]).to(wav.device)
        if all(path.is_file() for path in paths):
            stored = [torch.load(path, map_location="cpu", weights_only=True) for path in paths]
            frames = mask.shape[1]
            targets = torch.zeros(len(self.teacher.layers), len(ids), frames, self.teacher.d_model)
            for row, item in enumerate(stored):
                n = min(item.shape[1], frames)
                targets[:, row, :n] = item[:, :n].float()
            self.hits += len(ids)
            return targets.to(wav.device), mask
        targets, mask = self.teacher(wav, wav_lens)
        lengths = mask.sum(dim=1).tolist()
        for row, (path, n) in enumerate(zip(paths, lengths)):
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            torch.save(targets[:, row, : int(n)].half().cpu().clone(), temporary)
            os.replace(temporary, path)
        return targets, mask
