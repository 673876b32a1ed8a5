"""Public pretrained encoders (transformers format) behind the project's encoder interface.

wav2vec 2.0, wav2vec 2.0-Conformer, HuBERT, WavLM and data2vec-audio checkpoints in the format of
Hugging Face ``transformers`` (a folder with ``config.json`` + weights, or a hub id already in the
local cache) become a :class:`PublicEncoder`: the same interface as ``PretrainedEncoder``, so every
downstream recipe takes one with ``--pretrained_encoder``:

- ``forward(wav, wav_lens) -> (out, hidden_states, mask)``: ``hidden_states`` are exactly
  transformers' ``output_hidden_states`` (the input of the first layer, then every layer's output),
  ``out`` its ``last_hidden_state``, ``mask`` (B, T) bool, True = real frame;
- ``features`` / ``embed`` / ``context`` (the pieces ``CTCModel`` calls, early exit included),
  ``frontend`` (the CNN: ``hop_samples``, ``frame_mask``, frozen by ``--freeze_frontend``),
  ``d_model``, ``mask_emb`` (transformers' ``masked_spec_embed``), ``keep_layers``, ``config``
  (plain JSON, so ``CTCModel.save`` / ``load_ctc_model`` work) and ``save`` (a transformers folder).

S3-Router routes it (``efficient_ssl.nnet.router`` recognises transformers' attention, feed-forward
and feature-projection linears by name) and distillation takes it as the teacher
(``efficient_ssl.models.distill.teacher_config``: the student is built in this project's format).

The weights run through transformers' own modules; only the glue is written here, and it makes
padding never change the real frames, which transformers guarantees only for some
configurations. Three places let padding leak into real frames there, all fixed here by computing
on real frames only:

- ``feat_extract_norm="group"`` (wav2vec 2.0 / HuBERT / WavLM base): the first convolution's
  GroupNorm normalises every channel over the whole padded sequence; here over the real samples;
- data2vec-audio: its positional convolution stacks several "same" convolutions, so padded
  frames become non-zero after the first and leak through the next; here zeroed between them;
- wav2vec 2.0-Conformer: the depthwise convolution of every layer reads padded frames; here zeroed.

For these the padded-batch outputs equal transformers' outputs for each utterance alone (not its
padded batch); for the other configurations they equal both. The waveform is normalised per
utterance over its real samples when the checkpoint's ``preprocessor_config.json`` says
``do_normalize`` (default: for ``feat_extract_norm="layer"`` models, as transformers advises).

Nothing here downloads: a hub id must already be in the local Hugging Face cache (or downloaded
with ``huggingface-cli download ID --local-dir DIR``). ``transformers`` (the ``[hf]`` extra) is
imported only when a public encoder is built.

Authors
 * efficient_ssl contributors 2026
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from efficient_ssl.nnet.encoders import ContextEncoder
from efficient_ssl.nnet.frontends import ConvFrontend, masked_normalise, sample_mask

FAMILIES = ("wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio")
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
NORMALISE_EPS = 1e-7  # transformers' Wav2Vec2FeatureExtractor


def _transformers():
    """The transformers package, or a one-line reason to install the extra."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError(
            "public (transformers-format) encoders need the hf extra: pip install -e '.[hf]' "
            "(with -c constraints.txt for the tested version)"
        ) from error
    return transformers


def is_public_checkpoint(path: str | Path) -> bool:
    """True for a transformers model folder (``config.json``) or something shaped like a hub id.

    Example
    -------
    >>> is_public_checkpoint("facebook/wavlm-large"), is_public_checkpoint("/no/such/save/folder")
    (True, False)
    """
    path = Path(path)
    if path.is_dir():
        return (path / "config.json").is_file() and not (path / "encoder_config.json").is_file()
    return not path.exists() and HUB_ID.fullmatch(str(path)) is not None


class PublicFrontend(ConvFrontend):
    """transformers' CNN feature encoder with the project's frontend interface.

    Arguments
    ---------
    feature_extractor : nn.Module
        The model's ``feature_extractor`` (its ``conv_layers`` run here one by one).
    config : transformers.PretrainedConfig
        ``conv_kernel``, ``conv_stride``, ``conv_dim`` and ``feat_extract_norm``.
    do_normalize : bool
        Normalise each waveform over its real samples (zero mean, unit variance) first.
    """

    def __init__(self, feature_extractor: nn.Module, config: Any, do_normalize: bool):
        super().__init__(config.conv_kernel, config.conv_stride)
        self.conv_layers = feature_extractor.conv_layers
        self.group_norm = getattr(config, "feat_extract_norm", "layer") == "group"
        self.do_normalize = do_normalize
        self.out_dim = config.conv_dim[-1]
        self.hop_samples = 1
        for stride in self.strides:
            self.hop_samples *= stride

    def input_steps(self, num_samples: torch.Tensor) -> torch.Tensor:
        """The convolutions read the samples themselves."""
        return num_samples

    def forward(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        """(B, S) waveforms, (B,) relative lengths -> (B, T, out_dim) latents (transformers'
        ``extract_features`` before the projection's LayerNorm)."""
        real = sample_mask(wav_lens, wav.shape[1])  # (B, S)
        if self.do_normalize:
            wav = masked_normalise(wav, real, eps=NORMALISE_EPS)
        x = wav.unsqueeze(1)  # (B, 1, S)
        for i, layer in enumerate(self.conv_layers):
            if i == 0 and self.group_norm:  # GroupNorm(C, C) over the real steps only
                x = layer.conv(x)  # (B, C, T0)
                steps = torch.div(real.sum(dim=1) - self.kernel_sizes[0], self.strides[0], rounding_mode="floor") + 1
                mask = torch.arange(x.shape[2], device=x.device) < steps.clamp(min=0).unsqueeze(1)  # (B, T0)
                norm = layer.layer_norm
                x = masked_normalise(x.transpose(1, 2), mask, eps=norm.eps).transpose(1, 2)
                x = layer.activation(x * norm.weight.unsqueeze(1) + norm.bias.unsqueeze(1))
            else:
                x = layer(x)
        return x.transpose(1, 2)  # (B, T, C)


class PublicLayer(nn.Module):
    """One transformers encoder layer called as ``layer(x, mask)`` (True = real frame).

    Called on its own (as ``CTCModel``'s early exit does, on the output of ``embed``) the first
    layer first runs the encoder's positional step, so the layers chain like the encoder.
    """

    def __init__(self, layer: nn.Module, index: int, context: PublicContext):
        super().__init__()
        self.layer = layer
        self.index = index
        self._context = [context]  # not a submodule: the context owns this layer
        self._mask: torch.Tensor | None = None
        if context.family == "wav2vec2-conformer":  # padded frames never reach the depthwise conv
            layer.conv_module.depthwise_conv.register_forward_pre_hook(self._zero_padding)

    def _zero_padding(self, module: nn.Module, args: tuple) -> tuple | None:
        if self._mask is None:
            return None
        return (args[0].masked_fill(~self._mask.unsqueeze(1), 0.0),) + args[1:]  # (B, C, T)

    def run(self, x: torch.Tensor, mask: torch.Tensor | None, extras: dict) -> torch.Tensor:
        """The layer itself on a prepared input; ``extras`` carries WavLM's position bias."""
        context = self._context[0]
        self._mask = mask
        try:
            if context.family == "wavlm":
                if "position_bias" not in extras:
                    extras["position_bias"] = context.position_bias(x)
                x, extras["position_bias"] = self.layer(
                    x, attention_mask=mask, position_bias=extras["position_bias"], index=self.index
                )
                return x
            attention = context.attention_mask(x, mask)
            if context.family == "wav2vec2-conformer":
                positions = context.embed_positions(x) if context.embed_positions is not None else None
                return self.layer(x, attention_mask=attention, relative_position_embeddings=positions)
            return self.layer(x, attention_mask=attention)
        finally:
            self._mask = None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, D), (B, T) bool or None -> (B, T, D)."""
        if self.index == 0:
            x = self._context[0].prepare(x, mask)
        return self.run(x, mask, {})


class PublicContext(nn.Module):
    """transformers' encoder (positional step + layers) with ``ContextEncoder``'s interface.

    ``forward(x, mask) -> (norm(last), hidden_states)`` where ``hidden_states`` are the input
    of the first layer (after the positional convolution) and every layer's output, as
    transformers' ``output_hidden_states``; ``norm`` is the final LayerNorm of the
    stable-layer-norm / Conformer variants, identity for the others (their layers end normed).
    Layerdrop (the checkpoint's ``layerdrop``) draws the same layers on every rank, as
    ``ContextEncoder`` does.
    """

    def __init__(self, encoder: nn.Module, config: Any):
        super().__init__()
        self.family = config.model_type
        self.hf_config = config
        self.stable = self.family == "wav2vec2-conformer" or getattr(config, "do_stable_layer_norm", False)
        self.pos_conv = None if self.family == "wav2vec2-conformer" else encoder.pos_conv_embed
        self.embed_positions = getattr(encoder, "embed_positions", None)
        self.input_norm = nn.Identity() if self.stable else encoder.layer_norm
        self.norm = encoder.layer_norm if self.stable else nn.Identity()
        self.dropout = encoder.dropout
        self.layers = nn.ModuleList(PublicLayer(layer, i, self) for i, layer in enumerate(encoder.layers))
        self.num_layers = len(self.layers)
        self.layerdrop = float(getattr(config, "layerdrop", 0.0))
        self.register_buffer("layerdrop_draws", torch.tensor([torch.initial_seed() % 2**62, 0]))

    skips_parameters = ContextEncoder.skips_parameters
    _layers_to_run = ContextEncoder._layers_to_run

    def attention_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        """transformers' attention mask for this model's attention implementation."""
        if mask is None:
            return None
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(config=self.hf_config, inputs_embeds=x, attention_mask=mask)

    def position_bias(self, x: torch.Tensor) -> torch.Tensor:
        """WavLM: the (B * heads, T, T) relative position bias of the first layer, which every
        layer gates (computed here, so any layer can run first: layerdrop, early exit)."""
        attention = self.layers[0].layer.attention
        frames = x.shape[1]
        bias = attention.compute_bias(frames, frames)  # (heads, T, T)
        return bias.unsqueeze(0).expand(x.shape[0], -1, -1, -1).reshape(-1, frames, frames)

    def prepare(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Padding to zero, positional convolution, [LayerNorm], dropout: the first layer's input."""
        if mask is not None:
            x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        if self.family == "data2vec-audio":  # stacked convolutions: keep the padding at zero
            positions = x
            for layer in self.pos_conv.layers:
                positions = layer(positions.transpose(1, 2)).transpose(1, 2)
                if mask is not None:
                    positions = positions.masked_fill(~mask.unsqueeze(-1), 0.0)
            x = x + positions
        elif self.pos_conv is not None:
            x = x + self.pos_conv(x)
        return self.dropout(self.input_norm(x))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, T, D) projected features, (B, T) bool mask -> (out, hidden_states)."""
        if mask is not None:
            mask = mask.bool()
            if mask.all():
                mask = None
        x = self.prepare(x, mask)
        hidden_states, extras = [x], {}
        for layer, run in zip(self.layers, self._layers_to_run()):
            if run:
                x = layer.run(x, mask, extras)
            hidden_states.append(x)
        return self.norm(x), hidden_states


class PublicEncoder(nn.Module):
    """A transformers wav2vec 2.0-family model as a project encoder (see the module docstring).

    Arguments
    ---------
    model : transformers.PreTrainedModel
        A ``Wav2Vec2Model``, ``Wav2Vec2ConformerModel``, ``HubertModel``, ``WavLMModel`` or
        ``Data2VecAudioModel`` (what ``AutoModel`` gives for these families).
    do_normalize : bool, optional
        Normalise the waveform per utterance; default: for ``feat_extract_norm="layer"``.

    Example
    -------
    >>> from transformers import AutoModel, WavLMConfig
    >>> config = WavLMConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
    ...                      intermediate_size=32, conv_dim=(8, 8), conv_kernel=(10, 3),
    ...                      conv_stride=(5, 4), num_conv_pos_embeddings=4,
    ...                      num_conv_pos_embedding_groups=2, num_buckets=8)
    >>> enc = PublicEncoder(AutoModel.from_config(config))
    >>> out, hidden_states, mask = enc(torch.randn(2, 1600), torch.tensor([1.0, 0.5]))
    >>> out.shape, len(hidden_states), mask.sum(dim=1), enc.frontend.hop_samples
    (torch.Size([2, 80, 16]), 3, tensor([80, 40]), 20)
    """

    def __init__(self, model: nn.Module, do_normalize: bool | None = None):
        super().__init__()
        config = model.config
        if config.model_type not in FAMILIES:
            raise ValueError(
                f"PublicEncoder: model_type {config.model_type!r} is not one of {', '.join(FAMILIES)}"
            )
        if getattr(config, "add_adapter", False):
            raise ValueError("PublicEncoder: checkpoints with add_adapter=True (a strided adapter) are not supported")
        if do_normalize is None:
            do_normalize = getattr(config, "feat_extract_norm", "layer") == "layer"
        self._model = [model]  # the transformers model (not a submodule: its used parts are)
        self.frontend = PublicFrontend(model.feature_extractor, config, do_normalize)
        self.projection = model.feature_projection
        if not isinstance(getattr(model, "masked_spec_embed", None), nn.Parameter):
            model.masked_spec_embed = nn.Parameter(torch.empty(config.hidden_size).uniform_())
        self.mask_emb = model.masked_spec_embed
        self.context = PublicContext(model.encoder, config)
        self.d_model = config.hidden_size

    @property
    def config(self) -> dict:
        """Plain JSON: the transformers config and ``do_normalize`` (``from_config`` rebuilds it)."""
        transformers_config = json.loads(self._model[0].config.to_json_string(use_diff=False))
        return {"transformers": transformers_config, "do_normalize": self.frontend.do_normalize}

    @classmethod
    def from_config(cls, config: dict) -> PublicEncoder:
        """The architecture of ``config`` (as in :attr:`config`), with random weights."""
        transformers = _transformers()
        settings = dict(config["transformers"])
        hf_config = transformers.AutoConfig.for_model(settings.pop("model_type"), **settings)
        return cls(transformers.AutoModel.from_config(hf_config), config.get("do_normalize"))

    def features(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """CNN latents (B, T, C) and their (B, T) mask, True = real frame."""
        return self.frontend(wav, wav_lens), self.frontend.frame_mask(wav_lens, wav.shape[1])

    def embed(self, latents: torch.Tensor, span_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Feature projection, then the mask embedding on ``span_mask`` frames: (B, T, d_model).

        The positional convolution needs the padding mask, so it runs in ``context`` (or in the
        first layer called alone); ``hidden_states[0]`` is after it, as in transformers.
        """
        x = self.projection(latents)
        x = x[0] if isinstance(x, tuple) else x  # some families also return the normed latents
        if span_mask is not None:
            x = torch.where(span_mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        return x

    def keep_layers(self, num_layers: int) -> None:
        """Drops the top layers, keeping the first ``num_layers`` (the config follows)."""
        total = len(self.context.layers)
        if not 1 <= num_layers <= total:
            raise ValueError(f"PublicEncoder.keep_layers: {num_layers} is not in [1, {total}] (the encoder's layers)")
        model = self._model[0]
        self.context.layers = self.context.layers[:num_layers]
        self.context.num_layers = num_layers
        model.encoder.layers = model.encoder.layers[:num_layers]
        model.config.num_hidden_layers = num_layers

    def forward(
        self, wav: torch.Tensor, wav_lens: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """(B, S) waveforms, (B,) relative lengths -> (out, hidden_states, mask), see the module."""
        latents, mask = self.features(wav, wav_lens)
        out, hidden_states = self.context(self.embed(latents), mask)
        return out, hidden_states, mask

    def save(self, folder: str | Path) -> None:
        """Writes a transformers folder (``config.json`` + ``model.safetensors``) and
        ``preprocessor_config.json`` (``do_normalize``); ``load_pretrained_encoder`` reads it back."""
        folder = Path(folder)
        self._model[0].save_pretrained(folder)
        preprocessor = {"feature_extractor_type": "Wav2Vec2FeatureExtractor", "sampling_rate": 16000,
                        "do_normalize": self.frontend.do_normalize, "feature_size": 1, "padding_value": 0.0,
                        "return_attention_mask": True}
        (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2), encoding="utf-8")


def _local_files(path_or_id: str | Path) -> str:
    """A local folder, or the cached snapshot of a hub id; else a one-line error saying how to get it."""
    if Path(path_or_id).is_dir():
        return str(path_or_id)
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(str(path_or_id), local_files_only=True)
    except Exception as error:  # noqa: BLE001 (any cache miss: say how to fetch it)
        raise FileNotFoundError(
            f"{path_or_id}: no such folder, and not a Hugging Face hub id in the local cache "
            f"({type(error).__name__}); this project never downloads: run "
            f"`huggingface-cli download {path_or_id} --local-dir DIR` (or "
            f"huggingface_hub.snapshot_download('{path_or_id}', local_dir=DIR)) where there is "
            "network, then pass --pretrained_encoder=DIR"
        ) from None


def load_public_encoder(path_or_id: str | Path, device: str = "cpu", random_init: bool = False) -> PublicEncoder:
    """A :class:`PublicEncoder` from a transformers folder or a cached hub id, in eval mode.

    Arguments
    ---------
    path_or_id : str or Path
        A folder with ``config.json`` + weights (``*ForCTC`` / ``*ForPreTraining`` checkpoints
        too: their base model is taken), or a hub id in the local cache.
    device : str
        Where to put it.
    random_init : bool
        The same architecture, untrained (a control).

    Returns
    -------
    PublicEncoder
    """
    transformers = _transformers()
    folder = _local_files(path_or_id)
    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    if config.model_type not in FAMILIES:
        raise ValueError(
            f"{path_or_id}: model_type {config.model_type!r} is not a supported speech encoder "
            f"({', '.join(FAMILIES)})"
        )
    do_normalize = None
    preprocessor = Path(folder) / "preprocessor_config.json"
    if preprocessor.is_file():
        do_normalize = json.loads(preprocessor.read_text(encoding="utf-8")).get("do_normalize")
    if random_init:
        model = transformers.AutoModel.from_config(config)
    else:
        model = transformers.AutoModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    return PublicEncoder(model, do_normalize).to(device).eval()
