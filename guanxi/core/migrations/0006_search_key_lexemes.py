# PostgreSQL's search documents get their key lexemes (``k=zs``: see key_lexeme in
# guanxi/core/search/backends/postgresql.py), built here from the stored whole-name keys the same way
# the application writes them. SQLite's FTS5 table has no such lexemes: nothing to do.
# One UPDATE of every document: about 3 minutes for 1.2 million documents on a small machine.
from django.db import migrations

ADD = (
    "UPDATE core_search_document d SET tsv = tsv || array_to_tsvector(ARRAY("
    "SELECT DISTINCT 'k=' || t.token FROM unnest(string_to_array(d.k, ' ')) AS t(token) WHERE t.token <> ''))"
)
REMOVE = (
    "UPDATE core_search_document SET tsv = ts_delete(tsv, "
    "ARRAY(SELECT lexeme FROM unnest(tsv) WHERE left(lexeme, 2) = 'k='))"
)


def _on_postgresql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0005_search")]

    operations = [migrations.RunPython(_on_postgresql(ADD), _on_postgresql(REMOVE), elidable=False)]
