"""CTC speech recognition around a (pretrained) encoder, with the faster-inference strategies
of paper 5 (Zaiem et al. 2023) as constructor arguments:

- sequence downsampling (``downsampling``, ``downsampling_factor``) of the waveform before the
  frontend (the paper's) or of the frontend's frames (``downsampling_at``; ``"auto"``: frames for
  log-mel frontends), and a CTC head that unfolds ``upsampling`` tokens per frame
  (:mod:`efficient_ssl.nnet.downsampling`);
- removal of the top encoder layers (``keep_layers``);
- early exit (``exit_layers`` + ``exit_entropy``): a CTC head after each listed layer, all trained
  together; at inference an utterance leaves at the first exit whose mean per-frame output
  entropy (nats) is below the threshold.

and S3-Router (paper 4, :mod:`efficient_ssl.nnet.router`, ``routing``): the encoder is frozen and
learned masks over its weights (or over its feed-forward hidden units) are trained instead.

Fine-tuning also masks spans of frames and of latent channels (the SpecAugment-style masking of
wav2vec 2.0 fine-tuning, ``mask_prob`` / ``channel_mask_prob``), in training only.

A trained model is saved with :meth:`CTCModel.save` (``ctc_model.ckpt`` + ``ctc_model.json``)
and rebuilt by :func:`load_ctc_model`, without the recipe's YAML.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from efficient_ssl.models.wav2vec2 import PretrainedEncoder, compute_span_mask, encoder_from_config, load_pretrained_encoder
from efficient_ssl.nnet import router
from efficient_ssl.nnet.downsampling import (
    UpsamplingCTCHead,
    build_downsampler,
    build_frame_downsampler,
    resolve_placement,
)
from efficient_ssl.nnet.router import build_router, fold

MODEL_WEIGHTS = "ctc_model.ckpt"
MODEL_CONFIG = "ctc_model.json"


class CTCOutput(NamedTuple):
    """What :class:`CTCModel` returns.

    logits : list of torch.Tensor
        One (B, T, vocab) tensor per exit, the top layer last (a single one without early exit;
        at early-exit inference, a single one holding each utterance's exit logits).
    mask : torch.Tensor
        (B, T) bool, True = real output frame.
    exit_layer : torch.Tensor
        (B,) the layer each utterance's logits come from (the top layer without early exit).
    """

    logits: list[torch.Tensor]
    mask: torch.Tensor
    exit_layer: torch.Tensor


class CTCModel(nn.Module):
    """Waveform -> CTC logits: [downsampler] -> frontend -> [downsampler] -> encoder -> CTC head(s).

    Arguments
    ---------
    encoder : PretrainedEncoder
        From ``load_pretrained_encoder`` (fine-tuning) or built from scratch.
    vocab_size : int
        CTC outputs (blank included).
    downsampling : str
        ``"none"``, ``"signal"``, ``"avgpool"`` or ``"conv"``.
    downsampling_factor : int
        1 with ``"none"``, else 2, 3, 4, ...
    downsampling_kernel : int, optional
        Conv / pooling window, in samples on the waveform (default: 161 / the factor), in frames
        on frames (default: the factor).
    downsampling_at : str
        ``"waveform"`` (before the frontend, the paper's), ``"frames"`` (on the frontend's
        latents, before the projection) or ``"auto"``: frames for log-mel frontends (mel_cnn,
        progressive_stem) with avgpool / conv, else waveform (raw_cnn, public checkpoints,
        signal). ``config`` keeps the resolved placement; ``downsampler`` is applied there.
    upsampling : int
        CTC outputs per encoder frame (1 = a plain linear head).
    keep_layers : int, optional
        Keep only the first ``keep_layers`` encoder layers.
    exit_layers : sequence of int, optional
        Layers (1-based) with an early-exit head; the top layer always has one.
    exit_entropy : float, optional
        Early-exit threshold on the mean per-frame entropy (nats); None = always run every layer.
    freeze_frontend : bool
        Keep the frontend's weights fixed (the paper freezes the SSL CNN).
    mask_prob, mask_length : float, int
        Training-time span masking of frames with the encoder's mask embedding (0 = off).
    channel_mask_prob, channel_mask_length : float, int
        Training-time zeroing of spans of latent channels (0 = off).
    sample_rate : int
        Of the input waveforms.
    routing : str, optional
        S3-Router: None (weight fine-tuning), ``"unstructured"`` (the paper: top-k masks over
        the routed weights), ``"rows"`` / ``"columns"`` (whole units of the routed weights) or
        ``"structured"`` (masks over the feed-forward hidden units, foldable into smaller
        layers). The encoder is then frozen (unless ``train_weights``); scores and heads train.
    kept : float
        Routing: fraction of each routed weight (or block's hidden units) kept.
    route_select : str or list of str
        Routing: ``"all"``, ``"ffn"`` or categories (see ``efficient_ssl.nnet.router``). With
        ``"structured"``: ``"all"`` / ``"ffn"`` mask the feed-forward hidden units,
        ``["ffn", "mixer"]`` SummaryMixing's local and summary hidden units too.
    score_init : str
        Routing: ``"kaiming"``, ``"magnitude"``, ``"magnitude_rank"`` or ``"magnitude_scale"``.
    route_ste : str
        Routing: ``"ste"`` or ``"sigmoid"`` straight-through gradient.
    train_weights : bool
        Routing: co-train the encoder's weights with the masks.

    Example
    -------
    >>> enc = PretrainedEncoder("mel_cnn", {"num_layers": 3, "d_model": 16, "nhead": 2, "d_ffn": 32})
    >>> model = CTCModel(enc, vocab_size=10, downsampling="conv", downsampling_factor=2, upsampling=2)
    >>> model.config["downsampling_at"]  # auto, for a mel_cnn frontend
    'frames'
    >>> out = model(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> out.logits[-1].shape, out.mask.sum(dim=1)
    (torch.Size([2, 48, 10]), tensor([48, 24]))
    """

    def __init__(
        self,
        encoder: PretrainedEncoder,
        vocab_size: int,
        downsampling: str = "none",
        downsampling_factor: int = 1,
        downsampling_kernel: int | None = None,
        downsampling_at: str = "auto",
        upsampling: int = 1,
        keep_layers: int | None = None,
        exit_layers: Sequence[int] | None = None,
        exit_entropy: float | None = None,
        freeze_frontend: bool = False,
        mask_prob: float = 0.0,
        mask_length: int = 10,
        channel_mask_prob: float = 0.0,
        channel_mask_length: int = 10,
        sample_rate: int = 16000,
        routing: str | None = None,
        kept: float = 0.9,
        route_select: str | Sequence[str] = "all",
        score_init: str = "kaiming",
        route_ste: str = "ste",
        train_weights: bool = False,
    ):
        super().__init__()
        if keep_layers is not None:
            encoder.keep_layers(keep_layers)
        num_layers = len(encoder.context.layers)
        exits = sorted({int(layer) for layer in (exit_layers or [])} | {num_layers})
        if exits[0] < 1 or exits[-1] > num_layers:
            raise ValueError(
                f"CTCModel: exit_layers {list(exit_layers or [])} must lie in [1, {num_layers}] "
                "(the encoder's layers, after keep_layers)"
            )
        frontend = encoder.config.get("frontend")  # None for public checkpoints (a waveform CNN)
        downsampling_at = resolve_placement(downsampling_at, downsampling, frontend)
        self.config = {
            "encoder": encoder.config,
            "vocab_size": vocab_size,
            "downsampling": downsampling,
            "downsampling_factor": downsampling_factor,
            "downsampling_kernel": downsampling_kernel,
            "downsampling_at": downsampling_at,
            "upsampling": upsampling,
            "keep_layers": None,  # already applied to the encoder config
            "exit_layers": exits,
            "exit_entropy": exit_entropy,
            "freeze_frontend": freeze_frontend,
            "mask_prob": mask_prob,
            "mask_length": mask_length,
            "channel_mask_prob": channel_mask_prob,
            "channel_mask_length": channel_mask_length,
            "sample_rate": sample_rate,
            "routing": routing,
            "kept": kept,
            "route_select": route_select if isinstance(route_select, str) else list(route_select),
            "score_init": score_init,
            "route_ste": route_ste,
            "train_weights": train_weights,
        }
        self.downsampling_at = downsampling_at
        if downsampling_at == "frames":
            self.downsampler = build_frame_downsampler(
                downsampling, downsampling_factor, encoder.frontend.out_dim, downsampling_kernel
            )
        else:
            self.downsampler = build_downsampler(downsampling, downsampling_factor, downsampling_kernel)
        self.encoder = encoder
        self.exits = exits
        self.heads = nn.ModuleList(
            UpsamplingCTCHead(encoder.d_model, vocab_size, upsampling) for _ in exits
        )
        self.upsampling = upsampling
        self.exit_entropy = exit_entropy
        if freeze_frontend:
            encoder.frontend.requires_grad_(False)
        # Without span masking the mask embedding gets no gradient: frozen, so that distributed
        # training (DDP) never waits for it.
        encoder.mask_emb.requires_grad_(mask_prob > 0)
        # After the freezing above: routing freezes the whole encoder but its scores.
        build_router(encoder, routing, kept, route_select, score_init, route_ste, train_weights)

    @property
    def frames_per_second(self) -> float:
        """CTC output frames per second of audio (either placement divides the rate by the factor)."""
        hop = self.encoder.frontend.hop_samples * self.config["downsampling_factor"]
        return self.config["sample_rate"] / hop * self.upsampling

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> CTCOutput:
        """Logits of every exit (training, or no early exit) or of each utterance's exit.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1] (downsampling keeps them).

        Returns
        -------
        CTCOutput
        """
        latents, mask = self.features(wav, wav_lens)  # (B, T, C), (B, T)
        span_mask = None
        if self.training:
            latents = self._mask_channels(latents)
            if self.config["mask_prob"] > 0:
                span_mask = compute_span_mask(mask, self.config["mask_prob"], self.config["mask_length"])
        x = self.encoder.embed(latents, span_mask)  # (B, T, D)
        out_mask = mask.repeat_interleave(self.upsampling, dim=1)  # (B, T * upsampling)
        if not self.training and self.exit_entropy is not None and len(self.exits) > 1:
            logits, exit_layer = self._early_exit(x, mask)
            return CTCOutput([logits], out_mask, exit_layer)
        out, hidden_states = self.encoder.context(x, mask)
        norm = self.encoder.context.norm
        logits = [head(norm(hidden_states[layer])) for head, layer in zip(self.heads[:-1], self.exits)]
        logits.append(self.heads[-1](out))
        exit_layer = torch.full((x.shape[0],), self.exits[-1], device=x.device)
        return CTCOutput(logits, out_mask, exit_layer)

    def features(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frontend latents at the downsampled rate and their mask.

        Arguments
        ---------
        wav : torch.Tensor
            (B, S) waveforms, right-padded.
        wav_lens : torch.Tensor
            (B,) relative lengths in [0, 1] (downsampling the waveform keeps them).

        Returns
        -------
        latents : torch.Tensor
            (B, T, C), T about (frontend frames) / factor.
        mask : torch.Tensor
            (B, T) bool, True = real frame.
        """
        if self.downsampler is None:
            return self.encoder.features(wav, wav_lens)
        if self.downsampling_at == "waveform":
            return self.encoder.features(self.downsampler(wav), wav_lens)  # wav (B, ~S / factor)
        latents, mask = self.encoder.features(wav, wav_lens)  # (B, T0, C), (B, T0)
        return self.downsampler(latents, mask)  # (B, ceil(T0 / factor), C), (B, ceil(T0 / factor))

    def _mask_channels(self, latents: torch.Tensor) -> torch.Tensor:
        """Zeroes spans of channels, the same ones for every frame of an utterance."""
        prob, length = self.config["channel_mask_prob"], self.config["channel_mask_length"]
        if prob <= 0:
            return latents
        channels = torch.ones(latents.shape[0], latents.shape[2], dtype=torch.bool, device=latents.device)
        drop = compute_span_mask(channels, prob, min(length, latents.shape[2]))  # (B, C)
        return latents.masked_fill(drop.unsqueeze(1), 0.0)

    def _early_exit(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Runs the layers on the utterances that have not exited yet.

        Returns the (B, T * upsampling, vocab) logits of each utterance's exit and the (B,) exits.
        """
        batch, frames = mask.shape
        context = self.encoder.context
        logits = x.new_zeros(batch, frames * self.upsampling, self.config["vocab_size"])
        exit_layer = torch.full((batch,), self.exits[-1], device=x.device)
        active = torch.arange(batch, device=x.device)  # utterances still running
        heads = dict(zip(self.exits, self.heads))
        for depth, layer in enumerate(context.layers, start=1):
            x = layer(x, None if mask.all() else mask)
            if depth not in heads:
                continue
            exit_logits = heads[depth](context.norm(x))  # (A, T' * up, V)
            if depth == self.exits[-1]:
                done = torch.ones(len(active), dtype=torch.bool, device=x.device)
            else:
                done = frame_entropy(exit_logits, mask.repeat_interleave(self.upsampling, 1)) < self.exit_entropy
            logits[active[done], : exit_logits.shape[1]] = exit_logits[done]
            exit_layer[active[done]] = depth
            active, x, mask = active[~done], x[~done], mask[~done]
            if len(active) == 0:
                break
            frames_left = int(mask.sum(dim=1).max())  # real frames come first: trim the padding
            x, mask = x[:, :frames_left], mask[:, :frames_left]
        return logits, exit_layer

    def save(self, folder: str | Path) -> Path:
        """Writes ``ctc_model.ckpt`` (state_dict) and ``ctc_model.json`` (config) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), folder / MODEL_WEIGHTS)
        with open(folder / MODEL_CONFIG, "w", encoding="utf-8") as f:
            json.dump(self.config, f, indent=2)
        return folder


def frame_entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real frames of the entropy (nats) of the softmax of ``logits``.

    Arguments
    ---------
    logits : torch.Tensor
        (B, T, V).
    mask : torch.Tensor
        (B, T) bool, True = real frame.

    Returns
    -------
    torch.Tensor
        (B,).

    Example
    -------
    >>> frame_entropy(torch.zeros(1, 3, 4), torch.ones(1, 3, dtype=torch.bool))  # uniform: log 4
    tensor([1.3863])
    """
    log_p = logits.float().log_softmax(dim=-1)
    entropy = -(log_p.exp() * log_p).sum(dim=-1)  # (B, T)
    mask = mask[:, : entropy.shape[1]].float()
    return (entropy * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def load_ctc_model(folder: str | Path, device: str = "cpu", fold_routing: bool = True) -> CTCModel:
    """Rebuilds a :class:`CTCModel` saved by :meth:`CTCModel.save`, in eval mode, for inference:
    a routed model comes back folded (plain weights, see ``efficient_ssl.nnet.router.fold``).

    The weights are read with ``torch.load(..., weights_only=True)``: a file that holds
    pickled code is refused (``UnpicklingError``).

    Arguments
    ---------
    folder : str or Path
        Holding ``ctc_model.ckpt`` and ``ctc_model.json``.
    device : str
        Where to put it.
    fold_routing : bool
        Fold the S3-Router masks of a routed model (False: keep its routers and scores).

    Returns
    -------
    CTCModel
    """
    folder = Path(folder)
    for name in (MODEL_WEIGHTS, MODEL_CONFIG):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name}: missing; pass the model folder written by a fine-tuning run "
                "(<output_folder>/model)"
            )
    config = json.loads((folder / MODEL_CONFIG).read_text(encoding="utf-8"))
    config.setdefault("downsampling_at", "waveform")  # saved before the key existed
    encoder = encoder_from_config(config.pop("encoder"))
    model = CTCModel(encoder, **config)
    model.load_state_dict(torch.load(folder / MODEL_WEIGHTS, map_location="cpu", weights_only=True))
    if fold_routing and config.get("routing"):
        fold(model)  # S3-Router masks become plain (and, for hidden units, smaller) weights
    return model.to(device).eval()


ROUTING_TASK = "routing_task.pt"


def export_routing_task(model_folder: str | Path, shared_encoder: str | Path, folder: str | Path) -> Path:
    """Writes ``folder/routing_task.pt``: what one task (a language) of a model routed over a
    frozen shared encoder adds to it, i.e. the packed masks (1 bit per routed weight, or per
    unit) and every tensor outside the encoder (the CTC heads), with the model's config.

    Arguments
    ---------
    model_folder : str or Path
        A routed model saved by ``CTCModel.save`` (``<output_folder>/model``).
    shared_encoder : str or Path
        The encoder it was routed over (anything ``load_pretrained_encoder`` takes); refused if
        the model's frozen weights differ from it (``train_weights``, batch-norm statistics).
    folder : str or Path
        Where to write.

    Returns
    -------
    Path
        The task file.
    """
    model = load_ctc_model(model_folder, fold_routing=False)
    task = router.pack_task(model)
    config = dict(model.config)
    config.pop("encoder")
    shared = load_pretrained_encoder(shared_encoder)
    layers = len(model.encoder.context.layers)
    if layers < len(shared.context.layers):  # keep_layers: the task keeps the shared encoder's first layers
        config["keep_layers"] = layers
        shared.keep_layers(layers)
    if task["shared_fingerprint"] != router.frozen_fingerprint(shared):
        raise ValueError(f"{model_folder}: its encoder weights differ from {shared_encoder}; a task file needs "
                         "them frozen (routing with train_weights=False, no batch-norm statistics to update)")
    task["config"] = json.dumps(config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ROUTING_TASK
    tmp = path.with_suffix(".tmp")
    torch.save(task, tmp)
    tmp.replace(path)
    return path


def load_routing_task(
    task: str | Path, shared_encoder: str | Path, device: str = "cpu", fold_routing: bool = True
) -> CTCModel:
    """Reassembles one task's model from the shared encoder and its task file.

    Arguments
    ---------
    task : str or Path
        ``routing_task.pt`` from :func:`export_routing_task`, or its folder.
    shared_encoder : str or Path
        The shared encoder (anything ``load_pretrained_encoder`` takes); refused, with a one-line
        reason, if it is not the one the task was trained over.
    device : str
        Where to put the model.
    fold_routing : bool
        Fold the masks into plain weights (inference); False keeps the routers.

    Returns
    -------
    CTCModel
        In eval mode: it computes what the routed model computed.
    """
    path = Path(task)
    path = path / ROUTING_TASK if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; pass the task folder written by a routed fine-tuning run "
                                "(<output_folder>/task) or its routing_task.pt")
    state = torch.load(path, map_location="cpu", weights_only=True)
    config = json.loads(state["config"])
    config.setdefault("downsampling_at", "waveform")  # saved before the key existed
    model = CTCModel(load_pretrained_encoder(shared_encoder), **config)
    router.load_task(model, state, source=str(path))
    if fold_routing:
        fold(model)
    return model.to(device).eval()
