"""The ``synthesize-corpus`` command: the eSpeak NG mini corpus on disk.

Example
-------
>>> parse_arguments(["--output", "data/mini", "--size", "small"]).size
'small'

Authors
 * efficient_ssl contributors
"""

import argparse
import os
import sys

from efficient_ssl.data.synth.corpus import SIZES, synthesize_corpus


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``sys.argv[1:]`` when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        prog="synthesize-corpus",
        description="Synthesise the eSpeak NG mini corpus in the LibriSpeech and Common Voice layouts.",
    )
    parser.add_argument(
        "--output", required=True, help="corpus folder: missing, empty, or holding this same corpus"
    )
    parser.add_argument(
        "--size", choices=list(SIZES), default="small", help="tiny (tests), small (~5 h), medium (~20 h)"
    )
    parser.add_argument("--seed", type=int, default=1234, help="seed of every random choice")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count(), help="worker processes (default: all cores)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns the exit status (2 with a one-line reason on bad input)."""
    args = parse_arguments(argv)
    if args.workers is not None and args.workers < 1:
        print(f"synthesize-corpus: --workers must be at least 1, not {args.workers}", file=sys.stderr)
        return 2
    try:
        synthesize_corpus(args.output, args.size, args.seed, args.workers)
    except (FileExistsError, ValueError) as error:
        print(f"synthesize-corpus: {error}", file=sys.stderr)
        return 2
    return 0
