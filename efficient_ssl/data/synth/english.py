"""Grammatical English sentences from templates over :mod:`lexicon_en`.

A sentence is built from clauses (:mod:`english_phrases` gives their parts): a subject
that agrees with its verb in person and number, a verb with an object of the kind it
takes (people eat food, drive cars, read letters), a place and a time phrase that match
the tense; clauses are joined, embedded (said that, wanted to, who ...) or turned into
questions. The result has natural casing and punctuation; the LibriSpeech transcript is
made from it by :func:`efficient_ssl.data.synth.text.librispeech_transcript`.

Authors
 * efficient_ssl contributors
"""

import random

from efficient_ssl.data.synth import lexicon_en as lex
from efficient_ssl.data.synth.english_phrases import (
    ANIMAL_ADJ,
    ANIMAL_FRAMES,
    ANIMAL_INTRANSITIVE,
    DEGREE,
    FLY,
    FOOD_ADJ,
    FREQUENCY,
    GIVE,
    GIVE_STORY,
    GRAZE,
    KINDS,
    MANNER,
    MOTION,
    OBJECT_ADJ,
    PERSON_ADJ,
    PERSON_FRAMES,
    PERSON_INTRANSITIVE,
    PLACE_ADJ,
    THAT_VERBS,
    TO_VERBS,
    Phrase,
    be_form,
    conjugate,
    destination,
    indefinite_article,
    noun_phrase,
    person,
    pick_adjectives,
    place_phrase,
    thing_place,
    time_phrase,
)
from efficient_ssl.data.synth.grammar import entries


# ---------------------------------------------------------------- clauses
def _tense(rng: random.Random) -> str:
    return rng.choices(["past", "present", "future", "modal"], weights=[55, 20, 15, 10])[0]


def _object(rng: random.Random, kinds: tuple[str, ...]) -> str:
    kind = rng.choice(kinds)
    if kind == "person":
        return person(rng)[1]
    return noun_phrase(rng, kind).text


def _tail(
    rng: random.Random, tense: str, manner: bool = True, timed: bool = True, place: float = 0.45
) -> list[str]:
    """Manner, place and time, in that order, each optional (a place with probability ``place``)."""
    parts = []
    if manner and rng.random() < 0.12:
        parts.append(rng.choice(MANNER))
    if rng.random() < place:
        parts.append(place_phrase(rng))
    if timed and rng.random() < 0.5:
        parts.append(time_phrase(rng, tense))
    return parts


def transitive_clause(
    rng: random.Random, tense: str, negative: bool = False, timed: bool = True
) -> list[str]:
    """SUBJECT VERB OBJECT [manner] [place] [time], with a person or an animal as subject.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    tense : str
        ``"past"``, ``"present"``, ``"future"`` or ``"modal"``.
    negative : bool
        Whether to negate the verb.
    timed : bool
        Whether a time phrase may close the clause.

    Returns
    -------
    words : list of str
        The clause's phrases, in order.

    Example
    -------
    >>> words = transitive_clause(random.Random(0), "past", timed=False)
    >>> len(words) >= 3
    True
    """
    if rng.random() < 0.85:
        subject = person(rng)[0]
        verbs, kinds = rng.choice(PERSON_FRAMES)
    else:
        subject = noun_phrase(rng, "animal", determiner="definite")
        verbs, kinds = rng.choice(ANIMAL_FRAMES)
    group = conjugate(rng.choice(verbs), subject, tense, negative, rng)
    if tense == "present" and not negative and rng.random() < 0.3:
        group = f"{rng.choice(FREQUENCY)} {group}"
    return [subject.text, group, _object(rng, kinds)] + _tail(rng, tense, timed=timed)


def intransitive_clause(
    rng: random.Random, tense: str, negative: bool = False, timed: bool = True
) -> list[str]:
    """SUBJECT VERB [manner] [place] [time]: people sing, cows graze, owls fly.

    Arguments and returns as :func:`transitive_clause`.

    Example
    -------
    >>> len(intransitive_clause(random.Random(1), "present")) >= 3
    True
    """
    draw = rng.random()
    if draw < 0.55:
        subject, verbs = person(rng)[0], PERSON_INTRANSITIVE
    elif draw < 0.8:
        subject, verbs = noun_phrase(rng, "animal", determiner="definite"), ANIMAL_INTRANSITIVE
    elif draw < 0.9:
        subject, verbs = noun_phrase(rng, "grazing", determiner="definite"), GRAZE
    else:
        subject, verbs = noun_phrase(rng, "flying", determiner="definite"), FLY
    group = conjugate(rng.choice(verbs), subject, tense, negative, rng)
    return [subject.text, group] + _tail(rng, tense, timed=timed, place=1.0)


def motion_clause(rng: random.Random, tense: str, negative: bool = False, timed: bool = True) -> list[str]:
    """SUBJECT went to PLACE [to buy some bread | manner] [time].

    Arguments and returns as :func:`transitive_clause`.

    Example
    -------
    >>> motion_clause(random.Random(2), "future", timed=False)[1].startswith(("will", "won't"))
    True
    """
    subject = person(rng)[0]
    parts = [subject.text, conjugate(rng.choice(MOTION), subject, tense, negative, rng), destination(rng)]
    if rng.random() < 0.25:
        verbs, kinds = rng.choice(PERSON_FRAMES[:6])
        parts.append(f"to {rng.choice(verbs).base} {_object(rng, kinds)}")
    elif rng.random() < 0.3:
        parts.append(rng.choice(MANNER))
    if timed and rng.random() < 0.5:
        parts.append(time_phrase(rng, tense))
    return parts


_PREDICATES = {
    "person": PERSON_ADJ,
    "animal": ANIMAL_ADJ,
    "food": FOOD_ADJ,
    "drink": ("hot", "cold", "warm", "sweet", "strong", "bitter", "fresh", "delicious"),
    "object": OBJECT_ADJ,
    "container": OBJECT_ADJ,
    "clothes": OBJECT_ADJ,
    "vehicle": OBJECT_ADJ,
    "furniture": OBJECT_ADJ,
    "place": PLACE_ADJ,
}


def copula_clause(rng: random.Random, tense: str, negative: bool = False, timed: bool = True) -> list[str]:
    """SUBJECT is ADJECTIVE / a NOUN / in a PLACE [time].

    Arguments and returns as :func:`transitive_clause`.

    Example
    -------
    >>> copula_clause(random.Random(3), "past")[1] in {"was", "were"}
    True
    """
    kind = rng.choice(list(_PREDICATES))
    if kind == "person":
        subject = person(rng)[0]
    else:
        subject = noun_phrase(rng, kind, determiner="definite")
    verb = be_form(subject, tense, negative, rng)
    draw = rng.random()
    if kind == "person" and draw < 0.2:
        noun = rng.choice(KINDS["person"].nouns)
        words = pick_adjectives(rng, KINDS["person"]) + [noun.plural if subject.plural else noun.singular]
        predicate = " ".join(words if subject.plural else [indefinite_article(words[0])] + words)
    elif draw < 0.35 and kind in {"person", "animal", "vehicle"}:
        predicate = place_phrase(rng)
    elif draw < 0.35 and kind != "place":
        predicate = thing_place(rng)
    else:
        adjective = rng.choice(_PREDICATES[kind])
        predicate = f"{rng.choice(DEGREE)} {adjective}" if rng.random() < 0.4 else adjective
    parts = [subject.text, verb, predicate]
    if timed and rng.random() < 0.35:
        parts.append(time_phrase(rng, tense))
    return parts


def existential_clause(
    rng: random.Random, tense: str, negative: bool = False, timed: bool = True
) -> list[str]:
    """There was a NOUN in the PLACE / There are NOUNS on the TABLE.

    Arguments and returns as :func:`transitive_clause`.

    Example
    -------
    >>> existential_clause(random.Random(4), "past")[0]
    'there'
    """
    kind = rng.choice(["object", "food", "container", "animal", "person", "vehicle", "clothes"])
    thing = noun_phrase(rng, kind, determiner="indefinite")
    where = thing_place(rng) if kind in {"object", "food", "container", "clothes"} else place_phrase(rng)
    parts = ["there", be_form(Phrase("it", 3, thing.plural), tense, negative, rng), thing.text, where]
    if timed and rng.random() < 0.3:
        parts.append(time_phrase(rng, tense))
    return parts


def giving_clause(rng: random.Random, tense: str, negative: bool = False, timed: bool = True) -> list[str]:
    """SUBJECT gave PERSON a THING / told PERSON a STORY [time].

    Arguments and returns as :func:`transitive_clause`.

    Example
    -------
    >>> len(giving_clause(random.Random(5), "past")) >= 4
    True
    """
    subject = person(rng)[0]
    recipient = person(rng)[1]
    if rng.random() < 0.6:
        verb = rng.choice(GIVE)
        thing = noun_phrase(rng, rng.choice(["object", "food", "container", "clothes", "baked"]))
    else:
        verb = rng.choice(GIVE_STORY)
        kind = {"tell": "tellable", "sing": "singable", "write": "writable"}.get(verb.base, "readable")
        thing = noun_phrase(rng, kind, determiner="indefinite")
    parts = [subject.text, conjugate(verb, subject, tense, negative, rng), recipient, thing.text]
    if timed and rng.random() < 0.4:
        parts.append(time_phrase(rng, tense))
    return parts


def simple_clause(rng: random.Random, tense: str, negative: bool = False, timed: bool = True) -> list[str]:
    """One of the clause types above, drawn by weight (arguments as :func:`transitive_clause`).

    Example
    -------
    >>> simple_clause(random.Random(6), "past", timed=False)[0] != ""
    True
    """
    makers = [
        transitive_clause,
        intransitive_clause,
        motion_clause,
        copula_clause,
        existential_clause,
        giving_clause,
    ]
    maker = rng.choices(makers, weights=[40, 12, 14, 14, 8, 12])[0]
    return maker(rng, tense, negative, timed)


# ---------------------------------------------------------------- sentences
def _that_sentence(rng: random.Random) -> tuple[list[str], str]:
    subject = person(rng)[0]
    tense = rng.choice(["past", "past", "present"])
    inner_tense = rng.choice(["past", "past", "modal"]) if tense == "past" else _tense(rng)
    words = [subject.text, conjugate(rng.choice(THAT_VERBS), subject, tense, False, rng)]
    if rng.random() < 0.7:
        words.append("that")
    return words + simple_clause(rng, inner_tense, rng.random() < 0.15), "."


def _to_sentence(rng: random.Random) -> tuple[list[str], str]:
    subject = person(rng)[0]
    tense = _tense(rng)
    group = conjugate(rng.choice(TO_VERBS), subject, tense, rng.random() < 0.1, rng)
    if rng.random() < 0.6:
        verbs, kinds = rng.choice(PERSON_FRAMES)
        infinitive = [rng.choice(verbs).base, _object(rng, kinds)]
    else:
        infinitive = [rng.choice(MOTION).base, destination(rng)]
    return [subject.text, group, "to"] + infinitive + _tail(rng, tense, manner=False), "."


def _joined_sentence(rng: random.Random) -> tuple[list[str], str]:
    tense = rng.choice(["past", "past", "present", "future"])
    first = simple_clause(rng, tense)
    second_tense = "present" if tense == "future" else tense
    conjunction = rng.choice(entries(lex.CONJUNCTIONS))
    if conjunction in {"when", "before", "after", "as soon as", "until"} and tense == "future":
        second = simple_clause(rng, second_tense)
        return first + [conjunction] + second, "."
    second = simple_clause(rng, tense if conjunction in {"and", "but", "so"} else second_tense)
    if conjunction in {"and", "but", "so"}:
        return first[:-1] + [first[-1] + ","] + [conjunction] + second, "."
    if rng.random() < 0.4 and conjunction not in {"whereas"}:
        return [conjunction] + second[:-1] + [second[-1] + ","] + first, "."
    return first + [conjunction] + second, "."


def _relative_sentence(rng: random.Random) -> tuple[list[str], str]:
    subject = noun_phrase(rng, "person", determiner="definite")
    verbs, kinds = rng.choice(PERSON_FRAMES)
    relative = ["who" if rng.random() < 0.7 else "that", rng.choice(verbs).past, _object(rng, kinds)]
    tense = _tense(rng)
    if rng.random() < 0.5:
        main = [be_form(subject, tense, False, rng), rng.choice(PERSON_ADJ)]
        if rng.random() < 0.5:
            main.append(time_phrase(rng, tense))
    else:
        verb = rng.choice(PERSON_INTRANSITIVE + MOTION)
        tail = [destination(rng)] if verb in MOTION else [place_phrase(rng)]
        main = [conjugate(verb, subject, tense, False, rng)] + tail
    return [subject.text] + relative + main, "."


def _question(rng: random.Random) -> tuple[list[str], str]:
    subject, _ = person(rng)
    verbs, kinds = rng.choice(PERSON_FRAMES)
    verb = rng.choice(verbs)
    tense = rng.choice(["past", "present", "future", "modal"])
    third = subject.person == 3 and not subject.plural
    aux = {
        "past": "did",
        "present": "does" if third else "do",
        "future": "will",
        "modal": rng.choice(["can", "could", "should", "would"]),
    }[tense]
    tail = _tail(rng, tense, manner=False)
    draw = rng.random()
    if draw < 0.45:
        return [aux, subject.text, verb.base, _object(rng, kinds)] + tail, "?"
    if draw < 0.7:
        wh = rng.choice(["why", "when", "how", "where"])
        time = [time_phrase(rng, tense)] if rng.random() < 0.5 else []
        return [wh, aux, subject.text, verb.base, _object(rng, kinds)] + time, "?"
    if draw < 0.85:
        return ["what", aux, subject.text, verb.base] + (tail or [time_phrase(rng, tense)]), "?"
    thing = noun_phrase(rng, rng.choice(["object", "container", "animal", "clothes"]), determiner="definite")
    be = be_form(thing, rng.choice(["past", "present"]), False, rng)
    return ["where", be, thing.text], "?"


def _plain_sentence(rng: random.Random) -> tuple[list[str], str]:
    tense = _tense(rng)
    if rng.random() < 0.15:  # fronted time: "Last winter, the old fisherman sold his boat."
        words = simple_clause(rng, tense, rng.random() < 0.1, timed=False)
        return [time_phrase(rng, tense) + ","] + words, "."
    return simple_clause(rng, tense, rng.random() < 0.1), "."


def sentence(rng: random.Random) -> str:
    """One English sentence with natural casing and punctuation.

    Arguments
    ---------
    rng : random.Random
        Source of every choice; the same state gives the same sentence.

    Returns
    -------
    sentence : str

    Example
    -------
    >>> text = sentence(random.Random(7))
    >>> text[0].isupper() and text[-1] in ".?"
    True
    >>> sentence(random.Random(7)) == text
    True
    """
    maker = rng.choices(
        [_plain_sentence, _that_sentence, _to_sentence, _joined_sentence, _relative_sentence, _question],
        weights=[50, 9, 10, 15, 7, 9],
    )[0]
    words, end = maker(rng)
    text = " ".join(word for word in words if word)
    return text[0].upper() + text[1:] + end
