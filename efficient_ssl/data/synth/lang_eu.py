"""Basque sentences for the Common Voice part of the mini corpus.

Nouns and adjectives are stored by their bare stem (``etxe``, ``txakur``, ``handi``);
:func:`inflect` adds the case ending of the definite singular to the last word of the
phrase: absolutive ``etxea``, ergative ``txakurrak``, inessive ``mendian``, allative
``eskolara``. Transitive verbs take an ergative subject, intransitive ones an
absolutive subject; the order is subject, place, object, verb (SOV). Verbs are given
by their habitual and perfective participles (``jaten/jan``); the future participle
is derived (``jango``, ``erosiko``).

Authors
 * efficient_ssl contributors
"""

import random

from efficient_ssl.data.synth.grammar import compose, entries

PEOPLE = """
gizon, emakume, neska, mutil, ume, irakasle, mediku, nekazari, okin, arrantzale, gidari,
idazle, abeslari, ikasle, amona, aitona, ama, aita, lagun, sukaldari, margolari,
erizain, dendari, musikari, abokatu, epaile, soldadu, marinel, artzain, apaiz,
alkate, zuzendari, ingeniari, postari, polizia, zerbitzari, haur, anaia, arreba,
ahizpa, osaba, izeba, seme, alaba, bizilagun, turista, errege, erregina, printze
"""

ANIMALS = """
katu, txakur, zaldi, behi, ardi, ahuntz, txerri, untxi, azeri, otso, hartz, sagu, txori,
ahate, oilo, oilar, arrain, igel, suge, lehoi, tigre, elefante, tximino, asto, dortoka,
tximeleta, erle, urtxintxa, arkume, txahal, mando
"""

FOOD = """
ogi, gazta, esne, ur, sagar, udare, laranja, banana, tomate, azenario, tipula, arrautza,
tarta, opil, ogitarteko, limoi, gerezi, marrubi, meloi, patata, arroz, ezti,
haragi, azukre, gatz, marmelada, txokolate, irin, arrain, zopa, urdaiazpiko, izozki,
fruta, barazki, entsalada, oilasko, kafe, te, ardo, garagardo, zuku, sagardo, gailleta,
pizza, saltxitxa, okela
"""

OBJECTS = """
liburu, gutun, giltza, kutxa, poltsa, saski, botila, kikara, plater, katilu, labana,
koilara, sardexka, eraztun, erloju, lanpara, kandela, mapa, boligrafo, arkatz, argazki,
pilota, soka, ontzi, manta, ispilu, aterki, txartel, pakete, egunkari, mailu, eskailera,
txanpon, lepoko, zorro, irrati, ordenagailu, lapiko, zartagin, eskuila, orrazi, eskuoihal,
burko, botoi, gutun-azal, zigilu, koaderno, jostailu, panpina, bandera, ezpata, linterna,
maleta, opari, loreontzi, telefono, edalontzi, aulki, mahai, ate, leiho, kapela, beroki,
jaka, alkandora, soineko, jertse, zapata, gerriko, gona, galtza, eskularru, txapela
"""

INSTRUMENTS = "piano, biolin, gitarra, txistu, trikitixa, danbor, tronpeta, harpa, txalaparta"

VEHICLES = (
    "auto, autobus, tren, itsasontzi, txalupa, bizikleta, kamioi, gurdi, hegazkin, taxi, traktore, moto"
)

READABLE = """
liburu, gutun, egunkari, ipuin, olerki, eleberri, txosten, mezu, aldizkari, errezeta, mapa,
zerrenda, menu, postal, artikulu, kapitulu, kartel, gonbidapen
"""

PLACES = """
etxe, eskola, eliza, azoka, geltoki, liburutegi, ospitale, gaztelu, baserri, lorategi,
parke, sukalde, bulego, denda, okindegi, herri, hiri, portu, zubi, ibai, laku, baso,
zelai, muino, mendi, hondartza, haran, uharte, errepide, kale, plaza, museo, antzoki,
hotel, jatetxe, ukuilu, errota, jauregi, dorre, haitzulo, belardi, fabrika, banku,
zinema, estadio, kapera, katedral, unibertsitate, ganbara, logela, bainugela, itsaslabar,
putzu, itsasargi, kai, farmazia, igerileku, egongela, tailer, udaletxe, taberna,
frontoi, merkatu
"""

# Towns and countries: inessive and allative written out (Bilbon, Bilbora).
TOWNS = """
Bilbon:Bilbora, Donostian:Donostiara, Gasteizen:Gasteizera, Iruñean:Iruñera,
Baionan:Baionara, Madrilen:Madrilera, Parisen:Parisera, Londresen:Londresera,
Bartzelonan:Bartzelonara, Zarautzen:Zarautzera, Getxon:Getxora, Eibarren:Eibarrera,
Tolosan:Tolosara, Gernikan:Gernikara, Durangon:Durangora, Frantzian:Frantziara,
Espainian:Espainiara, Italian:Italiara, Alemanian:Alemaniara, Irlandan:Irlandara
"""

NAMES = """
Miren, Jon, Ane, Mikel, Amaia, Iker, Leire, Unai, Nerea, Asier, Maite, Gorka, Itziar,
Xabier, Irati, Ander, Uxue, Julen, Garazi, Koldo, Aitor, Nahia, Eneko, Oihana, Peio,
Ainhoa, Josu, Edurne, Imanol, Arantxa
"""

ADJECTIVES = """
handi, txiki, gorri, urdin, berde, hori, zuri, beltz, marroi, gris, zahar, berri, eder,
polit, itsusi, astun, arin, luze, labur, garesti, merke, garbi, zikin, huts, bete, bero,
hotz, berezi, arraro, ezagun, apal, zabal, estu, biribil, leun, gogor, ilun, argitsu
"""
FOOD_ADJECTIVES = "fresko, gozo, gazi, mingots, heldu, bero, hotz, goxo, garesti, merke, handi, txiki"
PERSON_ADJECTIVES = """
zahar, gazte, alai, triste, argi, ausart, jator, lotsati, aberats, pobre, ospetsu,
langile, alfer, atsegin, serio, lasai, zintzo, jakintsu, indartsu, altu, baxu
"""
# Person states: X nekatuta dago (is tired).
STATES = "nekatuta, pozik, gaixorik, haserre, lasai, triste, kezkatuta, harrituta, prest, bakarrik, isilik"

# Transitive verbs, habitual/perfective participles, by the kind of object.
VERBS_FOOD = """
jaten/jan, erosten/erosi, saltzen/saldu, prestatzen/prestatu, mozten/moztu,
dastatzen/dastatu, ekartzen/ekarri, bilatzen/bilatu, aurkitzen/aurkitu, eskatzen/eskatu,
garbitzen/garbitu, gordetzen/gorde, ezkutatzen/ezkutatu, edaten/edan, partekatzen/partekatu
"""
VERBS_OBJECT = """
aurkitzen/aurkitu, galtzen/galdu, eramaten/eraman, bilatzen/bilatu, hartzen/hartu,
ezkutatzen/ezkutatu, gordetzen/gorde, garbitzen/garbitu, margotzen/margotu,
konpontzen/konpondu, erosten/erosi, saltzen/saldu, botatzen/bota, irekitzen/ireki,
ixten/itxi, betetzen/bete, begiratzen/begiratu, erakusten/erakutsi, ekartzen/ekarri,
erabiltzen/erabili, ahazten/ahaztu, hausten/hautsi, jasotzen/jaso, lehortzen/lehortu
"""
VERBS_INSTRUMENT = (
    "jotzen/jo, entzuten/entzun, konpontzen/konpondu, erosten/erosi, saltzen/saldu, garbitzen/garbitu"
)
VERBS_VEHICLE = """
gidatzen/gidatu, garbitzen/garbitu, konpontzen/konpondu, aparkatzen/aparkatu, erosten/erosi,
saltzen/saldu, bultzatzen/bultzatu, hartzen/hartu, galtzen/galdu
"""
VERBS_ANIMAL = """
elikatzen/elikatu, laztantzen/laztandu, begiratzen/begiratu, jarraitzen/jarraitu,
bilatzen/bilatu, aurkitzen/aurkitu, harrapatzen/harrapatu, garbitzen/garbitu,
marrazten/marraztu, entzuten/entzun, zaintzen/zaindu, deitzen/deitu, ikusten/ikusi
"""
VERBS_PERSON = """
laguntzen/lagundu, deitzen/deitu, itxaroten/itxaron, begiratzen/begiratu,
bilatzen/bilatu, agurtzen/agurtu, gonbidatzen/gonbidatu, entzuten/entzun,
ezagutzen/ezagutu, bisitatzen/bisitatu, miresten/miretsi, esnatzen/esnatu,
zaintzen/zaindu, besarkatzen/besarkatu, ikusten/ikusi, laguntzen/lagundu
"""
VERBS_PLACE = """
bisitatzen/bisitatu, uzten/utzi, garbitzen/garbitu, margotzen/margotu,
gurutzatzen/gurutzatu, bilatzen/bilatu, ikusten/ikusi, marrazten/marraztu,
apaintzen/apaindu, eraikitzen/eraiki
"""
VERBS_READ = """
irakurtzen/irakurri, idazten/idatzi, bidaltzen/bidali, jasotzen/jaso, sinatzen/sinatu,
tolesten/tolestu, bilatzen/bilatu, aurkitzen/aurkitu, ahazten/ahaztu, kopiatzen/kopiatu,
apurtzen/apurtu, zuzentzen/zuzendu, itzultzen/itzuli, amaitzen/amaitu
"""
# Intransitive: absolutive subject, auxiliary "da".
VERBS_INTRANSITIVE_DA = """
dantzatzen/dantzatu, paseatzen/paseatu, jolasten/jolastu, esnatzen/esnatu,
geratzen/geratu, ibiltzen/ibili, ezkutatzen/ezkutatu, eseritzen/eseri, etzaten/etzan,
mugitzen/mugitu
"""
# Intransitive with an ergative subject, auxiliary "du": Neskak abesten du.
VERBS_INTRANSITIVE_DU = """
lan egiten/lan egin, lo egiten/lo egin, abesten/abestu, korrika egiten/korrika egin,
igeri egiten/igeri egin, itxaroten/itxaron, hitz egiten/hitz egin, ikasten/ikasi,
sukaldatzen/sukaldatu, margotzen/margotu, negar egiten/negar egin, barre egiten/barre egin,
irakurtzen/irakurri, idazten/idatzi, arrantzan egiten/arrantzan egin
"""
# Motion: absolutive subject, allative goal: Umea eskolara joaten da.
VERBS_MOTION = """
joaten/joan, etortzen/etorri, itzultzen/itzuli, korrika joaten/korrika joan,
bidaiatzen/bidaiatu, igotzen/igo, heltzen/heldu, sartzen/sartu
"""

TIMES = {
    "habitual": """egunero, goizero, askotan, batzuetan, igandeetan, astelehenetan, udan, neguan, gauez,
        arratsaldeetan, beti, astebururo""",
    "perfective": "gaur, gaur goizean, gaur arratsaldean, gaur gauean, aurten, oraintxe, dagoeneko",
    "future": "bihar, bihar goizean, datorren astean, laster, bihar arratsaldean, etzi, udan, gero",
}


def inflect(phrase: str, case: str) -> str:
    """Adds the definite singular ending of ``case`` to the last word of ``phrase``.

    Arguments
    ---------
    phrase : str
        Bare stem or noun + adjective stems (``etxe handi``).
    case : str
        ``"abs"`` (-a), ``"erg"`` (-ak), ``"ine"`` (-an, where) or ``"all"`` (-ra, where to).

    Returns
    -------
    inflected : str

    Example
    -------
    >>> [inflect(w, "abs") for w in ["etxe", "neska", "txakur", "gizon"]]
    ['etxea', 'neska', 'txakurra', 'gizona']
    >>> inflect("etxe handi", "ine"), inflect("eskola", "all"), inflect("hotel", "ine")
    ('etxe handian', 'eskolara', 'hotelean')
    """
    head, _, last = phrase.rpartition(" ")
    if last.endswith("a"):
        stem, endings = last[:-1], {"abs": "a", "erg": "ak", "ine": "an", "all": "ara"}
    elif last.endswith("r") and last not in {"ur"}:
        stem, endings = last, {"abs": "ra", "erg": "rak", "ine": "rean", "all": "rera"}
    elif last[-1] in "eiou":
        stem, endings = last, {"abs": "a", "erg": "ak", "ine": "an", "all": "ra"}
    else:
        stem, endings = last, {"abs": "a", "erg": "ak", "ine": "ean", "all": "era"}
    word = stem + endings[case]
    return f"{head} {word}" if head else word


def ergative_name(name: str) -> str:
    """``Miren`` -> ``Mirenek``, ``Ane`` -> ``Anek``, ``Xabier`` -> ``Xabierrek``.

    Example
    -------
    >>> ergative_name("Miren"), ergative_name("Amaia"), ergative_name("Xabier")
    ('Mirenek', 'Amaiak', 'Xabierrek')
    """
    if name[-1] in "aeiou":
        return name + "k"
    if name.endswith("r"):
        return name + "rek"
    return name + "ek"


def future(participle: str) -> str:
    """Future participle: ``jan`` -> ``jango``, ``erosi`` -> ``erosiko``, ``lan egin`` -> ``lan egingo``.

    Example
    -------
    >>> future("jan"), future("erosi"), future("lan egin")
    ('jango', 'erosiko', 'lan egingo')
    """
    return participle + ("go" if participle.endswith("n") else "ko")


class _Lexicon:
    people, animals, food = entries(PEOPLE), entries(ANIMALS), entries(FOOD)
    objects, vehicles, readable = entries(OBJECTS), entries(VEHICLES), entries(READABLE)
    instruments, places = entries(INSTRUMENTS), entries(PLACES)
    adjectives, food_adjectives = entries(ADJECTIVES), entries(FOOD_ADJECTIVES)
    person_adjectives = entries(PERSON_ADJECTIVES)


_L = _Lexicon


def noun_phrase(rng: random.Random, rows, case: str, adjectives=(), indefinite: bool = False) -> str:
    """A noun phrase in ``case``; ``indefinite`` gives ``sagar gorri bat`` (absolutive only).

    Example
    -------
    >>> noun_phrase(random.Random(0), ["txakur"], "erg")
    'txakurrak'
    """
    words = rng.choice(rows)
    if adjectives and rng.random() < 0.35:
        words = f"{words} {rng.choice(adjectives)}"
    if indefinite:
        return f"{words} bat"
    return inflect(words, case)


def _place(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(entries(TOWNS)).split(":")[0]
    return inflect(rng.choice(_L.places), "ine")


def _destination(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(entries(TOWNS)).split(":")[1]
    if rng.random() < 0.05:
        return "etxera"
    return inflect(rng.choice(_L.places), "all")


def _subject(rng: random.Random, case: str) -> str:
    draw = rng.random()
    if draw < 0.3:
        name = rng.choice(entries(NAMES))
        return ergative_name(name) if case == "erg" else name
    rows, adjectives = (_L.people, _L.person_adjectives) if draw < 0.8 else (_L.animals, _L.adjectives[:12])
    return noun_phrase(rng, rows, case, adjectives)


def _verb(participles: tuple[str, str], aspect: str) -> str:
    habitual, perfective = participles
    return {"habitual": habitual, "perfective": perfective, "future": future(perfective)}[aspect]


_FRAMES = (
    (VERBS_FOOD, "food", "food_adjectives"),
    (VERBS_OBJECT, "objects", "adjectives"),
    (VERBS_INSTRUMENT, "instruments", ""),
    (VERBS_VEHICLE, "vehicles", "adjectives"),
    (VERBS_ANIMAL, "animals", "adjectives"),
    (VERBS_PERSON, "people", "person_adjectives"),
    (VERBS_PLACE, "places", "adjectives"),
    (VERBS_READ, "readable", "adjectives"),
)


def _pairs(table: str) -> list[tuple[str, str]]:
    return [tuple(entry.split("/")) for entry in entries(table)]


def _statement(rng: random.Random) -> tuple[str, str]:
    """One uncapitalised Basque statement or question and its end mark."""
    aspect = rng.choices(["habitual", "perfective", "future"], weights=[45, 35, 20])[0]
    time = [rng.choice(entries(TIMES[aspect]))] if rng.random() < 0.55 else []
    negative = rng.random() < 0.1
    place = [_place(rng)] if rng.random() < 0.4 else []
    draw = rng.random()
    if draw < 0.45:  # Gizonak gaur merkatuan sagar gorri bat erosi du.
        verbs, nouns, adjectives = rng.choice(_FRAMES)
        participle = _verb(rng.choice(_pairs(verbs)), aspect)
        rows, adjective_list = getattr(_L, nouns), getattr(_L, adjectives) if adjectives else ()
        obj = noun_phrase(rng, rows, "abs", adjective_list, indefinite=rng.random() < 0.3 and not negative)
        subject = _subject(rng, "erg")
        if negative:
            words = [subject, "ez du"] + time + place + [obj, participle]
        else:
            words = [subject] + time + place + [obj, participle, "du"]
    elif draw < 0.6:  # Neskak lorategian abesten du. / Umea parkean jolasten da.
        if rng.random() < 0.5:
            subject, auxiliary, verbs = _subject(rng, "erg"), "du", VERBS_INTRANSITIVE_DU
        else:
            subject, auxiliary, verbs = _subject(rng, "abs"), "da", VERBS_INTRANSITIVE_DA
        participle = _verb(rng.choice(_pairs(verbs)), aspect)
        place = place or [_place(rng)]
        if negative:
            words = [subject, f"ez {auxiliary}"] + time + place + [participle]
        else:
            words = [subject] + time + place + [participle, auxiliary]
    elif draw < 0.75:  # Umea eskolara joaten da egunero.
        subject = _subject(rng, "abs")
        participle = _verb(rng.choice(_pairs(VERBS_MOTION)), aspect)
        if negative:
            words = [subject, "ez da"] + time + [_destination(rng), participle]
        else:
            words = [subject] + time + [_destination(rng), participle, "da"]
    elif draw < 0.85:  # Etxea handia da.
        rows, adjectives = rng.choice(
            [(_L.places, _L.adjectives), (_L.food, _L.food_adjectives), (_L.objects, _L.adjectives)]
        )
        copula = {"habitual": "da", "perfective": "zen", "future": "izango da"}[aspect]
        time = [] if aspect == "perfective" else time
        words = [noun_phrase(rng, rows, "abs")] + time + [inflect(rng.choice(adjectives), "abs")]
        words += [f"ez {copula}" if negative and aspect != "future" else copula]
    elif draw < 0.93:  # Gizona nekatuta dago.
        copula = {"habitual": "dago", "perfective": "zegoen", "future": "egongo da"}[aspect]
        time = [] if aspect == "perfective" else time
        words = [_subject(rng, "abs")] + time + [rng.choice(entries(STATES)), copula]
    else:  # Parkean txakur bat dago.
        rows, adjectives = rng.choice(
            [(_L.animals, _L.adjectives[:12]), (_L.objects, _L.adjectives), (_L.people, _L.person_adjectives)]
        )
        copula = {"habitual": "dago", "perfective": "zegoen", "future": "egongo da"}[aspect]
        words = [_place(rng)] + [noun_phrase(rng, rows, "abs", adjectives, indefinite=True), copula]
    question = not negative and rng.random() < 0.08
    return " ".join(words), "?" if question else "."


def _connect(rng: random.Random, first: str, second: str) -> str:
    return f"{first}, {rng.choice(['eta', 'baina'])} {second}"


def sentence(rng: random.Random) -> str:
    """One Basque sentence: a statement, or two joined by eta or baina.

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
    >>> text = sentence(random.Random(5))
    >>> text[0].isupper() and text[-1] in ".?"
    True
    >>> sentence(random.Random(5)) == text
    True
    """
    return compose(rng, _statement, _connect)
