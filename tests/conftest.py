"""Shared fixtures: API clients (session, CSRF-enforcing session, bearer token), the ``principals`` of
the permission tests, and a snapshot of every table to prove a refused write changed nothing."""

from __future__ import annotations

import hashlib
import json as jsonlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client

from tests.factories import (
    AdminFactory,
    RoleFactory,
    TeamFactory,
    UserFactory,
    grant,
    make_token,
)

API = "/api/v1"


# --- database settings --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request: pytest.FixtureRequest) -> None:
    """On SQLite, test in a file database instead of pytest-django's in-memory one.

    Tests with ``transaction=True`` run requests in real threads, each with its own connection; a
    shared-cache in-memory database answers "table is locked" instead of waiting, so concurrency
    would not be tested the way production (a WAL file) behaves.
    """
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # whitenoise warns on every client otherwise
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
        Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
        # one file per run: two runs sharing GUANXI_DATA_DIR must not share (and clobber) a database
        name = f"test_guanxi_{worker}_{os.getpid()}.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(Path(settings.DATA_DIR) / name)
    else:
        request.getfixturevalue("django_db_modify_db_settings_parallel_suffix")


@pytest.fixture(scope="class")
def demo_built(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """``guanxi demo`` built once for a class of tests that read it, and rolled back after the last.

    Each test still runs in its own transaction inside this one, so what a test writes is undone
    as usual. The demo build is the slowest step in the suite (about 12 s on PostgreSQL), and the
    tests that check its contents do not need one each."""
    from django.test import TestCase

    # The demo's notifications are written once it commits: run what waits for that at its end.
    with django_db_blocker.unblock(), transaction.atomic():
        with TestCase.captureOnCommitCallbacks(execute=True):
            call_command("demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    """Uploaded files go to a per-test directory."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


# --- API clients ------------------------------------------------------------------------------------


class Api:
    """A thin wrapper over Django's test client: JSON in and out, paths relative to /api/v1."""

    def __init__(self, client: Client, name: str = "", user: Any = None, headers: dict[str, str] | None = None):
        self.client = client
        self.name = name
        self.user = user
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"<Api {self.name}>"

    @staticmethod
    def url(path: str) -> str:
        if path.startswith("/api/"):
            return path
        return f"{API}/{path.lstrip('/')}"

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {**self.headers, **(headers or {})}

    def get(self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(self.url(path), params or {}, headers=self._headers(headers))

    def _send(self, method: str, path: str, json: Any, headers: dict[str, str] | None) -> Any:
        call = getattr(self.client, method)
        if json is None:
            return call(self.url(path), headers=self._headers(headers))
        return call(
            self.url(path), jsonlib.dumps(json), content_type="application/json", headers=self._headers(headers)
        )

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._send("post", path, json, headers)

    def patch(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._send("patch", path, json, headers)

    def put(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._send("put", path, json, headers)

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(self.url(path), headers=self._headers(headers))

    def upload(self, path: str, data: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """A multipart POST (file uploads)."""
        return self.client.post(self.url(path), data, headers=self._headers(headers))

    def request(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        method = method.lower()
        if method == "get":
            return self.get(path, headers=headers)
        if method == "delete":
            return self.delete(path, headers=headers)
        return self._send(method, path, json, headers)


def session_api(user: Any, *, enforce_csrf: bool = False, name: str = "") -> Api:
    client = Client(enforce_csrf_checks=enforce_csrf)
    if user is not None:
        client.force_login(user)
    return Api(client, name or getattr(user, "email", "anonymous"), user)


def token_api(key: str, user: Any = None, name: str = "token") -> Api:
    return Api(Client(), name, user, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def anon_api() -> Api:
    return Api(Client(), "anonymous")


@pytest.fixture
def admin_user(db: None) -> Any:
    return AdminFactory(email="root@example.com", display_name="Root")


@pytest.fixture
def admin_api(admin_user: Any) -> Api:
    return session_api(admin_user, name="admin")


@pytest.fixture
def api_for() -> Callable[..., Api]:
    """``api_for(user)`` -> session client; ``api_for(user, csrf=True)`` enforces CSRF like a browser."""

    def make(user: Any, *, csrf: bool = False) -> Api:
        return session_api(user, enforce_csrf=csrf)

    return make


@pytest.fixture
def token_api_for(db: None) -> Callable[..., Api]:
    """``token_api_for(user, ["*:*"])`` -> a bearer-token client for a new token of ``user``."""

    def make(user: Any, scopes: list[str], **extra: Any) -> Api:
        _token, key = make_token(user, scopes, **extra)
        return token_api(key, user, name=f"token {scopes}")

    return make


# --- principals ---------------------------------------------------------------------------------------

PRINCIPALS = (
    "anonymous",
    "owner",  # a rep (role Rep: scope own on * and testapp.gadget), team A
    "colleague",  # same team A, role Team rep (scope team)
    "other",  # a rep of team B
    "manager",  # role Manager, parent of Rep (scope subordinates), team M
    "norole",  # signed in, no role and no team: may do nothing but what is shared with them
    "admin",  # superuser, session
    "admin_token",  # the admin's bearer token with every scope (*:*)
    "token_noscope",  # the admin's bearer token whose scopes cover none of the routes
)


#: The principals the permission matrices walk. SQLite walks all of them. On PostgreSQL they walk
#: one principal per kind of reach (refused, own, team, subordinates, all): the policy is the same
#: Python on both engines, and what PostgreSQL adds is the SQL of those scopes. The others (another
#: team's rep, no role, the two tokens) differ from these in Python only. GUANXI_FULL_MATRIX=1 walks
#: every principal on PostgreSQL too; CI does not, to stay within its 20 minutes on a slow host
#: (the whole run took 1,325 s there).
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
ONE_PER_REACH = ("anonymous", "owner", "colleague", "manager", "admin")


def matrix_principals(names: tuple[str, ...]) -> tuple[str, ...]:
    if ON_POSTGRES and os.environ.get("GUANXI_FULL_MATRIX") != "1":
        return tuple(name for name in names if name in ONE_PER_REACH)
    return names


@dataclass
class Principals:
    """The organisation of the permission tests: teams, roles, users and tokens, and a client per principal."""

    teams: dict[str, Any]
    roles: dict[str, Any]
    users: dict[str, Any]
    tokens: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Api] = field(default_factory=dict)

    names = PRINCIPALS

    def user(self, name: str) -> Any:
        """The person behind a principal (tokens act as the admin); None for anonymous."""
        if name in ("admin_token", "token_noscope"):
            return self.users["admin"]
        return self.users.get(name)

    def client(self, name: str) -> Api:
        if name not in self._clients:
            if name == "anonymous":
                self._clients[name] = Api(Client(), "anonymous")
            elif name in self.keys:
                self._clients[name] = token_api(self.keys[name], self.user(name), name=name)
            else:
                self._clients[name] = session_api(self.users[name], name=name)
        return self._clients[name]

    def csrf_client(self, name: str) -> Api:
        return session_api(self.users[name], enforce_csrf=True, name=f"{name} (csrf)")


def build_principals() -> Principals:
    team_a = TeamFactory(name="Team A")
    team_b = TeamFactory(name="Team B")
    team_m = TeamFactory(name="Team M")

    manager_role = RoleFactory(name="Manager")
    rep = RoleFactory(name="Rep", parent=manager_role)
    team_rep = RoleFactory(name="Team rep")

    for object_type in ("*", "testapp.gadget"):
        grant(rep, object_type, scope="own")
        grant(team_rep, object_type, scope="team")
        grant(manager_role, object_type, ("view", "change"), scope="subordinates")
        grant(manager_role, object_type, ("add", "delete"), scope="own")
    grant(rep, "identity.user", "view", "own")
    grant(rep, "identity.team", "view", "own")
    grant(rep, "core.tag", ("view", "add"), "own")
    grant(rep, "core.customfielddefinition", "view", "own")
    grant(team_rep, "identity.user", "view", "team")
    grant(team_rep, "identity.team", "view", "team")
    grant(team_rep, "identity.role", "view", "own")
    grant(team_rep, "core.changelogentry", "view", "own")
    grant(manager_role, "identity.user", "view", "subordinates")
    grant(manager_role, "identity.role", "view", "subordinates")

    users = {
        "owner": UserFactory(email="owner@example.com", display_name="王芳 Owner", team=team_a, role=rep),
        "colleague": UserFactory(
            email="colleague@example.com", display_name="李雷 Colleague", team=team_a, role=team_rep
        ),
        "other": UserFactory(email="other@example.com", display_name="赵强 Other", team=team_b, role=rep),
        "manager": UserFactory(
            email="manager@example.com", display_name="陈经理 Manager", team=team_m, role=manager_role
        ),
        "norole": UserFactory(email="norole@example.com", display_name="No Role"),
        "admin": AdminFactory(email="admin@example.com", display_name="管理员 Admin"),
    }
    p = Principals(
        teams={"A": team_a, "B": team_b, "M": team_m},
        roles={"rep": rep, "team_rep": team_rep, "manager": manager_role},
        users=users,
    )
    for name, scopes in (("admin_token", ["*:*"]), ("token_noscope", ["sales.lead:view"])):
        token, key = make_token(users["admin"], scopes, name=name)
        p.tokens[name] = token
        p.keys[name] = key
    return p


@pytest.fixture
def principals(db: None) -> Principals:
    return build_principals()


@pytest.fixture(scope="module")
def _module_world(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The principals and the permission matrices' world (tests/api/world.py), built once per test
    module in a transaction rolled back after its last test. Building them took a third of each
    matrix test; ``world`` hands each test its own copy."""
    from django.test import override_settings

    from tests.api.world import build_world

    media = tmp_path_factory.mktemp("world-media")
    with override_settings(MEDIA_ROOT=str(media)), django_db_blocker.unblock(), transaction.atomic():
        yield build_world(build_principals()), media
        transaction.set_rollback(True)


@pytest.fixture
def world(_module_world: Any, db: None, settings: Any) -> Any:
    """The module's world for one test: a deep copy (the test may change its records in memory and
    add to it), its files in the test's media folder, and clients of its own (what a test writes,
    sessions included, is rolled back after it)."""
    import copy
    import shutil

    base, media = _module_world
    shutil.copytree(media, settings.MEDIA_ROOT, dirs_exist_ok=True)
    w = copy.deepcopy(base)
    w.p._clients.clear()
    return w


# --- database snapshots ---------------------------------------------------------------------------

# Columns that change on reads (session expiry, token and login bookkeeping): not a write by the request.
# core_recentview: opening a record's page notes the visit in the user's own 最近查看 (a refused
# page notes nothing: tests/core/test_recent.py).
VOLATILE_TABLES = {"django_session", "core_recentview"}
VOLATILE_COLUMNS = {"identity_apitoken": {"last_used_at"}, "identity_user": {"last_login"}}


@dataclass
class DbSnapshot:
    """Every table's row count and a hash of all its rows (sorted), with the rows kept for the diff."""

    tables: dict[str, tuple[int, str]]
    rows: dict[str, list[str]]

    def changed_tables(self, other: DbSnapshot) -> list[str]:
        names = set(self.tables) | set(other.tables)
        return sorted(n for n in names if self.tables.get(n) != other.tables.get(n))

    def describe_diff(self, other: DbSnapshot, limit: int = 5) -> str:
        lines = []
        for table in self.changed_tables(other):
            before, after = set(self.rows.get(table, [])), set(other.rows.get(table, []))
            lines.append(
                f"{table}: {self.tables.get(table, (0,))[0]} -> {other.tables.get(table, (0,))[0]} rows; "
                f"removed {sorted(before - after)[:limit]}; added {sorted(after - before)[:limit]}"
            )
        return "\n".join(lines)


def _write_marks() -> dict[str, int] | None:
    """How many rows this connection's transaction has written, per table where the engine counts
    them so, or None where no such count is at hand.

    Inside a test's transaction nothing else writes what this connection reads, so an unmoved count
    means an unchanged table. PostgreSQL counts per table, COPY included, and system catalogs (DDL,
    TRUNCATE) under their schema's name; SQLite counts every changed row on its connection, raw cursors
    and triggers included, and bumps the schema version on DDL: a key no table bears, so any write
    reads every table again."""
    if not connection.in_atomic_block:  # autocommit: other connections may write between two reads
        return None
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA schema_version")
            return {"*rows": connection.connection.total_changes, "*schema": cursor.fetchone()[0]}
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT CASE WHEN schemaname = current_schema() THEN relname ELSE '*' || schemaname || '.' || relname"
                " END, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_all_tables"
                " WHERE n_tup_ins + n_tup_upd + n_tup_del > 0"
            )
            return dict(cursor.fetchall())
    return None


@dataclass
class _Taken:
    marks: dict[str, int]
    snapshot: DbSnapshot


# The last snapshot and the write counts it was taken at: the next one reads again only the tables
# written since (a permission matrix takes two snapshots per request, most of a database nothing wrote).
_last_snapshot: list[_Taken] = []


@pytest.fixture(autouse=True)
def _forget_snapshots() -> None:
    _last_snapshot.clear()


def db_snapshot() -> DbSnapshot:
    marks = _write_marks()
    last = _last_snapshot[0] if _last_snapshot else None
    if marks is None or last is None:
        snapshot = _read_snapshot()
    else:
        moved = {t for t in marks.keys() | last.marks.keys() if marks.get(t) != last.marks.get(t)} - VOLATILE_TABLES
        if not moved:
            return last.snapshot
        if moved <= set(last.snapshot.tables):
            fresh = _read_snapshot(moved)
            snapshot = DbSnapshot({**last.snapshot.tables, **fresh.tables}, {**last.snapshot.rows, **fresh.rows})
        else:
            snapshot = _read_snapshot()
    _last_snapshot[:] = [_Taken(marks, snapshot)] if marks is not None else []
    return snapshot


def _read_snapshot(only: set[str] | None = None) -> DbSnapshot:
    tables: dict[str, tuple[int, str]] = {}
    rows: dict[str, list[str]] = {}
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        names = only if only is not None else connection.introspection.table_names(cursor)
        for table in sorted(names):
            if table in VOLATILE_TABLES:
                continue
            cursor.execute(f"SELECT * FROM {qn(table)}")  # noqa: S608 - table names come from introspection
            columns = [d[0] for d in cursor.description]
            skip = VOLATILE_COLUMNS.get(table, set())
            keep = [i for i, c in enumerate(columns) if c not in skip]
            table_rows = sorted(repr(tuple(row[i] for i in keep)) for row in cursor.fetchall())
            rows[table] = table_rows
            tables[table] = (len(table_rows), hashlib.sha256("\n".join(table_rows).encode()).hexdigest())
    return DbSnapshot(tables, rows)


def assert_db_unchanged(before: DbSnapshot, context: str = "") -> None:
    after = db_snapshot()
    changed = before.changed_tables(after)
    assert not changed, f"{context}: tables changed:\n{before.describe_diff(after)}"


@pytest.fixture
def snapshot() -> Callable[[], DbSnapshot]:
    return db_snapshot


@pytest.fixture
def unchanged() -> Iterator[Callable[..., Any]]:
    """``with unchanged("why"): client.post(...)`` fails if any table changed inside the block."""
    from contextlib import contextmanager

    @contextmanager
    def guard(context: str = "") -> Iterator[None]:
        before = db_snapshot()
        yield
        assert_db_unchanged(before, context)

    yield guard
