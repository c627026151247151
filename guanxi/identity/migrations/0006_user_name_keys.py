"""Users' names spelled in pinyin (``User.name_keys``), so people pickers find 李伟 by "lw"."""

from django.db import migrations, models


def spell_names(apps, schema_editor):
    from guanxi.core.search.text import spelled_name

    User = apps.get_model("identity", "User")
    users = list(User.objects.only("pk", "display_name"))
    for user in users:
        user.name_keys = spelled_name(user.display_name)
    User.objects.bulk_update(users, ["name_keys"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0005_user_notification_email"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="name_keys",
            field=models.CharField(blank=True, default="", editable=False, max_length=400),
        ),
        migrations.RunPython(spell_names, migrations.RunPython.noop),
    ]
