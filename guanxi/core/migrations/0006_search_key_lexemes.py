# PostgreSQL's search documents get their key lexemes (``k=zs``, ``e=a@b.cn``, ``p=8613800138000``:
# see KEY_COLUMNS in guanxi/core/search/backends/postgresql.py), built here from the stored columns
# the same way the application writes them. SQLite's FTS5 table has no such lexemes: nothing to do.
# One UPDATE of every document: about a minute a million documents on a small machine.
from django.db import migrations

KEY_LEXEMES = """
    SELECT DISTINCT v.c || '=' || t.token
    FROM (VALUES ('k', d.k), ('e', d.e), ('p', d.p)) AS v(c, txt),
         unnest(string_to_array(v.txt, ' ')) AS t(token)
    WHERE t.token <> ''
"""
ADD = f"UPDATE core_search_document d SET tsv = tsv || array_to_tsvector(ARRAY({KEY_LEXEMES}))"  # noqa: S608 - fixed SQL
REMOVE = (
    "UPDATE core_search_document SET tsv = ts_delete(tsv, "
    "ARRAY(SELECT lexeme FROM unnest(tsv) WHERE lexeme ~ '^[kep]='))"
)


def _on_postgresql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0005_search")]

    operations = [migrations.RunPython(_on_postgresql(ADD), _on_postgresql(REMOVE), elidable=False)]
