"""Pages each search reads on PostgreSQL, for the bench's own queries, on the database it kept.

    .venv/bin/python bench/customers.py --engine postgres --keep     # once: the 1M database
    .venv/bin/python bench/_search_pages.py [--kinds name,pinyin] [--queries 250]

For every query of ``var/bench/data-*/meta.json`` it runs ``search`` as the bench administrator and,
after each SELECT, the same statement under ``EXPLAIN (ANALYZE, BUFFERS)``: the shared buffers hit
and read are the pages it touched. Unlike a time, that count does not depend on what the cache held
or on how busy the machine was, so two versions of the search can be compared on one database, in
one run each. Prints p50 / p90 / p99 / max / mean per kind and the queries that read the most.
Files starting with "_" are not run by ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_DEBUG="0")
    import django

    django.setup()
    from django.db import connection

    from guanxi.core.search import search
    from guanxi.identity.models import User

    touched: list[int] = []

    def count_pages(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not many and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
                plan = cursor.fetchone()[0][0]["Plan"]
            touched.append(plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0))
        return result

    meta_files = sorted((ROOT / "var" / "bench").glob("data-*/meta.json"))
    if not meta_files or connection.vendor != "postgresql":
        sys.exit("needs the PostgreSQL database and the data that bench/customers.py --keep left")
    queries = json.loads(meta_files[-1].read_text(encoding="utf-8"))["search"]
    user = User.objects.filter(is_superuser=True).order_by("pk").first()
    for kind in args.kinds.split(","):
        per_query: list[tuple[int, str]] = []
        for q in queries[kind][: args.queries]:
            touched.clear()
            with connection.execute_wrapper(count_pages):
                search(user, q, types=["contacts"], limit=20)
            per_query.append((sum(touched), q))
        pages = sorted(p for p, _q in per_query)

        def at(share: float, pages: list[int] = pages) -> int:
            return pages[min(len(pages) - 1, int(len(pages) * share))]

        worst = ", ".join(f"{q} {p}" for p, q in sorted(per_query, reverse=True)[: args.top])
        print(
            f"{kind:<7} {len(pages)} queries, pages p50 {at(0.5)} p90 {at(0.9)} p99 {at(0.99)} max {pages[-1]} "
            f"mean {sum(pages) / len(pages):.0f}; most: {worst}"
        )


if __name__ == "__main__":
    main()
