"""How long 客户分布 and 联系人分布 take on the database the bench kept, in process (no HTTP), for
the bench administrator (who sees every record) and for the salesperson who owns the most.

    .venv/bin/python bench/customers.py --engine postgres --keep     # once: the 1M database
    .venv/bin/python bench/_breakdown_probe.py [--database-url sqlite:////…/guanxi.sqlite3] [--rounds 3]

Prints, per record type and dimension, the median of ``--rounds`` runs of ``record_breakdown`` with
no filter (the unfiltered page, the heaviest) and with the list's ``owner=me``. Files starting with
"_" are not run by ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/guanxi_bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--types", default="accounts,contacts")
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="guanxi.settings", GUANXI_DEBUG="0")
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count

    from guanxi.customers.breakdown import ACCOUNTS, CONTACTS, record_breakdown
    from guanxi.identity.models import User

    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    specs = {"accounts": ACCOUNTS, "contacts": CONTACTS}
    print(f"{connection.vendor}: median of {args.rounds} runs, ms")
    for name in args.types.split(","):
        spec = specs[name]
        top = spec.model.objects.values("owner_id").annotate(n=Count("pk")).order_by("-n").first()
        rep = User.objects.get(pk=top["owner_id"]) if top and top["owner_id"] else admin
        print(f"{name} ({spec.model.objects.count():,}; {rep} owns {top['n'] if top else 0:,})")
        for dimension in spec.dimensions:
            row = [f"  {dimension.key:<16}"]
            for user, params in ((admin, {}), (rep, {"owner": "me"})):
                times = []
                for _round in range(args.rounds):
                    started = time.perf_counter()
                    result = record_breakdown(spec, user, params, dimension)
                    times.append((time.perf_counter() - started) * 1000)
                row.append(
                    f"{'all' if user == admin else 'mine':>4} {statistics.median(times):8.1f} ({result.total:,})"
                )
            print("  ".join(row))


if __name__ == "__main__":
    main()
