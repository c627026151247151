"""Search on SQLite: an FTS5 table whose rowid is the document id (content type << 40 | record id).

Columns are filtered with FTS5 column filters (``{k n} : (...)``); candidates come newest first by
rowid, which FTS5 walks in order, so ``LIMIT`` stops early however common a term is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models.expressions import RawSQL

from guanxi.core.search.backends import COLUMNS, Row, chunks
from guanxi.core.search.text import Alternative, Query

TABLE = "core_search_fts"
# SQLite allows 32766 parameters a statement since 3.32; stay well below.
_CHUNK = 900

# The table is created by guanxi/core/migrations/0005_search.py.


def write(rows: list[Row], remove_ids: Iterable[int]) -> None:
    """Drop the documents ``remove_ids`` and insert ``rows`` (the caller includes rewritten ids in both).

    In a savepoint: FTS5 keeps new terms in memory until a commit or savepoint boundary, and the
    boundary here writes them out now, not during a later read in the same transaction.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        ids = list(remove_ids)
        for part in chunks(ids, _CHUNK):
            marks = ",".join(["%s"] * len(part))
            cursor.execute(f"DELETE FROM {TABLE} WHERE rowid IN ({marks})", part)  # noqa: S608 - marks only
        if rows:
            cursor.executemany(f"INSERT INTO {TABLE} (rowid, k, n, e, p, o) VALUES (%s, %s, %s, %s, %s, %s)", rows)  # noqa: S608


def remove(ids: Iterable[int]) -> None:
    write([], ids)


def remove_range(lo: int, hi: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE rowid BETWEEN %s AND %s", [lo, hi])  # noqa: S608
        return int(cursor.rowcount or 0)


def count(lo: int, hi: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE rowid BETWEEN %s AND %s", [lo, hi])  # noqa: S608
        return int(cursor.fetchone()[0])


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _term(alternatives: tuple[Alternative, ...], exact: bool) -> str:
    parts = [_quote(alt.token) + ("*" if alt.prefix and not exact else "") for alt in alternatives]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def match_expression(query: Query, columns: tuple[str, ...], mode: str) -> str | None:
    """The FTS5 expression of one tier in the allowed columns (None: the tier has nothing to ask).

    ``key``: the whole query is one token of the keys, emails or phones; ``exact``: every term is a
    whole token; ``prefix``: terms may be the start of a token.
    """
    if mode == "key":
        key_columns = [c for c in ("k", "e", "p") if c in columns]
        if not query.compact or not key_columns:
            return None
        return "{" + " ".join(key_columns) + "} : " + _quote(query.compact)
    body = " AND ".join(_term(term, mode == "exact") for term in query.terms)
    return "{" + " ".join(columns) + "} : (" + body + ")"


def candidates(
    query: Query, columns: tuple[str, ...], mode: str, lo: int, hi: int, limit: int, *, texts: bool = True
) -> list[Row]:
    """Matching documents with ids in [lo, hi], highest id first, at most ``limit``; ``texts=False``
    reads the ids alone (the index only, no stored columns: long scans for narrow scopes)."""
    expression = match_expression(query, columns, mode)
    if expression is None or limit <= 0:
        return []
    sql = (
        f"SELECT rowid{', ' + ', '.join(COLUMNS) if texts else ''} FROM {TABLE} "  # noqa: S608 - fixed names
        f"WHERE {TABLE} MATCH %s AND rowid BETWEEN %s AND %s ORDER BY rowid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [expression, lo, hi, limit])
        return [tuple(row) for row in cursor.fetchall()]


def documents(ids: list[int]) -> list[Row]:
    """The stored columns of these documents."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid, {', '.join(COLUMNS)} FROM {TABLE} WHERE rowid IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608
            ids,
        )
        return [tuple(row) for row in cursor.fetchall()]


def id_list(ids: list[int]) -> RawSQL:
    """Thousands of ids as one parameter, for ``pk__in`` (Django prepares each element of a list)."""
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(ids),))  # noqa: S611 - fixed SQL, one parameter


def analyze() -> None:
    """Nothing after many documents were written: FTS5 plans without statistics (``optimize`` merges
    segments, which an import would pay for at every run)."""


def optimize() -> None:
    """Merge the FTS5 segments after a rebuild (smaller, faster reads)."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('optimize')")  # noqa: S608
