"""English phrases over :mod:`lexicon_en`: noun phrases, verb groups, places and times.

Nouns are grouped in kinds (food, containers, places...) with the adjectives that fit
them, stacked in English order (opinion, size, age, colour, material); verbs come in
frames with the kinds of object they take; verb groups agree with their subject in
person and number; time phrases fit the tense. :mod:`english` builds clauses from these.

Authors
 * efficient_ssl contributors
"""

import random
from dataclasses import dataclass

from efficient_ssl.data.synth import lexicon_en as lex
from efficient_ssl.data.synth.grammar import entries


@dataclass(frozen=True)
class Noun:
    """A noun with its plural; mass nouns take no plural and no "a"."""

    singular: str
    plural: str
    mass: bool = False


@dataclass(frozen=True)
class Verb:
    """A verb by its base and past forms (``pick up`` / ``picked up``)."""

    base: str
    past: str

    @property
    def third(self) -> str:
        """Third person singular present: ``picks up``, ``carries``, ``goes``."""
        head, _, rest = self.base.partition(" ")
        return " ".join(filter(None, [_third_person(head), rest]))


@dataclass(frozen=True)
class Kind:
    """Nouns that behave alike, with the adjective slots that fit them (in English order)."""

    nouns: tuple[Noun, ...]
    adjectives: tuple[tuple[str, ...], ...]
    determiners: str = "any"  # "any", "definite" (the sun) or "none" (chess)


@dataclass(frozen=True)
class Phrase:
    """A noun phrase with what agreement needs: person (1, 2, 3) and number."""

    text: str
    person: int = 3
    plural: bool = False


def _third_person(verb: str) -> str:
    if verb == "have":
        return "has"
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _plural(word: str) -> str:
    head, _, last = word.rpartition(" ")
    if last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


def _nouns(table: str, mass: bool = False) -> tuple[Noun, ...]:
    nouns = []
    for entry in entries(table):
        word = entry.split(":")[0]
        singular, _, plural = word.partition("/")
        nouns.append(Noun(singular, plural or _plural(singular), mass))
    return tuple(nouns)


def _verbs(table: str) -> tuple[Verb, ...]:
    return tuple(Verb(*entry.split("=")) for entry in entries(table))


def _words(table: str) -> tuple[str, ...]:
    return tuple(entries(table))


def indefinite_article(word: str) -> str:
    """``a`` or ``an`` for the sound ``word`` starts with.

    Arguments
    ---------
    word : str
        The word that follows the article.

    Returns
    -------
    article : str

    Example
    -------
    >>> [indefinite_article(w) for w in ["apple", "hour", "useful", "umbrella", "dog"]]
    ['an', 'an', 'a', 'an', 'a']
    """
    lowered = word.lower()
    if lowered.startswith(("hour", "honest", "honour", "heir")):
        return "an"
    if lowered.startswith(("uni", "use", "usu", "ute", "eu", "one", "once", "ewe")):
        return "a"
    return "an" if lowered[0] in "aeiou" else "a"


# ---------------------------------------------------------------- lexicon views
OPINION, SIZE, AGE = _words(lex.OPINION_ADJ), _words(lex.SIZE_ADJ), _words(lex.AGE_ADJ)
COLOUR, MATERIAL = _words(lex.COLOUR_ADJ), _words(lex.MATERIAL_ADJ)
_PREDICATIVE_ONLY = {
    "glad",
    "sorry",
    "ready",
    "fond",
    "late",
    "early",
    "upset",
    "pleased",
    "relieved",
    "ashamed",
    "silent",
    "cold",
    "warm",
    "sick",
    "surprised",
    "delighted",
    "disappointed",
    "embarrassed",
    "puzzled",
    "confused",
    "bored",
}
PERSON_ADJ = _words(lex.PERSON_ADJ)
PERSON_ATTRIBUTIVE = tuple(a for a in PERSON_ADJ if a not in _PREDICATIVE_ONLY)
ANIMAL_ADJ, FOOD_ADJ = _words(lex.ANIMAL_ADJ), _words(lex.FOOD_ADJ)
OBJECT_ADJ, PLACE_ADJ = _words(lex.OBJECT_ADJ), _words(lex.PLACE_ADJ)

KINDS = {
    "person": Kind(_nouns(lex.PEOPLE), (PERSON_ATTRIBUTIVE, ("tall", "little", "short"), ("old", "young"))),
    "animal": Kind(
        _nouns(lex.ANIMALS), (ANIMAL_ADJ, ("big", "small", "little", "huge"), ("old", "young"), COLOUR[:8])
    ),
    "flying": Kind(_nouns(lex.FLYING_ANIMALS), (("little", "big", "tiny"), COLOUR[:8])),
    "grazing": Kind(_nouns(lex.GRAZING_ANIMALS), (ANIMAL_ADJ, ("old", "young"), COLOUR[:8])),
    "rideable": Kind(_nouns(lex.RIDEABLE_ANIMALS), (("old", "young", "tired", "gentle"), COLOUR[:8])),
    "food": Kind(
        _nouns(lex.FOOD_COUNT) + _nouns(lex.FOOD_MASS, mass=True),
        (FOOD_ADJ, ("big", "small", "little"), ("red", "green", "yellow", "brown")),
    ),
    "drink": Kind(_nouns(lex.DRINKS, mass=True), (("hot", "cold", "warm", "fresh", "sweet", "strong"),)),
    "baked": Kind(
        _nouns(lex.BAKED), (("fresh", "warm", "delicious", "sweet"), ("big", "small", "little", "huge"))
    ),
    "fruit": Kind(_nouns(lex.FRUIT), (("ripe", "fresh", "sweet", "juicy"), ("big", "small", "little"))),
    "object": Kind(_nouns(lex.OBJECTS), (OPINION, SIZE, AGE, COLOUR, MATERIAL)),
    "container": Kind(_nouns(lex.CONTAINERS), (OPINION, SIZE, AGE, COLOUR, MATERIAL)),
    "clothes": Kind(
        _nouns(lex.CLOTHES),
        (
            OPINION,
            ("big", "small", "long", "short"),
            AGE,
            COLOUR,
            ("woollen", "leather", "silk", "cotton", "velvet"),
        ),
    ),
    "instrument": Kind(_nouns(lex.INSTRUMENTS), (OPINION, AGE)),
    "drivable": Kind(_nouns(lex.DRIVABLE), (OPINION, ("big", "small", "little"), AGE, COLOUR)),
    "ridable": Kind(_nouns(lex.RIDABLE), (("old", "new", "fast"), COLOUR)),
    "sailable": Kind(_nouns(lex.SAILABLE), (("old", "new", "little", "big", "fast"), COLOUR)),
    "transport": Kind(
        _nouns(lex.CATCHABLE_TRANSPORT), (("early", "last", "next", "first", "late"),), "definite"
    ),
    "vehicle": Kind(_nouns(lex.VEHICLES), (OPINION, ("big", "small", "little"), AGE, COLOUR)),
    "furniture": Kind(_nouns(lex.FURNITURE), (OPINION, SIZE, AGE, COLOUR, MATERIAL)),
    "place": Kind(_nouns(lex.PLACES), (PLACE_ADJ, ("big", "small", "little"), ("old", "new"))),
    "buildable": Kind(_nouns(lex.BUILDABLE), (("big", "small", "little", "tall", "new"), MATERIAL[:3])),
    "climbable": Kind(_nouns(lex.CLIMBABLE), (("tall", "high", "steep", "old"),), "definite"),
    "crossable": Kind(_nouns(lex.CROSSABLE), (("wide", "narrow", "old", "busy", "empty"),), "definite"),
    "plant": Kind(_nouns(lex.PLANTS), (("tall", "small", "little", "young", "old"), COLOUR[:6])),
    "sky": Kind(_nouns(lex.SKY), (("beautiful", "bright", "dark", "strange"),), "definite"),
    "readable": Kind(
        _nouns(lex.READABLE), (("long", "short", "strange", "funny", "old", "new", "beautiful", "famous"),)
    ),
    "writable": Kind(_nouns(lex.WRITABLE), (("long", "short", "funny", "new", "beautiful"),)),
    "tellable": Kind(
        _nouns(lex.TELLABLE), (("long", "short", "strange", "funny", "old", "sad", "wonderful"),)
    ),
    "singable": Kind(_nouns(lex.SINGABLE), (("old", "new", "sad", "cheerful", "beautiful", "famous"),)),
    "game": Kind(_nouns(lex.GAMES, mass=True), (), "none"),
    "event": Kind(_nouns(lex.EVENTS), (("big", "small", "long", "wonderful", "noisy"),)),
    "abstract": Kind(
        _nouns(lex.ABSTRACT), (("good", "bad", "strange", "simple", "clever", "terrible", "new"),)
    ),
    "animal_toy": Kind(_nouns(lex.ANIMAL_TOYS), (("old", "new", "red", "blue"),)),
}

# (verbs, kinds of object) for a person subject.
PERSON_FRAMES = (
    (_verbs(lex.VERBS_FOOD), ("food",)),
    (_verbs(lex.VERBS_DRINK), ("drink",)),
    (_verbs(lex.VERBS_BAKE), ("baked",)),
    (_verbs(lex.VERBS_FRUIT), ("fruit",)),
    (_verbs(lex.VERBS_OBJECT), ("object",)),
    (_verbs(lex.VERBS_CONTAINER), ("container",)),
    (_verbs(lex.VERBS_CLOTHES), ("clothes",)),
    (_verbs(lex.VERBS_INSTRUMENT), ("instrument",)),
    (_verbs(lex.VERBS_DRIVE), ("drivable",)),
    (_verbs(lex.VERBS_RIDE), ("ridable",)),
    (_verbs(lex.VERBS_SAIL), ("sailable",)),
    (_verbs(lex.VERBS_CATCH_TRANSPORT), ("transport",)),
    (_verbs(lex.VERBS_ANIMAL), ("animal",)),
    (_verbs(lex.VERBS_PERSON), ("person",)),
    (_verbs(lex.VERBS_PLACE), ("place",)),
    (_verbs(lex.VERBS_BUILD), ("buildable",)),
    (_verbs(lex.VERBS_CLIMB), ("climbable",)),
    (_verbs(lex.VERBS_CROSS), ("crossable",)),
    (_verbs(lex.VERBS_PLANT), ("plant",)),
    (_verbs(lex.VERBS_SKY), ("sky",)),
    (_verbs(lex.VERBS_READ), ("readable",)),
    (_verbs(lex.VERBS_WRITE), ("writable",)),
    (_verbs(lex.VERBS_TELL), ("tellable",)),
    (_verbs(lex.VERBS_SING), ("singable",)),
    (_verbs(lex.VERBS_GAME), ("game",)),
    (_verbs(lex.VERBS_EVENT), ("event",)),
    (_verbs(lex.VERBS_ABSTRACT), ("abstract",)),
)
ANIMAL_FRAMES = (
    (_verbs(lex.VERBS_ANIMAL_FOOD), ("food",)),
    (_verbs(lex.VERBS_ANIMAL_DRINK), ("drink",)),
    (_verbs(lex.VERBS_ANIMAL_CHASE), ("animal", "person")),
    (_verbs(lex.VERBS_ANIMAL_TOY), ("animal_toy",)),
)
PERSON_INTRANSITIVE = _verbs(lex.VERBS_PERSON_INTRANSITIVE)
ANIMAL_INTRANSITIVE = _verbs(lex.VERBS_ANIMAL_INTRANSITIVE)
GRAZE, FLY = _verbs(lex.VERBS_GRAZE), _verbs(lex.VERBS_FLY)
MOTION = _verbs(lex.VERBS_MOTION)
GIVE, GIVE_STORY = _verbs(lex.VERBS_GIVE), _verbs(lex.VERBS_GIVE_STORY)
THAT_VERBS, TO_VERBS = _verbs(lex.VERBS_THAT), _verbs(lex.VERBS_TO)
NAMES = _words(lex.NAMES_FEMALE) + _words(lex.NAMES_MALE)
CITIES, COUNTRIES = _words(lex.CITIES), _words(lex.COUNTRIES)
MANNER, FREQUENCY, DEGREE = _words(lex.MANNER_ADV), _words(lex.FREQUENCY_ADV), _words(lex.DEGREE_ADV)
WEEKDAYS, MONTHS, SEASONS = _words(lex.WEEKDAYS), _words(lex.MONTHS), _words(lex.SEASONS)
PARTS_OF_DAY, MEALS, NUMBERS = _words(lex.PARTS_OF_DAY), _words(lex.MEALS), _words(lex.NUMBERS)
PLACES_WHERE = [(entry.split(":")[0].split("/")[0], entry.split(":")[1]) for entry in entries(lex.PLACES)]
_IN_FURNITURE = {"cupboard", "wardrobe", "cabinet", "oven", "sink", "well", "fireplace", "chimney"}
_PRONOUNS = (
    (Phrase("I", 1), "me"),
    (Phrase("you", 2), "you"),
    (Phrase("he"), "him"),
    (Phrase("she"), "her"),
    (Phrase("we", 1, True), "us"),
    (Phrase("they", 3, True), "them"),
)
_MODALS = {
    "can": "can't",
    "could": "couldn't",
    "should": "shouldn't",
    "must": "must not",
    "might": "might not",
    "would": "wouldn't",
}


# ---------------------------------------------------------------- noun phrases
def pick_adjectives(rng: random.Random, kind: Kind) -> list[str]:
    n_adjectives = rng.choices([0, 1, 2], weights=[55, 37, 8])[0]
    slots = sorted(rng.sample(range(len(kind.adjectives)), min(n_adjectives, len(kind.adjectives))))
    return [rng.choice(kind.adjectives[slot]) for slot in slots]


def _possessor(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(NAMES) + "'s"
    return "the " + rng.choice(KINDS["person"].nouns).singular + "'s"


def noun_phrase(
    rng: random.Random,
    kind_name: str,
    plural: bool | None = None,
    determiner: str = "any",
) -> Phrase:
    """A noun phrase of the given kind: determiner, adjectives in English order, noun.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    kind_name : str
        A key of ``KINDS`` (``"food"``, ``"person"``, ...).
    plural : bool, optional
        Force the number; drawn when None (mass nouns are always singular).
    determiner : str
        ``"any"``, ``"definite"`` (the, this, my, Anna's) or ``"indefinite"`` (a, some, three).

    Returns
    -------
    phrase : Phrase

    Example
    -------
    >>> phrase = noun_phrase(random.Random(3), "food", plural=True, determiner="definite")
    >>> phrase.plural, phrase.person
    (True, 3)
    """
    kind = KINDS[kind_name]
    noun = rng.choice(kind.nouns)
    if noun.mass or kind.determiners != "any":
        plural = False  # mass nouns, and "the stairs" or "chess" as listed
    elif plural is None:
        plural = rng.random() < 0.3
    words = pick_adjectives(rng, kind) + [noun.plural if plural else noun.singular]
    if kind.determiners == "none":
        return Phrase(" ".join(words), 3, plural)
    if kind.determiners == "definite":
        determiner = "definite"
    if determiner == "any":
        determiner = "definite" if rng.random() < 0.6 else "indefinite"
    if determiner == "definite":
        if kind.determiners == "definite":
            article = "the"
        else:
            options = ["the"] * 8 + ["my", "his", "her", "our", "their", "your"]
            options += (["these", "those"] if plural else ["this", "that"]) + [_possessor(rng)]
            article = rng.choice(options)
    elif noun.mass:
        article = rng.choice(["some", "some", "a little", "a lot of", ""])
    elif plural:
        article = rng.choice(["some", "some", "many", "a few", "several", ""] + list(NUMBERS))
    else:
        article = indefinite_article(words[0])
    return Phrase(" ".join(filter(None, [article] + words)), 3, plural)


def person(rng: random.Random) -> tuple[Phrase, str]:
    """A person as subject and as object: a pronoun, a name or a noun phrase.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.

    Returns
    -------
    subject : Phrase
        The phrase in subject form.
    object_form : str
        The same phrase in object form (``she`` -> ``her``).

    Example
    -------
    >>> forms = {person(random.Random(seed)) for seed in range(100)}
    >>> (Phrase("she"), "her") in forms and (Phrase("they", 3, True), "them") in forms
    True
    """
    draw = rng.random()
    if draw < 0.2:
        return rng.choice(_PRONOUNS)
    if draw < 0.45:
        if rng.random() < 0.1:
            first, second = rng.sample(NAMES, 2)
            return Phrase(f"{first} and {second}", 3, True), f"{first} and {second}"
        name = rng.choice(NAMES)
        return Phrase(name), name
    phrase = noun_phrase(rng, "person")
    return phrase, phrase.text


# ---------------------------------------------------------------- verbs and times
def be_form(subject: Phrase, tense: str, negative: bool, rng: random.Random) -> str:
    if tense == "future":
        return rng.choice(["won't be", "will not be"]) if negative else "will be"
    if tense == "modal":
        modal = rng.choice(list(_MODALS))
        return f"{_MODALS[modal]} be" if negative else f"{modal} be"
    if tense == "past":
        form = "were" if subject.plural or subject.person == 2 else "was"
    elif subject.person == 1 and not subject.plural:
        form = "am"
    else:
        form = "are" if subject.plural or subject.person == 2 else "is"
    if negative:
        return "am not" if form == "am" else rng.choice([form + " not", form + "n't"])
    return form


def conjugate(verb: Verb, subject: Phrase, tense: str, negative: bool, rng: random.Random) -> str:
    """The verb group that agrees with ``subject`` in ``tense``.

    Arguments
    ---------
    verb : Verb
        The lexical verb.
    subject : Phrase
        Its subject (person and number decide the present form).
    tense : str
        ``"past"``, ``"present"``, ``"future"`` or ``"modal"``.
    negative : bool
        Whether to negate (``didn't open``).
    rng : random.Random
        Chooses contractions and modals.

    Returns
    -------
    verb_group : str

    Example
    -------
    >>> rng = random.Random(0)
    >>> conjugate(Verb("carry", "carried"), Phrase("she"), "present", False, rng)
    'carries'
    >>> conjugate(Verb("go", "went"), Phrase("they", 3, True), "past", False, rng)
    'went'
    """
    third = subject.person == 3 and not subject.plural
    if tense == "future":
        aux = rng.choice(["won't", "will not"]) if negative else "will"
        return f"{aux} {verb.base}"
    if tense == "modal":
        modal = rng.choice(list(_MODALS))
        return f"{_MODALS[modal] if negative else modal} {verb.base}"
    if not negative:
        return verb.past if tense == "past" else (verb.third if third else verb.base)
    if tense == "past":
        aux = rng.choice(["didn't", "did not"])
    else:
        aux = rng.choice(["doesn't", "does not"] if third else ["don't", "do not"])
    return f"{aux} {verb.base}"


def time_phrase(rng: random.Random, tense: str) -> str:
    """A time adverbial that fits ``tense`` (``last winter``, ``every Sunday``, ``tomorrow``).

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    tense : str
        ``"past"``, ``"present"``, ``"future"`` or ``"modal"``.

    Returns
    -------
    phrase : str

    Example
    -------
    >>> time_phrase(random.Random(1), "past") != ""
    True
    """
    weekday, month, season = rng.choice(WEEKDAYS), rng.choice(MONTHS), rng.choice(SEASONS)
    part, meal, number = rng.choice(PARTS_OF_DAY), rng.choice(MEALS), rng.choice(NUMBERS[:10])
    if tense == "past":
        options = [
            "yesterday",
            "last night",
            "last week",
            "last month",
            "last year",
            f"last {season}",
            "this morning",
            "this afternoon",
            f"on {weekday}",
            f"on {weekday} {part}",
            f"in {month}",
            f"{number} days ago",
            f"{number} weeks ago",
            "a long time ago",
            "the other day",
            f"after {meal}",
            f"before {meal}",
            "at noon",
            "at midnight",
            "early this morning",
            "late last night",
            "that evening",
            "the next day",
            f"one {season} {part}",
            "an hour ago",
            f"yesterday {part}",
        ]
    elif tense == "present":
        options = [
            "every day",
            "every morning",
            f"every {weekday}",
            f"on {weekday}s",
            f"in the {season}",
            "at weekends",
            "twice a week",
            "once a month",
            f"after {meal}",
            f"before {meal}",
            f"in the {part}",
            "every evening",
            f"every {season}",
            "on holidays",
            "each year",
        ]
    else:
        options = [
            "tomorrow",
            f"tomorrow {part}",
            "tonight",
            "next week",
            "next month",
            "next year",
            f"next {season}",
            f"on {weekday}",
            f"in {month}",
            "soon",
            "later",
            f"in {number} days",
            f"after {meal}",
            "this evening",
            "this afternoon",
            "next time",
        ]
    return rng.choice(options)


def place_phrase(rng: random.Random) -> str:
    """Where something happens: ``in the old barn``, ``near the river``, ``in Paris``.

    Example
    -------
    >>> place_phrase(random.Random(2)).split()[0] in {"in", "on", "at", "by", "near",
    ...     "behind", "outside", "beside", "inside", "next"}
    True
    """
    draw = rng.random()
    if draw < 0.12:
        return "in " + rng.choice(CITIES + COUNTRIES)
    noun, preposition = rng.choice(PLACES_WHERE)
    adjectives = pick_adjectives(rng, KINDS["place"])
    article = "the" if rng.random() < 0.85 else rng.choice(["his", "her", "their", "our", "my"])
    if draw >= 0.7:
        preposition = rng.choice(["near", "behind", "outside", "beside", "next to", "inside"])
    return " ".join([preposition, article] + adjectives + [noun])


def thing_place(rng: random.Random) -> str:
    """Where a thing lies: ``on the wooden table``, ``in the cupboard``, ``in the basket``.

    Example
    -------
    >>> thing_place(random.Random(5)).split()[0] in {"on", "in", "under", "behind", "near",
    ...     "beside", "next", "by"}
    True
    """
    if rng.random() < 0.3:
        return rng.choice(["in the ", "on the "]) + rng.choice(KINDS["container"].nouns).singular
    furniture = rng.choice(KINDS["furniture"].nouns).singular
    if furniture in _IN_FURNITURE:
        preposition = "in"
    else:
        preposition = rng.choice(["on", "under", "behind", "near", "beside", "next to", "by"])
    adjectives = pick_adjectives(rng, KINDS["furniture"])[:1]
    return " ".join([preposition, "the"] + adjectives + [furniture])


def destination(rng: random.Random) -> str:
    """Where someone goes: ``to the market``, ``to Paris``, ``home``.

    Example
    -------
    >>> destination(random.Random(4)).split()[0] in {"to", "home", "back"}
    True
    """
    draw = rng.random()
    if draw < 0.08:
        return rng.choice(["home", "to school", "to church", "to bed", "to work", "back home"])
    if draw < 0.3:
        return "to " + rng.choice(CITIES + COUNTRIES)
    noun = rng.choice(KINDS["place"].nouns).singular
    adjectives = pick_adjectives(rng, KINDS["place"])[:1]
    return " ".join(["to the"] + adjectives + [noun])
