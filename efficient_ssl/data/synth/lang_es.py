"""Spanish sentences for the Common Voice part of the mini corpus.

Nouns carry their gender (``pan m``); adjectives follow the noun and agree with it
(``rojo/roja``); verbs are given as present/preterite/infinitive
(``come/comió/comer``). Predicates pick ser for lasting qualities and estar for states;
people and animals as objects take the personal "a"; a/de + el contract to al/del.

Authors
 * efficient_ssl contributors
"""

import random

from efficient_ssl.data.synth.grammar import compose, entries

PEOPLE = """
panadero m, panadera f, médico m, médica f, enfermero m, enfermera f, profesor m,
profesora f, niño m, niña f, chico m, chica f, hombre m, mujer f, rey m, reina f,
pescador m, pescadora f, marinero m, granjero m, granjera f, cartero m, vecino m,
vecina f, cocinero m, cocinera f, pintor m, pintora f, soldado m, juez m, abogado m,
abogada f, jardinero m, carnicero m, conductor m, piloto m, camarero m, camarera f,
vendedor m, vendedora f, abuelo m, abuela f, tío m, tía f, hermano m, hermana f,
madre f, padre m, hijo m, hija f, amigo m, amiga f, bebé m, príncipe m, princesa f,
capitán m, ingeniero m, ingeniera f, escritor m, escritora f, viajero m, pastor m,
alcalde m, director m, directora f, dentista m, peluquero m, peluquera f, mecánico m,
carpintero m, sastre m, maestro m, maestra f
"""

ANIMALS = """
perro m, gato m, caballo m, vaca f, oveja f, cabra f, cerdo m, conejo m, zorro m,
lobo m, oso m, ratón m, pájaro m, pato m, ganso m, búho m, rana f, serpiente f, león m,
tigre m, elefante m, mono m, burro m, gallina f, gallo m, ballena f, delfín m,
ardilla f, tortuga f, mariposa f, abeja f, gatito m, cordero m, pez m
"""

FOOD = """
manzana f, pera f, naranja f, plátano m, tomate m, zanahoria f, cebolla f, huevo m,
pastel m, tarta f, bocadillo m, limón m, cereza f, fresa f, melón m, melocotón m,
galleta f, pizza f, salchicha f, pepino m, patata f, empanada f, sandía f, piña f
"""

FOOD_MASS = """
pan m, queso m, mantequilla f, arroz m, miel f, carne f, azúcar m, sal f, mermelada f,
chocolate m, harina f, pescado m, sopa f, jamón m, helado m, fruta f, verdura f,
ensalada f, pollo m
"""

DRINKS = "leche f, té m, café m, vino m, zumo m, limonada f, cerveza f, sidra f"

OBJECTS = """
libro m, carta f, llave f, caja f, bolsa f, cesta f, botella f, taza f, plato m,
cuenco m, cuchillo m, cuchara f, tenedor m, anillo m, reloj m, lámpara f, vela f, mapa m,
bolígrafo m, lápiz m, cuadro m, foto f, pelota f, cuerda f, cubo m, manta f, espejo m,
paraguas m, billete m, paquete m, periódico m, martillo m, escalera f, moneda f,
collar m, cartera f, radio f, ordenador m, tetera f, olla f, sartén f, cepillo m,
peine m, toalla f, almohada f, botón m, sobre m, sello m, cuaderno m, juguete m,
muñeca f, cometa f, bandera f, espada f, farol m, maleta f, regalo m, jarrón m,
teléfono m, vaso m, silla f, mesa f
"""

CLOTHES = """
sombrero m, abrigo m, chaqueta f, camisa f, vestido m, jersey m, bufanda f, zapato m,
cinturón m, falda f, pantalón m, guante m, gorra f, bota f, delantal m, uniforme m,
corbata f
"""

INSTRUMENTS = (
    "piano m, violín m, guitarra f, flauta f, trompeta f, tambor m, acordeón m, violonchelo m, órgano m"
)

VEHICLES = """
coche m, autobús m, tren m, barco m, bicicleta f, camión m, carro m, avión m, taxi m,
tractor m, moto f, barca f
"""

READABLE = """
libro m, carta f, periódico m, historia f, poema m, novela f, informe m, mensaje m,
revista f, receta f, mapa m, lista f, menú m, postal f, artículo m, capítulo m, cartel m,
invitación f, cuento m, noticia f
"""

PLACES = """
casa f, escuela f, iglesia f, mercado m, estación f, biblioteca f, hospital m, castillo m,
granja f, jardín m, parque m, cocina f, oficina f, tienda f, panadería f, pueblo m,
ciudad f, puerto m, puente m, río m, lago m, bosque m, campo m, colina f, montaña f,
playa f, valle m, isla f, carretera f, calle f, plaza f, museo m, teatro m, hotel m,
restaurante m, granero m, molino m, palacio m, torre f, cueva f, prado m, huerto m,
fábrica f, banco m, cine m, estadio m, zoo m, capilla f, catedral f, universidad f,
sótano m, desván m, dormitorio m, baño m, acantilado m, estanque m, faro m, muelle m,
farmacia f, piscina f, salón m, taller m, ayuntamiento m
"""

NAMES = """
María f, Juan m, Carmen f, José m, Lucía f, Pablo m, Ana f, Carlos m, Sofía f, Javier m,
Elena f, Miguel m, Laura f, Diego m, Marta f, Antonio m, Isabel f, Manuel m, Paula f,
Pedro m, Rosa f, Luis m, Clara f, Andrés m, Teresa f, Jorge m, Pilar f, Álvaro m,
Beatriz f, Sergio m
"""

CITIES = """
Madrid, Barcelona, Sevilla, Valencia, Bilbao, Granada, Málaga, Toledo, Salamanca,
Zaragoza, Córdoba, Cádiz, Lima, Bogotá, Quito, Caracas, Santiago, Buenos Aires,
Montevideo, París, Lisboa, Roma, Londres, Francia, Italia, Portugal, Alemania,
Inglaterra, Irlanda, Argentina, Chile, Colombia, Cuba, Japón, Marruecos, Grecia
"""

# Adjectives after the noun (masculine/feminine), used with ser.
ADJECTIVES = """
rojo/roja, azul/azul, verde/verde, blanco/blanca, negro/negra, amarillo/amarilla,
gris/gris, marrón/marrón, grande/grande, pequeño/pequeña, viejo/vieja, nuevo/nueva,
antiguo/antigua, moderno/moderna, bonito/bonita, feo/fea, pesado/pesada, ligero/ligera,
largo/larga, corto/corta, redondo/redonda, caro/cara, barato/barata, precioso/preciosa,
extraño/extraña, famoso/famosa, enorme/enorme, oscuro/oscura, suave/suave, duro/dura,
útil/útil, raro/rara
"""
# States, used with estar.
STATES = """
limpio/limpia, sucio/sucia, vacío/vacía, lleno/llena, roto/rota, abierto/abierta,
cerrado/cerrada, caliente/caliente, frío/fría, mojado/mojada, seco/seca
"""
FOOD_ADJECTIVES = """
fresco/fresca, dulce/dulce, salado/salada, maduro/madura, caliente/caliente, frío/fría,
delicioso/deliciosa, sabroso/sabrosa, amargo/amarga, tierno/tierna, jugoso/jugosa,
picante/picante
"""
PERSON_QUALITIES = """
alto/alta, bajo/baja, joven/joven, simpático/simpática, inteligente/inteligente,
valiente/valiente, amable/amable, tímido/tímida, generoso/generosa,
trabajador/trabajadora, perezoso/perezosa, famoso/famosa, rico/rica, pobre/pobre,
serio/seria, alegre/alegre, paciente/paciente
"""
PERSON_STATES = """
cansado/cansada, contento/contenta, triste/triste, enfermo/enferma, nervioso/nerviosa,
ocupado/ocupada, preocupado/preocupada, enfadado/enfadada, tranquilo/tranquila,
sorprendido/sorprendida, aburrido/aburrida
"""

# Verbs: present/preterite/infinitive (third person singular), by object kind.
VERBS_FOOD = """
come/comió/comer, compra/compró/comprar, vende/vendió/vender, prepara/preparó/preparar,
corta/cortó/cortar, prueba/probó/probar, comparte/compartió/compartir, trae/trajo/traer,
busca/buscó/buscar, encuentra/encontró/encontrar, pide/pidió/pedir, cocina/cocinó/cocinar,
lava/lavó/lavar, guarda/guardó/guardar, esconde/escondió/esconder
"""
VERBS_DRINK = """
bebe/bebió/beber, sirve/sirvió/servir, compra/compró/comprar, prepara/preparó/preparar,
calienta/calentó/calentar, pide/pidió/pedir, derrama/derramó/derramar
"""
VERBS_OBJECT = """
encuentra/encontró/encontrar, pierde/perdió/perder, lleva/llevó/llevar, busca/buscó/buscar,
toma/tomó/tomar, esconde/escondió/esconder, guarda/guardó/guardar, limpia/limpió/limpiar,
pinta/pintó/pintar, arregla/arregló/arreglar, lava/lavó/lavar, compra/compró/comprar,
vende/vendió/vender, tira/tiró/tirar, abre/abrió/abrir, cierra/cerró/cerrar,
llena/llenó/llenar, mira/miró/mirar, enseña/enseñó/enseñar, trae/trajo/traer,
usa/usó/usar, olvida/olvidó/olvidar, rompe/rompió/romper, recoge/recogió/recoger,
necesita/necesitó/necesitar
"""
VERBS_CLOTHES = """
lleva/llevó/llevar, lava/lavó/lavar, plancha/planchó/planchar, dobla/dobló/doblar,
cose/cosió/coser, compra/compró/comprar, busca/buscó/buscar, pierde/perdió/perder
"""
VERBS_VEHICLE = """
conduce/condujo/conducir, lava/lavó/lavar, arregla/arregló/arreglar, aparca/aparcó/aparcar,
compra/compró/comprar, vende/vendió/vender, empuja/empujó/empujar, toma/tomó/tomar,
espera/esperó/esperar, pierde/perdió/perder
"""
VERBS_ANIMAL = """
alimenta/alimentó/alimentar, acaricia/acarició/acariciar, mira/miró/mirar, sigue/siguió/seguir,
busca/buscó/buscar, encuentra/encontró/encontrar, persigue/persiguió/perseguir,
atrapa/atrapó/atrapar, lava/lavó/lavar, dibuja/dibujó/dibujar, oye/oyó/oír,
cuida/cuidó/cuidar, llama/llamó/llamar
"""
VERBS_PERSON = """
ayuda/ayudó/ayudar, llama/llamó/llamar, espera/esperó/esperar, mira/miró/mirar,
busca/buscó/buscar, sigue/siguió/seguir, saluda/saludó/saludar, invita/invitó/invitar,
escucha/escuchó/escuchar, conoce/conoció/conocer, visita/visitó/visitar,
admira/admiró/admirar, despierta/despertó/despertar, cuida/cuidó/cuidar,
abraza/abrazó/abrazar, acompaña/acompañó/acompañar, ve/vio/ver
"""
VERBS_PLACE = """
visita/visitó/visitar, deja/dejó/dejar, limpia/limpió/limpiar, pinta/pintó/pintar,
cruza/cruzó/cruzar, busca/buscó/buscar, encuentra/encontró/encontrar,
fotografía/fotografió/fotografiar, dibuja/dibujó/dibujar, decora/decoró/decorar
"""
VERBS_READ = """
lee/leyó/leer, escribe/escribió/escribir, envía/envió/enviar, recibe/recibió/recibir,
firma/firmó/firmar, dobla/dobló/doblar, busca/buscó/buscar, encuentra/encontró/encontrar,
olvida/olvidó/olvidar, copia/copió/copiar, rompe/rompió/romper, corrige/corrigió/corregir,
traduce/tradujo/traducir, termina/terminó/terminar
"""
VERBS_INTRANSITIVE = """
trabaja/trabajó/trabajar, duerme/durmió/dormir, canta/cantó/cantar, baila/bailó/bailar,
espera/esperó/esperar, juega/jugó/jugar, camina/caminó/caminar, corre/corrió/correr,
nada/nadó/nadar, lee/leyó/leer, escribe/escribió/escribir, come/comió/comer,
llora/lloró/llorar, descansa/descansó/descansar, pasea/paseó/pasear, habla/habló/hablar,
estudia/estudió/estudiar, cocina/cocinó/cocinar, pinta/pintó/pintar, pesca/pescó/pescar,
sueña/soñó/soñar, cena/cenó/cenar, desayuna/desayunó/desayunar, salta/saltó/saltar,
se esconde/se escondió/esconderse
"""
VERBS_MOTION = """
va/fue/ir, vuelve/volvió/volver, corre/corrió/correr, llega/llegó/llegar,
camina/caminó/caminar, viaja/viajó/viajar, regresa/regresó/regresar, sube/subió/subir
"""
MODALS = "quiere, puede, debe, necesita, prefiere, tiene que, sabe, piensa, va a, intenta"

PRESENT_TIMES = """
hoy, cada día, todos los días, los domingos, por la mañana, por la tarde, por la noche,
ahora, a menudo, esta semana, los fines de semana, en verano, en invierno
"""
PAST_TIMES = """
ayer, anoche, la semana pasada, el lunes pasado, esta mañana, hace dos días, el verano
pasado, el sábado, hace un año
"""
FUTURE_TIMES = "mañana, la semana que viene, el próximo lunes, esta noche, pasado mañana, el mes que viene"


def _table(table: str) -> list[tuple[str, str]]:
    return [tuple(entry.rsplit(" ", 1)) for entry in entries(table)]


def _pairs(table: str) -> list[tuple[str, ...]]:
    return [tuple(entry.split("/")) for entry in entries(table)]


def contract(preposition: str, phrase: str) -> str:
    """``a el parque`` -> ``al parque``, ``cerca de el río`` -> ``cerca del río``.

    Example
    -------
    >>> contract("a", "el mercado"), contract("cerca de", "la playa")
    ('al mercado', 'cerca de la playa')
    """
    if phrase.startswith("el ") and preposition.split()[-1] in {"a", "de"}:
        return f"{preposition}l {phrase[3:]}"
    return f"{preposition} {phrase}"


class _Lexicon:
    people, animals, food, food_mass = _table(PEOPLE), _table(ANIMALS), _table(FOOD), _table(FOOD_MASS)
    drinks, objects, clothes = _table(DRINKS), _table(OBJECTS), _table(CLOTHES)
    instruments, vehicles, readable = _table(INSTRUMENTS), _table(VEHICLES), _table(READABLE)
    places, names = _table(PLACES), _table(NAMES)
    adjectives, states, food_adj = _pairs(ADJECTIVES), _pairs(STATES), _pairs(FOOD_ADJECTIVES)
    qualities, person_states = _pairs(PERSON_QUALITIES), _pairs(PERSON_STATES)


_L = _Lexicon


def _agree(pair: tuple[str, str], gender: str) -> str:
    return pair[0] if gender == "m" else pair[1]


def noun_phrase(rng: random.Random, rows, style: str, adjectives=()) -> tuple[str, str]:
    """A noun phrase and its gender.

    Arguments
    ---------
    rng : random.Random
        Source of every choice.
    rows : list of (str, str)
        Nouns and genders.
    style : str
        ``"definite"`` (el, este, su), ``"indefinite"`` (un, una) or ``"bare"`` (pan fresco).
    adjectives : list of (str, str)
        Adjective pairs that may follow the noun.

    Returns
    -------
    phrase : str
    gender : str

    Example
    -------
    >>> noun_phrase(random.Random(0), [("casa", "f")], "indefinite")
    ('una casa', 'f')
    """
    noun, gender = rng.choice(rows)
    if adjectives and rng.random() < 0.35:
        noun = f"{noun} {_agree(rng.choice(adjectives), gender)}"
    if style == "bare":
        return noun, gender
    if style == "indefinite":
        return ("un " if gender == "m" else "una ") + noun, gender
    determiner = rng.choice(["el", "el", "el", "el", "este", "ese", "su", "mi", "nuestro"])
    if gender == "f":
        determiner = {"el": "la", "este": "esta", "ese": "esa", "nuestro": "nuestra"}.get(
            determiner, determiner
        )
    return f"{determiner} {noun}", gender


def _subject(rng: random.Random) -> tuple[str, str]:
    draw = rng.random()
    if draw < 0.3:
        return rng.choice(_L.names)
    if draw < 0.4:
        return rng.choice([("él", "m"), ("ella", "f")])
    if draw < 0.85:
        return noun_phrase(rng, _L.people, "definite", _L.qualities)
    return noun_phrase(rng, _L.animals, "definite", _L.adjectives[:12])


def _place(rng: random.Random) -> str:
    noun, gender = rng.choice(_L.places)
    preposition = rng.choice(["en"] * 4 + ["cerca de", "delante de", "detrás de", "junto a", "lejos de"])
    return contract(preposition, ("el " if gender == "m" else "la ") + noun)


def _destination(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return "a " + rng.choice(entries(CITIES))
    if rng.random() < 0.05:
        return "a casa"
    noun, gender = rng.choice(_L.places)
    return contract("a", ("el " if gender == "m" else "la ") + noun)


_FRAMES = (
    (VERBS_FOOD, "food", "food_adj", ""),
    (VERBS_FOOD, "food_mass", "food_adj", ""),
    (VERBS_DRINK, "drinks", "food_adj", ""),
    (VERBS_OBJECT, "objects", "adjectives", ""),
    (VERBS_CLOTHES, "clothes", "adjectives", ""),
    (VERBS_VEHICLE, "vehicles", "adjectives", ""),
    (VERBS_ANIMAL, "animals", "adjectives", "a"),
    (VERBS_PERSON, "people", "qualities", "a"),
    (VERBS_PLACE, "places", "adjectives", ""),
    (VERBS_READ, "readable", "adjectives", ""),
)


def _times(tense: str) -> str:
    return {"present": PRESENT_TIMES, "past": PAST_TIMES, "future": FUTURE_TIMES}[tense]


def _statement(rng: random.Random) -> tuple[str, str]:
    """One uncapitalised Spanish statement (questions open with ¿) and its end mark."""
    subject, gender = _subject(rng)
    tense = rng.choices(["present", "past", "future"], weights=[55, 30, 15])[0]
    negation = ["no"] if rng.random() < 0.1 else []
    draw = rng.random()
    question = False
    if draw < 0.45:
        verbs, nouns_name, adjectives_name, personal = rng.choice(_FRAMES)
        present, past, infinitive = rng.choice(_pairs(verbs))
        nouns, adjectives = getattr(_L, nouns_name), getattr(_L, adjectives_name)
        if nouns_name in {"food_mass", "drinks"}:
            obj = noun_phrase(rng, nouns, rng.choice(["bare", "bare", "definite"]), adjectives)[0]
        else:
            obj = noun_phrase(rng, nouns, rng.choice(["definite", "indefinite"]), adjectives)[0]
        if personal:
            obj = contract("a", obj)
        if tense == "future":
            group = f"va a {infinitive}"
        elif tense == "present" and rng.random() < 0.3:
            group = f"{rng.choice(entries(MODALS))} {infinitive}"
        else:
            group = present if tense == "present" else past
        words = [subject] + negation + [group, obj]
        if rng.random() < 0.4:
            words.append(_place(rng))
        question = rng.random() < 0.1
    elif draw < 0.6:
        present, past, infinitive = rng.choice(_pairs(VERBS_INTRANSITIVE))
        group = {"present": present, "past": past, "future": f"va a {infinitive}"}[tense]
        words = [subject] + negation + [group, _place(rng)]
    elif draw < 0.75:
        present, past, infinitive = rng.choice(_pairs(VERBS_MOTION))
        group = {"present": present, "past": past, "future": f"va a {infinitive}"}[tense]
        words = [subject] + negation + [group, _destination(rng)]
    elif draw < 0.85:
        tense = rng.choice(["present", "past"])
        if rng.random() < 0.5:
            verb, adjective = (
                {"present": "es", "past": "era"}[tense],
                _agree(rng.choice(_L.qualities), gender),
            )
        else:
            verb, adjective = (
                {"present": "está", "past": "estaba"}[tense],
                _agree(rng.choice(_L.person_states), gender),
            )
        words = [subject] + negation + [verb, adjective]
    elif draw < 0.92:
        tense = rng.choice(["present", "past"])
        rows, adjectives = rng.choice(
            [(_L.animals, _L.adjectives[:12]), (_L.objects, _L.adjectives), (_L.people, _L.qualities)]
        )
        thing = noun_phrase(rng, rows, "indefinite", adjectives)[0]
        words = negation + [{"present": "hay", "past": "había"}[tense], thing, _place(rng)]
    elif draw < 0.96:
        noun, noun_gender = rng.choice(_L.instruments)
        group = {"present": "toca", "past": "tocó", "future": "va a tocar"}[tense]
        words = [subject] + negation + [group, ("el " if noun_gender == "m" else "la ") + noun, _place(rng)]
    else:
        thing = noun_phrase(rng, rng.choice([_L.animals, _L.objects, _L.clothes]), "definite")[0]
        return f"¿dónde está {thing}", "?"
    if rng.random() < 0.45:
        time = rng.choice(entries(_times(tense)))
        words = [time + ","] + words if rng.random() < 0.3 and not question else words + [time]
    text = " ".join(words)
    return (f"¿{text}", "?") if question else (text, ".")


def _connect(rng: random.Random, first: str, second: str) -> str:
    if rng.random() < 0.3:
        return f"{first}, pero {second}"
    sounds_i = second.startswith(("i", "hi")) and not second.startswith(("hie", "hia", "hio", "hiu"))
    return f"{first} {'e' if sounds_i else 'y'} {second}"


def sentence(rng: random.Random) -> str:
    """One Spanish sentence: a statement, or two joined by y (e before an i sound) or pero.

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
    >>> text = sentence(random.Random(3))
    >>> text[0].isupper() and text[-1] in ".?"
    True
    >>> sentence(random.Random(3)) == text
    True
    """
    return compose(rng, _statement, _connect)
