"""The recycle bin in process: bulk-delete N accounts (half with a person), restore them all, bin
them again and purge them, and read the bin's first page and a search by name.

    DATABASE_URL=sqlite:////tmp/bin.sqlite3 GUANXI_DATA_DIR=/tmp/bin \\
        .venv/bin/python bench/_bin_probe.py [N]

Migrates and loads the demo when the database is new, adds N (500) accounts owned by the
administrator (or ``BIN_ACTOR``), every other one with a contact whose primary company it is
(``_bulk_probe.prepare``), bins them with the list's bulk delete (set-based), then times
``restore`` and ``purge`` as ``POST /api/v1/recycle-bin/customers.account/bulk`` runs them
(``bulk_start_or_run``: up to ``SYNC_LIMIT`` records in one transaction, each through
``customer_restore`` / ``record_purge`` in its own savepoint), with the statements they sent. Each
run's accounts are new. Files starting with "_" are not run by ``make bench``.
"""

import os
import time

from _bulk_probe import prepare, timed


def main() -> None:
    # BIN_ACTOR=li.wei@demo.guanxi: a salesperson, whose role's 撞单保护 reads run on each restore
    # (an administrator's are skipped), and whose bin is restricted.
    user, ids, _n = prepare("回收", "回", actor=os.environ.get("BIN_ACTOR", "admin@demo.guanxi"))
    from guanxi.core.pagination import paginate
    from guanxi.core.recycle_bin import bin_query
    from guanxi.core.registry import resource_at
    from guanxi.customers.models import Account

    accounts = resource_at("accounts")
    timed(user, ids, "delete")
    run = Account.all_objects.get(pk=ids[0]).name.split()[1]  # the run's time, as prepare named them
    for label, params in (("page 1", {}), ("search", {"search": f"回收 {run} 04"})):
        started = time.perf_counter()
        qs, ordering = bin_query(accounts, user, params)
        page = paginate(qs.select_related("deleted_by"), ordering, None, 50)
        print(f"{label:12s} {(time.perf_counter() - started) * 1000:6.1f} ms  {len(page.items)} rows")
    timed(user, ids, "restore")
    timed(user, ids, "delete")
    timed(user, ids, "purge")


if __name__ == "__main__":
    main()
