"""联系人分布: the contacts a user may see, narrowed by the contact list's filters, counted by one field
(province or country, owner, team, decision role, stance, the three consents, month added); each value
opens the contact list with exactly the contacts it counts (API ``GET /contacts/breakdown`` and the
page ``/customers/contacts/breakdown/``). The same code as 客户分布 (``tests/customers/test_breakdown.py``).
"""

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
from guanxi.customers.breakdown import CONTACTS, breakdown_dimension, record_breakdown
from guanxi.customers.models import Contact
from guanxi.identity.models import FieldRule, Role, Team, User
from tests.customers.conftest import Api, grant
from tests.factories import client_for, share

pytestmark = pytest.mark.django_db

ALL = [d.key for d in CONTACTS.dimensions]


@pytest.fixture
def people(admin: User, rep: User, other_rep: User, make_contact: Callable[..., Contact]) -> dict[str, Contact]:
    """Seven contacts: the rep's four, the other rep's two, and one of the administrator's without a
    country."""
    rows = {
        "甲": (
            rep,
            {"decision_role": "decision_maker", "stance": "supporter", "email_consent": True, "province": "广东"},
        ),
        "乙": (rep, {"decision_role": "buyer", "stance": "supporter", "email_consent": True, "province": "广东"}),
        "丙": (rep, {"decision_role": "buyer", "sms_consent": True, "province": "浙江"}),
        "丁": (rep, {"phone_consent": True}),
        "戊": (other_rep, {"decision_role": "buyer", "stance": "opponent", "province": "广东"}),
        "己": (other_rep, {"email_consent": True, "country": "US", "province": "California"}),
        "庚": (admin, {"country": ""}),
    }
    return {name: make_contact(by=by, family_name=name, given_name="先生", **data) for name, (by, data) in rows.items()}


def breakdown(user: User, query: str) -> dict[str, Any]:
    response = Api(user).get(f"contacts/breakdown?{query}")
    assert response.status_code == 200, response.json_body
    return response.json_body


def listed(user: User, query: str) -> set[str]:
    """The family names the contact list API gives for ``query``, every page of it."""
    names: set[str] = set()
    cursor = ""
    while True:
        response = Api(user).get(f"contacts?{query}&limit=200" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, (query, response.json_body)
        names |= {item["family_name"] for item in response.json_body["items"]}
        cursor = response.json_body["next_cursor"]
        if not cursor:
            return names


def by_label(body: dict[str, Any]) -> dict[str, int]:
    return {item["label"]: item["count"] for item in body["items"]}


@pytest.mark.parametrize("by", ALL)
@pytest.mark.parametrize("filters", ["", "email_consent=true", "decision_role__in=buyer,none", "search=甲"])
def test_each_value_counts_what_the_list_shows_for_it(
    admin: User, people: dict[str, Contact], by: str, filters: str
) -> None:
    body = breakdown(admin, f"by={by}&{filters}")
    assert body["by"] == by and body["others"] == 0
    assert body["total"] == len(listed(admin, filters)) > 0
    assert sum(item["count"] for item in body["items"]) == body["total"]
    for item in body["items"]:
        # The row's filters added to the list's open exactly the contacts it counts.
        names = listed(admin, f"{filters}&{urlencode(item['filters'])}")
        assert len(names) == item["count"], (item, names)


def test_labels_and_the_empty_values(admin: User, rep: User, other_rep: User, people: dict[str, Contact]) -> None:
    roles = breakdown(admin, "by=decision_role")["items"]
    assert [(i["value"], i["label"], i["count"], i["filters"]) for i in roles] == [
        ("buyer", "Buyer", 3, {"decision_role": "buyer"}),
        (None, "(none)", 3, {"decision_role": "none"}),  # 丁 己 庚, not mapped yet; equal counts: the empty value last
        ("decision_maker", "Decision maker", 1, {"decision_role": "decision_maker"}),
    ]
    assert by_label(breakdown(admin, "by=stance")) == {"(none)": 4, "Supporter": 2, "Opponent": 1}
    email = breakdown(admin, "by=email_consent")["items"]
    assert [(i["value"], i["label"], i["count"], i["filters"]) for i in email] == [
        (False, "No", 4, {"email_consent": "false"}),
        (True, "Yes", 3, {"email_consent": "true"}),
    ]
    assert by_label(breakdown(admin, "by=sms_consent")) == {"No": 6, "Yes": 1}
    assert by_label(breakdown(admin, "by=phone_consent")) == {"No": 6, "Yes": 1}
    # In China by province; elsewhere by country (its states together).
    assert by_label(breakdown(admin, "by=province")) == {
        "广东省": 3,
        "China, province not filled in": 1,
        "United States": 1,
        "浙江省": 1,
        "(none)": 1,
    }
    owners = breakdown(admin, "by=owner")["items"]
    assert [(i["value"], i["label"], i["count"]) for i in owners] == [
        (rep.pk, "李雷", 4),
        (other_rep.pk, "韩梅梅", 2),
        (people["庚"].owner_id, "管理员", 1),
    ]
    assert by_label(breakdown(admin, "by=team")) == {"华东销售部": 4, "华南销售部": 2, "(none)": 1}


def test_a_rep_counts_only_their_own_contacts(rep: User, people: dict[str, Contact]) -> None:
    owners = breakdown(rep, "by=owner")
    assert owners["total"] == 4 and [(i["value"], i["count"]) for i in owners["items"]] == [(rep.pk, 4)]
    assert by_label(breakdown(rep, "by=stance")) == {"Supporter": 2, "(none)": 2}
    # Not even through a filter that names another's contacts.
    assert breakdown(rep, "by=province&country=US") == {"by": "province", "total": 0, "items": [], "others": 0}
    assert breakdown(rep, "by=decision_role&stance=opponent")["total"] == 0


def test_someone_without_a_role_counts_only_what_is_shared_with_them(
    make_user: Callable[..., User], people: dict[str, Contact]
) -> None:
    nobody = make_user()
    assert breakdown(nobody, "by=owner")["total"] == 0
    share(people["戊"], user=nobody)
    assert breakdown(nobody, "by=stance")["items"] == [
        {"value": "opponent", "label": "Opponent", "count": 1, "filters": {"stance": "opponent"}}
    ]
    assert 'data-total="1"' in client_for(nobody).get("/customers/contacts/breakdown/").content.decode()


def test_a_bad_dimension_is_a_400_naming_by_and_the_allowed_ones(admin: User, people: dict[str, Contact]) -> None:
    for query in ("by=tier", "by=gender", "by=", ""):
        response = Api(admin).get(f"contacts/breakdown?{query}")
        assert response.status_code == 400
        [error] = response.json_body["errors"]
        assert error["field"] == "by", error
        assert error["detail"].startswith("You cannot break contacts down by"), error
        assert error["detail"].endswith(f"Allowed: {', '.join(ALL)}."), error
    # A filter the contact list refuses is refused here too, naming it.
    response = Api(admin).get("contacts/breakdown?by=stance&stance=friendly")
    assert response.status_code == 400 and response.json_body["errors"][0]["field"] == "stance"


def test_a_hidden_field_is_no_dimension(rep: User, people: dict[str, Contact]) -> None:
    for name in ("decision_role", "email_consent", "province", "created_at"):
        FieldRule.objects.create(role=rep.role, object_type="customers.contact", field=name, access="hidden")
    allowed = ["owner", "team", "stance", "sms_consent", "phone_consent"]
    for by in ("decision_role", "email_consent", "province", "month"):
        response = Api(rep).get(f"contacts/breakdown?by={by}")
        assert response.status_code == 400
        assert response.json_body["errors"][0]["detail"].endswith(f"Allowed: {', '.join(allowed)}.")
    assert breakdown(rep, "by=stance")["total"] == 4
    html = client_for(rep).get("/customers/contacts/breakdown/?by=decision_role").content.decode()
    assert re.findall(r'data-by="(\w+)"', html) == allowed
    assert 'id="breakdown-errors"' in html  # said, and the first dimension shown instead
    assert 'data-by="owner" aria-current="page"' in html


def test_queries_do_not_grow_with_the_values(
    admin: User, make_user: Callable[..., User], sales_role: Role, make_contact: Callable[..., Contact]
) -> None:
    def queries(by: str) -> int:
        user = User.objects.get(pk=admin.pk)  # a fresh user: its permissions read again each time
        dimension = breakdown_dimension(CONTACTS, user, by)
        with CaptureQueriesContext(connection) as captured:
            record_breakdown(CONTACTS, user, {"email_consent": "false"}, dimension)
        return len(captured)

    def add_owners(count: int) -> None:
        for _n in range(count):
            owner = make_user(role=sales_role, team=Team.objects.create(name=f"Team {Team.objects.count()}"))
            make_contact(by=owner, decision_role="buyer", province="浙江")

    add_owners(2)
    few = {by: queries(by) for by in ALL}
    add_owners(8)
    assert {by: queries(by) for by in ALL} == few
    # One grouped read; the owners' and teams' names of the values shown in one more.
    assert few["owner"] == few["stance"] + 1 and few["team"] == few["stance"] + 1
    assert few["month"] == few["stance"] == few["email_consent"]
    for by in ("owner", "month"):
        with CaptureQueriesContext(connection) as captured:
            record_breakdown(CONTACTS, admin, {}, breakdown_dimension(CONTACTS, admin, by))
        assert sum("GROUP BY" in q["sql"] for q in captured) == 1


def contact_ids_on(client: Client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200
    return {
        int(pk)
        for pk in re.findall(r'<a href="/customers/contacts/(\d+)/" class="fw-medium">', response.content.decode())
    }


def test_the_page_links_each_value_to_exactly_its_contacts(
    admin: User, rep: User, sales_role: Role, people: dict[str, Contact]
) -> None:
    grant(sales_role, "customers.contact", scope="all")
    client = client_for(rep)
    mine = {c.pk for c in people.values() if c.owner_id == rep.pk}
    for by in ALL:
        html = client.get(f"/customers/contacts/breakdown/?owner=me&by={by}&cursor=abc").content.decode()
        rows = re.findall(r'<a href="([^"]+)" class="list-group-item[^"]*" data-value="[^"]*" data-count="(\d+)"', html)
        assert rows, html
        seen: set[int] = set()
        for href, count in rows:
            url = html_lib.unescape(href)
            # The list's filters go along (the owner row's own owner in place of owner=me).
            assert url.startswith("/customers/contacts/?") and "cursor" not in url
            assert ("owner=me" in url) is (by != "owner"), url
            ids = contact_ids_on(client, url)
            assert len(ids) == int(count) and ids <= mine, (by, url)
            seen |= ids
        assert seen == mine  # every contact in one row
        assert f'data-total="{len(mine)}"' in html


def test_the_page_applies_a_saved_view_and_says_a_refused_filter(
    rep: User, other_rep: User, sales_role: Role, people: dict[str, Contact]
) -> None:
    grant(sales_role, "customers.contact", scope="all")
    view = SavedView.objects.create(
        user=other_rep, object_type="customers.contact", name="采购", query="decision_role=buyer", shared=True
    )
    client = client_for(rep)
    html = client.get(f"/customers/contacts/breakdown/?view={view.pk}&by=stance").content.decode()
    assert 'data-total="3"' in html and "采购" in html
    assert f"view={view.pk}" in html.split('id="breakdown-list-link"')[0]  # back to the list's view
    html = client.get("/customers/contacts/breakdown/?by=stance&stance=friendly").content.decode()
    assert 'id="breakdown-errors"' in html and 'data-total="7"' in html


def test_the_contact_list_links_to_it_with_its_filters(rep: User, people: dict[str, Contact]) -> None:
    html = client_for(rep).get("/customers/contacts/?stance=supporter&owner=me").content.decode()
    link = re.search(r'<a href="([^"]+)" class="btn" id="breakdown-link" data-list-query>', html)
    assert link and html_lib.unescape(link.group(1)) == reverse("ui:contacts-breakdown") + "?stance=supporter&owner=me"
    assert "Contact breakdown" in html


def test_the_contact_list_offers_none_for_the_mapped_fields(admin: User, people: dict[str, Contact]) -> None:
    """``decision_role=none``, the breakdown's "(none)" row, is an option of the list's own select too."""
    html = client_for(admin).get("/customers/contacts/?decision_role=none").content.decode()
    select = html.split('id="filter-decision_role"')[1].split("</select>")[0]
    assert '<option value="none" selected>(none)</option>' in select
    assert listed(admin, "decision_role=none") == {"丁", "己", "庚"}
    assert listed(admin, "stance__in=none,opponent") == {"丙", "丁", "戊", "己", "庚"}


def test_the_page_in_chinese(rep: User, people: dict[str, Contact]) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(rep)
    User.objects.filter(pk=rep.pk).update(language="zh-hans")
    html = client.get("/customers/contacts/breakdown/?by=decision_role").content.decode()
    assert "联系人分布" in html and "按决策角色" in html and "4 位联系人" in html
    assert "采购人" in html and "决策人" in html and "未填" in html
    html = client.get("/customers/contacts/breakdown/?by=email_consent").content.decode()
    assert "是" in html and "否" in html
    html = client.get("/customers/contacts/breakdown/?by=month").content.decode()
    assert "按新增月份" in html and "年" in html
