# Placeholder owned by one part of issue 3; its operations are filled in by that part.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_labels"), ("core", "0005_search")]

    operations = []
