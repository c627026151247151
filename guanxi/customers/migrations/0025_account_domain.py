"""An account's website host (``Account.domain``) for duplicate detection, filled in for the accounts
there are: a later duplicate check of any account finds those that share it."""

from django.db import migrations, models

BATCH = 2000


def fill_domains(apps, schema_editor):
    from guanxi.customers.normalize import website_domain

    account = apps.get_model("customers", "Account")
    rows = account.objects.exclude(website="").order_by("pk").values_list("pk", "website")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        for pk, website in batch:
            domain = website_domain(website)
            if domain:
                account.objects.filter(pk=pk).update(domain=domain)
        last = batch[-1][0]


def analyze(apps, schema_editor):
    # PostgreSQL's planner must know the hosts before duplicate detection reads them by their index.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE customers_account")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0024_acquaintances"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="domain",
            field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=200),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["domain"], name="account_domain_idx"),
        ),
        migrations.RunPython(fill_domains, migrations.RunPython.noop),
        migrations.RunPython(analyze, migrations.RunPython.noop),
    ]
