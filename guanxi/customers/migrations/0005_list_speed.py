# Indexes of the list pages (issue 3, list speed): live rows by each allowed ordering and by the
# common filters, each ending with the id that keyset pagination compares as a row value.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_duplicates")]

    operations = [
        migrations.RemoveIndex(
            model_name="account",
            name="account_owner_upd_idx",
        ),
        migrations.RemoveIndex(
            model_name="account",
            name="account_team_upd_idx",
        ),
        migrations.RemoveIndex(
            model_name="account",
            name="account_stage_upd_idx",
        ),
        migrations.RemoveIndex(
            model_name="account",
            name="account_tier_upd_idx",
        ),
        migrations.RemoveIndex(
            model_name="account",
            name="account_industry_upd_idx",
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_owner_upd_idx",
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_team_upd_idx",
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["updated_at", "id"],
                name="account_live_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["created_at", "id"],
                name="account_live_created_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "updated_at", "id"],
                name="account_owner_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["team", "updated_at", "id"],
                name="account_team_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["lifecycle_stage", "updated_at", "id"],
                name="account_stage_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["tier", "updated_at", "id"],
                name="account_tier_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["industry", "updated_at", "id"],
                name="account_industry_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["province", "updated_at", "id"],
                name="account_province_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["updated_at", "id"],
                name="contact_live_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["created_at", "id"],
                name="contact_live_created_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "updated_at", "id"],
                name="contact_owner_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["team", "updated_at", "id"],
                name="contact_team_upd_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["province", "updated_at", "id"],
                name="contact_province_upd_idx",
            ),
        ),
    ]
