# PostgreSQL's search lexemes get their record type's namespace ("28/zs": see namespace in
# guanxi/core/search/backends/postgresql.py), the type's number being the document id shifted right
# by 40, as the application writes them. Weights and positions are kept. SQLite's FTS5 table has no
# such lexemes: nothing to do.
# The GIN index is dropped for the rewrite and built again after it, which is faster than keeping it
# current row by row (1.2 million documents: about 2 minutes on a small machine).
from django.db import migrations

# One document's lexemes, renamed by NAME (SQL over the unnest() row ``u`` and the document ``d``),
# as a tsvector literal: each lexeme quoted as tsvector input wants ('' and \\), its positions with
# their weights (D is written without a letter).
REWRITE = (
    "UPDATE core_search_document d SET tsv = (SELECT coalesce(string_agg("
    "'''' || replace(replace({name}, '\\', '\\\\'), '''', '''''') || ''''"
    " || coalesce(':' || (SELECT string_agg(x.p::text || CASE x.w WHEN 'D' THEN '' ELSE x.w END, ',')"
    " FROM unnest(u.positions, u.weights) AS x(p, w)), ''), ' '), '')::tsvector FROM unnest(d.tsv) AS u)"
)
ADD = REWRITE.format(name="(d.id >> 40)::text || '/' || u.lexeme")
REMOVE = REWRITE.format(name="substr(u.lexeme, strpos(u.lexeme, '/') + 1)")
DROP_INDEX = "DROP INDEX IF EXISTS core_search_document_tsv"
CREATE_INDEX = "CREATE INDEX IF NOT EXISTS core_search_document_tsv ON core_search_document USING gin (tsv)"


def _on_postgresql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(DROP_INDEX)
            schema_editor.execute(statement)
            schema_editor.execute(CREATE_INDEX)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0006_search_key_lexemes")]

    operations = [migrations.RunPython(_on_postgresql(ADD), _on_postgresql(REMOVE), elidable=False)]
