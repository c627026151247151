# PostgreSQL: each phone of a search document, its digits last-first, as a row of core_search_key
# ("p=x0008…" for a number ending in 8000), so that "numbers ending in 8000" is a range of that B-tree
# (see PHONE_KEY in guanxi/core/search/backends/postgresql.py). The key column compares byte by byte
# (collation "C") for that range to hold exactly the keys that start with it, whatever the database's
# collation. Filled from the documents' p columns. SQLite: nothing to do.
from django.db import migrations

CREATE = [
    'ALTER TABLE core_search_key ALTER COLUMN key TYPE text COLLATE "C"',
    "INSERT INTO core_search_key (key, id) SELECT DISTINCT 'p=' || t.key, d.id FROM core_search_document d, "
    "unnest(string_to_array(d.p, ' ')) AS t(key) WHERE d.p <> '' AND left(t.key, 1) = 'x' ON CONFLICT DO NOTHING",
]
DROP = [
    "DELETE FROM core_search_key WHERE left(key, 2) = 'p='",
    'ALTER TABLE core_search_key ALTER COLUMN key TYPE text COLLATE pg_catalog."default"',
]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0011_search_keys")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
