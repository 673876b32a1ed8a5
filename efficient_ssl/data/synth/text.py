"""Sentences of the mini corpus: one grammar per language, transcripts, length control.

Authors
 * efficient_ssl contributors
"""

import random
from collections.abc import Callable

from efficient_ssl.data.synth import (
    english,
    grammar,
    lang_cy,
    lang_de,
    lang_es,
    lang_eu,
    lang_fr,
    lexicon_en,
)

SENTENCE_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "en": english.sentence,
    "cy": lang_cy.sentence,
    "eu": lang_eu.sentence,
    "fr": lang_fr.sentence,
    "de": lang_de.sentence,
    "es": lang_es.sentence,
}

# Utterances last 2 to 8 seconds: sentences are chosen for 2 to 7 s of speech, then
# the synthesiser adds silence around them and speeds up the rare one that runs long.
MIN_SECONDS, MAX_SECONDS = 2.0, 8.0
_ESTIMATE_WINDOW = (2.0, 7.0)


def librispeech_transcript(text: str) -> str:
    """A LibriSpeech-style transcript: upper case, no punctuation, apostrophes inside words.

    Arguments
    ---------
    text : str
        A sentence with natural casing and punctuation.

    Returns
    -------
    transcript : str

    Example
    -------
    >>> librispeech_transcript("Last winter, the farmer's well-known dog didn't bark.")
    "LAST WINTER THE FARMER'S WELL KNOWN DOG DIDN'T BARK"
    """
    kept = "".join(char if char.isalpha() or char == "'" else " " for char in text.upper())
    return " ".join(word.strip("'") for word in kept.split() if word.strip("'"))


def draw_sentence(
    rng: random.Random,
    make: Callable[[random.Random], str],
    seconds_per_character: float,
    taken: set[str],
    attempts: int = 5000,
) -> str:
    """Draws sentences until one is new and of a length that fits; marks it taken.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    make : callable
        ``make(rng)`` gives one candidate sentence.
    seconds_per_character : float
        Pace of the voice that will read it, measured on a probe sentence
        (:func:`efficient_ssl.data.synth.corpus.measure_voices`).
    taken : set of str
        Transcripts already used anywhere in the corpus; updated.
    attempts : int
        How many candidates to try before giving up.

    Returns
    -------
    sentence : str

    Example
    -------
    >>> taken = set()
    >>> text = draw_sentence(random.Random(0), english.sentence, 0.055, taken)
    >>> librispeech_transcript(text) in taken, 2.0 <= 0.055 * len(text) <= 7.0
    (True, True)
    """
    low, high = _ESTIMATE_WINDOW
    for _ in range(attempts):
        text = make(rng)
        key = librispeech_transcript(text)
        if key not in taken and low <= seconds_per_character * len(text) <= high:
            taken.add(key)
            return text
    raise RuntimeError(
        f"no new sentence of {low}-{high} s at {seconds_per_character:.3f} s per character after {attempts} "
        "tries: the grammar is exhausted for this corpus size; add vocabulary or pick a smaller --size"
    )


def vocabulary(language: str) -> set[str]:
    """The distinct words the grammar of ``language`` is built from.

    Arguments
    ---------
    language : str
        Key of ``SENTENCE_MAKERS``.

    Returns
    -------
    words : set of str

    Example
    -------
    >>> len(vocabulary("en")) >= 1000 and len(vocabulary("eu")) >= 200
    True
    """
    if language == "en":
        return lexicon_en.vocabulary()
    module = {"cy": lang_cy, "eu": lang_eu, "fr": lang_fr, "de": lang_de, "es": lang_es}[language]
    return grammar.vocabulary(module, tags=("m", "f", "n", "pl"))
