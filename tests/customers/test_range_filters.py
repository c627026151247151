"""Range filters on indexed account columns (revenue, engagement, last interaction).

A range few accounts meet is read from its own index first (``FilterSet._narrow``); one that many
meet is checked down the list's order. Both ways give the same rows, in the list's order, and only
the ones the user may see.
"""

from __future__ import annotations

import datetime
import decimal
import warnings
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.core import filters
from guanxi.customers.models import Account
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def accounts(admin: User, rep: User) -> list[Account]:
    """40 accounts, every fourth the rep's, with spread revenues, engagement, fit scores and follow-up
    times."""
    rows = Account.objects.bulk_create(
        [
            Account(
                name=f"公司{n:03d}",
                owner=rep if n % 4 == 0 else admin,
                created_by=admin,
                annual_revenue=decimal.Decimal(n * 1_000_000),
                engagement=n % 10,
                fit_score=None if n % 3 == 0 else n,
                last_interaction_at=None if n % 5 == 0 else NOW - datetime.timedelta(days=n),
                updated_at=NOW - datetime.timedelta(minutes=n),
            )
            for n in range(40)
        ]
    )
    return list(Account.objects.filter(pk__in=[row.pk for row in rows]))


def _listed(api: Api, query: str) -> tuple[list[int], list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(f"accounts?{query}&limit=200")
    assert response.status_code == 200, response.json_body
    return [item["id"] for item in response.json_body["items"]], [q["sql"] for q in ctx.captured_queries]


def _expected(rows: list[Account], keep: Any) -> list[int]:
    return [row.pk for row in sorted(rows, key=lambda row: (row.updated_at, row.pk), reverse=True) if keep(row)]


CASES = [
    ("engagement__gte=8", lambda a: a.engagement >= 8),
    ("engagement__gte=2&engagement__lte=3", lambda a: 2 <= a.engagement <= 3),
    ("annual_revenue__gte=30000000", lambda a: a.annual_revenue >= 30_000_000),
    ("annual_revenue__lte=5000000&engagement__gte=1", lambda a: a.annual_revenue <= 5_000_000 and a.engagement >= 1),
    ("fit_score__gte=30", lambda a: a.fit_score is not None and a.fit_score >= 30),
    (
        f"last_interaction_at__gte={(NOW - datetime.timedelta(days=10)).isoformat().replace('+', '%2B')}",
        lambda a: a.last_interaction_at is not None and a.last_interaction_at >= NOW - datetime.timedelta(days=10),
    ),
]


@pytest.mark.parametrize("few", [filters.FEW, 1], ids=["ids first", "row by row"])
@pytest.mark.parametrize(
    ("query", "keep"), CASES, ids=["engagement", "between", "revenue", "two ranges", "fit", "followed up"]
)
def test_both_ways_give_the_same_rows_in_order(
    admin_api: Api, accounts: list[Account], monkeypatch: pytest.MonkeyPatch, few: int, query: str, keep: Any
) -> None:
    monkeypatch.setattr(filters, "FEW", few)
    ids, queries = _listed(admin_api, query)
    assert ids == _expected(accounts, keep) and ids
    page = [sql for sql in queries if 'FROM "customers_account"' in sql and "ORDER BY" in sql and "LIMIT" in sql][0]
    assert ("IN (SELECT" in page) is (few > 1), page  # the few ids first, or the list's order checked


def test_a_rep_sees_only_their_own_either_way(
    rep: User, accounts: list[Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(rep)
    for few in (filters.FEW, 1):
        monkeypatch.setattr(filters, "FEW", few)
        ids, _queries = _listed(api, "engagement__gte=4")
        assert ids == _expected(accounts, lambda a: a.owner_id == rep.pk and a.engagement >= 4)


def test_a_bad_bound_names_the_parameter(admin_api: Api, accounts: list[Account]) -> None:
    response = admin_api.get("accounts?engagement__gte=很多")
    assert response.status_code == 400
    assert [error["field"] for error in response.json_body["errors"]] == ["engagement__gte"]


# PostgreSQL plans a range by its column statistics, so which index it reads for 40 rows says
# nothing; the rows both ways give are checked on both engines above.
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite has no range statistics; PostgreSQL plans by its own")
def test_a_narrow_range_is_read_from_its_index(admin_api: Api, accounts: list[Account]) -> None:
    from tests.core.test_list_speed import plan_of, recorded

    with recorded() as calls:
        assert admin_api.get("accounts?engagement__gte=9&limit=50").status_code == 200
    page = [(sql, params) for sql, params in calls if "ORDER BY" in sql and 'FROM "customers_account"' in sql][0]
    plan = "\n".join(plan_of(*page))
    assert "account_engagement_idx" in plan and "account_live_upd_idx" not in plan, plan


def test_a_date_is_midnight_in_the_sites_time_zone(admin: User, admin_api: Api, make_account: Any) -> None:
    """``last_interaction_at__gte=2026-03-01`` means from midnight in Shanghai (16:00 UTC the day
    before), not midnight UTC, and it raises no naive-datetime warning."""
    late = make_account(name="晚上跟进")
    early = make_account(name="上午跟进")
    shanghai_midnight = datetime.datetime(2026, 2, 28, 16, 0, tzinfo=datetime.UTC)
    Account.objects.filter(pk=late.pk).update(last_interaction_at=shanghai_midnight - datetime.timedelta(minutes=1))
    Account.objects.filter(pk=early.pk).update(last_interaction_at=shanghai_midnight + datetime.timedelta(hours=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        body = admin_api.get("accounts?last_interaction_at__gte=2026-03-01").json_body
    assert [row["name"] for row in body["items"]] == ["上午跟进"]
