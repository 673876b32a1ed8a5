"""Whole models.

wav2vec 2.0 (``efficient_ssl.models.wav2vec2``):
    Wav2Vec2Pretrainer        the self-supervised objective around a PretrainedEncoder
    PretrainedEncoder         frontend + projection + positions + context encoder;
                              ``forward(wav, wav_lens) -> (out, hidden_states, mask)``
    load_pretrained_encoder   ``load_pretrained_encoder(path, device="cpu", random_init=False)``
                              rebuilds a PretrainedEncoder from a pretraining save folder, one
                              of its checkpoints, or an ``encoder.ckpt`` with its
                              ``encoder_config.json`` beside it; ``random_init=True`` gives the
                              same architecture untrained (a control); a transformers model
                              folder or cached hub id gives a ``public.PublicEncoder``
    build_encoder             a recipe's encoder: pretrained (or its random control) or new

Sustainable student-teacher SSL (``efficient_ssl.models.sustainable``; import it from there):
    SustainablePretrainer     the student around a PretrainedEncoder with frontend="progressive_stem"
    EMATeacher                its EMA copy (cosine momentum), updated after every optimiser step

CTC speech recognition (``efficient_ssl.models.asr``):
    CTCModel                  waveform -> [downsampler] -> encoder -> CTC head(s), with the
                              faster-inference strategies (downsampling, upsampling head,
                              layer removal, early exit) and fine-tuning masks
    load_ctc_model            rebuilds a CTCModel saved by ``CTCModel.save``
    export_routing_task       one task of a model routed over a frozen shared encoder: its packed
                              masks + heads, without the encoder (S3-Router's multilingual masks)
    load_routing_task         the shared encoder + a task file -> that task's CTCModel

Distillation, DistilHuBERT-style (``efficient_ssl.models.distill``):
    build_student             a student encoder of any depth / width / mixer, initialised from
                              the teacher where shapes allow
    Distiller                 student + one linear head per teacher layer; L1 + cosine loss
    FrozenTeacher             the frozen teacher returning the chosen hidden states
    TeacherCache              teacher targets on disk (fp16), reused across epochs

MP3S-style probing (``efficient_ssl.models.probes``):
    FrozenEncoder             a frozen encoder + a learned softmax-weighted sum of all its hidden
                              states (``WeightedLayerSum``); optional in-memory cache by utterance
    BiLSTM, MeanPooling, XvectorEmbedding, EcapaEmbedding   probes ``(x, lengths)``
    CosineClassifier          cosine scores for additive-margin softmax losses
"""

from efficient_ssl.models.asr import CTCModel, CTCOutput, export_routing_task, load_ctc_model, load_routing_task
from efficient_ssl.models.distill import Distiller, FrozenTeacher, TeacherCache, build_student
from efficient_ssl.models.probes import (
    BiLSTM,
    CosineClassifier,
    EcapaEmbedding,
    FrozenEncoder,
    MeanPooling,
    WeightedLayerSum,
    XvectorEmbedding,
)
from efficient_ssl.models.wav2vec2 import (
    PretrainedEncoder,
    Wav2Vec2Pretrainer,
    build_encoder,
    load_pretrained_encoder,
)

__all__ = [
    "BiLSTM",
    "CTCModel",
    "CTCOutput",
    "CosineClassifier",
    "Distiller",
    "FrozenTeacher",
    "TeacherCache",
    "build_student",
    "EcapaEmbedding",
    "FrozenEncoder",
    "MeanPooling",
    "WeightedLayerSum",
    "XvectorEmbedding",
    "PretrainedEncoder",
    "Wav2Vec2Pretrainer",
    "build_encoder",
    "load_ctc_model",
    "export_routing_task",
    "load_routing_task",
    "load_pretrained_encoder",
]
