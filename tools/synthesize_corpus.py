"""Synthesise the eSpeak NG mini corpus (see efficient_ssl.data.synth).

Usage:
    python tools/synthesize_corpus.py --output data/mini --size small --seed 1234 [--workers N]
"""

from efficient_ssl.data.synth.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
