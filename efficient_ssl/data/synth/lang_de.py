"""German sentences for the Common Voice part of the mini corpus.

Nouns carry their gender (``Hund m``) and, for weak masculine nouns, the form they take
in the accusative and dative (``Junge m Jungen``); places also carry the preposition
that says where (``Garten m in`` -> ``im Garten``). Articles and adjectives decline for
case, gender and article type; the finite verb comes second and an infinitive last.

Authors
 * efficient_ssl contributors
"""

import random
from dataclasses import dataclass

from efficient_ssl.data.synth.grammar import compose, entries

PEOPLE = """
Bäcker m, Bäckerin f, Arzt m, Ärztin f, Lehrer m, Lehrerin f, Bauer m Bauern, Bäuerin f,
Junge m Jungen, Mädchen n, Mann m, Frau f, Kind n, König m, Königin f, Fischer m,
Seemann m, Koch m, Köchin f, Maler m, Malerin f, Sänger m, Sängerin f, Soldat m Soldaten,
Richter m, Gärtner m, Gärtnerin f, Metzger m, Fahrer m, Pilot m Piloten,
Polizist m Polizisten, Kellner m, Kellnerin f, Verkäufer m, Verkäuferin f, Großvater m,
Großmutter f, Onkel m, Tante f, Bruder m, Schwester f, Mutter f, Vater m, Sohn m,
Tochter f, Freund m, Freundin f, Nachbar m Nachbarn, Nachbarin f, Student m Studenten,
Studentin f, Prinz m Prinzen, Prinzessin f, Kapitän m, Ingenieur m, Schriftsteller m,
Schneider m, Briefträger m, Schäfer m, Pfarrer m, Bürgermeister m, Tischler m, Förster m,
Zahnarzt m, Friseur m, Friseurin f, Musiker m, Musikerin f, Handwerker m, Tierarzt m
"""

ANIMALS = """
Hund m, Katze f, Pferd n, Kuh f, Schaf n, Ziege f, Schwein n, Kaninchen n, Fuchs m,
Wolf m, Bär m Bären, Maus f, Vogel m, Ente f, Gans f, Eule f, Adler m, Frosch m,
Schlange f, Löwe m Löwen, Tiger m, Elefant m Elefanten, Affe m Affen, Esel m, Huhn n,
Hahn m, Wal m, Delfin m, Eichhörnchen n, Schildkröte f, Schmetterling m, Biene f,
Hase m Hasen, Igel m, Kalb n, Lamm n, Pony n
"""

FOOD = """
Apfel m, Birne f, Orange f, Banane f, Tomate f, Karotte f, Zwiebel f, Ei n, Kuchen m,
Torte f, Brötchen n, Zitrone f, Kirsche f, Erdbeere f, Melone f, Pfirsich m, Brezel f,
Keks m, Pizza f, Wurst f, Gurke f, Kartoffel f, Pfannkuchen m, Salat m, Ananas f
"""

FOOD_MASS = """
Brot n, Käse m, Butter f, Reis m, Honig m, Fleisch n, Zucker m, Salz n, Marmelade f,
Schokolade f, Mehl n, Suppe f, Schinken m, Eis n, Sahne f, Obst n, Gemüse n, Fisch m,
Müsli n, Quark m
"""

DRINKS = "Milch f, Tee m, Kaffee m, Wasser n, Wein m, Saft m, Limonade f, Bier n, Kakao m, Apfelsaft m"

OBJECTS = """
Buch n, Brief m, Schlüssel m, Kiste f, Tasche f, Korb m, Flasche f, Tasse f, Teller m,
Schüssel f, Messer n, Löffel m, Gabel f, Ring m, Uhr f, Lampe f, Kerze f, Karte f,
Stift m, Bleistift m, Bild n, Foto n, Ball m, Seil n, Eimer m, Decke f, Spiegel m,
Regenschirm m, Fahrkarte f, Paket n, Zeitung f, Hammer m, Leiter f, Münze f, Kette f,
Geldbörse f, Radio n, Computer m, Kessel m, Topf m, Pfanne f, Bürste f, Kamm m,
Handtuch n, Kissen n, Knopf m, Umschlag m, Briefmarke f, Heft n, Spielzeug n, Puppe f,
Fahne f, Schwert n, Laterne f, Koffer m, Geschenk n, Vase f, Telefon n, Glas n,
Becher m, Schachtel f, Schere f, Brille f
"""

CLOTHES = """
Hut m, Mantel m, Jacke f, Hemd n, Kleid n, Pullover m, Schal m, Schuh m, Gürtel m, Rock m,
Hose f, Handschuh m, Mütze f, Stiefel m, Schürze f, Uniform f, Bluse f, Krawatte f
"""

INSTRUMENTS = "Klavier, Geige, Gitarre, Flöte, Trompete, Harfe, Cello, Schlagzeug, Akkordeon, Orgel"

VEHICLES = """
Auto n, Bus m, Zug m, Boot n, Schiff n, Fahrrad n, Lastwagen m, Wagen m, Flugzeug n,
Taxi n, Traktor m, Motorrad n, Straßenbahn f
"""

READABLE = """
Buch n, Brief m, Zeitung f, Geschichte f, Gedicht n, Roman m, Bericht m, Nachricht f,
Zeitschrift f, Rezept n, Karte f, Liste f, Speisekarte f, Postkarte f, Artikel m,
Kapitel n, Plakat n, Einladung f, Märchen n
"""

# Places: noun, gender and the preposition (dative) that says where.
PLACES = """
Haus n in, Schule f in, Kirche f in, Markt m auf, Bahnhof m an, Bibliothek f in,
Krankenhaus n in, Schloss n in, Bauernhof m auf, Garten m in, Park m in, Küche f in,
Büro n in, Laden m in, Bäckerei f in, Dorf n in, Stadt f in, Hafen m in, Brücke f auf,
Fluss m an, See m an, Wald m in, Feld n auf, Hügel m auf, Berg m auf, Strand m an,
Tal n in, Insel f auf, Straße f auf, Platz m auf, Museum n in, Theater n in, Hotel n in,
Restaurant n in, Scheune f in, Mühle f in, Gasthaus n in, Turm m in, Höhle f in,
Wiese f auf, Fabrik f in, Bank f in, Kino n in, Stadion n in, Zoo m in, Kapelle f in,
Dom m in, Universität f an, Keller m in, Dachboden m auf, Schlafzimmer n in,
Badezimmer n in, Ufer n an, Teich m an, Bach m an, Leuchtturm m in, Hof m auf,
Werkstatt f in, Apotheke f in, Schwimmbad n in, Wohnzimmer n in, Flur m in,
Spielplatz m auf, Rathaus n in, Friedhof m auf
"""

NAMES = """
Anna, Lukas, Maria, Jonas, Lena, Felix, Sophie, Paul, Laura, Max, Julia, Leon, Hannah,
Tim, Clara, Finn, Emma, Jan, Mia, Ben, Klaus, Petra, Hans, Ursula, Stefan, Monika,
Jürgen, Sabine, Wolfgang, Katrin, Greta, Moritz, Ida, Emil
"""

CITIES = """
Berlin, München, Hamburg, Köln, Frankfurt, Stuttgart, Dresden, Leipzig, Bremen, Hannover,
Wien, Zürich, Bonn, Nürnberg, Heidelberg, Salzburg, Graz, Basel, Kiel, Rostock,
Frankreich, Spanien, Italien, England, Irland, Schottland, Österreich, Polen, Dänemark,
Schweden, Norwegen, Japan, Kanada, Griechenland, Portugal, Amerika
"""

# Adjectives: predicative form, or predicative/attributive stem when they differ.
OBJECT_ADJECTIVES = """
rot, blau, grün, gelb, weiß, schwarz, braun, grau, groß, klein, alt, neu, schön, schwer,
leicht, lang, kurz, dick, dünn, teuer/teur, billig, sauber, schmutzig, leer, voll, hell,
dunkel/dunkl, rund, weich, hart, nass, trocken, modern, seltsam, wertvoll, hübsch, bunt
"""
FOOD_ADJECTIVES = """
frisch, süß, sauer/saur, warm, kalt, heiß, lecker, teuer/teur, billig, reif, saftig,
knusprig, salzig, groß, klein
"""
PERSON_ADJECTIVES = """
jung, alt, müde, glücklich, traurig, freundlich, klug, mutig, faul, fleißig, stolz,
hungrig, durstig, nett, höflich, ruhig, nervös, krank, reich, arm, berühmt, neugierig,
streng, fröhlich, geduldig, ängstlich, zufrieden, wütend
"""
ANIMAL_ADJECTIVES = """
klein, groß, alt, jung, schwarz, weiß, braun, grau, müde, hungrig, wild, zahm, schnell,
langsam, dick, nass, schmutzig, frech
"""
PLACE_ADJECTIVES = """
ruhig, laut, voll, leer, alt, neu, groß, klein, schön, dunkel, hell, kalt, warm, sauber,
schmutzig, berühmt, geschlossen, offen
"""

# Verbs: third person singular/infinitive, by the kind of object they take.
VERBS_FOOD = """
isst/essen, kauft/kaufen, verkauft/verkaufen, kocht/kochen, schneidet/schneiden,
probiert/probieren, bringt/bringen, sucht/suchen, findet/finden, mag/mögen, holt/holen,
teilt/teilen, bestellt/bestellen, wäscht/waschen, braucht/brauchen, versteckt/verstecken
"""
VERBS_DRINK = (
    "trinkt/trinken, kauft/kaufen, bestellt/bestellen, kocht/kochen, bringt/bringen, holt/holen, mag/mögen"
)
VERBS_OBJECT = """
findet/finden, verliert/verlieren, trägt/tragen, sucht/suchen, nimmt/nehmen,
versteckt/verstecken, hält/halten, behält/behalten, putzt/putzen, malt/malen,
repariert/reparieren, wäscht/waschen, kauft/kaufen, verkauft/verkaufen, leiht/leihen,
wirft/werfen, öffnet/öffnen, schließt/schließen, füllt/füllen, leert/leeren,
betrachtet/betrachten, zeigt/zeigen, bringt/bringen, benutzt/benutzen,
vergisst/vergessen, braucht/brauchen, holt/holen, packt/packen, sammelt/sammeln
"""
VERBS_CLOTHES = """
trägt/tragen, wäscht/waschen, bügelt/bügeln, faltet/falten, näht/nähen, kauft/kaufen,
sucht/suchen, verliert/verlieren, flickt/flicken
"""
VERBS_VEHICLE = """
fährt/fahren, wäscht/waschen, repariert/reparieren, parkt/parken, kauft/kaufen,
verkauft/verkaufen, schiebt/schieben, nimmt/nehmen, verpasst/verpassen, putzt/putzen
"""
VERBS_ANIMAL = """
füttert/füttern, streichelt/streicheln, beobachtet/beobachten, sucht/suchen,
findet/finden, jagt/jagen, fängt/fangen, wäscht/waschen, malt/malen, sieht/sehen,
hört/hören, ruft/rufen, pflegt/pflegen, zeichnet/zeichnen
"""
VERBS_PERSON = """
trifft/treffen, ruft/rufen, besucht/besuchen, sucht/suchen, sieht/sehen, fragt/fragen,
grüßt/grüßen, kennt/kennen, liebt/lieben, weckt/wecken, begleitet/begleiten,
erwartet/erwarten, bewundert/bewundern, fotografiert/fotografieren, umarmt/umarmen
"""
VERBS_PERSON_DATIVE = """
hilft/helfen, dankt/danken, folgt/folgen, antwortet/antworten, gratuliert/gratulieren,
winkt/winken, vertraut/vertrauen
"""
VERBS_PLACE = """
besucht/besuchen, verlässt/verlassen, putzt/putzen, malt/malen, sucht/suchen,
findet/finden, fotografiert/fotografieren, zeichnet/zeichnen, erreicht/erreichen,
schmückt/schmücken, bewundert/bewundern
"""
VERBS_READ = """
liest/lesen, schreibt/schreiben, schickt/schicken, bekommt/bekommen,
unterschreibt/unterschreiben, faltet/falten, sucht/suchen, findet/finden,
vergisst/vergessen, zerreißt/zerreißen, kopiert/kopieren, übersetzt/übersetzen,
beendet/beenden
"""
VERBS_PERSON_INTRANSITIVE = """
arbeitet/arbeiten, schläft/schlafen, singt/singen, tanzt/tanzen, wartet/warten,
spielt/spielen, läuft/laufen, schwimmt/schwimmen, liest/lesen, schreibt/schreiben,
lacht/lachen, weint/weinen, sitzt/sitzen, steht/stehen, redet/reden, lernt/lernen,
kocht/kochen, malt/malen, angelt/angeln, träumt/träumen, frühstückt/frühstücken,
wohnt/wohnen, übt/üben
"""
VERBS_ANIMAL_INTRANSITIVE = """
schläft/schlafen, läuft/laufen, schwimmt/schwimmen, springt/springen, frisst/fressen,
spielt/spielen, wartet/warten, sitzt/sitzen, liegt/liegen, frisst/fressen
"""
VERBS_MOTION = """
geht/gehen, fährt/fahren, läuft/laufen, kommt/kommen, eilt/eilen, wandert/wandern,
radelt/radeln, rennt/rennen
"""
MODALS = "will, kann, muss, möchte, soll, darf"

TIMES = """
heute, morgen, jeden Tag, jeden Morgen, am Sonntag, am Abend, am Wochenende, heute Abend,
heute Morgen, jetzt, bald, im Sommer, im Winter, im Herbst, im Frühling, nach dem Essen,
am Montag, am Nachmittag, jeden Abend, am Freitag
"""
PAST_TIMES = "gestern, gestern Abend, letzte Woche, letzten Sommer, letztes Jahr, früher, damals"
FREQUENCY = "oft, manchmal, immer, selten, gern, wieder"

_DEFINITE = {
    "nom": {"m": "der", "f": "die", "n": "das"},
    "acc": {"m": "den", "f": "die", "n": "das"},
    "dat": {"m": "dem", "f": "der", "n": "dem"},
}
_EIN_ENDING = {
    "nom": {"m": "", "f": "e", "n": ""},
    "acc": {"m": "en", "f": "e", "n": ""},
    "dat": {"m": "em", "f": "er", "n": "em"},
}
_WEAK_ENDING = {"nom": {"m": "e", "f": "e", "n": "e"}, "acc": {"m": "en", "f": "e", "n": "e"}}
_MIXED_ENDING = {"nom": {"m": "er", "f": "e", "n": "es"}, "acc": {"m": "en", "f": "e", "n": "es"}}
_STRONG_ENDING = {
    "nom": {"m": "er", "f": "e", "n": "es"},
    "acc": {"m": "en", "f": "e", "n": "es"},
    "dat": {"m": "em", "f": "er", "n": "em"},
}
_CONTRACTIONS = {"in dem": "im", "an dem": "am", "zu dem": "zum", "zu der": "zur", "bei dem": "beim"}


@dataclass(frozen=True)
class Noun:
    """A German noun: gender, the form weak nouns take outside the nominative, a preposition."""

    word: str
    gender: str
    oblique: str
    preposition: str = ""


def _nouns(table: str) -> list[Noun]:
    nouns = []
    for entry in entries(table):
        word, gender, *rest = entry.split()
        if rest and rest[0] in {"in", "auf", "an"}:
            nouns.append(Noun(word, gender, word, rest[0]))
        else:
            nouns.append(Noun(word, gender, rest[0] if rest else word))
    return nouns


def _adjectives(table: str) -> list[tuple[str, str]]:
    """(predicative, attributive stem) pairs: ``dunkel/dunkl``."""
    pairs = []
    for entry in entries(table):
        predicative, _, stem = entry.partition("/")
        pairs.append((predicative, stem or predicative))
    return pairs


def _verbs(table: str) -> list[tuple[str, str]]:
    return [tuple(entry.split("/")) for entry in entries(table)]


def noun_phrase(
    rng: random.Random,
    nouns: list[Noun],
    case: str,
    article: str,
    adjectives: list[tuple[str, str]] = (),
) -> str:
    """A declined noun phrase.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    nouns : list of Noun
        Where the noun is drawn from.
    case : str
        ``"nom"``, ``"acc"`` or ``"dat"``.
    article : str
        ``"definite"`` (der), ``"indefinite"`` (ein), ``"possessive"`` (sein),
        ``"negative"`` (kein) or ``"none"`` (mass nouns: frisches Brot).
    adjectives : list of (str, str)
        Adjectives that may come before the noun.

    Returns
    -------
    phrase : str

    Example
    -------
    >>> junge = [Noun("Junge", "m", "Jungen")]
    >>> noun_phrase(random.Random(0), junge, "acc", "definite")
    'den Jungen'
    >>> noun_phrase(random.Random(0), [Noun("Brot", "n", "Brot")], "acc", "none", [("frisch", "frisch")])
    'frisches Brot'
    >>> noun_phrase(random.Random(0), [Noun("Milch", "f", "Milch")], "dat", "definite", [("kalt", "kalt")])
    'der Milch'
    """
    noun = rng.choice(nouns)
    g = noun.gender
    word = noun.word if case == "nom" else noun.oblique
    if article == "definite":
        determiner, endings = _DEFINITE[case][g], _WEAK_ENDING
    elif article == "none":
        determiner, endings = "", _STRONG_ENDING
    else:
        stem = {"indefinite": "ein", "negative": "kein"}.get(article) or rng.choice(
            ["sein", "ihr", "mein", "unser"]
        )
        determiner = stem + _EIN_ENDING[case][g]
        endings = _MIXED_ENDING
    adjective = ""
    if adjectives and (rng.random() < 0.35 or article == "none"):
        ending = "en" if case == "dat" and endings is not _STRONG_ENDING else endings[case][g]
        adjective = rng.choice(adjectives)[1] + ending
    return " ".join(filter(None, [determiner, adjective, word]))


def _located(preposition: str, phrase: str) -> str:
    """``in`` + ``dem Garten`` -> ``im Garten``."""
    head, _, rest = phrase.partition(" ")
    contracted = _CONTRACTIONS.get(f"{preposition} {head}")
    return f"{contracted} {rest}" if contracted else f"{preposition} {phrase}"


class _Lexicon:
    people, animals = _nouns(PEOPLE), _nouns(ANIMALS)
    food, food_mass, drinks = _nouns(FOOD), _nouns(FOOD_MASS), _nouns(DRINKS)
    objects, clothes, vehicles = _nouns(OBJECTS), _nouns(CLOTHES), _nouns(VEHICLES)
    readable, places = _nouns(READABLE), _nouns(PLACES)
    object_adj, food_adj = _adjectives(OBJECT_ADJECTIVES), _adjectives(FOOD_ADJECTIVES)
    person_adj, animal_adj = _adjectives(PERSON_ADJECTIVES), _adjectives(ANIMAL_ADJECTIVES)
    place_adj = _adjectives(PLACE_ADJECTIVES)


_L = _Lexicon


def _place(rng: random.Random) -> str:
    noun = rng.choice(_L.places)
    preposition = noun.preposition if rng.random() < 0.7 else rng.choice(["vor", "hinter", "neben", "bei"])
    return _located(preposition, f"{_DEFINITE['dat'][noun.gender]} {noun.word}")


def _destination(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return "nach " + rng.choice(entries(CITIES))
    if rng.random() < 0.05:
        return "nach Hause"
    noun = rng.choice(_L.places)
    return _located("zu", f"{_DEFINITE['dat'][noun.gender]} {noun.word}")


def _subject(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.25:
        return rng.choice(entries(NAMES))
    if draw < 0.35:
        return rng.choice(["er", "sie"])
    nouns, adjectives = (_L.people, _L.person_adj) if draw < 0.8 else (_L.animals, _L.animal_adj)
    article = rng.choices(["definite", "indefinite", "possessive"], weights=[6, 2, 2])[0]
    return noun_phrase(rng, nouns, "nom", article, adjectives)


_FRAMES = (
    (VERBS_FOOD, "food", "food_adj"),
    (VERBS_FOOD, "food_mass", "food_adj"),
    (VERBS_DRINK, "drinks", "food_adj"),
    (VERBS_OBJECT, "objects", "object_adj"),
    (VERBS_CLOTHES, "clothes", "object_adj"),
    (VERBS_VEHICLE, "vehicles", "object_adj"),
    (VERBS_ANIMAL, "animals", "animal_adj"),
    (VERBS_PERSON, "people", "person_adj"),
    (VERBS_PERSON_DATIVE, "people", "person_adj"),
    (VERBS_PLACE, "places", "place_adj"),
    (VERBS_READ, "readable", "object_adj"),
)


def _clause(rng: random.Random, negative: bool) -> tuple[str, list[str], list[str]]:
    """Finite verb (or infinitive), the middle field and whether 'nicht' is needed."""
    draw = rng.random()
    if draw < 0.55:
        verbs, nouns_name, adjectives_name = rng.choice(_FRAMES)
        nouns, adjectives = getattr(_L, nouns_name), getattr(_L, adjectives_name)
        verb = rng.choice(_verbs(verbs))
        case = "dat" if verbs is VERBS_PERSON_DATIVE else "acc"
        mass = nouns_name in {"food_mass", "drinks"}
        article = (
            rng.choice(["none", "definite"]) if mass else rng.choice(["definite", "indefinite", "possessive"])
        )
        if negative and article in {"none", "indefinite"}:
            article = "negative" if case == "acc" else "definite"  # kein Brot; dem Mann nicht
        obj = noun_phrase(rng, nouns, case, article, adjectives)
        needs_nicht = negative and article != "negative"
        middle = [obj] + (["nicht"] if needs_nicht else [])
        if rng.random() < 0.4:
            middle.append(_place(rng))
        return verb, middle
    if draw < 0.7:
        verb = rng.choice(_verbs(VERBS_PERSON_INTRANSITIVE + "," + VERBS_ANIMAL_INTRANSITIVE))
        return verb, (["nicht"] if negative else []) + [_place(rng)]
    if draw < 0.85:
        verb = rng.choice(_verbs(VERBS_MOTION))
        return verb, (["nicht"] if negative else []) + [_destination(rng)]
    instrument = rng.choice(entries(INSTRUMENTS))
    return ("spielt", "spielen"), (["nicht"] if negative else []) + [instrument, _place(rng)]


def _statement(rng: random.Random) -> tuple[str, str]:
    """One uncapitalised German main clause (verb second) and its end mark."""
    negative = rng.random() < 0.1
    time = rng.choice(entries(TIMES)) if rng.random() < 0.5 else ""
    draw = rng.random()
    if draw < 0.12:  # Im Garten gibt es einen alten Hund.
        nouns, adjectives = rng.choice(
            [(_L.animals, _L.animal_adj), (_L.objects, _L.object_adj), (_L.people, _L.person_adj)]
        )
        thing = noun_phrase(rng, nouns, "acc", "indefinite", adjectives)
        words = [_place(rng), "gibt es"] + ([time] if time else []) + [thing]
    elif draw < 0.25:  # Der Apfel ist rot.
        kind = rng.choice(
            [
                (_L.food, _L.food_adj),
                (_L.objects, _L.object_adj),
                (_L.places, _L.place_adj),
                (_L.people, _L.person_adj),
            ]
        )
        subject = noun_phrase(rng, kind[0], "nom", "definite")
        predicate = rng.choice(kind[1])[0]
        verb = rng.choice(["ist", "ist", "war"])
        if verb == "war" and time:
            time = rng.choice(entries(PAST_TIMES))
        middle = ([time] if time else []) + (["nicht"] if negative else []) + [predicate]
        words = [subject, verb] + middle
    else:
        subject = _subject(rng)
        (finite, infinitive), middle = _clause(rng, negative)
        end = []
        if rng.random() < 0.25:
            end, finite = [infinitive], rng.choice(entries(MODALS))
        elif not negative and rng.random() < 0.1:
            middle = [rng.choice(entries(FREQUENCY))] + middle
        if time and rng.random() < 0.5:
            words = [time, finite, subject] + middle + end
        else:
            words = [subject, finite] + ([time] if time else []) + middle + end
    return " ".join(words), "."


def _connect(rng: random.Random, first: str, second: str) -> str:
    return f"{first}, {rng.choice(['und', 'aber', 'denn'])} {second}"


def sentence(rng: random.Random) -> str:
    """One German sentence: a statement, or two joined by und, aber or denn.

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
    >>> text = sentence(random.Random(2))
    >>> text[0].isupper() and text[-1] in ".?"
    True
    >>> sentence(random.Random(2)) == text
    True
    """
    return compose(rng, _statement, _connect)
