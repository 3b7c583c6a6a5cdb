"""``python -m streams.rules --write-docs | --check-docs``: the docs' rule tables from the registry."""

from __future__ import annotations

import sys
from pathlib import Path

from streams.rules.docs import stale, write

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    if argv == ["--write-docs"]:
        write(ROOT)
        return 0
    if argv == ["--check-docs"]:
        bad = stale(ROOT)
        for name in bad:
            print(f"{name}: rule tables differ from streams.rules (run python -m streams.rules "
                  "--write-docs)", file=sys.stderr)
        return 1 if bad else 0
    print("usage: python -m streams.rules --write-docs | --check-docs", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
