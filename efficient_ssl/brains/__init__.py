"""Brains.

``efficient_ssl.brains.probe``: CTCProbeBrain, UtteranceProbeBrain (MP3S-style probes on a
frozen encoder) and the recipe helpers load_probe_modules, label_pipeline,
save_probe_result.
"""

from efficient_ssl.brains.probe import (
    CTCProbeBrain,
    UtteranceProbeBrain,
    label_pipeline,
    load_probe_modules,
    save_probe_result,
)

__all__ = [
    "CTCProbeBrain",
    "UtteranceProbeBrain",
    "label_pipeline",
    "load_probe_modules",
    "save_probe_result",
]
