"""efficient_ssl: efficient self-supervised learning of speech representations.

Sub-packages (data flows one way, recipes -> brains -> models -> nnet):
    data        prepare functions (LibriSpeech, Common Voice, mini corpus), audio pipelines, batching
    efficiency  one cost-measurement API: parameters, FLOPs/MACs, peak memory, time, energy
    nnet        layers: SummaryMixing, encoders, frontends, downsampling
    models      whole models: wav2vec 2.0 pretraining, CTC ASR with the faster-inference strategies, probes
    brains      speechbrain Brain subclasses shared by recipes: pretraining, CTC, probes
    transcribe  the `transcribe` command: audio files -> text with an exported CTC model
"""

__version__ = "0.1.0"
