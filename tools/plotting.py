"""matplotlib for the tools' figures, imported on first use (the ``plots`` extra).

The tools import :func:`pyplot` from here (``tools/`` is on ``sys.path`` when one of them runs),
so that their measuring code, and everything under ``efficient_ssl``, work without matplotlib.
"""

from types import ModuleType


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the non-interactive Agg backend.

    Raises
    ------
    ImportError
        In one line naming the extra to install, when matplotlib is missing.
    """
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError("the tools' figures need matplotlib: pip install efficient_ssl[plots]") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
