"""Data: prepare functions, the mini-corpus synthesiser and the shared audio pipeline.

Modules
    librispeech   prepare_librispeech: LibriSpeech as distributed -> <split>.csv
    common_voice  prepare_common_voice: Common Voice as distributed -> <lang>/<split>.csv
    labels        prepare_mini_labels: the mini corpus's speaker / emotion / intent labels -> probe manifests
    voxceleb      prepare_voxceleb1: VoxCeleb1 as distributed -> train / valid / test + trials (speaker probes)
    iemocap       prepare_iemocap: IEMOCAP as distributed -> one leave-one-session-out fold, 4 emotions
    slurp         prepare_slurp: SLURP as distributed -> <split>.csv, one row per recording (intent probes)
    tokens        CharTokenizer, SentencePieceTokenizer, load_tokenizer (blank = 0)
    manifest      shared by the prepare functions: atomic CSV, saved options, audio checks, bad-file reports
    text          per-language transcript normalisation
    pipeline      read_audio, datasets over manifests, loader kwargs, dataio_prepare
    synth         synthesiser of the eSpeak mini corpus in the same layouts
"""

from efficient_ssl.data.common_voice import prepare_common_voice
from efficient_ssl.data.iemocap import prepare_iemocap
from efficient_ssl.data.labels import prepare_mini_labels
from efficient_ssl.data.librispeech import prepare_librispeech
from efficient_ssl.data.pipeline import (
    DataBundle,
    dataio_prepare,
    make_dataset,
    make_loader_kwargs,
    read_audio,
)
from efficient_ssl.data.slurp import prepare_slurp
from efficient_ssl.data.text import normalize_text
from efficient_ssl.data.voxceleb import prepare_voxceleb1

__all__ = [
    "DataBundle",
    "dataio_prepare",
    "make_dataset",
    "make_loader_kwargs",
    "normalize_text",
    "prepare_common_voice",
    "prepare_iemocap",
    "prepare_librispeech",
    "prepare_mini_labels",
    "prepare_slurp",
    "prepare_voxceleb1",
    "read_audio",
]
