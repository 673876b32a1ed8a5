#!/usr/bin/env python3
"""Plot curves from speechbrain train logs (train_log.txt, steps_log.txt) of several runs.

Each line of such a log reads ``step: 10, loss: 4.21, accuracy: 0.12 - valid loss: ...``;
every ``key: number`` pair is parsed (section prefixes like ``train``/``valid`` are kept in
the key, e.g. ``valid loss``). One panel per ``--keys`` entry, one line per run.

Usage:
    python tools/plot_train_logs.py --logs results/a/steps_log.txt results/b/steps_log.txt \
        --labels SummaryMixing MHSA --x step --keys loss accuracy --output curves.png
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from plotting import pyplot

PAIR = re.compile(r"([A-Za-z_][\w ]*?):\s*(-?[\d.]+(?:e[-+]?\d+)?)")


def parse_log(path: str | Path) -> list[dict[str, float]]:
    """Reads a speechbrain train log into one dict per line.

    Example
    -------
    >>> p = getfixture("tmp_path") / "log.txt"
    >>> _ = p.write_text("step: 10, loss: 4.2 - valid loss: 3.5e-01\\n")
    >>> parse_log(p)
    [{'step': 10.0, 'loss': 4.2, 'valid loss': 0.35}]
    """
    rows = []
    for line in Path(path).read_text().splitlines():
        row: dict[str, float] = {}
        for section in line.split(" - "):
            words = section.split(" ", 1)
            prefix = words[0] if len(words) > 1 and words[0] in ("train", "valid", "test") else ""
            body = section[len(prefix):].strip() if prefix else section
            for key, value in PAIR.findall(body):
                key = key.strip()
                if prefix and not key.startswith(prefix + " "):
                    key = f"{prefix} {key}"
                row[key] = float(value)
        if row:
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", nargs="+", required=True, help="log files, one per run")
    parser.add_argument("--labels", nargs="+", help="one label per log (default: parent folder)")
    parser.add_argument("--x", default="step", help="key for the x axis")
    parser.add_argument("--keys", nargs="+", required=True, help="keys to plot, one panel each")
    parser.add_argument("--output", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    labels = args.labels or [Path(p).parent.name for p in args.logs]
    if len(labels) != len(args.logs):
        parser.error("--labels needs one label per --logs entry")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(args.keys), figsize=(4.5 * len(args.keys), 3.5), squeeze=False)
    for log, label in zip(args.logs, labels):
        rows = [r for r in parse_log(log) if args.x in r]
        for ax, key in zip(axes[0], args.keys):
            points = [(r[args.x], r[key]) for r in rows if key in r]
            if points:
                ax.plot(*zip(*points), label=label)
    for ax, key in zip(axes[0], args.keys):
        ax.set_xlabel(args.x)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
