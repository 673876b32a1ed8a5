"""efficient_ssl: efficient self-supervised learning of speech representations.

Sub-packages (data flows one way, recipes -> brains -> models -> nnet):
    data        prepare functions (LibriSpeech, Common Voice, mini corpus), audio pipelines, batching
    efficiency  one cost-measurement API: parameters, FLOPs/MACs, peak memory, time, energy
    nnet        layers: SummaryMixing, encoders, frontends, downsampling, S3-Router masks
    models      whole models: wav2vec 2.0 pretraining, probes, students
    brains      speechbrain Brain subclasses shared by recipes
"""

__version__ = "0.1.0"
