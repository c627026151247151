"""The PostgreSQL bulk path of imports: ids from the table's sequence, rows written with COPY.

Parameterised throughout; table and column names come from the models' metadata, never from input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def allocate_ids(table: str, count: int) -> list[int]:
    """``count`` ids from the table's identity sequence (safe beside concurrent inserts)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]


def insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    sql = "COPY {} ({}) FROM STDIN".format(_qn(table), ", ".join(_qn(c) for c in columns))
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def update(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``UPDATE table SET col = %s, ... WHERE id = %s`` for each row (values, then the id), pipelined."""
    if not rows:
        return
    sets = ", ".join(f"{_qn(c)} = %s" for c in columns)
    sql = f"UPDATE {_qn(table)} SET {sets} WHERE id = %s"  # noqa: S608 - names from metadata
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@contextmanager
def import_session() -> Iterator[None]:
    """Nothing to set for an import on PostgreSQL (the SQLite module turns its memory map off)."""
    yield
