"""The SQLite bulk path of imports: ids reserved under the write lock, rows written by executemany.

Parameterised SQL only; table and column names come from the models' metadata, never from input.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def allocate_ids(table: str, count: int) -> list[int]:
    """``count`` new ids for ``table``. Guanxi's SQLite transactions are IMMEDIATE, so the caller's
    transaction already holds the write lock: nobody else can take these ids before it commits.
    AUTOINCREMENT tables keep their high-water mark in sqlite_sequence; ids of purged rows are
    never reused."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {_qn(table)}")  # noqa: S608 - name from metadata
        top = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        top = max(top, row[0] if row else 0)
    return list(range(top + 1, top + 1 + count))


def insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from metadata
        _qn(table), ", ".join(_qn(c) for c in columns), ", ".join(["?"] * len(columns))
    )
    # The raw sqlite3 cursor: Django's wrapper would rewrite "%s" placeholders row by row.
    connection.ensure_connection()
    raw = connection.connection.cursor()
    try:
        raw.executemany(sql, rows)
    finally:
        raw.close()


def update(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``UPDATE table SET col = ?, ... WHERE id = ?`` for each row (values, then the id)."""
    if not rows:
        return
    sets = ", ".join(f"{_qn(c)} = ?" for c in columns)
    sql = f"UPDATE {_qn(table)} SET {sets} WHERE id = ?"  # noqa: S608 - names from metadata
    connection.ensure_connection()
    raw = connection.connection.cursor()
    try:
        raw.executemany(sql, rows)
    finally:
        raw.close()


#: For the length of an import: (pragma, value). No memory map; a 64 MB page cache (a 256 MB one
#: measured no faster at 150k contacts and cost 220 MB of RSS; ``GUANXI_IMPORT_CACHE_MB`` sets it);
#: checkpoints of the write-ahead log every 16k pages instead of 1k (fewer, larger copies).
IMPORT_PRAGMAS = (
    ("mmap_size", 0),
    ("cache_size", -1024 * int(os.environ.get("GUANXI_IMPORT_CACHE_MB", "64"))),
    ("wal_autocheckpoint", 16384),
)


@contextmanager
def import_session() -> Iterator[None]:
    """Connection settings for the length of an import, put back afterwards.

    The file is read through SQLite's page cache instead of a memory map: a long import touches
    the whole file, and a mapped file counts in the worker's memory (up to ``mmap_size``) although
    it holds nothing the import needs twice; the page cache is made larger instead."""
    before: list[tuple[str, int]] = []
    with connection.cursor() as cursor:
        for name, value in IMPORT_PRAGMAS:
            cursor.execute(f"PRAGMA {name}")
            row = cursor.fetchone()
            before.append((name, int(row[0]) if row else 0))
            cursor.execute(f"PRAGMA {name}={int(value):d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in before:
                cursor.execute(f"PRAGMA {name}={value:d}")
