"""Package `efficient_ssl`: efficient self-supervised speech learning on SpeechBrain.

Requirements here are compatible ranges, so that the package installs as a library next to
other ones. The exact versions this project is developed and tested with (and the CPU build
of torch) are pinned in ``constraints.txt``, which ``make setup`` applies:
``pip install -c constraints.txt -e .[dev]``.

Extras:

- ``synth``: the mini-corpus synthesiser (``efficient_ssl.data.synth``, ``synthesize-corpus``);
- ``plots``: the figures of the tools under ``tools/``;
- ``test``: the test suite and the linter;
- ``energy``: codecarbon, energy and CO2 in ``tools/cost_table.py``;
- ``hf``: transformers, for public pretrained encoders (wav2vec 2.0, HuBERT, WavLM, data2vec-audio
  folders or cached hub ids) behind ``load_pretrained_encoder`` (``efficient_ssl.models.public``);
- ``dev``: all of the above (what ``make setup`` installs).
"""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    # >= 2.6: torch.load defaults to weights_only=True, which speechbrain's checkpoint
    # recovery (plain torch.load calls) relies on to refuse pickled code.
    "torch>=2.6,<3",
    # speechbrain imports it; the project only uses torchaudio.functional.resample.
    "torchaudio>=2.6,<3",
    # Every speechbrain API the project imports exists from 1.0 on (checked against 1.0.0).
    "speechbrain>=1.0,<1.2",
    "hyperpyyaml>=1.2,<2",
    "ruamel.yaml>=0.17.28,<0.19",
    "sentencepiece>=0.1.99,<0.3",
    # >= 0.12.1 bundles libsndfile >= 1.1 (MP3 read and write).
    "soundfile>=0.12.1,<1",
    "numpy>=1.24,<3",
    "tqdm>=4.60,<5",
]

EXTRAS_REQUIRE = {
    "synth": ["espeakng-loader>=0.2.4,<0.3", "scipy>=1.10,<2"],
    "plots": ["matplotlib>=3.7,<4"],
    "test": ["pytest>=8,<10", "jiwer>=3.0,<5", "ruff>=0.17"],
    # energy and CO2 of tools/cost_table.py (without it: the project's own EnergyMeter, no CO2)
    "energy": ["codecarbon>=2.8,<4"],
    # public checkpoints (efficient_ssl.models.public): >= 5 for the hidden-state capture it matches
    "hf": ["transformers>=5.0,<6"],
    # ONNX export, int8 and onnxruntime inference (efficient_ssl.deploy.export)
    "deploy": ["onnx>=1.20,<2", "onnxruntime>=1.20,<2", "onnxscript>=0.5,<1"],
}
EXTRAS_REQUIRE["dev"] = sorted({req for reqs in EXTRAS_REQUIRE.values() for req in reqs})

setup(
    name="efficient_ssl",
    version="0.1.0",
    description="Efficient self-supervised learning of speech representations (SpeechBrain recipes)",
    python_requires=">=3.10",
    packages=find_packages(include=["efficient_ssl", "efficient_ssl.*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={
        "console_scripts": [
            "synthesize-corpus=efficient_ssl.data.synth.cli:main",
            "transcribe=efficient_ssl.transcribe:main",
        ]
    },
)
