"""客户分布: the accounts a user may see, narrowed by the account list's filters, counted by one field;
each value opens the list with exactly the accounts it counts (API ``GET /accounts/breakdown`` and the
page ``/customers/accounts/breakdown/``)."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core.models import SavedView
from guanxi.customers.breakdown import ACCOUNTS, breakdown_dimension, record_breakdown
from guanxi.customers.models import Account
from guanxi.identity.models import FieldRule, Role, Team, User
from tests.customers.conftest import Api, grant
from tests.factories import client_for, share

pytestmark = pytest.mark.django_db

ALL = [d.key for d in ACCOUNTS.dimensions]


@pytest.fixture
def book(admin: User, rep: User, other_rep: User, make_account: Callable[..., Account]) -> dict[str, Account]:
    """Eight accounts: the rep's four, the other rep's three, and one of the administrator's without
    industry, size, source or province."""
    rows = {
        "甲": (rep, {"tier": "A", "industry": "retail", "size": "small", "source": "referral", "province": "广东"}),
        "乙": (rep, {"tier": "A", "industry": "retail", "size": "medium", "province": "广东", "region": "华南"}),
        "丙": (rep, {"tier": "B", "industry": "energy", "lifecycle_stage": "customer", "province": "浙江"}),
        "丁": (rep, {"industry": "energy", "lifecycle_stage": "customer", "region": "华东"}),
        "戊": (other_rep, {"tier": "A", "industry": "retail", "province": "广东", "region": "华南"}),
        "己": (other_rep, {"tier": "C", "country": "US", "province": "California"}),
        "庚": (other_rep, {"tier": "C", "country": "US", "province": "Texas", "lifecycle_stage": "customer"}),
        "辛": (admin, {"country": ""}),
    }
    return {name: make_account(name=name, by=by, **data) for name, (by, data) in rows.items()}


def breakdown(user: User, query: str) -> dict[str, Any]:
    response = Api(user).get(f"accounts/breakdown?{query}")
    assert response.status_code == 200, response.json_body
    return response.json_body


def listed(user: User, query: str) -> set[str]:
    """The names the account list API gives for ``query``, every page of it."""
    names: set[str] = set()
    cursor = ""
    while True:
        body = Api(user).get(f"accounts?{query}&limit=200" + (f"&cursor={cursor}" if cursor else "")).json_body
        names |= {item["name"] for item in body["items"]}
        cursor = body["next_cursor"]
        if not cursor:
            return names


def by_label(body: dict[str, Any]) -> dict[str, int]:
    return {item["label"]: item["count"] for item in body["items"]}


@pytest.mark.parametrize("by", ALL)
@pytest.mark.parametrize("filters", ["", "lifecycle_stage=customer", "tier__in=A,none", "search=甲"])
def test_each_value_counts_what_the_list_shows_for_it(
    admin: User, book: dict[str, Account], by: str, filters: str
) -> None:
    body = breakdown(admin, f"by={by}&{filters}")
    assert body["by"] == by and body["others"] == 0
    assert body["total"] == len(listed(admin, filters))
    assert sum(item["count"] for item in body["items"]) == body["total"]
    for item in body["items"]:
        # The row's filters added to the list's open exactly the accounts it counts.
        names = listed(admin, f"{filters}&{urlencode(item['filters'])}")
        assert len(names) == item["count"], (item, names)


def test_labels_and_the_empty_value(admin: User, rep: User, other_rep: User, book: dict[str, Account]) -> None:
    assert by_label(breakdown(admin, "by=tier")) == {"Tier A": 3, "No tier": 2, "Tier C": 2, "Tier B": 1}
    industry = breakdown(admin, "by=industry")["items"]
    assert [(i["value"], i["label"], i["count"], i["filters"]) for i in industry] == [
        ("retail", "Retail", 3, {"industry": "retail"}),
        (None, "(none)", 3, {"industry": "none"}),  # equal counts: the empty value last
        ("energy", "Energy and utilities", 2, {"industry": "energy"}),
    ]
    # In China by province; elsewhere by country (its states together).
    assert by_label(breakdown(admin, "by=province")) == {
        "广东省": 3,
        "United States": 2,
        "China, province not filled in": 1,
        "浙江省": 1,
        "(none)": 1,
    }
    owners = breakdown(admin, "by=owner")["items"]
    assert [(i["value"], i["label"], i["count"]) for i in owners] == [
        (rep.pk, "李雷", 4),
        (other_rep.pk, "韩梅梅", 3),
        (book["辛"].owner_id, "管理员", 1),
    ]
    assert by_label(breakdown(admin, "by=team")) == {"华东销售部": 4, "华南销售部": 3, "(none)": 1}


def test_a_rep_counts_only_their_own_accounts(rep: User, book: dict[str, Account]) -> None:
    owners = breakdown(rep, "by=owner")
    assert owners["total"] == 4 and [(i["value"], i["count"]) for i in owners["items"]] == [(rep.pk, 4)]
    assert by_label(breakdown(rep, "by=tier")) == {"Tier A": 2, "Tier B": 1, "No tier": 1}
    # Not even through a filter that names another's accounts.
    assert breakdown(rep, "by=province&country=US") == {"by": "province", "total": 0, "items": [], "others": 0}


def test_the_list_relative_filters_narrow_it(
    admin: User, rep: User, other_rep: User, sales_role: Role, book: dict[str, Account]
) -> None:
    grant(sales_role, "customers.account", scope="all")
    assert breakdown(rep, "by=owner")["total"] == 8
    mine = breakdown(rep, "by=owner&owner=me")
    assert [(i["value"], i["count"]) for i in mine["items"]] == [(rep.pk, 4)]
    assert breakdown(rep, "by=team&team=mine")["items"][0]["label"] == "华东销售部"


def test_a_bad_dimension_is_a_400_naming_by_and_the_allowed_ones(admin: User, book: dict[str, Account]) -> None:
    for query in ("by=name", "by=", ""):
        response = Api(admin).get(f"accounts/breakdown?{query}")
        assert response.status_code == 400
        [error] = response.json_body["errors"]
        assert error["field"] == "by" and ", ".join(ALL) in error["detail"], error
    # A filter the list refuses is refused here too.
    response = Api(admin).get("accounts/breakdown?by=tier&colour=red")
    assert response.status_code == 400 and response.json_body["errors"][0]["field"] == "colour"


def test_a_hidden_field_is_no_dimension(rep: User, book: dict[str, Account]) -> None:
    FieldRule.objects.create(role=rep.role, object_type="customers.account", field="industry", access="hidden")
    FieldRule.objects.create(role=rep.role, object_type="customers.account", field="country", access="hidden")
    response = Api(rep).get("accounts/breakdown?by=industry")
    assert response.status_code == 400
    detail = response.json_body["errors"][0]["detail"]
    assert "industry" not in detail.split("Allowed:")[1] and "province" not in detail.split("Allowed:")[1]
    assert Api(rep).get("accounts/breakdown?by=province").status_code == 400
    html = client_for(rep).get("/customers/accounts/breakdown/?by=industry").content.decode()
    offered = re.findall(r'data-by="(\w+)"', html)
    assert "industry" not in offered and "province" not in offered and "tier" in offered
    assert 'id="breakdown-errors"' in html  # said, and the first dimension shown instead


def test_queries_do_not_grow_with_the_values(
    admin: User, make_user: Callable[..., User], sales_role: Role, make_account: Callable[..., Account]
) -> None:
    def queries(by: str) -> int:
        user = User.objects.get(pk=admin.pk)  # a fresh user: its permissions read again each time
        dimension = breakdown_dimension(ACCOUNTS, user, by)
        with CaptureQueriesContext(connection) as captured:
            record_breakdown(ACCOUNTS, user, {"lifecycle_stage": "prospect"}, dimension)
        return len(captured)

    def add_owners(count: int) -> None:
        for _n in range(count):
            owner = make_user(role=sales_role, team=Team.objects.create(name=f"Team {Team.objects.count()}"))
            make_account(by=owner, industry="retail")

    add_owners(2)
    few = {by: queries(by) for by in ALL}
    add_owners(8)
    assert {by: queries(by) for by in ALL} == few
    # One grouped read; the owners' and teams' names of the values shown in one more.
    assert few["owner"] == few["tier"] + 1 and few["team"] == few["tier"] + 1
    with CaptureQueriesContext(connection) as captured:
        record_breakdown(ACCOUNTS, admin, {}, breakdown_dimension(ACCOUNTS, admin, "owner"))
    assert sum("GROUP BY" in q["sql"] for q in captured) == 1


def test_the_largest_values_and_the_others(admin: User, book: dict[str, Account]) -> None:
    result = record_breakdown(ACCOUNTS, admin, {}, breakdown_dimension(ACCOUNTS, admin, "tier"), top=2)
    assert [(i.label, i.count) for i in result.items] == [("Tier A", 3), ("Tier C", 2)]
    assert (result.total, result.others, result.others_values) == (8, 3, 2)  # (none) 2, Tier B 1


def account_ids_on(client: Client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200
    return {
        int(pk)
        for pk in re.findall(r'<a href="/customers/accounts/(\d+)/" class="fw-medium">', response.content.decode())
    }


def test_the_page_links_each_value_to_exactly_its_accounts(
    admin: User, rep: User, sales_role: Role, book: dict[str, Account]
) -> None:
    grant(sales_role, "customers.account", scope="all")
    client = client_for(rep)
    for by in ALL:
        html = client.get(f"/customers/accounts/breakdown/?owner=reports&by={by}&cursor=abc").content.decode()
        rows = re.findall(r'<a href="([^"]+)" class="list-group-item[^"]*" data-value="[^"]*" data-count="(\d+)"', html)
        assert rows, html
        mine = {a.pk for a in book.values() if a.owner_id == rep.pk}
        seen: set[int] = set()
        for href, count in rows:
            url = html_lib.unescape(href)
            # The list's filters go along (the owner row's own owner in place of owner=reports).
            assert url.startswith("/customers/accounts/?") and "cursor" not in url
            assert ("owner=reports" in url) is (by != "owner"), url
            ids = account_ids_on(client, url)
            assert len(ids) == int(count) and ids <= mine, (by, url)
            seen |= ids
        assert seen == mine  # every account in one row
        assert f'data-total="{len(mine)}"' in html


def test_the_page_applies_a_saved_view_and_says_a_refused_filter(
    rep: User, other_rep: User, sales_role: Role, book: dict[str, Account]
) -> None:
    grant(sales_role, "customers.account", scope="all")
    view = SavedView.objects.create(
        user=other_rep, object_type="customers.account", name="美国客户", query="country=US", shared=True
    )
    client = client_for(rep)
    html = client.get(f"/customers/accounts/breakdown/?view={view.pk}&by=tier").content.decode()
    assert 'data-total="2"' in html and "美国客户" in html
    assert f"view={view.pk}" in html.split('id="breakdown-list-link"')[0]  # back to the list's view
    html = client.get("/customers/accounts/breakdown/?by=tier&tier=Z").content.decode()
    assert 'id="breakdown-errors"' in html and 'data-total="8"' in html


def test_the_list_links_to_it_with_its_filters(rep: User, book: dict[str, Account]) -> None:
    html = client_for(rep).get("/customers/accounts/?tier=A&owner=me").content.decode()
    link = re.search(r'<a href="([^"]+)" class="btn" id="breakdown-link" data-list-query>', html)
    assert link and html_lib.unescape(link.group(1)) == reverse("ui:accounts-breakdown") + "?tier=A&owner=me"


def test_someone_without_a_role_counts_only_what_is_shared_with_them(
    make_user: Callable[..., User], book: dict[str, Account]
) -> None:
    nobody = make_user()
    assert breakdown(nobody, "by=tier")["total"] == 0
    share(book["己"], user=nobody)
    assert breakdown(nobody, "by=owner")["items"] == [
        {"value": book["己"].owner_id, "label": "韩梅梅", "count": 1, "filters": {"owner": str(book["己"].owner_id)}}
    ]
    assert 'data-total="1"' in client_for(nobody).get("/customers/accounts/breakdown/").content.decode()


def test_the_page_in_chinese(rep: User, book: dict[str, Account]) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(rep)
    User.objects.filter(pk=rep.pk).update(language="zh-hans")
    html = client.get("/customers/accounts/breakdown/?by=industry").content.decode()
    assert "客户分布" in html and "按行业" in html and "零售" in html and "共 4 家" in html
    assert "未填" in client.get("/customers/accounts/breakdown/?by=source").content.decode()
    assert "未分级" in client.get("/customers/accounts/breakdown/?by=tier").content.decode()


def test_the_figures_download_as_excel_and_csv(rep: User, book: dict[str, Account]) -> None:
    """The page's figures for its filters as a file: each value, its count and share, then the total;
    a value that looks like a formula stays text."""
    from tests.core.test_exports import read_csv, read_xlsx

    Account.objects.filter(pk=book["丁"].pk).update(region="=1+1")
    client = client_for(rep)
    page = client.get("/customers/accounts/breakdown/?by=region&owner=me").content.decode()
    links = re.findall(r'<a href="([^"]+)" class="btn" data-format="(\w+)"', page)
    urls = {fmt: html_lib.unescape(href) for href, fmt in links}
    assert set(urls) == {"xlsx", "csv"} and all("owner=me" in u and "by=region" in u for u in urls.values())
    sheet = client.get(urls["xlsx"])
    assert sheet.status_code == 200 and "attachment;" in sheet["Content-Disposition"]
    assert "region_" in sheet["Content-Disposition"] and sheet["Content-Disposition"].endswith(".xlsx")
    rows = read_xlsx(sheet.content)
    assert rows[0] == ["Region / territory", "Count", "Share (%)"]
    # The rep's four: 甲 and 乙 华南 (from 广东), 丙 华东 (浙江), 丁 "=1+1".
    assert {tuple(r) for r in rows[1:-1]} == {("华南", 2, 50), ("华东", 1, 25), ("'=1+1", 1, 25)}
    assert rows[-1] == ["Total", 4, 100]
    text = read_csv(client.get(urls["csv"]).content)
    assert [row[:2] for row in text if row and row[0] in ("华南", "Total")] == [["华南", "2"], ["Total", "4"]]
    # A wrong dimension shows the page and says so, rather than a file of something else.
    wrong = client.get("/customers/accounts/breakdown/?by=nothing&format=xlsx")
    assert wrong["Content-Type"].startswith("text/html") and "nothing" in wrong.content.decode()
