"""The bench's import floor (bench/_limits.py ``sqlite_schema_floor``): it writes as an import does,
and leaves the database as it found it. The timing itself is only ever taken by ``make bench``."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from types import ModuleType

from guanxi.core.imports.bulk_sqlite import IMPORT_PRAGMAS

BENCH = Path(__file__).resolve().parent.parent / "bench"
CONTACT_TYPE = 7


def _bench_module(name: str) -> ModuleType:
    """A module of bench/ (not a package: the bench runs its files as scripts)."""
    spec = importlib.util.spec_from_file_location(f"bench{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _limits() -> ModuleType:
    return _bench_module("_limits")


def _database(path: Path, contacts: int) -> None:
    """The tables the floor copies, cut down to a few columns, with the constraints that matter."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        PRAGMA journal_mode=WAL;
        CREATE TABLE django_content_type (id INTEGER PRIMARY KEY, app_label TEXT, model TEXT);
        CREATE TABLE customers_contact (id INTEGER PRIMARY KEY AUTOINCREMENT, external_id TEXT NOT NULL,
            display_name TEXT, deleted_at TEXT);
        CREATE UNIQUE INDEX contact_external_id_unique ON customers_contact (external_id)
            WHERE deleted_at IS NULL AND NOT (external_id = '');
        CREATE TABLE customers_contactpoint (id INTEGER PRIMARY KEY, contact_id INT, kind TEXT, value TEXT,
            UNIQUE (contact_id, kind, value));
        CREATE TABLE customers_accountcontact (id INTEGER PRIMARY KEY, account_id INT, contact_id INT,
            UNIQUE (account_id, contact_id));
        CREATE TABLE core_changelogentry (id INTEGER PRIMARY KEY, content_type_id INT, object_id INT, changes TEXT);
        CREATE VIRTUAL TABLE core_search_fts USING fts5(k, n, e, p, o);
        """
    )
    conn.execute("INSERT INTO django_content_type VALUES (?, 'customers', 'contact')", [CONTACT_TYPE])
    for pk in range(1, contacts + 1):
        conn.execute("INSERT INTO customers_contact VALUES (?, ?, ?, NULL)", [pk, f"P{pk}", f"张三{pk}"])
        conn.execute("INSERT INTO customers_contactpoint (contact_id, kind, value) VALUES (?, 'email', ?)",
                     [pk, f"u{pk}@example.com"])  # fmt: skip
        conn.execute("INSERT INTO customers_accountcontact (account_id, contact_id) VALUES (1, ?)", [pk])
        conn.execute("INSERT INTO core_changelogentry (content_type_id, object_id, changes) VALUES (?, ?, '{}')",
                     [CONTACT_TYPE, pk])  # fmt: skip
        conn.execute("INSERT INTO core_search_fts (rowid, k, n, e, p, o) VALUES (?, 'zs', '张三', '', '', '')",
                     [(CONTACT_TYPE << 40) + pk])  # fmt: skip
    # Another type's change-log entry with a higher object id: not the floor's to delete.
    conn.execute("INSERT INTO core_changelogentry (content_type_id, object_id, changes) VALUES (9, 99, '{}')")
    conn.commit()
    conn.close()


def _dump(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    tables = ["customers_contact", "customers_contactpoint", "customers_accountcontact", "core_changelogentry"]
    out = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}  # noqa: S608 - literals
    out["fts"] = conn.execute("SELECT rowid, k, n FROM core_search_fts ORDER BY rowid").fetchall()
    conn.close()
    return out


def test_the_floor_writes_every_table_then_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "guanxi.sqlite3"
    _database(path, contacts=10)
    before = _dump(path)
    result = _limits().sqlite_schema_floor(path, rows=10, batch=4)
    assert result["rows"] == 10 and result["rows_per_s"] > 0
    assert set(result["seconds_by_stage"]) == {
        "contacts", "contact points", "account links", "change log", "search documents", "commits"
    }  # fmt: skip
    assert _dump(path) == before
    conn = sqlite3.connect(path)
    # The copies were written (ids 11-20) before they were deleted: the id sequence remembers them.
    assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'customers_contact'").fetchone() == (20,)
    conn.close()


def test_the_floor_writes_with_the_import_connection_settings() -> None:
    assert _limits().IMPORT_PRAGMAS == IMPORT_PRAGMAS


def test_the_report_says_how_busy_the_machine_was() -> None:
    harness = _bench_module("_harness")
    assert harness.stolen_share((10, 1000), (40, 1100)) == 0.3  # 30 of 100 ticks went elsewhere
    assert harness.stolen_share((10, 1000), (10, 1000)) is None  # no time passed: no share
    stolen, total = harness.cpu_times()
    if Path("/proc/stat").exists():
        assert 0 <= stolen <= total and total > 0
    assert 0 < harness.loop_ms(rounds=1) < 60_000
