# The global search index (guanxi.core.search): an FTS5 table on SQLite, a table with a weighted
# tsvector and a GIN index on PostgreSQL. Raw SQL by design: neither is a Django model.
from django.db import migrations

SQLITE = [
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS core_search_fts USING fts5(
        k, n, e, p, o,
        tokenize = "unicode61 remove_diacritics 0 tokenchars '.@_+-'",
        prefix = '2 3',
        detail = column,
        columnsize = 0
    )
    """
]
SQLITE_DROP = ["DROP TABLE IF EXISTS core_search_fts"]
POSTGRESQL = [
    """
    CREATE TABLE IF NOT EXISTS core_search_document (
        id bigint PRIMARY KEY,
        k text NOT NULL DEFAULT '',
        n text NOT NULL DEFAULT '',
        e text NOT NULL DEFAULT '',
        p text NOT NULL DEFAULT '',
        o text NOT NULL DEFAULT '',
        tsv tsvector NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS core_search_document_tsv ON core_search_document USING gin (tsv)",
]
POSTGRESQL_DROP = ["DROP TABLE IF EXISTS core_search_document"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0004_jobs")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}),
            elidable=False,
        ),
    ]
