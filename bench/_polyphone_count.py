"""How many documents each of the bench's pinyin-initials queries matches, with and without the
other readings of polyphone names (``text.reading_variants``).

Reads the generated bench data (``make bench`` writes it under var/bench/) and counts, over every
contact's name, the tokens ``text.person_tokens`` gives that equal one of the bench's initials
queries; then the same with ``MAX_VARIANTS = 0``. Files starting with "_" are not run by ``make bench``.

    .venv/bin/python bench/_polyphone_count.py
"""

from __future__ import annotations

import collections
import csv
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def count(terms: set[str], data: Path) -> collections.Counter[str]:
    from guanxi.core.search import text

    found: collections.Counter[str] = collections.Counter()
    with (data / "contacts.csv").open(encoding="utf-8-sig") as fp:
        rows = csv.reader(fp)
        next(rows)
        for row in rows:
            family, given = row[1], row[2]
            keys, words = text.person_tokens(family, given, family + given)
            for token in {*keys, *words} & terms:
                found[token] += 1
    return found


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
    import django

    django.setup()
    from guanxi.core.search import text

    data = next((ROOT / "var" / "bench").glob("data-*"))
    terms = set(json.loads((data / "meta.json").read_text())["search"]["pinyin"])
    with_variants = count(terms, data)
    text.MAX_VARIANTS = 0
    text.name_tokens.cache_clear()
    without = count(terms, data)
    new, old = sum(with_variants.values()), sum(without.values())
    change = (new - old) / max(old, 1)
    print(f"{len(terms)} initials queries: {old:,} matches without the readings, {new:,} with ({change:+.1%})")


if __name__ == "__main__":
    main()
