"""The recycle bin in process: bulk-delete N accounts (half with a person), restore them all, bin
them again and purge them, and read the bin's first and a deep page.

    DATABASE_URL=sqlite:////tmp/bin.sqlite3 GUANXI_DATA_DIR=/tmp/bin \\
        .venv/bin/python bench/_bin_probe.py [N]

Migrates and loads the demo when the database is new, adds N (500) accounts owned by the
administrator (or ``BIN_ACTOR``), every other one with a contact whose primary company it is, bins them with the
list's bulk delete (set-based), then times ``restore`` and ``purge`` as ``POST
/api/v1/recycle-bin/customers.account/bulk`` runs them (``bulk_start_or_run``: up to ``SYNC_LIMIT``
records in one transaction, each through ``customer_restore`` / ``record_purge`` in its own
savepoint). Each run's accounts are new. Files starting with "_" are not run by ``make bench``.
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
    from guanxi.core.pagination import paginate
    from guanxi.core.recycle_bin import bin_query
    from guanxi.core.registry import resource_at
    from guanxi.customers.services import account_create, contact_create
    from guanxi.identity.models import User

    if not User.objects.filter(email="li.wei@demo.guanxi").exists():
        call_command("demo")
    n = min(int(sys.argv[1]) if len(sys.argv) > 1 else 500, SYNC_LIMIT)
    # BIN_ACTOR=li.wei@demo.guanxi: a salesperson, whose role's 撞单保护 reads run on each restore
    # (an administrator's are skipped), and whose bin is restricted.
    admin = User.objects.get(email=os.environ.get("BIN_ACTOR", "admin@demo.guanxi"))
    run = time.strftime("%H%M%S")
    ids = []
    for i in range(n):
        account = account_create(user=admin, data={"name": f"回收 {run} {i:04d}", "owner_id": admin.pk})
        ids.append(account.pk)
        if i % 2 == 0:
            contact_create(
                user=admin,
                data={"family_name": "回", "given_name": f"{run}{i}", "owner_id": admin.pk},
                accounts=[{"account": account.pk, "is_primary": True}],
            )
    accounts = resource_at("accounts")
    print(f"{connection.vendor}: {n} accounts, {n // 2 + n % 2} with a person")

    def timed(label: str, action: str) -> None:
        started = time.perf_counter()
        result = bulk_start_or_run(resource=accounts, user=admin, action=action, ids=ids)
        seconds = time.perf_counter() - started
        changed = result["changed"] if isinstance(result, dict) else result
        print(f"{label:8s} {seconds:6.2f} s  {seconds * 1000 / n:5.1f} ms a record  changed {changed}")

    timed("delete", "delete")
    for label, params in (("page 1", {}), ("search", {"search": f"回收 {run} 04"})):
        started = time.perf_counter()
        qs, ordering = bin_query(accounts, admin, params)
        page = paginate(qs.select_related("deleted_by"), ordering, None, 50)
        print(f"{label:8s} {(time.perf_counter() - started) * 1000:6.1f} ms  {len(page.items)} rows")
    timed("restore", "restore")
    timed("delete", "delete")
    timed("purge", "purge")


if __name__ == "__main__":
    main()
