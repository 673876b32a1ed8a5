"""Package `efficient_ssl`: efficient self-supervised speech learning on SpeechBrain.

Every dependency is pinned here, and only here.
"""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    # 2.13.0 matches the local CPU wheel; an unpinned torch pulls GBs of CUDA packages.
    "torch==2.13.0",
    # The only torchaudio reachable here; tools/fix_torchaudio.py makes it import next to CPU torch.
    "torchaudio==2.11.0",
    "speechbrain==1.1.2",
    "hyperpyyaml==1.2.3",
    "sentencepiece==0.2.3",
    "jiwer==4.0.0",
    "soundfile==0.14.0",
    "espeakng-loader==0.2.4",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "matplotlib==3.11.2",
    "tqdm==4.70.1",
    "pytest==9.2.0",
]

setup(
    name="efficient_ssl",
    version="0.1.0",
    description="Efficient self-supervised learning of speech representations (SpeechBrain recipes)",
    python_requires=">=3.10",
    packages=find_packages(include=["efficient_ssl", "efficient_ssl.*"]),
    install_requires=INSTALL_REQUIRES,
    entry_points={
        "console_scripts": [
            "synthesize-corpus=efficient_ssl.data.synth.cli:main",
            "transcribe=efficient_ssl.transcribe:main",
        ]
    },
)
