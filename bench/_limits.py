"""Bare limits measured beside Guanxi in the same run: how fast the machine writes the same rows raw.

* SQLite: parse the CSV with the csv module and ``executemany`` every row into a plain table
  (no index but the rowid, one transaction, WAL and synchronous=NORMAL as Guanxi sets them).
* PostgreSQL: ``COPY … FROM STDIN (FORMAT csv)`` of the file into a plain table.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path


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
