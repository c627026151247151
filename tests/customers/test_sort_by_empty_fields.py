"""Sorting by a field that may be empty: the last interaction of accounts and contacts (最近互动,
"who has nobody followed up longest") and accounts' fit score ("best fit first").

The last interaction is empty for a company or a person nobody has followed up yet, the fit score
for an account no profile has scored. Keyset pages compare values, and NULL compares with nothing,
so the empty rows are read as their own segment (``guanxi.core.pagination``): they come first going
up and last going down, on both engines, and every page is an index range. Contacts' index holds
only the people followed up (imports pay nothing for it): their empty rows come from the primary key.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from guanxi.core.db import analyze_tables
from guanxi.core.pagination import page_keys, paginate
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import User
from tests.core.test_list_speed import plan_of, recorded
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def _accounts(admin: User, count: int) -> list[Account]:
    """``count`` accounts: every third never followed up, the rest in 7 distinct times, so ties too;
    every fourth with no fit score, the rest in 5 scores."""
    rows = Account.objects.bulk_create(
        [
            Account(
                name=f"公司{n:04d}",
                owner=admin,
                created_by=admin,
                last_interaction_at=None if n % 3 == 0 else NOW - datetime.timedelta(days=n % 7),
                fit_score=None if n % 4 == 0 else (n % 5) * 20,
            )
            for n in range(count)
        ]
    )
    return list(Account.objects.filter(pk__in=[row.pk for row in rows]))


def _contacts(admin: User, count: int) -> list[Contact]:
    """``count`` contacts, followed up as ``_accounts`` has them."""
    rows = Contact.objects.bulk_create(
        [
            Contact(
                family_name="王",
                given_name=f"{n:04d}",
                display_name=f"王{n:04d}",
                owner=admin,
                created_by=admin,
                last_interaction_at=None if n % 3 == 0 else NOW - datetime.timedelta(days=n % 7),
            )
            for n in range(count)
        ]
    )
    return list(Contact.objects.filter(pk__in=[row.pk for row in rows]))


def _expected(rows: list[Any], ordering: str) -> list[int]:
    """Empty first going up, last going down; the id breaks ties either way."""
    name = ordering.lstrip("-")
    floor: Any = datetime.datetime.min.replace(tzinfo=datetime.UTC) if name == "last_interaction_at" else -1

    def key(row: Any) -> tuple[Any, int]:
        value = getattr(row, name)
        return (floor if value is None else value, row.pk)

    return [row.pk for row in sorted(rows, key=key, reverse=ordering.startswith("-"))]


def _walk(api: Api, ordering: str, limit: int, path: str = "accounts") -> list[int]:
    ids: list[int] = []
    cursor = ""
    for _page in range(200):
        response = api.get(f"{path}?ordering={ordering}&limit={limit}{'&cursor=' + cursor if cursor else ''}")
        assert response.status_code == 200, response.json_body
        ids += [item["id"] for item in response.json_body["items"]]
        cursor = response.json_body["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("limit", [1, 4, 10, 11, 200])
@pytest.mark.parametrize("ordering", ["last_interaction_at", "-last_interaction_at", "fit_score", "-fit_score"])
def test_every_account_once_in_order_at_any_page_size(admin: User, admin_api: Api, ordering: str, limit: int) -> None:
    """Pages that end inside the empty rows, on their edge, or cross it all give each row once.
    The fit score ("best fit first") is nullable too: no profile has scored the account yet."""
    rows = _accounts(admin, 33)
    assert _walk(admin_api, ordering, limit) == _expected(rows, ordering)


@pytest.mark.parametrize("limit", [1, 4, 11, 200])
@pytest.mark.parametrize("ordering", ["last_interaction_at", "-last_interaction_at"])
def test_every_contact_once_in_order_at_any_page_size(admin: User, admin_api: Api, ordering: str, limit: int) -> None:
    """Contacts: "never followed up" first going up, then the longest ago."""
    rows = _contacts(admin, 33)
    assert _walk(admin_api, ordering, limit, "contacts") == _expected(rows, ordering)


@pytest.mark.parametrize("ordering", ["last_interaction_at", "-last_interaction_at", "fit_score", "-fit_score"])
@pytest.mark.parametrize("model", [Account, Contact], ids=["accounts", "contacts"])
def test_the_loaded_rows_page_the_same(admin: User, ordering: str, model: Any) -> None:
    """``paginate`` (the list pages, exports) and ``page_keys`` (the API) agree."""
    if model is Contact and ordering.lstrip("-") == "fit_score":
        pytest.skip("contacts have no fit score")
    rows = _accounts(admin, 25) if model is Account else _contacts(admin, 25)
    qs = model.objects.restrict(admin, "view").select_related("owner")
    walked: list[int] = []
    cursor = None
    while True:
        page = paginate(qs, ordering, cursor, 6)
        assert page.items and all(row.owner_id == admin.pk for row in page.items)
        assert [row.pk for row in page.items] == page_keys(qs, ordering, cursor, 6).items
        walked += [row.pk for row in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert walked == _expected(rows, ordering)


@pytest.mark.parametrize("path", ["accounts", "contacts"])
def test_the_list_page_sorts_by_it(admin: User, path: str) -> None:
    rows = _accounts(admin, 12) if path == "accounts" else _contacts(admin, 12)
    client = Client()
    client.force_login(admin)
    page = client.get(f"/customers/{path}/?ordering=last_interaction_at").content.decode()
    assert "ordering=-last_interaction_at" in page  # the header sorts the other way on a second click
    names = {row.pk: str(row) for row in rows}
    first_never = names[_expected(rows, "last_interaction_at")[0]]
    first_recent = names[_expected(rows, "-last_interaction_at")[0]]
    assert page.index(first_never) < page.index(first_recent)


def _plans_past_the_edge(admin: User, path: str, ordering: str) -> dict[str, list[tuple[str, str]]]:
    """The page queries (SQL, plan) of a 200-row page that crosses the edge between the empty and the
    filled rows, and of the deep page after it, over 3,000 rows of which 1,000 are empty: 1,000
    empty rows first going up, 2,000 filled ones first going down; the walk stops 100 rows before
    the edge."""
    model = Account if path == "accounts" else Contact
    (_accounts if path == "accounts" else _contacts)(admin, 3000)
    analyze_tables(model, rows=3000)
    client = Client()
    client.force_login(admin)
    cursor = ""
    for _page in range(9 if ordering == "last_interaction_at" else 19):
        body = client.get(f"/api/v1/{path}?ordering={ordering}&limit=100{'&cursor=' + cursor if cursor else ''}")
        cursor = body.json()["next_cursor"]
    plans = {}
    for part in ("crossing the edge", "deep"):
        with recorded() as calls:
            response = client.get(f"/api/v1/{path}?ordering={ordering}&limit=200&cursor={cursor}")
        assert response.status_code == 200 and len(response.json()["items"]) == 200
        cursor = response.json()["next_cursor"]
        table = f'FROM "{model._meta.db_table}"'
        plans[part] = [
            (sql, "\n".join(plan_of(sql, params))) for sql, params in calls if table in sql and "LIMIT" in sql
        ]
    assert len(plans["crossing the edge"]) == 2, [sql for sql, _ in plans["crossing the edge"]]
    return plans


def _no_sort(plan: str) -> bool:
    """An index read in the list's order, whichever (PostgreSQL may read the empty rows from the
    primary key backwards, filtered, when they are many: a third here)."""
    if connection.vendor == "sqlite":
        return "TEMP B-TREE" not in plan
    return "Index" in plan and "Sort" not in plan.replace("Sort Key", "")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ordering", ["last_interaction_at", "-last_interaction_at"])
def test_each_segment_reads_the_index_in_order(admin: User, ordering: str) -> None:
    """Both segments of a page that crosses the edge, and a deep page, read an index in the list's
    order (on SQLite ``account_last_touch_idx``): no sort of the table."""
    for pages in _plans_past_the_edge(admin, "accounts", ordering).values():
        for _sql, plan in pages:
            assert _no_sort(plan), plan
            assert connection.vendor != "sqlite" or "account_last_touch_idx" in plan, plan


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ordering", ["last_interaction_at", "-last_interaction_at"])
def test_contacts_read_the_followed_up_from_their_index_and_the_others_by_id(admin: User, ordering: str) -> None:
    """The people followed up come from ``contact_last_touch_idx``, the others from the primary key in
    id order, on a page that crosses from one to the other and on a deep page: neither sorts the table."""
    for pages in _plans_past_the_edge(admin, "contacts", ordering).values():
        for sql, plan in pages:
            assert _no_sort(plan), plan
            if connection.vendor == "sqlite" and "IS NOT NULL" in sql:
                assert "contact_last_touch_idx" in plan, plan
