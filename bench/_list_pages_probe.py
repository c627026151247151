"""A list page's p50 per user, in process, with the queries of one request (not run by ``make bench``).

    DATABASE_URL=sqlite:////tmp/probe.sqlite3 GUANXI_DATA_DIR=/tmp/probe \\
        .venv/bin/python bench/_restricted_probe.py setup
    DATABASE_URL=... GUANXI_DATA_DIR=... [SHOW=1] .venv/bin/python bench/_list_pages_probe.py \\
        [/customers/accounts/] [admin@demo.guanxi li.wei@demo.guanxi wang.fang@demo.guanxi]

For each user: 10 requests to warm up, then the p50 and the fastest of 40, and one more request's
queries (their count and SQL time; ``SHOW=1`` prints each). Compares a salesperson's and a
manager's page with an administrator's: what the restriction costs beyond the rows.
"""

import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main() -> None:
    from _restricted_probe import django_setup

    django_setup()
    from django.db import connection
    from django.test import Client

    from guanxi.identity.models import User

    path = sys.argv[1] if len(sys.argv) > 1 else "/customers/accounts/"
    emails = sys.argv[2:] or ["admin@demo.guanxi", "li.wei@demo.guanxi", "wang.fang@demo.guanxi"]
    for email in emails:
        client = Client()
        client.force_login(User.objects.get(email=email))
        for _ in range(10):
            assert client.get(path).status_code == 200
        times = []
        for _ in range(40):
            start = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        log: list[tuple[float, str]] = []

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any, log: list = log) -> Any:
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                log.append(((time.perf_counter() - start) * 1000, sql))

        with connection.execute_wrapper(timed):
            client.get(path)
        sql_ms = sum(ms for ms, _sql in log)
        print(
            f"{email:28s} p50 {statistics.median(times):6.1f} ms  min {min(times):6.1f}  "
            f"queries {len(log)}  sql {sql_ms:.1f} ms"
        )
        if os.environ.get("SHOW"):
            for ms, sql in log:
                print(f"   {ms:6.2f} {sql[:260]}")


if __name__ == "__main__":
    main()
