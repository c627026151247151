"""Bulk actions in process: a hand-over, a tag, an edit and a delete of N accounts (half with a person).

    DATABASE_URL=sqlite:////tmp/bulk.sqlite3 GUANXI_DATA_DIR=/tmp/bulk \\
        .venv/bin/python bench/_bulk_probe.py [N]

Migrates and loads the demo when the database is new, adds N (500) accounts owned by the
administrator, every other one with a contact whose primary company it is, then times each bulk
action as ``POST /api/v1/accounts/bulk`` runs it (``bulk_start_or_run``, all or nothing in one
transaction, up to ``SYNC_LIMIT`` records), with the statements it sent: the owner to 李伟 (the
contacts go along), the tag 重点, the industry, and last the delete to the recycle bin. Each run's
accounts are new, so runs do not see each other's changes. ``_bin_probe.py`` and ``_pool_probe.py``
time the recycle bin's and the pool's actions with this file's ``prepare`` and ``timed``. Files
starting with "_" are not run by ``make bench``.
"""

import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def prepare(label: str, family: str, *, actor: str = "admin@demo.guanxi", **fields: Any) -> tuple[Any, list[Any], int]:
    """Django set up, migrated and the demo loaded once; then N (argv[1], 500, at most
    ``SYNC_LIMIT``) new accounts named ``label`` owned by ``actor`` with ``fields``, every other one
    with a person of the family name ``family``. Returns the actor, the accounts' ids and N."""
    from _restricted_probe import django_setup  # bench/ is the script's own folder on the path

    django_setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from guanxi.core.bulk import SYNC_LIMIT
    from guanxi.customers.services import account_create, contact_create
    from guanxi.identity.models import User

    if not User.objects.filter(email="li.wei@demo.guanxi").exists():
        call_command("demo")
    n = min(int(sys.argv[1]) if len(sys.argv) > 1 else 500, SYNC_LIMIT)
    user = User.objects.get(email=actor)
    run = time.strftime("%H%M%S")
    ids = []
    for i in range(n):
        account = account_create(user=user, data={"name": f"{label} {run} {i:04d}", "owner_id": user.pk, **fields})
        ids.append(account.pk)
        if i % 2 == 0:
            contact_create(
                user=user,
                data={"family_name": family, "given_name": f"{run}{i}", "owner_id": user.pk},
                accounts=[{"account": account.pk, "is_primary": True}],
            )
    print(f"{connection.vendor}: {n} accounts, {n // 2 + n % 2} with a person")
    return user, ids, n


def timed(user: Any, ids: list[Any], action: str, label: str = "", **kwargs: Any) -> None:
    """Run the bulk ``action`` on the accounts ``ids`` as the API does and print its time and statements."""
    from django.db import connection

    from guanxi.core.bulk import bulk_start_or_run
    from guanxi.core.registry import resource_at

    statements = [0]

    def counted(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements[0] += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(counted):
        result = bulk_start_or_run(resource=resource_at("accounts"), user=user, action=action, ids=ids, **kwargs)
    seconds = time.perf_counter() - started
    changed = result["changed"] if isinstance(result, dict) else result
    print(
        f"{label or action:12s} {seconds:6.2f} s  {seconds * 1000 / len(ids):5.1f} ms a record  "
        f"{statements[0]:5d} statements  changed {changed}"
    )


def main() -> None:
    admin, ids, _n = prepare("批量", "批")
    from guanxi.identity.models import User

    rep = User.objects.get(email="li.wei@demo.guanxi")
    timed(admin, ids, "owner", owner=rep.pk)
    timed(admin, ids, "tag_add", tags=["重点"])
    timed(admin, ids, "update", data={"industry": "software"})
    timed(admin, ids, "delete")


if __name__ == "__main__":
    main()
