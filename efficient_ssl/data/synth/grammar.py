"""Helpers shared by the sentence grammars: word tables, capitals, joined clauses.

Authors
 * efficient_ssl contributors
"""

import random
from collections.abc import Callable
from types import ModuleType

Statement = Callable[[random.Random], tuple[str, str]]
Connect = Callable[[random.Random, str, str], str]


def entries(table: str) -> list[str]:
    """Splits a word table into its entries.

    Arguments
    ---------
    table : str
        Entries separated by commas or new lines.

    Returns
    -------
    entries : list of str
        Stripped, non-empty entries, duplicates removed, first occurrence kept.

    Example
    -------
    >>> entries("eat=ate, cook=cooked,\\n eat=ate")
    ['eat=ate', 'cook=cooked']
    """
    seen = {}
    for line in table.splitlines():
        for entry in line.split(","):
            entry = entry.strip()
            if entry:
                seen.setdefault(entry, None)
    return list(seen)


def vocabulary(module: ModuleType, separators: str = "=/:", tags: tuple[str, ...] = ()) -> set[str]:
    """Every distinct word in the upper-case string tables of ``module``, lower-cased.

    Arguments
    ---------
    module : module
        A lexicon or grammar module whose tables are upper-case ``str`` attributes.
    separators : str
        Characters that separate forms inside an entry (``eat=ate``, ``rojo/roja``).
    tags : tuple of str
        Grammatical tags to leave out (``m``, ``f``).

    Returns
    -------
    words : set of str

    Example
    -------
    >>> from efficient_ssl.data.synth import lang_fr
    >>> len(vocabulary(lang_fr, tags=("m", "f"))) > 200
    True
    """
    words = set()
    for name, table in vars(module).items():
        if name.isupper() and isinstance(table, str):
            for entry in entries(table):
                for separator in separators:
                    entry = entry.replace(separator, " ")
                words.update(word.lower() for word in entry.split() if word not in tags)
    return words


def capitalise(text: str) -> str:
    """Upper-cases the first letter, after any opening punctuation (``¿dónde`` -> ``¿Dónde``).

    Example
    -------
    >>> capitalise("¿dónde está?"), capitalise("mae'r ci")
    ('¿Dónde está?', "Mae'r ci")
    """
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :]
    return text


def compose(rng: random.Random, statement: Statement, connect: Connect, join_probability: float = 0.5) -> str:
    """A sentence of one statement, or of two statements joined by ``connect``.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    statement : callable
        ``statement(rng)`` gives an uncapitalised clause and its end mark ("." or "?").
    connect : callable
        ``connect(rng, first, second)`` joins two statements ("..., and ...").
    join_probability : float
        How often a second statement is joined to a first that ends in ".".

    Returns
    -------
    sentence : str
        Capitalised, with its end mark.

    Example
    -------
    >>> say = lambda rng: ("the dog sleeps", ".")
    >>> join = lambda rng, a, b: f"{a}, and {b}"
    >>> compose(random.Random(0), say, join, join_probability=1.0)
    'The dog sleeps, and the dog sleeps.'
    """
    text, end = statement(rng)
    if end == "." and rng.random() < join_probability:
        second, second_end = statement(rng)
        if second_end == ".":
            text = connect(rng, text, second)
    return capitalise(text) + end
