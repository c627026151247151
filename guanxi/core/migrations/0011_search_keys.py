# PostgreSQL: every whole-name key of a search document as its own row (key, document id), so that
# "the newest 40 people whose name or initials are exactly lw" is read from a B-tree alone, newest
# first, instead of from the heap page of each of the 2,252 documents GIN says hold that key (see
# KEY_TABLE in guanxi/core/search/backends/postgresql.py). Filled from the documents' k columns
# (3.3 million rows for 1.2 million documents: under a minute on a small machine). SQLite's FTS5
# walks a token's documents in id order already: nothing to do.
from django.db import migrations

CREATE = [
    "CREATE TABLE IF NOT EXISTS core_search_key (key text NOT NULL, id bigint NOT NULL, PRIMARY KEY (key, id))",
    "INSERT INTO core_search_key (key, id) SELECT DISTINCT t.key, d.id FROM core_search_document d, "
    "unnest(string_to_array(d.k, ' ')) AS t(key) WHERE d.k <> '' AND t.key <> '' ON CONFLICT DO NOTHING",
]
DROP = ["DROP TABLE IF EXISTS core_search_key"]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0010_follow_object_index")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
