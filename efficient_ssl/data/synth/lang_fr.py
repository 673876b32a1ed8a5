"""French sentences for the Common Voice part of the mini corpus.

Nouns carry their gender (``pain m``); adjectives follow the noun and agree with it
(``rouge/rouge``, ``vert/verte``); verbs are given in the third person singular and the
infinitive (``mange/manger``). Articles elide before a vowel or mute h and contract
with à and de (au, du, à l').

Authors
 * efficient_ssl contributors
"""

import random

from efficient_ssl.data.synth.grammar import compose, entries

PEOPLE = """
boulanger m, boulangère f, médecin m, infirmière f, professeur m, étudiant m, étudiante f,
garçon m, fille f, homme m, femme f, roi m, reine f, pêcheur m, marin m, fermier m,
fermière f, facteur m, voisin m, voisine f, cuisinier m, cuisinière f, peintre m,
chanteur m, chanteuse f, musicien m, musicienne f, soldat m, juge m, avocat m, avocate f,
jardinier m, boucher m, bouchère f, chauffeur m, pilote m, policier m, serveur m,
serveuse f, vendeur m, vendeuse f, grand-père m, grand-mère f, oncle m, tante f, frère m,
sœur f, mère f, père m, fils m, ami m, amie f, bébé m, prince m, princesse f, capitaine m,
ingénieur m, écrivain m, voyageur m, voyageuse f, berger m, bergère f, maire m,
directeur m, directrice f, dentiste m, coiffeur m, coiffeuse f, mécanicien m,
pharmacien m, pharmacienne f, marchand m, marchande f, menuisier m, curé m
"""

ANIMALS = """
chien m, chat m, cheval m, vache f, mouton m, chèvre f, cochon m, lapin m, renard m,
loup m, ours m, souris f, oiseau m, canard m, oie f, hibou m, aigle m, grenouille f,
serpent m, lion m, tigre m, éléphant m, singe m, âne m, poule f, coq m, baleine f,
dauphin m, écureuil m, tortue f, papillon m, abeille f, chaton m, poney m
"""

FOOD = """
pomme f, poire f, orange f, banane f, tomate f, carotte f, oignon m, œuf m, gâteau m,
tarte f, sandwich m, citron m, cerise f, fraise f, melon m, pêche f, croissant m,
baguette f, crêpe f, biscuit m, pizza f, salade f, poulet m, saucisse f, courgette f,
pomme de terre f, concombre m, abricot m, ananas m
"""

FOOD_MASS = """
pain m, fromage m, beurre m, riz m, miel m, viande f, sucre m, sel m, confiture f,
chocolat m, farine f, poisson m, soupe f, jambon m, glace f, crème f, salade f
"""

DRINKS = "lait m, thé m, café m, eau f, vin m, jus m, limonade f, bière f, cidre m, chocolat chaud m"

OBJECTS = """
livre m, lettre f, clé f, boîte f, sac m, panier m, bouteille f, tasse f, assiette f,
bol m, couteau m, cuillère f, fourchette f, bague f, montre f, horloge f, lampe f,
bougie f, carte f, stylo m, crayon m, tableau m, photo f, ballon m, corde f, seau m,
couverture f, miroir m, parapluie m, billet m, colis m, journal m, marteau m, échelle f,
collier m, portefeuille m, radio f, ordinateur m, casserole f, brosse f, serviette f,
oreiller m, bouton m, enveloppe f, timbre m, cahier m, jouet m, poupée f, drapeau m,
épée f, lanterne f, valise f, chapeau m, manteau m, veste f, chemise f, robe f, pull m,
écharpe f, chaussure f, ceinture f, cadeau m, vase m, coussin m, téléphone m
"""

CLOTHES = """
chapeau m, manteau m, veste f, chemise f, robe f, pull m, écharpe f, chaussure f,
ceinture f, jupe f, pantalon m, gant m, bonnet m, uniforme m, tablier m, imperméable m
"""

INSTRUMENTS = (
    "piano m, violon m, guitare f, flûte f, trompette f, tambour m, harpe f, accordéon m, violoncelle m"
)

VEHICLES = (
    "voiture f, bus m, train m, bateau m, vélo m, camion m, charrette f, avion m, taxi m, tracteur m, moto f"
)

READABLE = """
livre m, lettre f, journal m, histoire f, poème m, roman m, rapport m, message m,
magazine m, recette f, carte f, liste f, menu m, carte postale f, article m, chapitre m,
affiche f, invitation f, conte m, annonce f
"""

# Places: noun, gender and the preposition that says where (dans, à or sur).
PLACES = """
maison f dans, école f à, église f dans, marché m à, gare f à, bibliothèque f à,
hôpital m à, château m dans, ferme f à, jardin m dans, parc m dans, cuisine f dans,
bureau m à, magasin m dans, boulangerie f à, village m dans, port m à, pont m sur,
rivière f près de, lac m près de, forêt f dans, champ m dans, colline f sur, montagne f à,
plage f sur, vallée f dans, île f sur, route f sur, rue f dans, place f sur, musée m à,
théâtre m à, hôtel m à, restaurant m à, grange f dans, moulin m dans, auberge f à,
palais m dans, tour f dans, grotte f dans, pré m dans, verger m dans, usine f à,
banque f à, cinéma m à, stade m à, zoo m à, chapelle f dans, cathédrale f dans,
université f à, cave f dans, grenier m dans, chambre f dans, salle de bain f dans,
falaise f sur, étang m près de, ruisseau m près de, phare m dans, quai m sur,
boucherie f à, pharmacie f à, piscine f à, salon m dans, couloir m dans, atelier m dans
"""

NAMES = """
Marie f, Pierre m, Jean m, Sophie f, Luc m, Claire f, Paul m, Julie f, Louis m, Camille f,
Antoine m, Chloé f, Nicolas m, Léa f, Thomas m, Manon f, Hugo m, Emma f, Julien m, Sarah f,
Mathieu m, Inès f, Olivier m, Margaux f, Gabriel m, Louise f, Étienne m, Hélène f,
Vincent m, Élodie f, Lucas m, Amélie f, Bernard m, Isabelle f, François m, Nathalie f
"""

CITIES = """
Paris, Lyon, Marseille, Bordeaux, Lille, Nantes, Toulouse, Nice, Rennes, Strasbourg, Dijon,
Grenoble, Rouen, Brest, Genève, Bruxelles, Montréal, Québec, Londres, Rome
"""

COUNTRIES = """
en France, en Espagne, en Italie, en Allemagne, au Portugal, au Canada, au Japon,
en Belgique, en Suisse, en Angleterre, en Irlande, au Maroc, en Grèce, au Brésil,
aux États-Unis, en Bretagne, en Écosse, au Mexique, en Norvège, en Suède
"""

# Adjectives that follow the noun: masculine/feminine.
ADJECTIVES = """
rouge/rouge, bleu/bleue, vert/verte, noir/noire, blanc/blanche, jaune/jaune, gris/grise,
brun/brune, rose/rose, violet/violette, lourd/lourde, léger/légère, vide/vide,
plein/pleine, sale/sale, chaud/chaude, froid/froide, cassé/cassée, neuf/neuve,
moderne/moderne, célèbre/célèbre, énorme/énorme, étrange/étrange, magnifique/magnifique,
rond/ronde, carré/carrée, épais/épaisse, mince/mince, solide/solide, fragile/fragile,
précieux/précieuse, ordinaire/ordinaire, bruyant/bruyante, sombre/sombre, rapide/rapide,
propre/propre, ancien/ancienne, étroit/étroite, immense/immense, minuscule/minuscule
"""

FOOD_ADJECTIVES = """
délicieux/délicieuse, frais/fraîche, sucré/sucrée, salé/salée, mûr/mûre, chaud/chaude,
froid/froide, amer/amère, tendre/tendre, croustillant/croustillante, énorme/énorme
"""

PERSON_ADJECTIVES = """
fatigué/fatiguée, heureux/heureuse, triste/triste, content/contente, malade/malade,
timide/timide, courageux/courageuse, intelligent/intelligente, sage/sage, riche/riche,
calme/calme, curieux/curieuse, occupé/occupée, gentil/gentille, poli/polie,
patient/patiente, nerveux/nerveuse, inquiet/inquiète, fier/fière, prudent/prudente,
généreux/généreuse, joyeux/joyeuse, sérieux/sérieuse, affamé/affamée, pressé/pressée
"""

# Adjectives only used after "est": grand, petit, beau ... go before the noun.
PREDICATE_ADJECTIVES = """
grand/grande, petit/petite, beau/belle, joli/jolie, vieux/vieille, jeune/jeune,
bon/bonne, nouveau/nouvelle, long/longue, court/courte, cher/chère
"""

# Verbs: third person singular/infinitive, grouped by the kind of object they take.
VERBS_FOOD = """
mange/manger, achète/acheter, vend/vendre, prépare/préparer, coupe/couper, goûte/goûter,
partage/partager, apporte/apporter, cherche/chercher, aime/aimer, préfère/préférer,
prend/prendre, cuisine/cuisiner, commande/commander, lave/laver, trouve/trouver
"""
VERBS_DRINK = """
boit/boire, verse/verser, achète/acheter, prépare/préparer, chauffe/chauffer,
renverse/renverser, sert/servir, commande/commander
"""
VERBS_OBJECT = """
trouve/trouver, perd/perdre, porte/porter, cherche/chercher, prend/prendre,
cache/cacher, tient/tenir, garde/garder, nettoie/nettoyer, peint/peindre,
répare/réparer, lave/laver, achète/acheter, vend/vendre, emprunte/emprunter,
jette/jeter, regarde/regarder, montre/montrer, apporte/apporter, range/ranger,
casse/casser, utilise/utiliser, oublie/oublier, ramasse/ramasser, vole/voler,
ouvre/ouvrir, ferme/fermer, remplit/remplir, vide/vider, choisit/choisir
"""
VERBS_CLOTHES = """
porte/porter, met/mettre, enlève/enlever, lave/laver, repasse/repasser, plie/plier,
coud/coudre, achète/acheter, cherche/chercher
"""
VERBS_VEHICLE = """
conduit/conduire, lave/laver, répare/réparer, gare/garer, achète/acheter, vend/vendre,
pousse/pousser, prend/prendre, attend/attendre
"""
VERBS_ANIMAL = """
nourrit/nourrir, caresse/caresser, regarde/regarder, suit/suivre, cherche/chercher,
trouve/trouver, chasse/chasser, attrape/attraper, lave/laver, dessine/dessiner,
photographie/photographier, entend/entendre, soigne/soigner, appelle/appeler
"""
VERBS_PERSON = """
rencontre/rencontrer, aide/aider, appelle/appeler, attend/attendre, regarde/regarder,
cherche/chercher, suit/suivre, remercie/remercier, invite/inviter, écoute/écouter,
salue/saluer, connaît/connaître, aime/aimer, admire/admirer, réveille/réveiller,
soigne/soigner, embrasse/embrasser, accompagne/accompagner
"""
VERBS_PLACE = """
visite/visiter, quitte/quitter, nettoie/nettoyer, peint/peindre, traverse/traverser,
cherche/chercher, trouve/trouver, photographie/photographier, dessine/dessiner,
décore/décorer, admire/admirer, ferme/fermer, ouvre/ouvrir
"""
VERBS_READ = """
lit/lire, écrit/écrire, envoie/envoyer, reçoit/recevoir, signe/signer, plie/plier,
cherche/chercher, trouve/trouver, oublie/oublier, recopie/recopier, déchire/déchirer,
corrige/corriger, traduit/traduire, termine/terminer
"""
VERBS_PERSON_INTRANSITIVE = """
travaille/travailler, dort/dormir, chante/chanter, danse/danser, attend/attendre,
joue/jouer, marche/marcher, court/courir, nage/nager, lit/lire, écrit/écrire,
mange/manger, rit/rire, pleure/pleurer, se repose/se reposer, se promène/se promener,
parle/parler, étudie/étudier, cuisine/cuisiner, peint/peindre, pêche/pêcher,
voyage/voyager, rêve/rêver, dîne/dîner, déjeune/déjeuner
"""
VERBS_ANIMAL_INTRANSITIVE = """
dort/dormir, court/courir, nage/nager, saute/sauter, mange/manger, joue/jouer,
se cache/se cacher, se repose/se reposer, attend/attendre, se promène/se promener
"""
VERBS_MOTION = """
va/aller, retourne/retourner, court/courir, arrive/arriver, rentre/rentrer,
voyage/voyager, revient/revenir, se rend/se rendre
"""

MODALS = "veut, peut, doit, va, aime, préfère, espère, voudrait, pourrait, sait"

TIMES = """
aujourd'hui, ce matin, cet après-midi, ce soir, chaque jour, tous les jours,
le dimanche, le lundi matin, le samedi soir, maintenant, demain, cette semaine,
le week-end, chaque matin, en été, en hiver, au printemps, en automne, après le dîner,
avant le déjeuner, à midi, tous les soirs
"""

FREQUENCY = "souvent, toujours, parfois, rarement, encore, déjà"

_VOWELS = "aeiouyàâäéèêëîïôöùûüœæh"
_ASPIRATED_H = ("hibou", "haricot", "harpe", "hache", "homard", "hamac", "héros")  # no elision: le hibou


def _table(table: str) -> list[list[str]]:
    """Entries as token lists: ``"pomme de terre f"`` -> ``["pomme de terre", "f"]``."""
    rows = []
    for entry in entries(table):
        *words, last = entry.split()
        if last in {"m", "f"}:
            rows.append([" ".join(words), last])
        else:  # places: noun, gender, preposition (which may be two words)
            gender_at = max(i for i, token in enumerate(entry.split()) if token in {"m", "f"})
            tokens = entry.split()
            rows.append([" ".join(tokens[:gender_at]), tokens[gender_at], " ".join(tokens[gender_at + 1 :])])
    return rows


def _pairs(table: str) -> list[tuple[str, str]]:
    return [tuple(entry.split("/")) for entry in entries(table)]


def _elides(word: str) -> bool:
    return word[0].lower() in _VOWELS and not word.startswith(_ASPIRATED_H)


def definite(noun: str, gender: str) -> str:
    """``le pain``, ``la soupe``, ``l'eau``.

    Example
    -------
    >>> definite("eau", "f"), definite("pain", "m")
    ("l'eau", 'le pain')
    """
    if _elides(noun):
        return "l'" + noun
    return ("le " if gender == "m" else "la ") + noun


def with_preposition(preposition: str, phrase: str) -> str:
    """Contracts à and de with le and les: ``à le marché`` -> ``au marché``.

    Example
    -------
    >>> with_preposition("à", "le marché"), with_preposition("près de", "le lac")
    ('au marché', 'près du lac')
    """
    for head, contracted in (("à", "au"), ("de", "du")):
        if preposition.endswith(head) and phrase.startswith("le "):
            return f"{preposition[: -len(head)]}{contracted} {phrase[3:]}".strip()
    return f"{preposition} {phrase}"


class _Lexicon:
    people = _table(PEOPLE)
    animals = _table(ANIMALS)
    food = _table(FOOD)
    food_mass = _table(FOOD_MASS)
    drinks = _table(DRINKS)
    objects = _table(OBJECTS)
    clothes = _table(CLOTHES)
    instruments = _table(INSTRUMENTS)
    vehicles = _table(VEHICLES)
    readable = _table(READABLE)
    places = _table(PLACES)
    names = _table(NAMES)
    adjectives = _pairs(ADJECTIVES)
    food_adjectives = _pairs(FOOD_ADJECTIVES)
    person_adjectives = _pairs(PERSON_ADJECTIVES)
    predicate_adjectives = _pairs(PREDICATE_ADJECTIVES)


_L = _Lexicon


def _adjective(rng: random.Random, pairs: list[tuple[str, str]], gender: str) -> str:
    masculine, feminine = rng.choice(pairs)
    return masculine if gender == "m" else feminine


def noun_phrase(rng: random.Random, rows: list[list[str]], style: str, adjectives=None) -> tuple[str, str]:
    """A noun phrase and its gender.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    rows : list
        Lexicon rows ``[noun, gender, ...]``.
    style : str
        ``"definite"`` (le, ce, mon), ``"indefinite"`` (un, une) or ``"partitive"`` (du, de la).
    adjectives : list, optional
        Adjective pairs that may follow the noun.

    Returns
    -------
    phrase : str
    gender : str

    Example
    -------
    >>> noun_phrase(random.Random(0), [["eau", "f"]], "partitive")
    ("de l'eau", 'f')
    """
    noun, gender = rows[rng.randrange(len(rows))][:2]
    words = noun
    if adjectives and rng.random() < 0.35:
        words = f"{noun} {_adjective(rng, adjectives, gender)}"
    if style == "indefinite":
        return ("un " if gender == "m" else "une ") + words, gender
    if style == "partitive":
        return with_preposition("de", definite(words, gender)), gender
    draw = rng.random()
    if draw < 0.75:
        return definite(words, gender), gender
    if draw < 0.87:
        if gender == "f":
            return "cette " + words, gender
        return ("cet " if _elides(noun) else "ce ") + words, gender
    possessive = rng.choice(["son", "mon", "notre", "leur"])
    if gender == "f" and not _elides(noun) and possessive in {"son", "mon"}:
        possessive = {"son": "sa", "mon": "ma"}[possessive]
    return f"{possessive} {words}", gender


def _subject(rng: random.Random) -> tuple[str, str]:
    draw = rng.random()
    if draw < 0.3:
        return tuple(rng.choice(_L.names))
    if draw < 0.4:
        return rng.choice([("il", "m"), ("elle", "f")])
    if draw < 0.85:
        return noun_phrase(rng, _L.people, "definite", _L.person_adjectives)
    return noun_phrase(rng, _L.animals, "definite", _L.adjectives[:10])


def _place(rng: random.Random) -> str:
    noun, gender, preposition = rng.choice(_L.places)
    if rng.random() < 0.3:
        preposition = rng.choice(["près de", "devant", "derrière", "à côté de", "loin de"])
    return with_preposition(preposition, definite(noun, gender))


def _destination(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.15:
        return "à " + rng.choice(entries(CITIES))
    if draw < 0.25:
        return rng.choice(entries(COUNTRIES))
    if draw < 0.3:
        return "à la maison"
    noun, gender, _ = rng.choice(_L.places)
    return with_preposition("à", definite(noun, gender))


def _frame(rng: random.Random) -> tuple[list[tuple[str, str]], list[list[str]], list, str]:
    """Verbs, object nouns, adjectives and article style for one transitive clause."""
    frames = [
        (VERBS_FOOD, _L.food, _L.food_adjectives, "any"),
        (VERBS_FOOD, _L.food_mass, _L.food_adjectives, "mass"),
        (VERBS_DRINK, _L.drinks, [("chaud", "chaude"), ("froid", "froide"), ("frais", "fraîche")], "mass"),
        (VERBS_OBJECT, _L.objects, _L.adjectives, "any"),
        (VERBS_CLOTHES, _L.clothes, _L.adjectives[:12], "any"),
        (VERBS_VEHICLE, _L.vehicles, _L.adjectives[:12], "any"),
        (VERBS_ANIMAL, _L.animals, _L.adjectives[:10], "any"),
        (VERBS_PERSON, _L.people, _L.person_adjectives, "definite"),
        (
            VERBS_PLACE,
            [row[:2] for row in _L.places],
            [("ancien", "ancienne"), ("célèbre", "célèbre")],
            "definite",
        ),
        (
            VERBS_READ,
            _L.readable,
            [("long", "longue"), ("étrange", "étrange"), ("célèbre", "célèbre")],
            "any",
        ),
    ]
    verbs, nouns, adjectives, style = rng.choice(frames)
    return _pairs(verbs), nouns, adjectives, style


def _object(rng: random.Random, nouns, adjectives, style: str, negative: bool) -> str:
    if negative or style == "definite":
        return noun_phrase(rng, nouns, "definite", adjectives)[0]
    if style == "mass":
        return noun_phrase(rng, nouns, rng.choice(["partitive", "partitive", "definite"]), adjectives)[0]
    return noun_phrase(rng, nouns, rng.choice(["definite", "indefinite"]), adjectives)[0]


def _negate(verb: str) -> str:
    reflexive = verb.startswith("se ")
    core = verb[3:] if reflexive else verb
    if reflexive:
        pronoun = "s'" if _elides(core) else "se "
        return f"ne {pronoun}{core} pas"
    return ("n'" if _elides(core) else "ne ") + core + " pas"


def _instrument_clause(rng: random.Random, subject: str) -> list[str]:
    noun, gender = rng.choice(_L.instruments)
    return [subject, "joue", with_preposition("de", definite(noun, gender))]


def _statement(rng: random.Random) -> tuple[str, str]:
    """One uncapitalised French statement and its end mark."""
    subject, gender = _subject(rng)
    negative = rng.random() < 0.1
    draw = rng.random()
    if draw < 0.4:
        verbs, nouns, adjectives, style = _frame(rng)
        verb = rng.choice(verbs)
        if rng.random() < 0.3:
            modal = rng.choice(entries(MODALS))
            group = _negate(modal) if negative else modal
            words = [subject, f"{group} {verb[1]}", _object(rng, nouns, adjectives, style, negative)]
        else:
            group = _negate(verb[0]) if negative else verb[0]
            if not negative and rng.random() < 0.15:
                group = f"{group} {rng.choice(entries(FREQUENCY))}"
            words = [subject, group, _object(rng, nouns, adjectives, style, negative)]
        if rng.random() < 0.4:
            words.append(_place(rng))
    elif draw < 0.55:
        verb = rng.choice(_pairs(VERBS_PERSON_INTRANSITIVE))[0]
        words = [subject, _negate(verb) if negative else verb, _place(rng)]
    elif draw < 0.7:
        verb = rng.choice(_pairs(VERBS_MOTION))[0]
        words = [subject, _negate(verb) if negative else verb, _destination(rng)]
    elif draw < 0.8:
        adjectives = _L.person_adjectives + _L.predicate_adjectives[:7]
        words = [subject, "n'est pas" if negative else "est", _adjective(rng, adjectives, gender)]
    elif draw < 0.9:
        kind = rng.choice(
            [(_L.animals, _L.adjectives[:10]), (_L.objects, _L.adjectives), (_L.people, _L.person_adjectives)]
        )
        thing = noun_phrase(rng, kind[0], "indefinite", kind[1])[0]
        words = ["il y a", thing, _place(rng)]
    elif draw < 0.95:
        words = _instrument_clause(rng, subject) + [_place(rng)]
    else:
        noun, noun_gender = rng.choice(_L.food + _L.food_mass)
        phrase = definite(noun, noun_gender)
        words = [phrase, "est", _adjective(rng, _L.food_adjectives, noun_gender)]
    if rng.random() < 0.45:
        time = rng.choice(entries(TIMES))
        words = [time + ","] + words if rng.random() < 0.4 else words + [time]
    return " ".join(words), "."


def _connect(rng: random.Random, first: str, second: str) -> str:
    return f"{first}, {rng.choice(['et', 'mais', 'puis'])} {second}"


def sentence(rng: random.Random) -> str:
    """One French sentence: a statement, or two joined by et, mais or puis.

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
    >>> text = sentence(random.Random(1))
    >>> text[0].isupper() and text[-1] in ".?"
    True
    >>> sentence(random.Random(1)) == text
    True
    """
    return compose(rng, _statement, _connect)
