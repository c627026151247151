"""The customer pool's bulk actions in process: release, claim and assign by rules of N accounts.

    DATABASE_URL=sqlite:////tmp/pool_probe.sqlite3 GUANXI_DATA_DIR=/tmp/pool_probe \\
        .venv/bin/python bench/_pool_probe.py [N]

Adds N (500) accounts in 华东 owned by the administrator, every other one with a contact whose
primary company it is (``_bulk_probe.prepare``), then times each bulk action as ``POST
/api/v1/accounts/bulk`` runs it, with the statements it sent: the release to the pool with a listed
reason (the people go along), the claim back by the administrator (they come back), and the
assignment by the demo's rules (华东 → 华东销售部, in turn; the people go along again). On a new
PostgreSQL database run ``ANALYZE`` first: without planner statistics the duplicate detection of the
accounts being added crawls. Files starting with "_" are not run by ``make bench``.
"""

from _bulk_probe import prepare, timed


def main() -> None:
    admin, ids, _n = prepare("公海", "池", region="华东")
    from guanxi.customers.models import PoolReason

    reason_id = PoolReason.objects.filter(is_active=True).order_by("position", "id").values_list("pk", flat=True)[0]
    timed(admin, ids, "release", reason="批量测试", reason_id=reason_id)
    timed(admin, ids, "claim")
    timed(admin, ids, "assign_rules")


if __name__ == "__main__":
    main()
