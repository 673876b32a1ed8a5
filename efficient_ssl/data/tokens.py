"""Text tokenizers for CTC: characters (LibriSpeech) and sentencepiece BPE (Common Voice).

Every tokenizer has the same small interface, so a Brain never cares which one it holds:
``encode(text) -> list[int]``, ``decode(ids) -> str``, ``vocab_size``, ``blank_index`` (0),
``vocab_list`` (one string per id, for speechbrain's CTC beam searchers),
``load_or_create(path, texts, ...)`` / ``load(path)``; :func:`load_tokenizer` reads either kind.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

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
    def from_texts(cls, texts: Iterable[str], base_chars: str = "") -> CharTokenizer:
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

    @property
    def vocab_list(self) -> list[str]:
        """One string per id (the blank as ``<blank>``)."""
        return list(self.symbols)

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
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        """Reads a vocabulary written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        if data.get("type") != "char" or data["symbols"][0] != BLANK:
            raise ValueError(f"{path} is not a CharTokenizer file (written by CharTokenizer.save)")
        return cls(data["symbols"][1:])

    @classmethod
    def load_or_create(
        cls, path: str | os.PathLike, texts: Iterable[str], base_chars: str = ""
    ) -> CharTokenizer:
        """Loads ``path`` if it exists, else builds from ``texts`` + ``base_chars`` and saves it there."""
        if Path(path).exists():
            return cls.load(path)
        tok = cls.from_texts(texts, base_chars)
        tok.save(path)
        return tok


class SentencePieceTokenizer:
    """Sentencepiece subwords (BPE or unigram) with the CTC blank at index 0.

    Ids are sentencepiece's ids + 1, so the blank stays at 0 and the head has
    ``sentencepiece vocabulary + 1`` outputs. The model file is sentencepiece's own ``.model``.

    Arguments
    ---------
    model_file : str or Path
        A sentencepiece model (as written by :meth:`train`).

    Example
    -------
    >>> import tempfile
    >>> texts = ["the cat sat on the mat", "the dog sat on the log"] * 20
    >>> path = Path(tempfile.mkdtemp()) / "bpe.model"
    >>> tok = SentencePieceTokenizer.load_or_create(path, texts, vocab_size=30)
    >>> tok.decode(tok.encode("the cat sat on the log"))
    'the cat sat on the log'
    >>> tok.blank_index, tok.vocab_size == len(tok.vocab_list)
    (0, True)
    """

    def __init__(self, model_file: str | os.PathLike):
        self.model_file = Path(model_file)
        try:
            self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        except (OSError, RuntimeError) as error:
            raise ValueError(f"{model_file} is not a sentencepiece model ({error})") from error
        self.blank_index = 0

    @classmethod
    def train(
        cls,
        path: str | os.PathLike,
        texts: Iterable[str],
        vocab_size: int = 100,
        model_type: str = "bpe",
        character_coverage: float = 1.0,
    ) -> SentencePieceTokenizer:
        """Trains a model on ``texts`` and writes it to ``path`` (``.model``) atomically.

        ``vocab_size`` is sentencepiece's (the blank is added on top); it is an upper bound:
        a small text gets as many pieces as it supports.
        """
        path = Path(path)
        texts = [t for t in texts if t.strip()]
        if not texts:
            raise ValueError(f"{path}: no training text for the sentencepiece model (empty manifest?)")
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            prefix = Path(tmp) / "spm"
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(texts),
                model_prefix=str(prefix),
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=character_coverage,
                hard_vocab_limit=False,
                bos_id=-1,
                eos_id=-1,
                unk_id=0,
                minloglevel=2,
            )
            os.replace(prefix.with_suffix(".model"), path)
        return cls(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SentencePieceTokenizer:
        """Reads a model written by :meth:`train`."""
        return cls(path)

    @classmethod
    def load_or_create(
        cls,
        path: str | os.PathLike,
        texts: Iterable[str],
        vocab_size: int = 100,
        model_type: str = "bpe",
    ) -> SentencePieceTokenizer:
        """Loads ``path`` if it exists, else trains on ``texts`` and saves it there."""
        if Path(path).exists():
            return cls.load(path)
        return cls.train(path, texts, vocab_size=vocab_size, model_type=model_type)

    @property
    def vocab_size(self) -> int:
        """Number of output units of the CTC head, blank included."""
        return self.sp.get_piece_size() + 1

    @property
    def vocab_list(self) -> list[str]:
        """One string per id: ``<blank>`` then the pieces (``▁`` marks a word start)."""
        return [BLANK] + [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]

    def encode(self, text: str) -> list[int]:
        """Maps ``text`` to ids (characters outside the model map to ``<unk>``)."""
        return [i + 1 for i in self.sp.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Maps ids back to text (blanks dropped, no CTC collapsing: do that before)."""
        return self.sp.decode([int(i) - 1 for i in ids if i != self.blank_index])


def load_tokenizer(path: str | os.PathLike) -> CharTokenizer | SentencePieceTokenizer:
    """Reads a tokenizer file of either kind: ``.json`` (characters) or ``.model`` (sentencepiece).

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "tokenizer.json"
    >>> CharTokenizer.from_texts(["AB"]).save(path)
    >>> load_tokenizer(path).vocab_size
    3
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tokenizer file here (tokenizer.json or tokenizer.model)")
    if path.suffix == ".model":
        return SentencePieceTokenizer.load(path)
    return CharTokenizer.load(path)
