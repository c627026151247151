"""In-process figures on the database `bench/customers.py --keep` leaves (var/bench/<engine>):

    .venv/bin/python bench/_page_probe.py --engine sqlite|postgres list [--param phone__endswith] [--requests 1000]
    .venv/bin/python bench/_page_probe.py --engine sqlite|postgres recent [--requests 500]
    .venv/bin/python bench/_page_probe.py --engine sqlite|postgres pages [--requests 120]

``list``: ``GET /api/v1/contacts?limit=50&<param>=<value>`` through Django's test client, the
values the bench's data holds (``phone__endswith``: its 4-digit suffixes; ``email``; ``account``:
500 linked accounts; none: the first page), as the bench user; prints the request's p50 / p99 and
each statement's mean time (an ``execute_wrapper``). ``recent``: the bench user opens N distinct
contacts (``recent_view_record``: the visit a record page notes), then reads the search box's
最近查看 list of 8 two hundred times; p50 / p99 of each. Both write: a token, the visits. ``pages``:
the HTML pages of the 40 newest linked contacts and accounts in turn, signed in as the bench user
(a session, as a browser); p50 / p99 of each kind of page and its number of queries.
Files starting with "_" are not run by ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"


def setup(engine: str) -> None:
    os.environ["DATABASE_URL"] = (
        f"sqlite:///{OUT / 'sqlite' / 'guanxi.sqlite3'}"
        if engine == "sqlite"
        else os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/guanxi_bench")
    )
    os.environ["GUANXI_DATA_DIR"] = str(OUT / engine)
    os.environ["GUANXI_DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "guanxi.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def spread(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"p50 {ms[len(ms) // 2]:.2f} ms, p99 {ms[int(len(ms) * 0.99)]:.2f} ms, mean {statistics.mean(ms):.2f} ms"


def probe_list(param: str, requests: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from guanxi.core.context import write_context
    from guanxi.customers.models import AccountContact
    from guanxi.identity.models import User
    from guanxi.identity.services import token_create

    settings.ALLOWED_HOSTS = ["*"]
    meta = json.loads(next(OUT.glob("data-*/meta.json")).read_text(encoding="utf-8"))
    user = User.objects.get(email="bench@example.com")
    with write_context("system"):
        _token, key = token_create(user=user, name="page probe", scopes=["*:*"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    values: list[str] = {
        "phone__endswith": meta["search"]["phone"],
        "email": meta["search"]["email"],
        "account": [str(pk) for pk in AccountContact.objects.order_by("?").values_list("account_id", flat=True)[:500]],
    }.get(param, [""])
    statements: dict[str, list[float]] = {}
    total: list[float] = []
    for i in range(requests):
        value = values[i % len(values)]
        path = (
            f"/api/v1/contacts?limit=50&{param}={urllib.parse.quote(value)}" if value else "/api/v1/contacts?limit=50"
        )
        seen: list[tuple[float, str]] = []

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any, seen: list = seen) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                seen.append(((time.perf_counter() - started) * 1000, sql[:100]))

        with connection.execute_wrapper(timed):
            started = time.perf_counter()
            response = client.get(path)
            total.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
        for ms, sql in seen:
            statements.setdefault(sql, []).append(ms)
    print(f"request: {spread(total)}")
    for sql, ms in statements.items():
        print(f"  n={len(ms):5d} mean {statistics.mean(ms):.2f} ms  {sql}")


def probe_recent(requests: int) -> None:
    from guanxi.core.search.recent import recent_view_record, recent_views
    from guanxi.customers.models import Contact
    from guanxi.identity.models import User

    user = User.objects.get(email="bench@example.com")
    visits = []
    for contact in Contact.objects.order_by("-id")[:requests]:
        started = time.perf_counter()
        recent_view_record(user, contact)
        visits.append((time.perf_counter() - started) * 1000)
    reads = []
    for _ in range(200):
        started = time.perf_counter()
        recent_views(user, 8)
        reads.append((time.perf_counter() - started) * 1000)
    print(f"a visit noted: {spread(visits)}")
    print(f"the list of 8: {spread(reads)}")


def probe_pages(requests: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from guanxi.customers.models import AccountContact
    from guanxi.identity.models import User

    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    client.force_login(User.objects.get(email="bench@example.com"))
    links = AccountContact.objects.order_by("-contact_id")
    kinds = {
        "contact": ("/customers/contacts/{}/", list(links.values_list("contact_id", flat=True)[:40])),
        "account": ("/customers/accounts/{}/", list(links.values_list("account_id", flat=True)[:40])),
    }
    for kind, (url, ids) in kinds.items():
        ms: list[float] = []
        queries = 0
        for i in range(requests):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url.format(ids[i % len(ids)]))
                ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured)
        print(f"{kind} page: {spread(ms)}, {queries} queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("what", choices=("list", "recent", "pages"))
    parser.add_argument("--param", default="", help="list: phone__endswith, email, account, or none")
    parser.add_argument("--requests", type=int, default=None)
    args = parser.parse_args()
    setup(args.engine)
    if args.what == "list":
        probe_list(args.param, args.requests or 1000)
    elif args.what == "pages":
        probe_pages(args.requests or 120)
    else:
        probe_recent(args.requests or 500)


if __name__ == "__main__":
    main()
