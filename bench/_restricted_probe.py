"""A salesperson's account list when their accounts are the oldest (``page_keys`` with candidates).

    DATABASE_URL=sqlite:////tmp/probe.sqlite3 GUANXI_DATA_DIR=/tmp/probe \\
        .venv/bin/python bench/_restricted_probe.py setup [N]
    DATABASE_URL=... GUANXI_DATA_DIR=... [WHO=wang.fang@demo.guanxi] .venv/bin/python bench/_restricted_probe.py run

``setup``: migrate, the demo, then N (210,000) accounts, the 2,000 oldest 李伟's, the rest spread over
the other demo users, the pool empty. ``run``: p50 / p99 of 50 requests (after 10) in process, as
``WHO`` (李伟 by default): the 全部 page, the API list and 我负责的. Files starting with "_" are not run
by ``make bench``.
"""

import os
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
    os.environ["GUANXI_DEBUG"] = "0"
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    # No collected static files here: the plain storage finds them in the source.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def main() -> None:
    django_setup()
    cmd = sys.argv[1]
    if cmd == "setup":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from guanxi.customers.models import Account
        from guanxi.identity.models import User

        if not User.objects.filter(email="li.wei@demo.guanxi").exists():
            call_command("demo")
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 210000
        rep = User.objects.get(email="li.wei@demo.guanxi")
        others = list(User.objects.exclude(pk=rep.pk).values_list("pk", flat=True))
        from django.utils import timezone

        now = timezone.now()
        batch = []
        for i in range(n):
            t = now - timedelta(days=800) + timedelta(seconds=i * 300)
            owner = rep.pk if i < 2000 else others[i % len(others)]
            batch.append(Account(name=f"Probe {i:07d}", owner_id=owner, created_at=t, updated_at=t, owner_since=t))
            if len(batch) == 10000:
                Account.objects.bulk_create(batch)
                batch = []
        if batch:
            Account.objects.bulk_create(batch)
        # bulk_create sets auto_now; reset the times
        from django.db import connection

        with connection.cursor() as c:
            c.execute("update customers_account set updated_at = created_at where name like 'Probe %%'")
            c.execute("update customers_account set pooled_at = null, pool_due_at = null")
            c.execute("ANALYZE")
        print(Account.objects.count(), "accounts")
        return
    from django.db import connection
    from django.test import Client

    from guanxi.identity.models import User

    rep = User.objects.get(email=os.environ.get("WHO", "li.wei@demo.guanxi"))
    c = Client()
    c.force_login(rep)
    for path in ["/customers/accounts/", "/api/v1/accounts?limit=50", "/customers/accounts/?owner=me"]:
        ms = []
        for _ in range(60):
            t = time.perf_counter()
            r = c.get(path)
            ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (path, r.status_code)
        ms = sorted(ms[10:])
        print(f"{path:40s} p50 {ms[len(ms) // 2]:.1f} ms  p99 {ms[-1]:.1f} ms")


if __name__ == "__main__":
    main()
