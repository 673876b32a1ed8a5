"""Whole models.

wav2vec 2.0 (``efficient_ssl.models.wav2vec2``):
    Wav2Vec2Pretrainer        the self-supervised objective around a PretrainedEncoder
    PretrainedEncoder         frontend + projection + positions + context encoder;
                              ``forward(wav, wav_lens) -> (out, hidden_states, mask)``
    load_pretrained_encoder   ``load_pretrained_encoder(path, device="cpu", random_init=False)``
                              rebuilds a PretrainedEncoder from a pretraining save folder, one
                              of its checkpoints, or an ``encoder.ckpt`` with its
                              ``encoder_config.json`` beside it; ``random_init=True`` gives the
                              same architecture untrained (a control)
"""

from efficient_ssl.models.wav2vec2 import (
    PretrainedEncoder,
    Wav2Vec2Pretrainer,
    load_pretrained_encoder,
)

__all__ = ["PretrainedEncoder", "Wav2Vec2Pretrainer", "load_pretrained_encoder"]
