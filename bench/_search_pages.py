"""Pages each search reads on PostgreSQL, or the time it takes, for the bench's own queries, on the
database the bench kept.

    .venv/bin/python bench/customers.py --engine postgres --keep     # once: the 1M database
    .venv/bin/python bench/_search_pages.py [--kinds name,pinyin] [--queries 250]
    .venv/bin/python bench/_search_pages.py --time [--rounds 2] [--database-url sqlite:////…/guanxi.sqlite3]

For every query of ``var/bench/data-*/meta.json`` it runs ``search`` as the bench administrator and,
after each SELECT, the same statement under ``EXPLAIN (ANALYZE, BUFFERS)``: the shared buffers hit
and read are the pages it touched. Unlike a time, that count does not depend on what the cache held
or on how busy the machine was, so two versions of the search can be compared on one database, in
one run each. Prints p50 / p90 / p99 / max / mean per kind and the queries that read the most.

``--time`` (either engine) times ``search`` instead, in process (no HTTP, no other worker), the last
of ``--rounds`` runs of the queries, and names the slowest queries' slowest statements.
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
    parser.add_argument("--top", type=int, default=6, help="the queries that read the most, per kind")
    parser.add_argument("--time", action="store_true", help="time each search instead of counting pages")
    parser.add_argument("--rounds", type=int, default=2, help="with --time: runs of the queries; the last is timed")
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_DEBUG="0")
    import django

    django.setup()
    from django.db import connection

    from guanxi.core.search import search
    from guanxi.identity.models import User

    touched: list[int] = []
    statements: list[tuple[float, str]] = []

    def count_pages(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not many and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0][0]["Plan"]
            touched.append(plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0))
        return result

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(((time.perf_counter() - started) * 1000, sql[:90]))

    meta_files = sorted((ROOT / "var" / "bench").glob("data-*/meta.json"))
    if not meta_files or (connection.vendor != "postgresql" and not args.time):
        sys.exit("needs the data that bench/customers.py --keep left, and PostgreSQL unless --time")
    queries = json.loads(meta_files[-1].read_text(encoding="utf-8"))["search"]
    user = User.objects.filter(is_superuser=True).order_by("pk").first()
    for kind in args.kinds.split(","):
        per_query: list[tuple[float, str, list[tuple[float, str]]]] = []
        for round_ in range(args.rounds if args.time else 1):
            for q in queries[kind][: args.queries]:
                touched.clear()
                statements.clear()
                with connection.execute_wrapper(timed if args.time else count_pages):
                    started = time.perf_counter()
                    search(user, q, types=["contacts"], limit=20)
                    elapsed = (time.perf_counter() - started) * 1000
                if round_ == (args.rounds - 1 if args.time else 0):
                    measure = elapsed if args.time else sum(touched)
                    per_query.append((measure, q, sorted(statements, reverse=True)[:3]))
        values = sorted(measure for measure, _q, _statements in per_query)

        def at(share: float, values: list[float] = values) -> float:
            return values[min(len(values) - 1, int(len(values) * share))]

        unit = " ms" if args.time else ""
        most = ", ".join(f"{q} {measure:.0f}" for measure, q, _s in sorted(per_query, reverse=True)[: args.top])
        print(
            f"{kind:<7} {len(values)} queries, {'time' if args.time else 'pages'} p50 {at(0.5):.0f}{unit} "
            f"p90 {at(0.9):.0f} p99 {at(0.99):.0f} max {values[-1]:.0f} mean {sum(values) / len(values):.0f}; "
            f"most: {most}"
        )
        if args.time:
            for measure, q, slowest in sorted(per_query, reverse=True)[:3]:
                print(f"  {measure:.1f} ms {q}: " + "; ".join(f"{t:.1f} ms {sql!r}" for t, sql in slowest))


if __name__ == "__main__":
    main()
