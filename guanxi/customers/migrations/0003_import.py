# Import part of issue 3: external ids on accounts and contacts, unique among live records when given.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_labels"), ("core", "0005_search")]

    operations = [
        migrations.AddField(
            model_name="account",
            name="external_id",
            field=models.CharField(blank=True, default="", max_length=100, verbose_name="external ID"),
        ),
        migrations.AddField(
            model_name="contact",
            name="external_id",
            field=models.CharField(blank=True, default="", max_length=100, verbose_name="external ID"),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("deleted_at__isnull", True), models.Q(("external_id", ""), _negated=True)),
                fields=("external_id",),
                name="account_external_id_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="contact",
            constraint=models.UniqueConstraint(
                condition=models.Q(("deleted_at__isnull", True), models.Q(("external_id", ""), _negated=True)),
                fields=("external_id",),
                name="contact_external_id_unique",
            ),
        ),
    ]
