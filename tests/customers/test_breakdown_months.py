"""新增趋势: accounts and contacts counted by the month they were added (``by=month`` of 客户分布 and
联系人分布): the last 24 months in time order, in the reader's time zone (Asia/Shanghai unless they
chose another), the months before them in one row first; each month's ``created_at__gte`` /
``created_at__lt`` open exactly its records in the list.

The clock is stopped at 2026-03-15 12:00 in Shanghai, so the months listed are April 2024 to March 2026.
Records are placed either side of a month's first instant in Shanghai, where UTC still says the
month before.
"""

from __future__ import annotations

import datetime
import html as html_lib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count
from django.db.models.functions import TruncMonth
from freezegun import freeze_time

from guanxi.api.crud import list_parameters
from guanxi.core.registry import resource_at
from guanxi.customers.breakdown import ACCOUNTS, CONTACTS, MONTH, BreakdownSpec, record_breakdown
from guanxi.identity.models import User
from tests.customers.conftest import Api
from tests.factories import client_for

pytestmark = pytest.mark.django_db

NOW = "2026-03-15T04:00:00+00:00"  # 12:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: name -> (when it was added, in UTC; whose it is: the rep's, or the other rep's).
ADDED = {
    "早": ("2024-03-31T15:59:59+00:00", "rep"),  # 23:59:59 on 31 March in Shanghai: before the 24 months
    "始": ("2024-03-31T16:00:00+00:00", "rep"),  # 00:00 on 1 April in Shanghai: the first of them
    "元": ("2025-12-31T16:00:00+00:00", "rep"),  # 00:00 on 1 January 2026 in Shanghai (December in UTC)
    "一": ("2026-01-31T15:30:00+00:00", "rep"),  # 23:30 on 31 January in Shanghai
    "二": ("2026-01-31T16:30:00+00:00", "rep"),  # 00:30 on 1 February in Shanghai (January in UTC)
    "三": ("2026-03-14T00:00:00+00:00", "other_rep"),
}
LISTED = [f"{year}-{month:02d}" for year in (2024, 2025, 2026) for month in range(1, 13)][3:27]
KINDS = {"account": ACCOUNTS, "contact": CONTACTS}


@pytest.fixture(autouse=True)
def stopped_clock() -> Iterator[None]:
    with freeze_time(NOW):
        yield


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def added(
    kind: str,
    rep: User,
    other_rep: User,
    make_account: Callable[..., Any],
    make_contact: Callable[..., Any],
) -> dict[str, Any]:
    """The six records of ``ADDED``, accounts or contacts, with their times of adding."""
    owners = {"rep": rep, "other_rep": other_rep}
    records = {}
    for name, (when, owner) in ADDED.items():
        if kind == "account":
            record = make_account(by=owners[owner], name=name)
        else:
            record = make_contact(by=owners[owner], family_name=name, given_name="某")
        type(record).objects.filter(pk=record.pk).update(created_at=datetime.datetime.fromisoformat(when))
        records[name] = record
    return records


def months(user: User, kind: str, query: str = "") -> dict[str, Any]:
    response = Api(user).get(f"{KINDS[kind].path}/breakdown?by=month&{query}")
    assert response.status_code == 200, response.json_body
    return response.json_body


def listed(user: User, kind: str, query: str) -> set[str]:
    """The names the list API gives for ``query`` (a page holds them all)."""
    response = Api(user).get(f"{KINDS[kind].path}?{query}&limit=200")
    assert response.status_code == 200, (query, response.json_body)
    key = "name" if kind == "account" else "family_name"
    return {item[key] for item in response.json_body["items"]}


def test_the_last_24_months_in_time_order_in_shanghai(admin: User, kind: str, added: dict[str, Any]) -> None:
    body = months(admin, kind)
    assert body["by"] == "month" and body["total"] == 6 and body["others"] == 0
    items = body["items"]
    # The earlier months first, together; then every month from April 2024 to this one, none left out.
    assert [item["value"] for item in items] == [None, *LISTED]
    counts = {item["value"]: item["count"] for item in items if item["count"]}
    assert counts == {None: 1, "2024-04": 1, "2026-01": 2, "2026-02": 1, "2026-03": 1}
    labels = [item["label"] for item in items]
    assert (labels[0], labels[1], labels[-1]) == ("Before April 2024", "April 2024", "March 2026")
    assert items[0]["filters"] == {"created_at__lt": "2024-04-01"}
    assert items[1]["filters"] == {"created_at__gte": "2024-04-01", "created_at__lt": "2024-05-01"}
    assert items[-2]["filters"] == {"created_at__gte": "2026-02-01", "created_at__lt": "2026-03-01"}
    assert items[-1]["filters"] == {"created_at__gte": "2026-03-01"}  # and whatever came since


def test_each_month_opens_exactly_its_records(admin: User, rep: User, kind: str, added: dict[str, Any]) -> None:
    expected = {None: {"早"}, "2024-04": {"始"}, "2026-01": {"元", "一"}, "2026-02": {"二"}, "2026-03": {"三"}}
    for item in months(admin, kind)["items"]:
        assert listed(admin, kind, urlencode(item["filters"])) == expected.get(item["value"], set()), item
    # A rep counts only their own: the other rep's March record is not theirs.
    mine = months(rep, kind)
    assert mine["total"] == 5 and mine["items"][-1] == {**mine["items"][-1], "count": 0}
    for item in mine["items"]:
        names = listed(rep, kind, urlencode(item["filters"]))
        assert len(names) == item["count"] and names <= {"早", "始", "元", "一", "二"}, item


def test_the_same_months_as_truncmonth_in_shanghai(admin: User, kind: str, added: dict[str, Any]) -> None:
    """The CASE over the months' first instants counts as the database's own truncation does."""
    model = KINDS[kind].model
    truncated = (
        model.objects.annotate(month=TruncMonth("created_at", tzinfo=SHANGHAI))
        .values_list("month")
        .annotate(count=Count("pk"))
    )
    expected: Counter[str | None] = Counter()
    for month, count in truncated:
        key = month.astimezone(SHANGHAI).strftime("%Y-%m")
        expected[key if key >= LISTED[0] else None] += count
    figures = record_breakdown(KINDS[kind], admin, {}, MONTH)
    assert Counter({item.value: item.count for item in figures.items if item.count}) == expected
    # The UTC month would have put 元 in December and 二 in January.
    assert (expected["2025-12"], expected["2026-01"], expected["2026-02"]) == (0, 2, 1)


def test_a_reader_in_another_time_zone_counts_in_theirs(admin: User, kind: str, added: dict[str, Any]) -> None:
    User.objects.filter(pk=admin.pk).update(time_zone="UTC")
    admin.refresh_from_db()
    body = months(admin, kind)
    counts = {item["value"]: item["count"] for item in body["items"] if item["count"]}
    assert counts == {None: 2, "2025-12": 1, "2026-01": 2, "2026-03": 1}  # in UTC: 始 in March 2024, 元 in December
    # From the first month with a record: February 2026 counts none.
    assert [item["value"] for item in body["items"]] == [None, "2025-12", "2026-01", "2026-02", "2026-03"]
    assert body["items"][0]["label"] == "Before April 2024"
    for item in body["items"]:
        # The list reads the links' days in the same zone.
        assert len(listed(admin, kind, urlencode(item["filters"]))) == item["count"], item


def test_nothing_recent_and_nothing_at_all(admin: User, kind: str, added: dict[str, Any]) -> None:
    query = urlencode({"created_at__lt": "2024-04-01"})
    body = months(admin, kind, query)
    assert body["total"] == 1 and [(i["value"], i["count"]) for i in body["items"]] == [(None, 1)]
    body = months(admin, kind, "created_at__gte=2030-01-01")
    assert body == {"by": "month", "total": 0, "items": [], "others": 0}


def test_the_list_s_own_created_at_bounds_narrow_the_months_and_their_links(
    admin: User, kind: str, added: dict[str, Any]
) -> None:
    """From the 15th of January on: January counts 一 alone, and its link starts on the 15th too."""
    query = "created_at__gte=2026-01-15"
    body = months(admin, kind, query)
    assert [(i["value"], i["count"]) for i in body["items"]] == [("2026-01", 1), ("2026-02", 1), ("2026-03", 1)]
    assert body["items"][0]["filters"] == {"created_at__gte": "2026-01-15", "created_at__lt": "2026-02-01"}
    for item in body["items"]:
        assert len(listed(admin, kind, f"{query}&{urlencode(item['filters'])}")) == item["count"], item
    # Up to a day: the months after it count none and are not listed; the last month's link ends there.
    query = "created_at__lt=2026-01-15T12:00:00%2B08:00"
    body = months(admin, kind, query)
    assert [(i["value"], i["count"]) for i in body["items"][-2:]] == [("2025-12", 0), ("2026-01", 1)]
    assert body["items"][-1]["filters"] == {
        "created_at__gte": "2026-01-01",
        "created_at__lt": "2026-01-15T12:00:00+08:00",
    }
    for item in body["items"]:
        assert len(listed(admin, kind, f"{query}&{urlencode(item['filters'])}")) == item["count"], item
    body = months(admin, kind, "created_at__lte=2024-04-30")
    assert [(i["value"], i["count"]) for i in body["items"]] == [(None, 1), ("2024-04", 1)]


def test_the_list_takes_created_at_lt(admin: User, kind: str, added: dict[str, Any]) -> None:
    """``created_at__lt``, the months' upper bound, is one of the lists' filters (it was refused)."""
    assert listed(admin, kind, "created_at__lt=2026-02-01") == {"早", "始", "元", "一"}
    assert listed(admin, kind, "created_at__gte=2026-02-01&created_at__lt=2026-03-01") == {"二"}
    response = Api(admin).get(f"{KINDS[kind].path}?created_at__lt=soon")
    assert response.status_code == 400 and response.json_body["errors"][0]["field"] == "created_at__lt"
    names = {param["name"] for param in list_parameters(resource_at(KINDS[kind].path).filterset)}
    assert {"created_at__gte", "created_at__lt", "created_at__lte"} <= names


def test_the_page_lists_the_months_in_order_each_a_link(admin: User, kind: str, added: dict[str, Any]) -> None:
    spec: BreakdownSpec = KINDS[kind]
    client = client_for(admin)
    html = client.get(f"/customers/{spec.path}/breakdown/?by=month").content.decode()
    rows = re.findall(r'<a href="([^"]+)" class="list-group-item[^"]*" data-value="([^"]*)" data-count="(\d+)"', html)
    assert [value for _href, value, _count in rows] == ["", *LISTED]
    assert "Before April 2024" in html and 'data-total="6"' in html
    for href, _value, count in rows:
        page = client.get(html_lib.unescape(href)).content.decode()
        found = re.findall(rf'<a href="/customers/{spec.path}/(\d+)/" class="fw-medium">', page)
        assert len(found) == int(count), href
