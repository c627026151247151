"""Bare limits measured beside Guanxi in the same run: how fast the machine writes the same rows raw.

* SQLite: parse the CSV with the csv module and ``executemany`` every row into a plain table
  (no index but the rowid, one transaction, WAL and synchronous=NORMAL as Guanxi sets them).
* PostgreSQL: ``COPY … FROM STDIN (FORMAT csv)`` of the file into a plain table.

And on SQLite, after the reads, ``sqlite_schema_floor``: the import's own statements, without Python,
into the real tables at their size (how much of the gap to the plain table the schema itself costs).
"""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path
from typing import Any


def sqlite_executemany(csv_path: Path, db_path: Path) -> dict[str, float]:
    """Rows per second for CSV -> executemany -> commit into a plain SQLite table."""
    db_path.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with csv_path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            columns = ", ".join(f"c{i} TEXT" for i in range(len(header)))
            conn.execute(f"CREATE TABLE bare_rows (id INTEGER PRIMARY KEY, {columns})")
            marks = ", ".join("?" * len(header))
            names = ", ".join(f"c{i}" for i in range(len(header)))
            cursor = conn.executemany(f"INSERT INTO bare_rows ({names}) VALUES ({marks})", reader)  # noqa: S608
            rows = cursor.rowcount
        conn.commit()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed}


def postgres_copy(csv_path: Path, dsn: str) -> dict[str, float]:
    """Rows per second for COPY of the CSV file into a plain PostgreSQL table."""
    import psycopg

    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        width = len(next(csv.reader(fh)))
    columns = ", ".join(f"c{i} text" for i in range(width))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_rows")
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(f"CREATE TABLE bench_bare_rows (id bigserial PRIMARY KEY, {columns})")
            names = ", ".join(f"c{i}" for i in range(width))
            copy_sql = f"COPY bench_bare_rows ({names}) FROM STDIN (FORMAT csv, HEADER true)"  # noqa: S608
            with conn.cursor() as cur:
                with cur.copy(copy_sql) as copy, csv_path.open("rb") as raw:
                    while chunk := raw.read(1 << 20):
                        copy.write(chunk)
                rows = cur.rowcount
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_bare_rows")
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed}


#: The connection settings of an import on SQLite (``guanxi.core.imports.bulk_sqlite.IMPORT_PRAGMAS``,
#: with its default page cache; tests/test_bench_limits.py keeps the two equal). The bench runs
#: without Django, so it does not import them.
IMPORT_PRAGMAS = (("mmap_size", 0), ("cache_size", -1024 * 64), ("wal_autocheckpoint", 16384))


def sqlite_schema_floor(db_path: Path, rows: int = 50_000, batch: int = 5_000) -> dict[str, Any]:
    """Rows per second of the import's SQL alone, into the real tables at their real size.

    Copies of ``rows`` existing contacts (every index sees keys spread as the real ones) are written
    in transactions of ``batch``, as the import writes them: the contact with its contact points,
    account links, change-log entry and search document, each ``INSERT … SELECT`` inside SQLite (no
    Python per row, no validation). Then they are deleted again, untimed. What this reaches is the
    most any import can reach with this schema on this machine; the plain-table figure above is
    what the disk and SQLite reach with no index at all.
    """
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        for name, value in IMPORT_PRAGMAS:
            conn.execute(f"PRAGMA {name}={int(value):d}")
        top = conn.execute("SELECT MAX(id) FROM customers_contact").fetchone()[0]
        contact_type = conn.execute(
            "SELECT id FROM django_content_type WHERE app_label = 'customers' AND model = 'contact'"
        ).fetchone()[0]
        ids = [row[0] for row in conn.execute("SELECT id FROM customers_contact ORDER BY id LIMIT ?", [rows])]
        shift = contact_type << 40

        # The INSERTs below name their columns from the schema itself (pragma_table_info) and their
        # tables as literals of this module: nothing from outside reaches the SQL text.
        def columns(table: str) -> list[str]:
            return [row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", [table])]

        contact = [c for c in columns("customers_contact") if c not in ("id", "external_id")]
        point = [c for c in columns("customers_contactpoint") if c not in ("id", "contact_id")]
        link = [c for c in columns("customers_accountcontact") if c not in ("id", "contact_id")]
        log = [c for c in columns("core_changelogentry") if c not in ("id", "object_id")]
        statements = [
            f"INSERT INTO customers_contact (id, external_id, {', '.join(contact)}) "  # noqa: S608 - see above
            f"SELECT id + :top, '', {', '.join(contact)} FROM customers_contact WHERE id BETWEEN :lo AND :hi",
            f"INSERT INTO customers_contactpoint (contact_id, {', '.join(point)}) "  # noqa: S608 - see above
            f"SELECT contact_id + :top, {', '.join(point)} FROM customers_contactpoint "
            "WHERE contact_id BETWEEN :lo AND :hi",
            f"INSERT INTO customers_accountcontact (contact_id, {', '.join(link)}) "  # noqa: S608 - see above
            f"SELECT contact_id + :top, {', '.join(link)} FROM customers_accountcontact "
            "WHERE contact_id BETWEEN :lo AND :hi",
            f"INSERT INTO core_changelogentry (object_id, {', '.join(log)}) "  # noqa: S608 - see above
            f"SELECT object_id + :top, {', '.join(log)} FROM core_changelogentry "
            "WHERE content_type_id = :ct AND object_id BETWEEN :lo AND :hi",
            "INSERT INTO core_search_fts (rowid, k, n, e, p, o) SELECT rowid + :top, k, n, e, p, o "
            "FROM core_search_fts WHERE rowid BETWEEN :shift + :lo AND :shift + :hi",
        ]
        spent = [0.0] * (len(statements) + 1)
        started = time.perf_counter()
        for start in range(0, len(ids), batch):
            part = ids[start : start + batch]
            params = {"top": top, "lo": part[0], "hi": part[-1], "shift": shift, "ct": contact_type}
            conn.execute("BEGIN IMMEDIATE")
            for i, sql in enumerate(statements):
                t = time.perf_counter()
                conn.execute(sql, params)
                spent[i] += time.perf_counter() - t
            t = time.perf_counter()
            conn.execute("COMMIT")
            spent[-1] += time.perf_counter() - t
        elapsed = time.perf_counter() - started
        conn.execute("BEGIN IMMEDIATE")  # untimed: put the database back as it was
        conn.execute("DELETE FROM core_search_fts WHERE rowid > ? AND rowid < ?", [shift + top, shift + (1 << 40)])
        conn.execute("DELETE FROM core_changelogentry WHERE content_type_id = ? AND object_id > ?", [contact_type, top])
        conn.execute("DELETE FROM customers_contactpoint WHERE contact_id > ?", [top])
        conn.execute("DELETE FROM customers_accountcontact WHERE contact_id > ?", [top])
        conn.execute("DELETE FROM customers_contact WHERE id > ?", [top])
        conn.execute("COMMIT")
    finally:
        conn.close()
    stages = ("contacts", "contact points", "account links", "change log", "search documents", "commits")
    return {
        "rows": len(ids),
        "seconds": elapsed,
        "rows_per_s": len(ids) / elapsed,
        "seconds_by_stage": {stage: round(seconds, 2) for stage, seconds in zip(stages, spent, strict=True)},
    }
