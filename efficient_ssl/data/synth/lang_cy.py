"""Welsh sentences for the Common Voice part of the mini corpus.

Sentences use the periphrastic tenses (``Mae'r ci yn cysgu``, ``Roedd``, ``Bydd``) so
that verb-nouns never mutate. Feminine singular nouns soft-mutate after the article
(``cath`` -> ``y gath``), adjectives after them and after predicative ``yn``
(``yn fawr``); :func:`soft` computes the mutation and :func:`join` turns ``y`` after a
vowel into ``'r``. Place and destination phrases are written out in full (``yng
Nghaerdydd``, ``i Fangor``) because they carry nasal and soft mutations.

Authors
 * efficient_ssl contributors
"""

import random
import re

from efficient_ssl.data.synth.grammar import compose, entries

PEOPLE = """
dyn m, dynes f, bachgen m, merch f, athro m, athrawes f, ffermwr m, ffermwraig f,
meddyg m, nyrs f, plentyn m, pobydd m, cigydd m, morwr m, milwr m, gyrrwr m,
pysgotwr m, canwr m, cantores f, brenin m, brenhines f, tywysog m, tywysoges f,
ffrind m, cymydog m, cymdoges f, garddwr m, saer m, postmon m, plismon m, gweinydd m,
llyfrgellydd m, mam f, tad m, mam-gu f, tad-cu m, brawd m, chwaer f, ewythr m,
modryb f, babi m, capten m, awdur m, arlunydd m, myfyriwr m, myfyrwraig f, gof m,
bugail m, ficer m, teithiwr m, ymwelydd m, cerddor m, deintydd m, peiriannydd m
"""

ANIMALS = """
ci m, cath f, ceffyl m, buwch f, dafad f, gafr f, mochyn m, cwningen f, llwynog m,
blaidd m, arth f, llygoden f, aderyn m, hwyaden f, gŵydd f, tylluan f, eryr m, broga m,
neidr f, llew m, teigr m, eliffant m, mwnci m, asyn m, iâr f, ceiliog m, morfil m,
dolffin m, gwiwer f, crwban m, gwenynen f, oen m, llo m, merlen f, draenog m
"""

FOOD = """
bara m, caws m, menyn m, cawl m, reis m, mêl m, cig m, siwgr m, halen m, jam m,
siocled m, afal m, oren m, banana m, wy m, cacen f, teisen f, brechdan f, pastai f,
bisged f, tomato m, taten f, moronen f, nionyn m, lemwn m, eirinen f, gellygen f,
pysgodyn m, uwd m, pwdin m, tost m, tatws pl, moron pl, wyau pl, pysgod pl,
ffrwythau pl, llysiau pl, mefus pl
"""

DRINKS = "te m, coffi m, dŵr m, gwin m, cwrw m, sudd m, llaeth m, lemonêd m, seidr m"

OBJECTS = """
llyfr m, llythyr m, allwedd f, bag m, bocs m, basged f, potel f, cwpan m, plât m,
powlen f, cyllell f, llwy f, fforc f, modrwy f, oriawr f, cloc m, lamp f, cannwyll f,
map m, beiro m, pensil m, llun m, pêl f, rhaff f, bwced m, blanced f, drych m,
ymbarél m, tocyn m, parsel m, morthwyl m, rhaw f, ffôn m, radio m, camera m,
cyfrifiadur m, tegell m, sosban f, jwg m, brws m, tywel m, gobennydd m, botwm m,
amlen f, stamp m, tegan m, doli f, barcud m, baner f, cleddyf m, cês m, pwrs m,
anrheg f, gwydr m, mwg m, cadair f, bwrdd m, ffenest f, drws m
"""

CLOTHES = """
het f, cot f, siaced f, crys m, ffrog f, siwmper f, sgarff f, esgid f, gwregys m, sgert f,
trowsus m, maneg f, cap m, ffedog f, gwisg f, tei m
"""

INSTRUMENTS = "piano m, ffidil f, gitâr m, ffliwt f, trwmped m, drwm m, telyn f, acordion m, sielo m, organ f"

VEHICLES = (
    "car m, bws m, trên m, cwch m, llong f, beic m, lori f, tacsi m, tractor m, awyren f, fan f, cart m"
)

READABLE = """
llyfr m, llythyr m, papur newydd m, stori f, cerdd f, nofel f, adroddiad m, neges f,
cylchgrawn m, map m, rhestr f, bwydlen f, cerdyn post m, erthygl f, pennod f, poster m,
gwahoddiad m, rysáit m
"""

PLACES = """
tŷ m, ysgol f, eglwys f, marchnad f, gorsaf f, llyfrgell f, ysbyty m, castell m, fferm f,
gardd f, parc m, cegin f, swyddfa f, siop f, becws m, pentref m, tref f, dinas f,
harbwr m, pont f, afon f, llyn m, coedwig f, cae m, bryn m, mynydd m, traeth m,
dyffryn m, ynys f, ffordd f, stryd f, sgwâr m, amgueddfa f, theatr f, gwesty m, bwyty m,
bwthyn m, ysgubor f, melin f, tafarn f, palas m, tŵr m, ogof f, perllan f, ffatri f,
banc m, sinema f, stadiwm m, carchar m, capel m, prifysgol f, seler f, goleudy m, cei m,
neuadd f, caffi m, garej f, stabl f
"""

LOCATIONS = """
yn y tŷ, yn yr ysgol, yn yr eglwys, yn y farchnad, yn yr orsaf, yn y llyfrgell,
yn yr ysbyty, yn y castell, ar y fferm, yn yr ardd, yn y parc, yn y gegin,
yn y swyddfa, yn y siop, yn y becws, yn y pentref, yn y dref, yn y ddinas,
yn yr harbwr, ar y bont, wrth yr afon, wrth y llyn, yn y goedwig, yn y cae, ar y bryn,
ar y mynydd, ar y traeth, yn y dyffryn, ar yr ynys, ar y ffordd, yn y stryd,
yn yr amgueddfa, yn y theatr, yn y gwesty, yn y bwyty, yn y bwthyn, yn yr ysgubor,
yn y felin, yn y dafarn, yn y palas, yn yr ogof, yn y berllan, yn y ffatri, yn y banc,
yn y sinema, yn y stadiwm, yn y capel, yn y brifysgol, yn y seler, ar y cei,
yn y neuadd, yn y caffi, yn y garej, yn y stabl, yng Nghaerdydd, ym Mangor,
yn Aberystwyth, yn Abertawe, yn Llundain, yng Nghaernarfon, ym Mhwllheli, yn Wrecsam,
ym Merthyr, yn y Bala, yn Llanelli, yng Nghymru, yn Lloegr, yn Iwerddon, yn Ffrainc,
yn yr Alban, yn Sbaen, yn yr Eidal, yn yr Almaen, ger yr afon, ger y castell,
tu allan i'r tŷ, tu ôl i'r ysgol, wrth ymyl y bont
"""

DESTINATIONS = """
i'r dref, i'r ysgol, i'r farchnad, i'r traeth, i'r gwaith, adref, i'r siop, i'r eglwys,
i'r orsaf, i'r parc, i'r llyfrgell, i'r ysbyty, i'r castell, i'r fferm, i'r mynydd,
i'r pentref, i'r ddinas, i'r harbwr, i'r capel, i'r gwely, i'r caffi, i'r sinema,
i'r theatr, i'r dafarn, i'r brifysgol, i Gaerdydd, i Fangor, i Aberystwyth, i Lundain,
i Abertawe, i Gaernarfon, i'r Bala, i Lanelli, i Ffrainc, i Sbaen, i'r Eidal,
i'r Alban, i Iwerddon, i Loegr, i Wrecsam, i Ddinbych
"""

NAMES = """
Siân, Dafydd, Gwen, Rhys, Elin, Owain, Catrin, Huw, Nia, Gareth, Megan, Iwan, Lowri,
Aled, Ffion, Dylan, Cerys, Emyr, Mared, Llŷr, Tomos, Branwen, Gethin, Heledd, Ioan,
Angharad, Osian, Manon, Rhodri, Eleri
"""

# Adjectives by their radical form; the mutated forms are computed.
ADJECTIVES = """
mawr, bach, coch, glas, du, llwyd, brown, pinc, newydd, hyfryd, prydferth, drud, rhad,
ysgafn, poeth, oer, cynnes, gwag, llawn, glân, budr, tawel, swnllyd, tywyll, hir,
cyflym, araf, gwlyb, sych, cul, llydan, rhyfedd, pwysig, diddorol, enwog, hen
"""
FOOD_ADJECTIVES = "ffres, blasus, melys, poeth, oer, cynnes, drud, rhad, mawr, bach, sur, hallt"
PERSON_ADJECTIVES = """
hapus, trist, blinedig, caredig, prysur, enwog, clyfar, dewr, cyfoethog, tlawd,
newynog, sychedig, balch, ofnus, cyfeillgar, diog, tal, ifanc, hen, sâl, tawel,
swnllyd, cryf, gwan, siriol, nerfus, amyneddgar, bodlon
"""
# "hen" goes before the noun, "cryf" and "gwan" change with gender: predicative only.
_PREDICATIVE_ONLY = {"hen", "cryf", "gwan"}

# Verb-nouns by the kind of object they take.
VERBS_FOOD = """
bwyta, prynu, gwerthu, coginio, paratoi, torri, rhannu, blasu, hoffi, casáu, cario, golchi,
cuddio, archebu, dwyn
"""
VERBS_DRINK = "yfed, prynu, paratoi, arllwys, gwneud, hoffi, archebu, gwerthu, cario"
VERBS_OBJECT = """
ffeindio, colli, cario, cuddio, gollwng, dal, cadw, glanhau, paentio, trwsio, golchi,
prynu, gwerthu, benthyg, taflu, agor, cau, llenwi, defnyddio, anghofio, codi, dwyn, symud
"""
VERBS_CLOTHES = "gwisgo, golchi, smwddio, plygu, prynu, gwerthu, trwsio, tynnu, cario, colli"
VERBS_INSTRUMENT = "chwarae, tiwnio, glanhau, prynu, gwerthu, cario"
VERBS_VEHICLE = "gyrru, golchi, trwsio, prynu, gwerthu, parcio, gwthio, dal, colli"
VERBS_ANIMAL = (
    "bwydo, dal, gwylio, dilyn, ffeindio, golchi, brwsio, prynu, gwerthu, gweld, clywed, cyfrif, achub, galw"
)
VERBS_PERSON = """
helpu, ffonio, gweld, dilyn, cofio, caru, hoffi, dysgu, holi, disgwyl, deffro, talu,
gwylio, clywed, galw, croesawu, ateb
"""
VERBS_PLACE = "glanhau, paentio, gadael, cyrraedd, adeiladu, gweld, addurno, croesi"
VERBS_READ = (
    "darllen, ysgrifennu, anfon, derbyn, llofnodi, plygu, colli, ffeindio, cadw, copïo, rhwygo, cyfieithu"
)
VERBS_INTRANSITIVE = """
cysgu, canu, dawnsio, gweithio, rhedeg, cerdded, nofio, aros, siarad, darllen,
ysgrifennu, chwarae, bwyta, chwerthin, crio, gorffwys, astudio, coginio, paentio,
pysgota, breuddwydio, ymarfer, gwau, gwnïo
"""
VERBS_MOTION = "mynd, cerdded, rhedeg, gyrru, teithio, dychwelyd, seiclo, brysio"

WEATHER = "braf, bwrw glaw, oer, gynnes, wyntog, heulog, bwrw eira, stormus, niwlog, dywyll, boeth"

# Times and places never open with the article, which join() would elide after a vowel.
TIMES = {
    "present": """heddiw, bob dydd, bob bore, nawr, heno, bore 'ma, yn aml, bob nos, ar y penwythnos,
        bob prynhawn, ar hyn o bryd""",
    "past": "ddoe, neithiwr, wythnos diwethaf, llynedd, bore ddoe, bore 'ma, bryd hynny, prynhawn 'ma",
    "future": "yfory, wythnos nesaf, heno, bore yfory, dros y penwythnos, cyn bo hir, nos yfory",
}
_AUXILIARIES = {
    "present": ("mae", "dydy", "ydy"),
    "past": ("roedd", "doedd", "oedd"),
    "future": ("bydd", "fydd", "fydd"),
}
_SOFT = (
    ("ll", "l"),
    ("rh", "r"),
    ("ch", "ch"),
    ("th", "th"),
    ("ph", "ph"),
    ("p", "b"),
    ("t", "d"),
    ("c", "g"),
    ("b", "f"),
    ("d", "dd"),
    ("g", ""),
    ("m", "f"),
)
_VOWELS = "aeiouwyâêîôûŵŷáéíóú"


def soft(word: str, keep_ll_rh: bool = False) -> str:
    """Soft mutation: ``cath`` -> ``gath``, ``gardd`` -> ``ardd``, ``llwyd`` -> ``lwyd``.

    Arguments
    ---------
    word : str
        The radical form.
    keep_ll_rh : bool
        Leave ll and rh alone, as after the article and predicative ``yn``.

    Returns
    -------
    mutated : str

    Example
    -------
    >>> soft("cath"), soft("gardd"), soft("llawn"), soft("llawn", keep_ll_rh=True)
    ('gath', 'ardd', 'lawn', 'llawn')
    """
    for radical, mutated in _SOFT:
        if word.startswith(radical):
            if keep_ll_rh and radical in {"ll", "rh"}:
                return word
            return mutated + word[len(radical) :]
    return word


def article(word: str) -> str:
    """``y`` before a consonant, ``yr`` before a vowel or h (``yr afr``, ``y wiwer``).

    Example
    -------
    >>> article("afr"), article("wiwer"), article("het")
    ('yr', 'y', 'yr')
    """
    return "yr" if word[0] in _VOWELS.replace("w", "") or word[0] == "h" else "y"


def join(words: list[str]) -> str:
    """Joins words, writing the article ``y``/``yr`` after a vowel as ``'r``.

    Example
    -------
    >>> join(["mae", "y", "gath", "yn", "bwyta", "yr", "afal"])
    "mae'r gath yn bwyta'r afal"
    """
    text = " ".join(word for word in words if word)
    return re.sub(rf"(\w*[{_VOWELS}]) (?:y|yr) ", r"\1'r ", text)


def _table(table: str) -> list[tuple[str, str]]:
    return [tuple(entry.rsplit(" ", 1)) for entry in entries(table)]


class _Lexicon:
    people, animals, food, drinks = _table(PEOPLE), _table(ANIMALS), _table(FOOD), _table(DRINKS)
    objects, clothes, instruments = _table(OBJECTS), _table(CLOTHES), _table(INSTRUMENTS)
    vehicles, readable, places = _table(VEHICLES), _table(READABLE), _table(PLACES)
    adjectives, food_adjectives = entries(ADJECTIVES), entries(FOOD_ADJECTIVES)
    person_adjectives = entries(PERSON_ADJECTIVES)


_L = _Lexicon


def noun_phrase(rng: random.Random, rows, definite: bool, adjectives=()) -> str:
    """A Welsh noun phrase: ``y gath ddu``, ``afal coch``, ``yr ardd``.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    rows : list of (str, str)
        Nouns and genders (m, f or pl).
    definite : bool
        With the article (Welsh has no indefinite article).
    adjectives : list of str
        Radical adjectives that may follow the noun.

    Returns
    -------
    phrase : str

    Example
    -------
    >>> noun_phrase(random.Random(0), [("cath", "f")], True)
    'y gath'
    """
    noun, gender = rng.choice(rows)
    feminine = gender == "f"
    words = [soft(noun, keep_ll_rh=True) if feminine and definite else noun]
    usable = [a for a in adjectives if a not in _PREDICATIVE_ONLY]
    if usable and rng.random() < 0.35:
        adjective = rng.choice(usable)
        words.append(soft(adjective) if feminine else adjective)
    if definite:
        words.insert(0, article(words[0]))
    return " ".join(words)


def _subject(rng: random.Random, definite_only: bool) -> str:
    draw = rng.random()
    if draw < 0.3:
        return rng.choice(entries(NAMES))
    rows, adjectives = (_L.people, _L.person_adjectives) if draw < 0.8 else (_L.animals, _L.adjectives[:12])
    return noun_phrase(rng, rows, definite_only or rng.random() < 0.85, adjectives)


_FRAMES = (
    (VERBS_FOOD, "food", "food_adjectives"),
    (VERBS_DRINK, "drinks", "food_adjectives"),
    (VERBS_OBJECT, "objects", "adjectives"),
    (VERBS_CLOTHES, "clothes", "adjectives"),
    (VERBS_INSTRUMENT, "instruments", "adjectives"),
    (VERBS_VEHICLE, "vehicles", "adjectives"),
    (VERBS_ANIMAL, "animals", "adjectives"),
    (VERBS_PERSON, "people", "person_adjectives"),
    (VERBS_PLACE, "places", "adjectives"),
    (VERBS_READ, "readable", "adjectives"),
)


def _predicate(rng: random.Random) -> list[str]:
    """What follows ``yn``: a verb-noun with its object and place, or an adjective."""
    draw = rng.random()
    if draw < 0.5:
        verbs, nouns, adjectives = rng.choice(_FRAMES)
        definite = nouns in {"people", "places"} or rng.random() < 0.5
        words = [
            rng.choice(entries(verbs)),
            noun_phrase(rng, getattr(_L, nouns), definite, getattr(_L, adjectives)),
        ]
    elif draw < 0.7:
        words = [rng.choice(entries(VERBS_INTRANSITIVE))]
        if rng.random() < 0.15:
            words = ["hoffi"] + words
    elif draw < 0.85:
        return [rng.choice(entries(VERBS_MOTION)), rng.choice(entries(DESTINATIONS))]
    else:
        return [soft(rng.choice(_L.person_adjectives), keep_ll_rh=True)]
    if rng.random() < 0.5:
        words.append(rng.choice(entries(LOCATIONS)))
    return words


def _statement(rng: random.Random) -> tuple[str, str]:
    """One uncapitalised Welsh statement or question and its end mark."""
    tense = rng.choices(["present", "past", "future"], weights=[50, 30, 20])[0]
    affirmative, negative, question = _AUXILIARIES[tense]
    time = rng.choice(entries(TIMES[tense])) if rng.random() < 0.5 else ""
    mood = rng.choices(["statement", "negative", "question"], weights=[80, 10, 10])[0]
    draw = rng.random()
    if draw < 0.08:  # Mae hi'n braf heddiw.
        weather = rng.choice(entries(WEATHER))
        if mood == "negative":
            words = [negative, "hi", "ddim", "yn", weather]
        else:
            words = [question if mood == "question" else affirmative, "hi'n", weather]
    elif draw < 0.2 and mood == "statement":  # Mae cath ddu yn yr ardd.
        rows, adjectives = rng.choice(
            [(_L.animals, _L.adjectives[:12]), (_L.objects, _L.adjectives), (_L.people, _L.person_adjectives)]
        )
        words = [affirmative, noun_phrase(rng, rows, False, adjectives), rng.choice(entries(LOCATIONS))]
    elif draw < 0.3:  # Mae'r tŷ yn fawr.
        rows, adjectives = rng.choice(
            [(_L.places, _L.adjectives), (_L.food, _L.food_adjectives), (_L.objects, _L.adjectives)]
        )
        subject = noun_phrase(rng, rows, True)
        predicate = soft(rng.choice(adjectives), keep_ll_rh=True)
        words = {
            "statement": [affirmative, subject, "yn", predicate],
            "negative": [negative, subject, "ddim", "yn", predicate],
            "question": [question, subject, "yn", predicate],
        }[mood]
    else:
        subject = _subject(rng, definite_only=mood != "statement")
        predicate = _predicate(rng)
        words = {
            "statement": [affirmative, subject, "yn"] + predicate,
            "negative": [negative, subject, "ddim", "yn"] + predicate,
            "question": [question, subject, "yn"] + predicate,
        }[mood]
    if time:
        words.append(time)
    return join(words), "?" if mood == "question" else "."


def _connect(rng: random.Random, first: str, second: str) -> str:
    return f"{first}, {rng.choice(['ond', 'ac wedyn', 'achos'])} {second}"


def sentence(rng: random.Random) -> str:
    """One Welsh sentence: a statement, or two joined by ond, ac wedyn or achos.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.

    Returns
    -------
    sentence : str
        Capitalised and punctuated.

    Example
    -------
    >>> text = sentence(random.Random(4))
    >>> text[0].isupper() and text[-1] in ".?"
    True
    >>> sentence(random.Random(4)) == text
    True
    """
    return compose(rng, _statement, _connect)
