"""Accounts' blocking keys (``Account.dup_key``) again, now that ``duplicates.strip_company`` drops the
places a company's name starts with (深圳市华信科技有限公司 blocks with 华信科技): the keys stored before
would keep the old blocks until each account is renamed.

Read 2,000 accounts at a time by the primary key (never all names at once), and only the keys that
change written, by ``duplicates.store_keys`` (the detection's own writer: one UPDATE from arrays a
batch on PostgreSQL, executemany on SQLite). At 200,000 accounts, 148,000 of them changed:
``bulk_update`` took 49 s on SQLite and 119 s on PostgreSQL (its CASE of 2,000 branches is built in
Python and read for each row), this 7 s and 46 s. Each batch is its own read, not one
``QuerySet.iterator()``: on SQLite a read still running sees the same connection's writes to its
table (Django's documentation of ``iterator()`` warns of it). The duplicate queue is not looked at
again here (a detection of every account is a job's work, not a migration's): the pairs the new keys
make are found when one of their accounts is next detected (a rename, an import, a restore, "Find
duplicates" on its page)."""

from django.db import migrations

BATCH = 2000


def recompute_keys(apps, schema_editor):
    from guanxi.customers.duplicates import account_dup_key, store_keys

    account = apps.get_model("customers", "Account")
    rows = account._base_manager.db_manager(schema_editor.connection.alias).order_by("pk")
    last = 0
    while batch := list(rows.filter(pk__gt=last).values_list("pk", "name", "dup_key")[:BATCH]):
        store_keys(account, [(key, pk) for pk, name, stored in batch if (key := account_dup_key(name)) != stored])
        last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0026_contact_source"),
    ]

    operations = [
        migrations.RunPython(recompute_keys, migrations.RunPython.noop),
    ]
