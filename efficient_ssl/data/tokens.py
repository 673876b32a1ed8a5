"""Text tokenizers for CTC: characters (LibriSpeech) and, later, BPE (Common Voice).

Every tokenizer has the same small interface, so a Brain never cares which one it holds:
``encode(text) -> list[int]``, ``decode(ids) -> str``, ``vocab_size``, ``blank_index``,
``save(path)`` / ``load(path)``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

BLANK = "<blank>"
SPACE = " "


def manifest_texts(csv_paths: str | os.PathLike | Sequence[str | os.PathLike], column: str = "wrd") -> Iterable[str]:
    """Yields the transcripts (``column``) of one manifest or several."""
    paths = [csv_paths] if isinstance(csv_paths, (str, os.PathLike)) else csv_paths
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                yield row[column]


class CharTokenizer:
    """Character vocabulary with the CTC blank at index 0.

    Arguments
    ---------
    chars : Sequence[str]
        The characters (the space included if words are separated), blank excluded.

    Example
    -------
    >>> tok = CharTokenizer.from_texts(["HELLO WORLD", "HOLD"])
    >>> tok.vocab_size
    9
    >>> ids = tok.encode("HELD")
    >>> tok.decode(ids)
    'HELD'
    >>> tok.blank_index
    0
    """

    def __init__(self, chars: Sequence[str]):
        if BLANK in chars:
            raise ValueError(f"{BLANK!r} is reserved for the CTC blank")
        self.symbols = [BLANK, *chars]
        self.index = {c: i for i, c in enumerate(self.symbols)}
        self.blank_index = 0

    @classmethod
    def from_texts(cls, texts: Iterable[str], base_chars: str = "") -> "CharTokenizer":
        """Builds the vocabulary from ``base_chars`` and every character seen in ``texts`` (sorted).

        ``base_chars`` (e.g. the alphabet) guards against a character that the training text
        happens to lack but a test sentence holds.
        """
        chars: set[str] = set(base_chars)
        for text in texts:
            chars.update(text)
        return cls(sorted(chars))

    @property
    def vocab_size(self) -> int:
        """Number of output units of the CTC head, blank included."""
        return len(self.symbols)

    def encode(self, text: str) -> list[int]:
        """Maps ``text`` to ids; unknown characters are an error naming them."""
        unknown = sorted({c for c in text if c not in self.index})
        if unknown:
            raise KeyError(
                f"characters {unknown} of {text!r} are not in the tokenizer's vocabulary; "
                "rebuild it from the training manifest (delete tokenizer.json in the save folder)"
            )
        return [self.index[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """Maps ids back to text (blanks dropped, no CTC collapsing: do that before)."""
        return "".join(self.symbols[i] for i in ids if i != self.blank_index)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the vocabulary as JSON, atomically."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps({"type": "char", "symbols": self.symbols}, ensure_ascii=False))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CharTokenizer":
        """Reads a vocabulary written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        if data.get("type") != "char" or data["symbols"][0] != BLANK:
            raise ValueError(f"{path} is not a CharTokenizer file (written by CharTokenizer.save)")
        return cls(data["symbols"][1:])

    @classmethod
    def load_or_create(
        cls, path: str | os.PathLike, texts: Iterable[str], base_chars: str = ""
    ) -> "CharTokenizer":
        """Loads ``path`` if it exists, else builds from ``texts`` + ``base_chars`` and saves it there."""
        if Path(path).exists():
            return cls.load(path)
        tok = cls.from_texts(texts, base_chars)
        tok.save(path)
        return tok
