# Placeholder owned by one part of issue 3; its operations are filled in by that part.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0004_jobs")]

    operations = []
