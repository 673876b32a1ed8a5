"""English vocabulary of the mini-corpus grammar, as data.

Nouns are written ``singular`` or ``singular/plural`` when the plural is irregular;
verbs ``base=past`` (``eat=ate``, ``pick up=picked up``); places ``noun:preposition``
with the preposition that says where something is (``kitchen:in``, ``beach:on``).
Entries are separated by commas or new lines. Words are grouped by meaning so that the
grammar in :mod:`efficient_ssl.data.synth.english` puts verbs with objects that fit
them. :func:`vocabulary` lists every word.

Authors
 * efficient_ssl contributors
"""

from efficient_ssl.data.synth.grammar import entries

# ---------------------------------------------------------------- nouns
PEOPLE = """
farmer, teacher, doctor, nurse, baker, butcher, sailor, soldier, student, child/children,
man/men, woman/women, boy, girl, king, queen, prince, princess, captain, driver, writer,
painter, singer, dancer, lawyer, judge, merchant, hunter, fisherman/fishermen, shepherd,
priest, neighbour, stranger, traveller, visitor, servant, gardener, carpenter, blacksmith,
miller, tailor, cook, waiter, guard, pilot, engineer, scientist, musician, poet, actor,
clerk, shopkeeper, postman/postmen, policeman/policemen, mechanic, librarian, professor,
uncle, aunt, cousin, grandmother, grandfather, brother, sister, mother, father, son,
daughter, husband, wife/wives, friend, baby/babies, lady/ladies, gentleman/gentlemen,
landlord, widow, pupil, porter, knight, bishop, mayor, banker, jeweller, potter, weaver,
plumber, builder, sheriff, duke, duchess, shepherdess, nanny/nannies
"""

ANIMALS = """
dog, cat, horse, cow, sheep/sheep, goat, pig, rabbit, fox, wolf/wolves, bear, deer/deer,
mouse/mice, bird, duck, goose/geese, owl, eagle, frog, snake, lion, tiger, elephant,
monkey, donkey, camel, squirrel, hen, puppy/puppies, kitten, pony/ponies, lamb,
calf/calves, bull, swan, crow, parrot, turtle, whale, dolphin, hedgehog, badger, otter,
rooster, pigeon, robin, mule, seal
"""

FLYING_ANIMALS = """
bird, duck, goose/geese, owl, eagle, swan, crow, parrot, pigeon, robin, bee,
butterfly/butterflies, moth, fly/flies
"""

RIDEABLE_ANIMALS = "horse, pony/ponies, donkey, camel, elephant, mule"

GRAZING_ANIMALS = "horse, cow, sheep/sheep, goat, deer/deer, donkey, pony/ponies, lamb, calf/calves, mule"

FOOD_COUNT = """
apple, orange, pear, banana, potato/potatoes, tomato/tomatoes, onion, carrot, egg, cake,
pie, sandwich, biscuit, lemon, cherry/cherries, plum, peach, grape, sausage, cucumber,
pumpkin, melon, strawberry/strawberries, cookie, muffin, pancake, pizza, turnip, cabbage,
mushroom, nut, pepper, pineapple, apricot, tart, bun, loaf/loaves, pastry/pastries
"""

FOOD_MASS = """
bread, cheese, butter, rice, honey, meat, sugar, salt, jam, porridge, chocolate, flour,
pasta, beef, bacon, fruit, cream, stew, toast, cereal, yoghurt, ham, lettuce, fish, soup,
custard, pudding
"""

DRINKS = "milk, tea, coffee, water, wine, juice, lemonade, cocoa, cider, beer"

BAKED = "bread, cake, pie, biscuit, cookie, muffin, pizza, tart, bun, loaf/loaves, pastry/pastries"

FRUIT = """
apple, orange, pear, banana, lemon, cherry/cherries, plum, peach, grape, melon,
strawberry/strawberries, apricot, pineapple
"""

OBJECTS = """
book, letter, key, box, bag, basket, bottle, cup, plate, bowl, knife/knives, spoon, fork,
ring, watch, clock, lamp, candle, map, pen, pencil, picture, photograph, ball, rope,
bucket, blanket, mirror, umbrella, ticket, parcel, newspaper, hammer, ladder, shovel,
coin, jewel, necklace, wallet, radio, camera, computer, kettle, pot, pan, jar, jug,
brush, comb, towel, pillow, needle, envelope, stamp, notebook, diary/diaries, toy, doll,
kite, flag, sword, shield, saddle, lantern, torch, suitcase, purse, chain, bell, whistle,
compass, telescope, tray, vase, teapot, broom, axe, saw, nail, screw, spade, rake, net,
fishing rod, paintbrush, paper, present, gift, medal, crown, trophy/trophies, glass, mug,
candlestick, feather, shell, pebble
"""

CONTAINERS = """
box, bag, basket, bottle, cup, bowl, bucket, jar, jug, kettle, pot, pan, suitcase, purse,
wallet, envelope, parcel, tray, vase, teapot, mug, glass, drawer, chest, trunk, barrel,
sack, crate, tin, can
"""

CLOTHES = """
hat, coat, shoe, boot, scarf/scarves, glove, jacket, shirt, dress, sock, belt, apron,
helmet, cap, skirt, sweater, cloak, uniform, tie, sandal, waistcoat, gown, pair of shoes/pairs of shoes,
pair of boots/pairs of boots, raincoat
"""

INSTRUMENTS = "violin, guitar, drum, trumpet, flute, piano, harp, cello, clarinet, organ, accordion, banjo"

VEHICLES = """
car, bus, train, boat, ship, bicycle, truck, cart, wagon, plane, taxi/taxis, tractor, van,
canoe, sledge, motorbike, ferry/ferries, yacht, lorry/lorries, scooter
"""

DRIVABLE = "car, bus, truck, cart, wagon, tractor, van, taxi/taxis, lorry/lorries"

RIDABLE = "bicycle, motorbike, scooter, horse, pony/ponies, donkey, camel"

SAILABLE = "boat, ship, yacht, canoe, ferry/ferries"

CATCHABLE_TRANSPORT = "bus, train, ferry/ferries, plane, taxi/taxis, tram, boat"

FURNITURE = """
chair, table, bed, door, window, fence, gate, wall, roof, floor, cupboard, shelf/shelves,
desk, sofa, bench, fireplace, chimney, well, fountain, statue, oven, stove, sink, staircase, wardrobe,
cabinet, armchair, carpet, curtain
"""

# "where" prepositions: in, on or at.
PLACES = """
house:in, school:at, church:in, market:at, station:at, library/libraries:in, hospital:in,
castle:in, farm:on, garden:in, park:in, kitchen:in, office:in, shop:in, bakery/bakeries:in,
village:in, town:in, city/cities:in, harbour:in, bridge:on, river:by, lake:by, forest:in,
field:in, hill:on, mountain:on, beach:on, valley:in, island:on, road:on, street:in,
square:in, museum:in, theatre:in, hotel:in, restaurant:in, cottage:in, barn:in,
stable:in, mill:in, inn:at, palace:in, tower:in, cave:in, meadow:in, orchard:in,
camp:at, port:at, airport:at, factory/factories:in, bank:at, post office:at,
cinema:at, stadium:at, zoo:at, prison:in, chapel:in, cathedral:in,
university/universities:at, classroom:in, hall:in, cellar:in, attic:in, bedroom:in,
bathroom:in, shore:on, cliff:on, desert:in, jungle:in, pond:by, stream:by, lighthouse:in,
playground:in, bus stop:at, farmyard:in, courtyard:in, supermarket:in, dining room:in,
living room:in, workshop:in, greenhouse:in, village hall:in, canal:by, quay:on
"""

BUILDABLE = """
house, bridge, wall, barn, cottage, tower, boat, fence, shed, hut, raft, bonfire, nest,
snowman/snowmen, castle, sandcastle, tree house, kennel, stable, chimney, dam
"""

CLIMBABLE = (
    "hill, mountain, tower, tree, wall, ladder, cliff, fence, gate, staircase, stairs, roof, lighthouse"
)

CROSSABLE = "bridge, river, road, street, field, valley, desert, square, stream, canal, lake, meadow"

PLANTS = """
tree, flower, rose, tulip, daisy/daisies, bush, seed, oak, apple tree, sunflower,
lily/lilies, hedge, vine, herb, bean, potato/potatoes
"""

SKY = (
    "sun, moon, stars, clouds, sky, sea, waves, rainbow, storm, sunset, sunrise, river, snow, rain, fireworks"
)

READABLE = """
book, letter, newspaper, story/stories, poem, novel, report, note, message, magazine,
recipe, map, diary/diaries, list, sign, menu, postcard, timetable, article, chapter,
notice, poster, invitation, letter
"""

WRITABLE = """
letter, story/stories, poem, note, message, report, list, postcard, song, diary/diaries,
speech/speeches, invitation, essay, article, chapter, answer, address, name
"""

TELLABLE = (
    "story/stories, joke, secret, lie, riddle, tale, legend, rumour, fairy tale, ghost story/ghost stories"
)

SINGABLE = "song, hymn, lullaby/lullabies, carol, tune, ballad, anthem, folk song"

GAMES = "game, chess, cards, football, tennis, cricket, hide and seek, marbles, hockey, golf"

ABSTRACT = """
idea, plan, question, answer, promise, mistake, lesson, dream, problem, rule, word, name,
number, price, prize, reason, choice, chance, plan, trick, task, job, journey/journeys,
adventure, holiday/holidays, party/parties, meeting, wedding, birthday, festival, concert,
dinner, lunch, breakfast, supper, picnic
"""

EVENTS = """
party/parties, meeting, wedding, birthday party/birthday parties, festival, concert, dinner,
lunch, picnic, match/matches, race, dance, fair, show, play, lecture, market
"""

# ---------------------------------------------------------------- proper names
NAMES_FEMALE = """
Anna, Mary, Emma, Lucy, Sarah, Alice, Kate, Helen, Laura, Jane, Clara, Rose, Grace, Emily,
Sophie, Martha, Julia, Ellen, Hannah, Amy, Ruth, Nora, Lily, Agnes, Molly, Dora, Edith,
Irene, Rachel, Florence, Olivia, Julie, Carol, Bella, Ivy, Maggie, Fiona, Diana, Eva,
Mabel, Betty, Susan, Margaret, Elizabeth, Charlotte, Harriet, Louise, Catherine, Annie,
Jenny
"""

NAMES_MALE = """
Thomas, John, James, William, Henry, George, Peter, David, Robert, Michael, Daniel, Edward,
Arthur, Charles, Paul, Simon, Frank, Oliver, Walter, Harry, Jack, Samuel, Philip, Richard,
Albert, Joseph, Benjamin, Luke, Hugh, Tom, Mark, Adam, Victor, Ralph, Stephen, Patrick,
Andrew, Matthew, Oscar, Leonard, Alfred, Ernest, Frederick, Timothy, Martin, Nicholas,
Christopher, Anthony, Francis, Lewis
"""

CITIES = """
London, Paris, Rome, Berlin, Madrid, Dublin, Edinburgh, Cardiff, Glasgow, York, Oxford,
Cambridge, Bristol, Manchester, Liverpool, Boston, Chicago, Toronto, Sydney, Tokyo, Cairo,
Vienna, Prague, Lisbon, Athens, Venice, Geneva, Oslo, Stockholm, Amsterdam, Brussels,
Moscow, Delhi, Lima, Naples, Milan, Munich, Hamburg, Warsaw, Budapest, Copenhagen,
Helsinki, Seattle, Denver, Montreal, Belfast, Aberdeen, Brighton, Dover, Bath
"""

COUNTRIES = """
France, Spain, Italy, Germany, Wales, Scotland, Ireland, England, Canada, Brazil, Egypt,
India, China, Japan, Mexico, Peru, Norway, Sweden, Greece, Portugal, Russia, Poland,
Austria, Switzerland, Holland, Denmark, Finland, Iceland, Turkey, Morocco, Kenya,
Australia, America, Argentina, Chile
"""

# ---------------------------------------------------------------- adjectives
# Attributive adjectives in the order English stacks them: opinion, size, age, colour, material.
OPINION_ADJ = """
beautiful, lovely, pretty, ugly, strange, famous, fine, nice, plain, simple, fancy,
precious, expensive, cheap, useful, rare, favourite, lucky, special, perfect, ordinary,
wonderful, terrible, curious, handsome, elegant, splendid, shabby, odd, peculiar, charming,
excellent, horrible, funny, valuable, magnificent, gorgeous, pleasant
"""

SIZE_ADJ = """
big, small, large, little, huge, tiny, tall, long, short, enormous, narrow, wide, heavy,
light, thick, thin
"""

AGE_ADJ = "old, new, young, ancient, modern, antique"

COLOUR_ADJ = (
    "red, blue, green, yellow, white, black, brown, grey, pink, purple, golden, silver, dark, pale, bright"
)

MATERIAL_ADJ = (
    "wooden, woollen, leather, iron, plastic, paper, stone, glass, metal, silk, cotton, copper, velvet"
)

# Predicative adjectives by what they describe.
PERSON_ADJ = """
happy, sad, angry, tired, hungry, thirsty, brave, clever, kind, proud, lazy, careful,
gentle, shy, friendly, honest, polite, rude, busy, calm, cheerful, curious, foolish, wise,
patient, nervous, worried, excited, lonely, quiet, strong, weak, rich, poor, famous,
cruel, generous, jealous, grateful, sleepy, sick, healthy, late, early, cold, warm,
surprised, pleased, disappointed, frightened, glad, sorry, ready, upset, bored, proud,
confused, delighted, silent, serious, clumsy, eager, fond, anxious, relieved, ashamed,
embarrassed, famous, hopeful, thoughtful, stubborn, modest, cautious, puzzled
"""

ANIMAL_ADJ = """
hungry, thirsty, tired, sleepy, angry, gentle, friendly, clever, lazy, shy, quiet, noisy,
playful, fierce, wild, tame, fat, thin, strong, weak, old, young, sick, healthy, calm,
frightened, curious, wet, dirty, clean, lost, happy, restless, fast, slow
"""

FOOD_ADJ = """
fresh, ripe, sweet, sour, hot, cold, delicious, tasty, salty, bitter, spicy, stale,
juicy, crisp, warm, soft, hard, burnt, raw, cheap, expensive, rotten, bland, creamy
"""

OBJECT_ADJ = """
broken, clean, dirty, heavy, light, empty, full, new, old, expensive, cheap, wet, dry,
warm, cold, shiny, rusty, dusty, muddy, sharp, blunt, soft, hard, smooth, rough, useful,
missing, lost, safe, precious, valuable, ready, open, closed, locked, loose, tight,
bright, dark, noisy, quiet, strange, small, large, enormous, tiny, beautiful, ugly
"""

PLACE_ADJ = """
quiet, busy, old, ancient, empty, crowded, peaceful, dark, lonely, beautiful, famous,
small, large, new, muddy, sunny, cold, warm, noisy, clean, dirty, bright, cosy, damp,
dusty, silent, pleasant, lovely, strange, closed, open, full, safe, dangerous, far, near
"""

# ---------------------------------------------------------------- adverbs and times
MANNER_ADV = """
quickly, slowly, carefully, quietly, loudly, happily, sadly, gently, suddenly, finally,
easily, softly, proudly, patiently, bravely, politely, calmly, eagerly, nervously,
silently, warmly, kindly, angrily, cheerfully, secretly, quietly, proudly, anxiously,
clumsily, gracefully, hastily, lazily, quickly, roughly, seriously, shyly, sleepily,
smoothly, steadily, swiftly, tenderly, wearily, wisely, boldly
"""

FREQUENCY_ADV = (
    "always, often, usually, sometimes, never, rarely, seldom, hardly ever, occasionally, generally"
)

DEGREE_ADV = (
    "very, quite, rather, too, really, extremely, fairly, so, terribly, awfully, remarkably, unusually"
)

WEEKDAYS = "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday"

MONTHS = "January, February, March, April, May, June, July, August, September, October, November, December"

SEASONS = "spring, summer, autumn, winter"

PARTS_OF_DAY = "morning, afternoon, evening, night"

MEALS = "breakfast, lunch, dinner, supper, tea"

NUMBERS = """
two, three, four, five, six, seven, eight, nine, ten, eleven, twelve, fifteen, twenty,
thirty, forty, fifty, a hundred
"""

# ---------------------------------------------------------------- verbs
# Transitive verbs, by the kind of object they take; the subject is a person.
VERBS_FOOD = """
eat=ate, cook=cooked, buy=bought, sell=sold, taste=tasted, share=shared, cut=cut,
slice=sliced, carry=carried, bring=brought, want=wanted, need=needed, like=liked,
love=loved, hate=hated, order=ordered, serve=served, steal=stole, find=found,
smell=smelled, wash=washed, prepare=prepared, finish=finished, warm=warmed, fry=fried,
roast=roasted, chop=chopped, weigh=weighed, wrap=wrapped, deliver=delivered
"""

VERBS_DRINK = """
drink=drank, pour=poured, spill=spilled, make=made, heat=heated, boil=boiled, buy=bought,
order=ordered, serve=served, sip=sipped, bring=brought, finish=finished, offer=offered
"""

VERBS_BAKE = "bake=baked, make=made, decorate=decorated, burn=burned, slice=sliced, share=shared"

VERBS_FRUIT = "pick=picked, peel=peeled, gather=gathered, pick up=picked up, squeeze=squeezed"

VERBS_OBJECT = """
find=found, lose=lost, carry=carried, bring=brought, take=took, hide=hid, drop=dropped,
hold=held, keep=kept, clean=cleaned, paint=painted, fix=fixed, mend=mended, wash=washed,
buy=bought, sell=sold, borrow=borrowed, throw=threw, polish=polished, wrap=wrapped,
repair=repaired, break=broke, use=used, need=needed, want=wanted, see=saw,
notice=noticed, touch=touched, pick up=picked up, put down=put down, check=checked,
examine=examined, forget=forgot, return=returned, steal=stole, search for=searched for,
look for=looked for, look at=looked at, show=showed, move=moved, open=opened,
deliver=delivered, post=posted, weigh=weighed, count=counted, measure=measured,
choose=chose, collect=collected, drag=dragged, lift=lifted, push=pushed, pull=pulled,
replace=replaced, sort=sorted, admire=admired, dust=dusted, hang up=hung up
"""

VERBS_CONTAINER = """
open=opened, close=closed, fill=filled, empty=emptied, pack=packed, unpack=unpacked,
lock=locked, carry=carried, lift=lifted, drop=dropped, shake=shook, seal=sealed
"""

VERBS_CLOTHES = """
wear=wore, sew=sewed, mend=mended, wash=washed, iron=ironed, fold=folded, buy=bought,
sell=sold, lose=lost, find=found, try on=tried on, take off=took off, put on=put on,
knit=knitted, dry=dried, borrow=borrowed
"""

VERBS_INSTRUMENT = (
    "play=played, tune=tuned, carry=carried, practise=practised, clean=cleaned, sell=sold, buy=bought"
)

VERBS_DRIVE = """
drive=drove, park=parked, wash=washed, fix=fixed, repair=repaired, buy=bought, sell=sold,
push=pushed, stop=stopped, load=loaded
"""

VERBS_RIDE = "ride=rode"

VERBS_SAIL = "sail=sailed, steer=steered, row=rowed, paint=painted, repair=repaired, tie up=tied up"

VERBS_CATCH_TRANSPORT = "catch=caught, miss=missed, wait for=waited for, take=took"

VERBS_ANIMAL = """
feed=fed, chase=chased, catch=caught, watch=watched, follow=followed, find=found,
lose=lost, wash=washed, brush=brushed, keep=kept, buy=bought, sell=sold, see=saw,
hear=heard, frighten=frightened, pat=patted, stroke=stroked, rescue=rescued, count=counted,
call=called, photograph=photographed, draw=drew, tame=tamed, train=trained, carry=carried
"""

VERBS_PERSON = """
meet=met, help=helped, call=called, visit=visited, follow=followed, thank=thanked,
invite=invited, teach=taught, ask=asked, answer=answered, greet=greeted, find=found,
see=saw, watch=watched, remember=remembered, forget=forgot, love=loved, like=liked,
marry=married, join=joined, warn=warned, wake=woke, hug=hugged, pay=paid, trust=trusted,
admire=admired, blame=blamed, encourage=encouraged, forgive=forgave, interrupt=interrupted,
recognise=recognised, rescue=rescued, surprise=surprised, telephone=telephoned,
thank=thanked, understand=understood, believe=believed, comfort=comforted, chase=chased,
disturb=disturbed, drive=drove, hire=hired, introduce=introduced, miss=missed,
obey=obeyed, praise=praised, protect=protected, question=questioned, ignore=ignored
"""

VERBS_PLACE = """
visit=visited, leave=left, reach=reached, clean=cleaned, paint=painted, explore=explored,
search=searched, enter=entered, guard=guarded, find=found, see=saw, photograph=photographed,
draw=drew, describe=described, decorate=decorated, sweep=swept, love=loved, miss=missed,
watch=watched, pass=passed, approach=approached, defend=defended, sell=sold, buy=bought
"""

VERBS_BUILD = """
build=built, repair=repaired, paint=painted, finish=finished, design=designed,
destroy=destroyed, knock down=knocked down, mend=mended
"""

VERBS_CLIMB = "climb=climbed, paint=painted, reach=reached, jump over=jumped over, look at=looked at"

VERBS_CROSS = """
cross=crossed, walk across=walked across, run across=ran across, reach=reached, leave=left,
follow=followed
"""

VERBS_PLANT = """
plant=planted, water=watered, pick=picked, cut=cut, grow=grew, dig up=dug up, trim=trimmed,
find=found, draw=drew, smell=smelled
"""

VERBS_SKY = """
watch=watched, see=saw, look at=looked at, photograph=photographed, paint=painted,
draw=drew, admire=admired, notice=noticed
"""

VERBS_READ = """
read=read, write=wrote, send=sent, receive=received, sign=signed, finish=finished,
fold=folded, study=studied, copy=copied, tear up=tore up, find=found, lose=lost,
keep=kept, hide=hid, burn=burned, forget=forgot, remember=remembered, check=checked,
print=printed, learn=learned, translate=translated, post=posted
"""

VERBS_WRITE = """
write=wrote, finish=finished, begin=began, start=started, read=read, copy=copied,
learn=learned, correct=corrected
"""

VERBS_TELL = """
tell=told, hear=heard, remember=remembered, forget=forgot, believe=believed,
repeat=repeated, keep=kept, share=shared
"""

VERBS_SING = """
sing=sang, hum=hummed, whistle=whistled, learn=learned, teach=taught, write=wrote,
hear=heard, remember=remembered, practise=practised
"""

VERBS_GAME = "play=played, win=won, lose=lost, watch=watched, enjoy=enjoyed, learn=learned, teach=taught"

VERBS_EVENT = """
organise=organised, plan=planned, enjoy=enjoyed, miss=missed, attend=attended, leave=left,
cancel=cancelled, prepare=prepared, remember=remembered, forget=forgot
"""

VERBS_ABSTRACT = """
explain=explained, forget=forgot, remember=remembered, understand=understood,
make=made, notice=noticed, discuss=discussed, describe=described, accept=accepted,
refuse=refused, consider=considered, change=changed, solve=solved, find=found, keep=kept
"""

# Verbs a person does, placed somewhere.
VERBS_PERSON_INTRANSITIVE = """
walk=walked, run=ran, sleep=slept, sing=sang, dance=danced, laugh=laughed, smile=smiled,
wait=waited, work=worked, swim=swam, rest=rested, cry=cried, shout=shouted,
whisper=whispered, listen=listened, play=played, read=read, write=wrote, sit=sat,
stand=stood, talk=talked, study=studied, cook=cooked, paint=painted, pray=prayed,
fish=fished, hide=hid, jump=jumped, shiver=shivered, whistle=whistled, wander=wandered,
argue=argued, eat=ate, stay=stayed, live=lived, sew=sewed, knit=knitted, draw=drew,
practise=practised, search=searched, hesitate=hesitated, sigh=sighed, yawn=yawned,
kneel=knelt, complain=complained, chat=chatted, dream=dreamed, relax=relaxed
"""

# Verbs an animal does, placed somewhere.
VERBS_ANIMAL_INTRANSITIVE = """
sleep=slept, run=ran, swim=swam, jump=jumped, hide=hid, eat=ate, play=played, rest=rested,
wait=waited, sit=sat, stand=stood, wander=wandered, shiver=shivered, hunt=hunted,
climb=climbed, dig=dug, growl=growled, howl=howled, splash=splashed, roll=rolled
"""

VERBS_GRAZE = "graze=grazed"

# What animals do to things: SUBJECT (an animal) VERB OBJECT.
VERBS_ANIMAL_FOOD = "eat=ate, smell=smelled, steal=stole, find=found, sniff=sniffed, finish=finished"
VERBS_ANIMAL_DRINK = "drink=drank, spill=spilled, lap up=lapped up"
VERBS_ANIMAL_CHASE = (
    "chase=chased, follow=followed, watch=watched, frighten=frightened, bite=bit, ignore=ignored"
)
VERBS_ANIMAL_TOY = (
    "find=found, carry=carried, chew=chewed, hide=hid, drop=dropped, fetch=fetched, bury=buried"
)
ANIMAL_TOYS = "ball, shoe, boot, sock, glove, hat, stick, bone, slipper, toy, rope, newspaper, blanket"
VERBS_FLY = "fly=flew, sing=sang, circle=circled, glide=glided"

# Verbs of going somewhere: SUBJECT went to the PLACE.
VERBS_MOTION = """
go=went, walk=walked, run=ran, drive=drove, travel=travelled, return=returned,
hurry=hurried, ride=rode, come=came, move=moved, cycle=cycled, rush=rushed,
wander=wandered, march=marched, climb=climbed, race=raced, stroll=strolled, sail=sailed,
fly=flew, hike=hiked, limp=limped, run back=ran back, walk back=walked back, go back=went back
"""

# Verbs that take a person, a thing and the person receiving it: SUBJ gave PERSON a THING.
VERBS_GIVE = """
give=gave, show=showed, send=sent, bring=brought, hand=handed, lend=lent, sell=sold,
buy=bought, offer=offered, pass=passed
"""

VERBS_GIVE_STORY = "tell=told, read=read, teach=taught, sing=sang, write=wrote, show=showed, promise=promised"

# Verbs that take a clause: SUBJ said that CLAUSE.
VERBS_THAT = """
say=said, think=thought, know=knew, believe=believed, hear=heard, hope=hoped,
notice=noticed, explain=explained, promise=promised, remember=remembered, suspect=suspected,
discover=discovered, dream=dreamed, imagine=imagined, realise=realised, admit=admitted,
complain=complained, feel=felt, insist=insisted, agree=agreed, guess=guessed, worry=worried,
forget=forgot, learn=learned, decide=decided, announce=announced, mention=mentioned,
whisper=whispered, write=wrote, explain=explained
"""

# Verbs that take an infinitive: SUBJ wanted to VERB.
VERBS_TO = """
want=wanted, try=tried, hope=hoped, decide=decided, plan=planned, forget=forgot,
promise=promised, need=needed, refuse=refused, agree=agreed, offer=offered, like=liked,
love=loved, hate=hated, prefer=preferred, learn=learned, manage=managed, begin=began,
start=started, expect=expected, intend=intended, wish=wished, choose=chose, prepare=prepared,
pretend=pretended, seem=seemed, fail=failed, hurry=hurried, arrange=arranged
"""

CONJUNCTIONS = (
    "and, but, because, so, while, when, before, after, although, until, since, as soon as, whereas"
)


def vocabulary() -> set[str]:
    """Every distinct word written in this module's tables, lower-cased.

    Returns
    -------
    words : set of str
        Single words: ``"pick up=picked up"`` gives pick, up, picked.

    Example
    -------
    >>> len(vocabulary()) > 1000
    True
    """
    words = set()
    for name, table in globals().items():
        if name.isupper() and isinstance(table, str):
            for entry in entries(table):
                for part in entry.replace("=", " ").replace("/", " ").replace(":", " ").split():
                    words.add(part.lower())
    return words
