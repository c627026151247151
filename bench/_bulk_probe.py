"""Bulk actions in process: a hand-over, a tag and an edit of N accounts (half with a person).

    DATABASE_URL=sqlite:////tmp/bulk.sqlite3 GUANXI_DATA_DIR=/tmp/bulk \\
        .venv/bin/python bench/_bulk_probe.py [N]

Migrates and loads the demo when the database is new, adds N (500) accounts owned by the
administrator, every other one with a contact whose primary company it is, then times each bulk
action as ``POST /api/v1/accounts/bulk`` runs it (``bulk_start_or_run``, all or nothing in one
transaction, up to ``SYNC_LIMIT`` records): the owner to 李伟 (the contacts go along), the tag 重点,
the industry, and last the delete to the recycle bin. Each run's accounts are new, so runs do not
see each other's changes. Files starting with "_" are not run by ``make bench``.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main() -> None:
    from _restricted_probe import django_setup  # bench/ is the script's own folder on the path

    django_setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from guanxi.core.bulk import SYNC_LIMIT, bulk_start_or_run
    from guanxi.core.registry import resource_at
    from guanxi.customers.services import account_create, contact_create
    from guanxi.identity.models import User

    if not User.objects.filter(email="li.wei@demo.guanxi").exists():
        call_command("demo")
    n = min(int(sys.argv[1]) if len(sys.argv) > 1 else 500, SYNC_LIMIT)
    admin = User.objects.get(email="admin@demo.guanxi")
    rep = User.objects.get(email="li.wei@demo.guanxi")
    run = time.strftime("%H%M%S")
    ids = []
    for i in range(n):
        account = account_create(user=admin, data={"name": f"批量 {run} {i:04d}", "owner_id": admin.pk})
        ids.append(account.pk)
        if i % 2 == 0:
            contact_create(
                user=admin,
                data={"family_name": "批", "given_name": f"{run}{i}", "owner_id": admin.pk},
                accounts=[{"account": account.pk, "is_primary": True}],
            )
    accounts = resource_at("accounts")
    print(f"{connection.vendor}: {n} accounts, {n // 2 + n % 2} with a person")
    for action, kwargs in (
        ("owner", {"owner": rep.pk}),
        ("tag_add", {"tags": ["重点"]}),
        ("update", {"data": {"industry": "software"}}),
        ("delete", {}),
    ):
        started = time.perf_counter()
        result = bulk_start_or_run(resource=accounts, user=admin, action=action, ids=ids, **kwargs)
        seconds = time.perf_counter() - started
        changed = result["changed"] if isinstance(result, dict) else result
        print(f"{action:8s} {seconds:6.2f} s  {seconds * 1000 / n:5.1f} ms a record  changed {changed}")


if __name__ == "__main__":
    main()
