"""Users' names spelled again: a latin name's initials joined the spelling (John Smith: "js")."""

from django.db import migrations


def spell_names(apps, schema_editor):
    from guanxi.core.search.text import spelled_name

    User = apps.get_model("identity", "User")
    users = list(User.objects.only("pk", "display_name", "name_keys"))
    changed = []
    for user in users:
        spelled = spelled_name(user.display_name)
        if spelled != user.name_keys:
            user.name_keys = spelled
            changed.append(user)
    User.objects.bulk_update(changed, ["name_keys"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0006_user_name_keys"),
    ]

    operations = [
        migrations.RunPython(spell_names, migrations.RunPython.noop),
    ]
