"""Speakers and emotions of the mini corpus, built from eSpeak NG voices and variants.

A speaker is a timbre (a language voice plus a variant such as ``en-us+f3``) with its own
pitch, pitch range and rate. An emotion is a prosody change applied on top of the
speaker's settings. :func:`check_distinct` proves that the voices really differ: some
names fall back silently to another voice, and some variants sound the same in some
languages (``fr+Denis`` and ``fr-be+Denis``).

Authors
 * efficient_ssl contributors
"""

import hashlib
import random
from dataclasses import dataclass, replace

from efficient_ssl.data.synth.espeak import SAMPLE_RATE, Espeak, Voice

# eSpeak NG variants (espeak-ng-data/voices/!v) that sound like a person speaking.
FEMALE_VARIANTS = (
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "Alicia",
    "Andrea",
    "Annie",
    "anika",
    "aunty",
    "belinda",
    "linda",
    "steph",
    "steph2",
    "steph3",
    "grandma",
)
# "" is the language voice's own default, which is male.
MALE_VARIANTS = (
    "",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "Alex",
    "Andy",
    "AnxiousAndy",
    "Denis",
    "Diogo",
    "Gene",
    "Gene2",
    "Henrique",
    "Hugo",
    "Jacky",
    "Lee",
    "Marco",
    "Mario",
    "Michael",
    "Mike",
    "antonio",
    "boris",
    "david",
    "ed",
    "edward",
    "edward2",
    "adam",
    "benjamin",
    "gustave",
    "ian",
    "iven",
    "iven2",
    "iven3",
    "iven4",
    "john",
    "kaukovalta",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "klatt5",
    "klatt6",
    "marcelo",
    "max",
    "michel",
    "miguel",
    "mike2",
    "norbert",
    "pablo",
    "paul",
    "pedro",
    "quincy",
    "rob",
    "robert",
    "sandro",
    "travis",
    "victor",
    "grandpa",
    "Storm",
    "Tweaky",
    "Reed",
    "croak",
)

# Language voices (espeak-ng-data/lang). French accents are left out: fr-be and fr-ch
# give the same audio as fr for most variants.
LANGUAGE_VOICES = {
    "en": (
        "en-us",
        "en",
        "en-gb-scotland",
        "en-gb-x-rp",
        "en-gb-x-gbclan",
        "en-gb-x-gbcwmd",
        "en-us-nyc",
        "en-029",
    ),
    "cy": ("cy",),
    "eu": ("eu",),
    "fr": ("fr",),
    "de": ("de",),
    "es": ("es", "es-419"),
}

# Probe sentences: their audio tells voices apart and measures each timbre's pace.
PROBE_SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog, and the farmer's children watched it from the gate.",
    "cy": "Mae'r ci bach yn cysgu yn yr ardd heddiw, ond roedd y gath ddu yn rhedeg i'r dref ddoe.",
    "eu": "Gizonak gaur azokan ogi freskoa erosi du, eta neska txikia parkean jolasten da.",
    "fr": "Le petit chat dort dans le jardin, et le boulanger vend du pain frais au marché.",
    "de": "Der kleine Hund schläft im Garten, und der Bäcker verkauft frisches Brot auf dem Markt.",
    "es": "El perro pequeño duerme cerca del jardín, y el panadero vende pan dulce en la plaza de la ciudad.",
}

# Prosody classes: (rate factor, pitch shift, range factor, volume factor, extra word gap).
EMOTIONS = {
    "neutral": (1.0, 0, 1.0, 1.0, 0),
    "fast_high": (1.25, 18, 1.3, 1.0, 0),
    "slow_low": (0.75, -18, 0.6, 0.8, 0),
    "loud": (0.92, 6, 1.5, 1.8, 3),
}


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: a voice with its own prosody, and a sex for the metadata."""

    voice: Voice
    sex: str  # "F" or "M"

    @property
    def timbre(self) -> str:
        """The eSpeak voice name without prosody (``en-us+f3``)."""
        return self.voice.name


def make_speakers(language: str, count: int, rng: random.Random) -> list[Speaker]:
    """``count`` speakers of ``language``, alternately female and male.

    Timbres (language voice + variant) are drawn without replacement while they last,
    then reused with other prosody. Pitch, range and rate vary per speaker.

    Arguments
    ---------
    language : str
        Key of ``LANGUAGE_VOICES``.
    count : int
        Number of speakers.
    rng : random.Random
        Source of every choice.

    Returns
    -------
    speakers : list of Speaker

    Example
    -------
    >>> speakers = make_speakers("cy", 4, random.Random(0))
    >>> [s.sex for s in speakers], len({s.timbre for s in speakers})
    (['F', 'M', 'F', 'M'], 4)
    """
    pools = {}
    for sex, variants in (("F", FEMALE_VARIANTS), ("M", MALE_VARIANTS)):
        names = [
            f"{base}+{variant}" if variant else base
            for base in LANGUAGE_VOICES[language]
            for variant in variants
        ]
        rng.shuffle(names)
        pools[sex] = names
    speakers = []
    for index in range(count):
        sex = "F" if index % 2 == 0 else "M"
        pool = pools[sex]
        name = pool[(index // 2) % len(pool)]
        voice = Voice(name, rate=rng.randint(150, 185), pitch=rng.randint(35, 65), range=rng.randint(35, 70))
        speakers.append(Speaker(voice, sex))
    return speakers


def with_emotion(voice: Voice, emotion: str) -> Voice:
    """The speaker's voice with the prosody of ``emotion`` applied on top.

    Arguments
    ---------
    voice : Voice
        The speaker's own voice.
    emotion : str
        Key of ``EMOTIONS``.

    Returns
    -------
    voice : Voice

    Example
    -------
    >>> fast = with_emotion(Voice("en-us", rate=160, pitch=50), "fast_high")
    >>> fast.rate, fast.pitch
    (200, 68)
    """
    rate, pitch, pitch_range, volume, wordgap = EMOTIONS[emotion]
    return replace(
        voice,
        rate=min(450, max(80, round(voice.rate * rate))),
        pitch=min(100, max(0, voice.pitch + pitch)),
        range=min(100, max(0, round(voice.range * pitch_range))),
        volume=min(200, max(0, round(voice.volume * volume))),
        wordgap=voice.wordgap + wordgap,
    )


def probe(voice: Voice, text: str) -> tuple[str, float]:
    """Speaks ``text`` with ``voice`` from a fresh eSpeak NG state.

    Arguments
    ---------
    voice : Voice
        The voice to probe.
    text : str
        A fixed probe sentence.

    Returns
    -------
    digest : str
        SHA-1 of the audio: equal for equal voices.
    seconds : float
        Its duration.

    Example
    -------
    >>> probe(Voice("en-us"), "Hello.") == probe(Voice("en-us"), "Hello.")
    True
    """
    with Espeak() as engine:
        wave = engine.synthesize(text, voice, seed=0)
    return hashlib.sha1(wave.tobytes()).hexdigest(), len(wave) / SAMPLE_RATE


def check_distinct(voices: list[Voice], hashes: list[str]) -> None:
    """Raises if two different voice definitions produced the same probe audio.

    Arguments
    ---------
    voices : list of Voice
        The voices that were probed.
    hashes : list of str
        Their probe hashes (:func:`probe`), in the same order.

    Raises
    ------
    ValueError
        Naming the two voices that sound the same.

    Example
    -------
    >>> check_distinct([Voice("en-us"), Voice("en-us+f3")], ["a", "b"])
    >>> check_distinct([Voice("en-us"), Voice("en-us+f3")], ["a", "a"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: eSpeak NG speaks Voice(name='en-us+f3', ...) exactly like Voice(name='en-us', ...) ...
    """
    first_with = {}
    for voice, digest in zip(voices, hashes):
        other = first_with.setdefault(digest, voice)
        if other != voice:
            raise ValueError(
                f"eSpeak NG speaks {voice} exactly like {other} (a fallback or a duplicate variant): "
                "drop one from the speaker list in efficient_ssl/data/synth/voices.py"
            )
