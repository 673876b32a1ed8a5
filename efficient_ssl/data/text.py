"""Per-language text normalisation for transcripts (LibriSpeech, Common Voice).

Every transcript goes through :func:`normalize_text`: Unicode NFC, upper case,
the language's own letters kept (Welsh Ŵ Ŷ Â ..., Basque Ñ, French / German /
Spanish / Italian accents), letters foreign to the language folded to their
base letter when that is one of its letters (English "café" -> "CAFE"),
punctuation and symbols removed, apostrophes kept only inside words, whitespace
collapsed. Digits are kept. A language not listed in ``LANGUAGE_LETTERS``
keeps every Unicode letter and combining mark, so Common Voice languages
without a table still work.

Authors
 * efficient_ssl contributors
"""

import re
import unicodedata

BASIC_LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Upper-case letters each language keeps beyond A-Z (NFC code points).
LANGUAGE_LETTERS: dict[str, str] = {
    "en": "",
    # Welsh: circumflex (to bach), diaeresis, acute and grave on all seven vowels.
    "cy": "ÂÊÎÔÛŴŶ" "ÄËÏÖÜẄŸ" "ÁÉÍÓÚẂÝ" "ÀÈÌÒÙẀỲ",
    "eu": "Ñ",
    "fr": "ÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ",
    # German keeps ß: str.upper() would turn it into "SS" and change the spelling.
    "de": "ÄÖÜß",
    "es": "ÁÉÍÓÚÑÜ",
    "it": "ÀÈÉÌÍÎÒÓÙÚ",
}

# Apostrophe look-alikes written as "'".
APOSTROPHES = "'’‘ʼ´`"

_APOSTROPHE_RUNS = re.compile(r"'+")


def _fold(char: str, letters: set[str]) -> str:
    """Returns char if it is one of letters, else its base letter if that one is, else ""."""
    if char in letters:
        return char
    base = unicodedata.normalize("NFD", char)[0]
    return base if base in letters else ""


def normalize_text(text: str, language: str) -> str:
    """Normalises a transcript for character- or subword-level ASR.

    Arguments
    ---------
    text : str
        Raw transcript (any Unicode normal form).
    language : str
        Language code as used by Common Voice ("en", "cy", "eu", "fr", ...).
        Codes missing from ``LANGUAGE_LETTERS`` keep every Unicode letter.

    Returns
    -------
    str
        Upper-case words separated by single spaces; "" when nothing is left.

    Example
    -------
    >>> print(normalize_text("  It's a   café -- isn't it? ", "en"))
    IT'S A CAFE ISN'T IT
    >>> print(normalize_text("Mae'r ŵyn yn y caeau, on'd ŷ'n nhw?", "cy"))
    MAE'R ŴYN YN Y CAEAU ON'D Ŷ'N NHW
    >>> print(normalize_text("Kaixo, zer moduz? Bihar, «mañana».", "eu"))
    KAIXO ZER MODUZ BIHAR MAÑANA
    >>> print(normalize_text("« L'été à Noël », dit-il.", "fr"))
    L'ÉTÉ À NOËL DIT IL
    >>> print(normalize_text("Die Straße ist schön, oder?", "de"))
    DIE STRAßE IST SCHÖN ODER
    >>> print(normalize_text("¿Qué tal, señor Núñez? ¡Pingüino!", "es"))
    QUÉ TAL SEÑOR NÚÑEZ PINGÜINO
    >>> print(normalize_text("Perché l'università è lì?", "it"))
    PERCHÉ L'UNIVERSITÀ È LÌ
    >>> print(normalize_text("Привет, мир! 'Ciao'", "ru"))
    ПРИВЕТ МИР CIAO
    """
    extra = LANGUAGE_LETTERS.get(language)
    letters = None if extra is None else set(BASIC_LATIN + extra)
    chars = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char in APOSTROPHES:
            chars.append("'")
        elif category == "Nd":
            chars.append(char)
        elif category[0] == "L" or (letters is None and category[0] == "M"):
            if letters is None:
                chars.append(char.upper())
            elif char in letters:  # ß, which has no one-letter upper case
                chars.append(char)
            else:
                chars.append("".join(_fold(c, letters) for c in char.upper()))
        elif category[0] != "M":  # punctuation, symbols, separators; stray marks are dropped
            chars.append(" ")
    words = (_APOSTROPHE_RUNS.sub("'", word).strip("'") for word in "".join(chars).split())
    return " ".join(word for word in words if word)
