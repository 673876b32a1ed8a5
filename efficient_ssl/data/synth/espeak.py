"""Speech from eSpeak NG, driven through ctypes.

The PyPI package ``espeakng-loader`` ships the eSpeak NG shared library and its
data folder but no command-line tool, so this module calls the C API directly:
``espeak_Initialize`` (synchronous mode), ``espeak_SetSynthCallback``,
``espeak_SetVoiceByName``, ``espeak_SetParameter`` and ``espeak_Synth``.

eSpeak NG keeps state in C globals that carry from one utterance into the next
(a pitch-flutter phase, an automatic gain control, voicing-noise generators), and
re-initialising does not reset all of it. Each :class:`Espeak` therefore loads its own
private copy of the library: every instance starts from the same fresh state, and its
output depends only on the calls made on it, whatever ran before in the process.

Authors
 * efficient_ssl contributors
"""

import _ctypes
import ctypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from types import ModuleType

import numpy as np

SAMPLE_RATE = 22050  # Hz, eSpeak NG's native output rate

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAMETER_IDS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}
_STATUS = {-1: "internal error", 1: "buffer full", 2: "not found"}
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class Voice:
    """A way of speaking: an eSpeak NG voice name and its prosody parameters.

    Arguments
    ---------
    name : str
        Voice name as eSpeak NG knows it: a language file name from
        ``espeak-ng-data/lang`` (``"en-us"``, ``"cy"``), optionally with a variant
        from ``espeak-ng-data/voices/!v`` (``"en-us+f3"``, ``"eu+klatt2"``).
    rate : int
        Speaking rate in words per minute (80 to 450).
    pitch : int
        Base pitch, 0 to 100 (50 is the voice's own).
    range : int
        Pitch range, 0 (monotone) to 100 (50 is the voice's own).
    volume : int
        Amplitude, 0 to 200 (100 is normal).
    wordgap : int
        Extra pause between words, in units of 10 ms.

    Example
    -------
    >>> Voice("en-us+f3", rate=160).rate
    160
    """

    name: str
    rate: int = 175
    pitch: int = 50
    range: int = 50
    volume: int = 100
    wordgap: int = 0


def _espeakng_loader() -> ModuleType:
    """The ``espeakng_loader`` package (eSpeak NG's library and data), imported on first use so
    that the rest of ``efficient_ssl`` works without the ``synth`` extra."""
    try:
        import espeakng_loader
    except ImportError as error:
        raise ImportError(
            "the corpus synthesiser needs espeakng-loader (eSpeak NG): pip install efficient_ssl[synth]"
        ) from error
    return espeakng_loader


def _load_private_copy() -> ctypes.CDLL:
    """Loads a fresh copy of the eSpeak NG library, with its own C globals."""
    source = _espeakng_loader().get_library_path()
    if hasattr(os, "memfd_create"):  # Linux: an anonymous file, never on a noexec mount
        fd = os.memfd_create("espeak-ng")
        with open(source, "rb") as library, os.fdopen(fd, "wb", closefd=False) as copy:
            shutil.copyfileobj(library, copy)
        try:
            return ctypes.CDLL(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)  # the loaded mapping keeps the file alive
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(source)[1]) as copy:
        with open(source, "rb") as library:
            shutil.copyfileobj(library, copy)
        copy.flush()
        return ctypes.CDLL(copy.name)


class Espeak:
    """An eSpeak NG engine with a state of its own.

    Use it as a context manager, or call :meth:`close`, to unload the library copy.

    Example
    -------
    >>> with Espeak() as engine:
    ...     first = engine.synthesize("Hello world.", Voice("en-us"), seed=1)
    >>> with Espeak() as engine:
    ...     again = engine.synthesize("Hello world.", Voice("en-us"), seed=1)
    >>> first.dtype, 0.3 < len(first) / SAMPLE_RATE < 3.0, bool((first == again).all())
    (dtype('int16'), True, True)
    """

    def __init__(self) -> None:
        self._lib = _load_private_copy()
        self._libc = ctypes.CDLL(None)
        self._lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data_path = _espeakng_loader().get_data_path().encode()
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate != SAMPLE_RATE:
            raise RuntimeError(
                f"eSpeak NG failed to start from {data_path.decode()} (returned {rate}): "
                "reinstall espeakng-loader"
            )
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept alive with self
        self._lib.espeak_SetSynthCallback(self._callback)

    def close(self) -> None:
        """Stops the engine and unloads its library copy."""
        if self._lib is not None:
            self._lib.espeak_Terminate()
            _ctypes.dlclose(self._lib._handle)
            self._lib = None

    def __enter__(self) -> "Espeak":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _collect(self, wave, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wave, shape=(n_samples,)).copy())
        return 0  # 0 = go on synthesising

    def synthesize(self, text: str, voice: Voice, seed: int = 0) -> np.ndarray:
        """Speaks ``text`` with ``voice``.

        Arguments
        ---------
        text : str
            UTF-8 text; punctuation shapes pauses and intonation.
        voice : Voice
            Voice name and prosody; every parameter is set on each call.
        seed : int
            Seed of eSpeak's noise generators (breath and voicing noise).

        Returns
        -------
        wave : numpy.ndarray
            Shape (samples,), int16 at ``SAMPLE_RATE`` Hz.
        """
        status = self._lib.espeak_SetVoiceByName(voice.name.encode())
        if status != 0:
            raise ValueError(
                f"eSpeak NG voice {voice.name!r} is unknown ({_STATUS.get(status, status)}): "
                "use a file name from espeak-ng-data/lang, optionally '+' a variant "
                "from espeak-ng-data/voices/!v"
            )
        for parameter, parameter_id in _PARAMETER_IDS.items():
            self._lib.espeak_SetParameter(parameter_id, getattr(voice, parameter), 0)
        self._lib.espeak_ng_SetRandSeed(seed)
        self._libc.srand(seed)  # eSpeak's breath noise also draws from libc rand()
        self._chunks = []
        encoded = text.encode("utf-8")
        status = self._lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed ({_STATUS.get(status, status)}) on {text!r}")
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)
