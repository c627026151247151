"""How long each search of the bench's own queries takes in process, on the database it kept.

    .venv/bin/python bench/customers.py --engine postgres --keep     # once: the 1M database
    .venv/bin/python bench/_search_times.py [--database-url URL] [--kinds pinyin,name] [--rounds 2]

Runs ``search`` as the bench administrator for the first 250 queries of each kind of
``var/bench/data-*/meta.json``, ``--rounds`` times, and times the last round: p50 / p90 / p99 / max
per kind, and the slowest queries with their slowest statements. No HTTP and no other worker, so
what it shows is the search itself (``bench/_search_pages.py`` counts the pages the same queries
read). SQLite: ``--database-url sqlite:////path/to/var/bench/sqlite/guanxi.sqlite3``.
Files starting with "_" are not run by ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/guanxi_bench")
    parser.add_argument("--kinds", default="name,pinyin,phone,email")
    parser.add_argument("--queries", type=int, default=250, help="queries per kind (the first N)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of the queries; the last is timed")
    parser.add_argument("--top", type=int, default=4, help="the slowest queries, per kind")
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_DEBUG="0")
    import django

    django.setup()
    from django.db import connection

    from guanxi.core.search import search
    from guanxi.identity.models import User

    statements: list[tuple[float, str]] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(((time.perf_counter() - started) * 1000, sql[:90]))

    meta_files = sorted((ROOT / "var" / "bench").glob("data-*/meta.json"))
    if not meta_files:
        sys.exit("needs the data that bench/customers.py --keep left")
    queries = json.loads(meta_files[-1].read_text(encoding="utf-8"))["search"]
    user = User.objects.filter(is_superuser=True).order_by("pk").first()
    for kind in args.kinds.split(","):
        runs: list[tuple[float, str, list[tuple[float, str]]]] = []
        for round_ in range(args.rounds):
            for q in queries[kind][: args.queries]:
                statements.clear()
                with connection.execute_wrapper(timed):
                    started = time.perf_counter()
                    search(user, q, types=["contacts"], limit=20)
                    elapsed = (time.perf_counter() - started) * 1000
                if round_ == args.rounds - 1:
                    runs.append((elapsed, q, sorted(statements, reverse=True)[:3]))
        ms = sorted(run[0] for run in runs)

        def at(share: float, ms: list[float] = ms) -> float:
            return ms[min(len(ms) - 1, int(len(ms) * share))]

        spread = f"p50 {at(0.5):.1f} ms, p90 {at(0.9):.1f}, p99 {at(0.99):.1f}, max {ms[-1]:.1f}"
        print(f"{kind:<7} {len(ms)} queries: {spread}")
        for elapsed, q, slowest in sorted(runs, reverse=True)[: args.top]:
            parts = "; ".join(f"{t:.1f} ms {sql!r}" for t, sql in slowest)
            print(f"  {elapsed:.1f} ms {q}: {parts}")


if __name__ == "__main__":
    main()
