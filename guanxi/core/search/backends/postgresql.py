"""Search on PostgreSQL: a table of documents with a weighted ``tsvector`` and a GIN index on it.

Each column's tokens carry a weight (keys and words A, emails B, phones C, other D), so hidden
fields are left out with tsquery weight labels (``'zh':*AC``). The tsvector is written by the
application as a literal (``'zs':1A 'com':2B,4``): the tokens are already the lexemes, no parser or
dictionary touches them. Batches are written with COPY.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL

from guanxi.core.search.backends import COLUMNS, Row
from guanxi.core.search.text import Query

TABLE = "core_search_document"
WEIGHTS = {"k": "A", "n": "A", "e": "B", "p": "C", "o": "D"}
_POSITION = {"A": 1, "B": 2, "C": 3, "D": 4}

# The table is created by guanxi/core/migrations/0005_search.py.


def tsvector_literal(row: Row) -> str:
    """``'tok':1A,2B ...``: every token with the weights of the columns it is in."""
    weights: dict[str, set[str]] = {}
    for column, text in zip(COLUMNS, row[1:], strict=True):
        weight = WEIGHTS[column]
        for token in text.split():
            weights.setdefault(token, set()).add(weight)
    parts = []
    for token, marks in weights.items():
        positions = ",".join(f"{_POSITION[w]}{w if w != 'D' else ''}" for w in sorted(marks))
        parts.append("'" + token.replace("\\", "\\\\").replace("'", "''") + "':" + positions)
    return " ".join(parts)


def write(rows: list[Row], remove_ids: Iterable[int]) -> None:
    """Drop the documents ``remove_ids`` and COPY ``rows`` in (the caller includes rewritten ids in both)."""
    ids = list(remove_ids)
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(f"DELETE FROM {TABLE} WHERE id = ANY(%s)", [ids])  # noqa: S608 - fixed name
        if rows:
            raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
            with raw.copy(f"COPY {TABLE} (id, k, n, e, p, o, tsv) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, tsvector_literal(row)))


def remove(ids: Iterable[int]) -> None:
    write([], ids)


def remove_range(lo: int, hi: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id BETWEEN %s AND %s", [lo, hi])  # noqa: S608
        return int(cursor.rowcount or 0)


def count(lo: int, hi: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE id BETWEEN %s AND %s", [lo, hi])  # noqa: S608
        return int(cursor.fetchone()[0])


def _lexeme(token: str, prefix: bool, weights: str) -> str:
    quoted = "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"
    suffix = ("*" if prefix else "") + weights
    return f"{quoted}:{suffix}" if suffix else quoted


def _weights(columns: Iterable[str]) -> str:
    weights = "".join(sorted({WEIGHTS[c] for c in columns}))
    return "" if weights == "ABCD" else weights


def match_expression(query: Query, columns: tuple[str, ...], mode: str) -> str | None:
    """The tsquery of one tier, limited to the weights of the allowed columns (None: nothing to ask).

    ``key``: the whole query is one token of the keys, emails or phones (the SQL rechecks that an
    A-weighted match is a key, not a word); ``exact``: every term is a whole token; ``prefix``: terms
    may be the start of a token.
    """
    if mode == "key":
        key_columns = [c for c in ("k", "e", "p") if c in columns]
        if not query.compact or not key_columns:
            return None
        return _lexeme(query.compact, False, _weights(key_columns) or "ABC")
    weights = _weights(columns)
    terms = []
    for term in query.terms:
        # A GIN prefix search unions every lexeme that starts with the prefix (the parser already
        # matches single letters whole); two-letter prefixes are allowed but are the slow case here.
        alts = [
            _lexeme(alt.token, alt.prefix and mode == "prefix" and len(alt.token) > MIN_PREFIX, weights) for alt in term
        ]
        terms.append(alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")")
    return " & ".join(terms)


#: Shortest token matched as a prefix (see ``match_expression``) is one longer than this.
MIN_PREFIX = 1
#: Matches read through the GIN index before a query counts as common (see ``candidates``).
RARE = 2000


def candidates(
    query: Query, columns: tuple[str, ...], mode: str, lo: int, hi: int, limit: int, *, texts: bool = True
) -> list[Row]:
    """Matching documents with ids in [lo, hi], highest id first, at most ``limit``; ``texts=False``
    reads the ids alone.

    Two plans, because neither suits every query: a rare term is read through the GIN index (all its
    matches, then the newest first), which the planner may skip for a walk down the primary key that
    reads half the table when it misjudges a prefix; a common term is best read newest first down
    the primary key, which stops after ``limit`` matches. The first query reads at most ``RARE``
    matches through GIN; only when there are more does the second plan run.
    """
    expression = match_expression(query, columns, mode)
    if expression is None or limit <= 0:
        return []
    recheck = ""
    params: list[Any] = [expression, lo, hi]
    if mode == "key":
        recheck = " AND position(%s in ' ' || k || ' ' || e || ' ' || p || ' ') > 0"
        params.append(f" {query.compact} ")
    selected = "id" + (", " + ", ".join(COLUMNS) if texts else "")
    common_sql = (
        f"SELECT {selected} FROM {TABLE} "  # noqa: S608 - fixed names
        f"WHERE tsv @@ %s::tsquery AND id BETWEEN %s AND %s{recheck} ORDER BY id DESC LIMIT %s"
    )
    cap = max(RARE, limit + 1)
    rare_sql = (
        f"WITH m AS MATERIALIZED (SELECT id FROM {TABLE} WHERE tsv @@ %s::tsquery AND id BETWEEN %s AND %s"  # noqa: S608
        f"{recheck} OFFSET 0 LIMIT %s) "
        f"SELECT {selected}, (SELECT count(*) FROM m) FROM {TABLE} "
        "WHERE id IN (SELECT id FROM m ORDER BY id DESC LIMIT %s) ORDER BY id DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(rare_sql, [*params, cap, limit])
        rows = cursor.fetchall()
        if not rows or rows[0][-1] < cap:
            return [tuple(row[:-1]) for row in rows]
        cursor.execute(common_sql, [*params, limit])
        return [tuple(row) for row in cursor.fetchall()]


def documents(ids: list[int]) -> list[Row]:
    """The stored columns of these documents."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} WHERE id IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608
            ids,
        )
        return [tuple(row) for row in cursor.fetchall()]


def id_list(ids: list[int]) -> RawSQL:
    """Thousands of ids as one array parameter, for ``pk__in`` (Django prepares each element of a list)."""
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))  # noqa: S611 - fixed SQL, one parameter


def optimize() -> None:
    """Refresh the planner's statistics after a rebuild (term frequencies decide index vs. scan)."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")  # noqa: S608
