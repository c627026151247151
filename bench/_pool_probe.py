"""The customer pool's bulk actions in process: release, claim and assign by rules of N accounts.

    DATABASE_URL=sqlite:////tmp/pool_probe.sqlite3 GUANXI_DATA_DIR=/tmp/pool_probe \\
        .venv/bin/python bench/_pool_probe.py [N]

Migrates and loads the demo when the database is new, adds N (500) accounts in 华东 owned by the
administrator, every other one with a contact whose primary company it is, then times each bulk
action as ``POST /api/v1/accounts/bulk`` runs it (``bulk_start_or_run``, all or nothing in one
transaction, up to ``SYNC_LIMIT`` records), with the statements it sent: the release to the pool
with a listed reason (the people go along), the claim back by the administrator (they come back),
and the assignment by the demo's rules (华东 → 华东销售部, in turn; the people go along again).
Each run's accounts are new, so runs do not see each other's changes. Files starting with "_" are
not run by ``make bench``.
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
    from guanxi.customers.models import PoolReason
    from guanxi.customers.services import account_create, contact_create
    from guanxi.identity.models import User

    if not User.objects.filter(email="li.wei@demo.guanxi").exists():
        call_command("demo")
    n = min(int(sys.argv[1]) if len(sys.argv) > 1 else 500, SYNC_LIMIT)
    admin = User.objects.get(email="admin@demo.guanxi")
    reason_id = PoolReason.objects.filter(is_active=True).order_by("position", "id").values_list("pk", flat=True)[0]
    run = time.strftime("%H%M%S")
    ids = []
    for i in range(n):
        data = {"name": f"公海 {run} {i:04d}", "owner_id": admin.pk, "region": "华东"}
        account = account_create(user=admin, data=data)
        ids.append(account.pk)
        if i % 2 == 0:
            contact_create(
                user=admin,
                data={"family_name": "池", "given_name": f"{run}{i}", "owner_id": admin.pk},
                accounts=[{"account": account.pk, "is_primary": True}],
            )
    accounts = resource_at("accounts")
    print(f"{connection.vendor}: {n} accounts, {n // 2 + n % 2} with a person")
    statements = [0]

    def counted(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements[0] += 1
        return execute(sql, params, many, context)

    for action, kwargs in (
        ("release", {"reason": "批量测试", "reason_id": reason_id}),
        ("claim", {}),
        ("assign_rules", {}),
    ):
        statements[0] = 0
        started = time.perf_counter()
        with connection.execute_wrapper(counted):
            result = bulk_start_or_run(resource=accounts, user=admin, action=action, ids=ids, **kwargs)
        seconds = time.perf_counter() - started
        changed = result["changed"] if isinstance(result, dict) else result
        print(
            f"{action:12s} {seconds:6.2f} s  {seconds * 1000 / n:5.1f} ms a record  "
            f"{statements[0]:5d} statements  changed {changed}"
        )


if __name__ == "__main__":
    main()
