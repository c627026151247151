"""A restricted list's pages (``pagination.page_keys`` with candidates): the same pages as the plain
read, and a bounded amount of work when the user's rows are few and old among many.

A salesperson who owns only old accounts used to wait while both engines walked the whole sort
index to find a page of theirs; the page now walks it only down to the ``WALK``-th row and reads the
rest by the owner, team, pool and share indexes, each in order where an index holds it, merged.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from guanxi.core import pagination
from guanxi.core.choices import Action
from guanxi.core.db import analyze_tables
from guanxi.core.pagination import paginate
from guanxi.core.permissions import restricted
from guanxi.customers.models import Account
from guanxi.identity.models import Role, RolePermission, Team, User
from tests.core.test_list_speed import recorded
from tests.factories import client_for, share

pytestmark = pytest.mark.django_db(transaction=True)

ORDERINGS = [
    "-updated_at",
    "updated_at",
    "name",
    "-name",
    "fit_score",  # nullable: empty rows first going up
    "-fit_score",
    "-last_interaction_at",
    "id",
    "-id",
]


@pytest.fixture
def rep(db: Any) -> User:
    role = Role.objects.create(name="销售代表")
    RolePermission.objects.create(role=role, object_type="customers.account", action="view", scope="own")
    return User.objects.create_user(email="rep@example.com", password="Correct-Horse-73!", role=role)


@pytest.fixture
def others(db: Any) -> list[User]:
    """The rest of the sales force: each owns a small part of the accounts, as in a company."""
    return [
        User.objects.create_user(email=f"other{n}@example.com", password="Correct-Horse-73!", is_superuser=True)
        for n in range(30)
    ]


def add_accounts(
    owners: list[User] | None, count: int, start: datetime.datetime, *, pooled: bool = False, team: Team | None = None
) -> list[int]:
    """``count`` accounts updated a minute apart from ``start`` on, owned in turn by ``owners`` (in
    ``team``); some without a fit score."""
    rows = Account.objects.bulk_create(
        Account(
            name=f"客户{start:%j%H%M}-{n:04d}",
            owner=owners[n % len(owners)] if owners else None,
            team=team,
            fit_score=None if n % 3 == 0 else (n * 37) % 100,
            last_interaction_at=None if n % 4 else start,
            pooled_at=start if pooled else None,
        )
        for n in range(count)
    )
    for n, account in enumerate(rows):  # auto_now wrote "now": the times this test wants instead
        Account.objects.filter(pk=account.pk).update(updated_at=start + datetime.timedelta(minutes=n))
    return [account.pk for account in rows]


def pages(read: Callable[[str | None], tuple[list[int], str | None]]) -> list[int]:
    seen: list[int] = []
    cursor: str | None = None
    while True:
        ids, cursor = read(cursor)
        seen += ids
        if not cursor:
            return seen


@pytest.fixture
def old_rep_accounts(rep: User, others: list[User], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The rep's 40 accounts, 6 in the pool and 3 shared with the rep are the oldest; 300 of someone
    else's are newer. The walk is cut to 25 rows, so pages cross it."""
    monkeypatch.setattr(pagination, "WALK", 25)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    mine = add_accounts([rep], 40, long_ago)
    pooled = add_accounts(None, 6, long_ago + datetime.timedelta(hours=1), pooled=True)
    theirs = add_accounts(others, 300, long_ago + datetime.timedelta(days=30))
    for pk in theirs[:3] + theirs[-2:]:
        share(Account.objects.get(pk=pk), user=rep)
    analyze_tables(Account, rows=10_000)
    return {"visible": {*mine, *pooled, *theirs[:3], *theirs[-2:]}}


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_restricted_pages_are_the_plain_pages(rep: User, old_rep_accounts: dict[str, Any], ordering: str) -> None:
    """Through the API, 7 rows a page: every visible account once, in the order the plain read gives
    (the keyset pages of the restricted list read without candidates)."""
    client = client_for(rep)
    visible = restricted(Account, rep, Action.VIEW)

    def by_api(cursor: str | None) -> tuple[list[int], str | None]:
        query = f"limit=7&ordering={ordering}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"/api/v1/accounts?{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        return [item["id"] for item in body["items"]], body["next_cursor"]

    def plain(cursor: str | None) -> tuple[list[int], str | None]:
        page = paginate(visible, ordering, cursor, 7)
        return [row.pk for row in page.items], page.next_cursor

    expected = pages(plain)
    assert set(expected) == old_rep_accounts["visible"]
    assert pages(by_api) == expected


def test_restricted_ui_list_pages_through_the_same_rows(rep: User, old_rep_accounts: dict[str, Any]) -> None:
    client = client_for(rep)
    response = client.get("/customers/accounts/?limit=20&ordering=-updated_at")
    assert response.status_code == 200
    expected = list(
        restricted(Account, rep, Action.VIEW).order_by("-updated_at", "-id").values_list("pk", flat=True)[:20]
    )
    html = response.content.decode()
    positions = [html.find(f"/customers/accounts/{pk}/") for pk in expected]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def work(sql: str, params: Any) -> int:
    """What a query costs the engine, in units that grow with the rows it reads: SQLite's virtual
    machine steps (in hundreds), PostgreSQL's rows read by each plan node (ANALYZE), with sequential
    scans off as on a large table."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            raw = connection.connection
            raw.set_progress_handler(count, 100)
            try:
                cursor.execute(sql, params)
                cursor.fetchall()
            finally:
                raw.set_progress_handler(None, 0)
            return steps[0]
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan

        def rows(node: dict[str, Any]) -> int:
            loops = node.get("Actual Loops", 1)
            here = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
            return here + sum(rows(child) for child in node.get("Plans", []))

        return rows(plan[0]["Plan"])


def first_page_work(user: User, query: str = "") -> int:
    client = client_for(user)
    with recorded() as calls:
        response = client.get(f"/api/v1/accounts?limit=20{query}")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 20
    account_reads = [(sql, params) for sql, params in calls if 'FROM "customers_account"' in sql]
    with transaction.atomic():  # SET LOCAL's extent
        return sum(work(sql, params) for sql, params in account_reads)


def test_a_page_of_old_rows_costs_the_same_however_many_newer_rows(
    rep: User, others: list[User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rep owns the 60 oldest accounts. With ten times as many newer accounts of someone else's,
    the rep's first page reads about as much; walking the sort index (as before) it read ten times
    as much."""
    monkeypatch.setattr(pagination, "WALK", 100)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    add_accounts([rep], 60, long_ago)
    add_accounts(others, 300, long_ago + datetime.timedelta(days=30))
    analyze_tables(Account, rows=10_000)
    small = first_page_work(rep)
    add_accounts(others, 2700, long_ago + datetime.timedelta(days=60))
    analyze_tables(Account, rows=10_000)
    large = first_page_work(rep)
    assert large < small * 2, (small, large)


# --- a manager: many rows of the team's, none among the latest ---------------------------------------


@pytest.fixture
def manager(db: Any) -> User:
    """A manager whose role sees the team's accounts (the teams they manage and those below)."""
    role = Role.objects.create(name="销售经理")
    RolePermission.objects.create(role=role, object_type="customers.account", action="view", scope="team")
    east, north = Team.objects.create(name="华东"), Team.objects.create(name="华北")
    boss = User.objects.create_user(email="boss@example.com", password="Correct-Horse-73!", role=role, team=east)
    north.manager = boss
    north.save()
    return boss


def team_accounts(manager: User, count: int, start: datetime.datetime) -> list[int]:
    """``count`` accounts of the manager's two teams (some the manager's own), a minute apart."""
    east, north = Team.objects.get(name="华东"), Team.objects.get(name="华北")
    reps = [
        User.objects.create_user(email=f"{team.name}{n}-{start:%j%H%M}@example.com", team=team)
        for team in (east, north)
        for n in range(2)
    ]
    half = count // 2
    return add_accounts([manager, *reps[:2]], half, start, team=east) + add_accounts(
        reps[2:], count - half, start + datetime.timedelta(hours=1), team=north
    )


@pytest.mark.parametrize("ordering", ["-updated_at", "updated_at", "-fit_score", "-last_interaction_at", "-id"])
def test_a_managers_pages_merge_each_teams_rows(
    manager: User, others: list[User], monkeypatch: pytest.MonkeyPatch, ordering: str
) -> None:
    """Past the walk, each team's rows (and the manager's own, and the pool) are read by their own
    index and merged: every page is the plain read's, rows of both teams interleaved."""
    monkeypatch.setattr(pagination, "WALK", 25)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    mine = team_accounts(manager, 90, long_ago)
    pooled = add_accounts(None, 4, long_ago + datetime.timedelta(minutes=30), pooled=True)
    add_accounts(others, 200, long_ago + datetime.timedelta(days=30))
    analyze_tables(Account, rows=10_000)
    client = client_for(manager)
    visible = restricted(Account, manager, Action.VIEW)

    def by_api(cursor: str | None) -> tuple[list[int], str | None]:
        query = f"limit=9&ordering={ordering}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"/api/v1/accounts?{query}").json()
        return [item["id"] for item in body["items"]], body["next_cursor"]

    def plain(cursor: str | None) -> tuple[list[int], str | None]:
        page = paginate(visible, ordering, cursor, 9)
        return [row.pk for row in page.items], page.next_cursor

    expected = pages(plain)
    assert set(expected) == {*mine, *pooled}
    assert pages(by_api) == expected


def test_a_managers_first_page_costs_the_same_however_large_the_team(
    manager: User, others: list[User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manager's teams own old accounts only. With ten times as many of them, the first page
    reads about as much: each team's index gives its newest rows in order. Sorting all the teams'
    rows (as before) read ten times as much."""
    monkeypatch.setattr(pagination, "WALK", 100)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    team_accounts(manager, 120, long_ago)
    add_accounts(others, 300, long_ago + datetime.timedelta(days=30))
    analyze_tables(Account, rows=10_000)
    small = first_page_work(manager)
    team_accounts(manager, 1200, long_ago - datetime.timedelta(days=30))
    analyze_tables(Account, rows=10_000)
    large = first_page_work(manager)
    assert large < small * 2, (small, large)
