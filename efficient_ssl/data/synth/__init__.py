"""The eSpeak NG mini corpus: synthetic speech in the LibriSpeech and Common Voice layouts.

Modules
    corpus      synthesize_corpus: plan, synthesis over a worker pool, files and manifests
    espeak      eSpeak NG through ctypes (espeakng-loader), one fresh state per engine
    voices      speakers (voice + variant + prosody), emotions, the distinct-voice check
    text        sentence makers per language, LibriSpeech transcripts, length control
    grammar     shared helpers of the grammars
    english     English grammar over lexicon_en (the English vocabulary, as data)
    commands    SLURP-like voice-assistant commands with their intents
    lang_cy, lang_eu, lang_fr, lang_de, lang_es    grammars of the Common Voice languages
    cli         the synthesize-corpus command

Example
-------
>>> from efficient_ssl.data.synth import SIZES
>>> sorted(SIZES)
['medium', 'small', 'tiny']
"""

from efficient_ssl.data.synth.corpus import SIZES, SizeSpec, synthesize_corpus

__all__ = ["SIZES", "SizeSpec", "synthesize_corpus"]
