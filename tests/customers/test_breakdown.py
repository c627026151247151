"""客户分布 and 联系人分布: the accounts or contacts a user may see, narrowed by their list's filters,
counted by one field; each value opens the list with exactly the records it counts (API
``GET /accounts/breakdown``, ``GET /contacts/breakdown`` and the pages ``/customers/accounts/breakdown/``,
``/customers/contacts/breakdown/``).

One code path serves both (``guanxi.customers.breakdown``), so each behaviour is tested once, for
accounts and for contacts alike (``@pytest.mark.parametrize`` over ``ACCOUNT`` and ``CONTACT``);
what only one of them has (an account's tier or industry, a contact's decision role or consents, the
account download) is tested at the end, under its own heading. By month added:
``tests/customers/test_breakdown_months.py``.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core.models import SavedView
from guanxi.customers.breakdown import ACCOUNTS, CONTACTS, BreakdownSpec, breakdown_dimension, record_breakdown
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import FieldRule, Role, Team, User
from tests.customers.conftest import Api, grant
from tests.factories import client_for, share

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Kind:
    """A kind of record broken down, as the tests reach it: the rest of what differs between
    accounts and contacts is spelled out in each test's own parameters."""

    key: str
    spec: BreakdownSpec
    #: The fixture below that builds its records (named by their keys).
    records: str
    #: Its factory fixture (``tests/customers/conftest.py``).
    factory: str
    #: The list API's field holding a record's name: the records' keys.
    name_field: str

    def __str__(self) -> str:
        return self.key

    @property
    def dimensions(self) -> list[str]:
        return [d.key for d in self.spec.dimensions]

    @property
    def object_type(self) -> str:
        return f"customers.{self.key}"

    @property
    def page(self) -> str:
        return f"/customers/{self.spec.path}/breakdown/"


ACCOUNT = Kind("account", ACCOUNTS, records="book", factory="make_account", name_field="name")
CONTACT = Kind("contact", CONTACTS, records="people", factory="make_contact", name_field="family_name")
BOTH = [pytest.param(ACCOUNT, id="account"), pytest.param(CONTACT, id="contact")]


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


@pytest.fixture
def records(request: pytest.FixtureRequest, kind: Kind) -> dict[str, Any]:
    """The records of the test's ``kind``: ``book`` for accounts, ``people`` for contacts."""
    return dict(request.getfixturevalue(kind.records))


def breakdown(user: User, kind: Kind, query: str) -> dict[str, Any]:
    response = Api(user).get(f"{kind.spec.path}/breakdown?{query}")
    assert response.status_code == 200, response.json_body
    return response.json_body


def listed(user: User, kind: Kind, query: str) -> set[str]:
    """The names the list API gives for ``query``, every page of it."""
    names: set[str] = set()
    cursor = ""
    while True:
        response = Api(user).get(f"{kind.spec.path}?{query}&limit=200" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, (query, response.json_body)
        names |= {item[kind.name_field] for item in response.json_body["items"]}
        cursor = response.json_body["next_cursor"]
        if not cursor:
            return names


def ids_on(client: Client, kind: Kind, url: str) -> set[int]:
    """The records the list page at ``url`` shows."""
    response = client.get(url)
    assert response.status_code == 200
    link = rf'<a href="/customers/{kind.spec.path}/(\d+)/" class="fw-medium">'
    return {int(pk) for pk in re.findall(link, response.content.decode())}


def by_label(body: dict[str, Any]) -> dict[str, int]:
    return {item["label"]: item["count"] for item in body["items"]}


# --- accounts and contacts alike -------------------------------------------------------------------------

#: Every dimension of each kind, under no filter and under three of its list's own (a choice, a
#: choice list with "none", a search): each value must count what the list shows for its filters.
EACH_VALUE = [
    pytest.param(kind, by, filters, id=f"{kind}-{by}-{filters}")
    for kind, narrowing in (
        (ACCOUNT, ["lifecycle_stage=customer", "tier__in=A,none"]),
        (CONTACT, ["email_consent=true", "decision_role__in=buyer,none"]),
    )
    for by in kind.dimensions
    for filters in ["", *narrowing, "search=甲"]
]


@pytest.mark.parametrize(("kind", "by", "filters"), EACH_VALUE)
def test_each_value_counts_what_the_list_shows_for_it(
    admin: User, kind: Kind, records: dict[str, Any], by: str, filters: str
) -> None:
    body = breakdown(admin, kind, f"by={by}&{filters}")
    assert body["by"] == by and body["others"] == 0
    assert body["total"] == len(listed(admin, kind, filters)) > 0
    assert sum(item["count"] for item in body["items"]) == body["total"]
    for item in body["items"]:
        # The row's filters added to the list's open exactly the records it counts.
        names = listed(admin, kind, f"{filters}&{urlencode(item['filters'])}")
        assert len(names) == item["count"], (item, names)


@pytest.mark.parametrize(
    ("kind", "places", "theirs"),
    [
        pytest.param(
            ACCOUNT,
            {"广东省": 3, "United States": 2, "China, province not filled in": 1, "浙江省": 1, "(none)": 1},
            3,
            id="account",
        ),
        pytest.param(
            CONTACT,
            {"广东省": 3, "China, province not filled in": 1, "United States": 1, "浙江省": 1, "(none)": 1},
            2,
            id="contact",
        ),
    ],
)
def test_place_owner_and_team_labels(
    admin: User,
    rep: User,
    other_rep: User,
    kind: Kind,
    records: dict[str, Any],
    places: dict[str, int],
    theirs: int,
) -> None:
    """The dimensions both kinds share; ``theirs``: how many of the records are the other rep's."""
    # In China by province; elsewhere by country (its states together).
    assert by_label(breakdown(admin, kind, "by=province")) == places
    owners = breakdown(admin, kind, "by=owner")["items"]
    assert [(i["value"], i["label"], i["count"]) for i in owners] == [
        (rep.pk, "李雷", 4),
        (other_rep.pk, "韩梅梅", theirs),
        (admin.pk, "管理员", 1),
    ]
    assert by_label(breakdown(admin, kind, "by=team")) == {"华东销售部": 4, "华南销售部": theirs, "(none)": 1}


@pytest.mark.parametrize(
    ("kind", "by", "mine", "theirs_only"),
    [
        pytest.param(ACCOUNT, "tier", {"Tier A": 2, "Tier B": 1, "No tier": 1}, ["country=US", "tier=C"], id="account"),
        pytest.param(CONTACT, "stance", {"Supporter": 2, "(none)": 2}, ["country=US", "stance=opponent"], id="contact"),
    ],
)
def test_a_rep_counts_only_their_own(
    rep: User, kind: Kind, records: dict[str, Any], by: str, mine: dict[str, int], theirs_only: list[str]
) -> None:
    """``theirs_only``: filters that only the other rep's records match."""
    owners = breakdown(rep, kind, "by=owner")
    assert owners["total"] == 4 and [(i["value"], i["count"]) for i in owners["items"]] == [(rep.pk, 4)]
    assert by_label(breakdown(rep, kind, f"by={by}")) == mine
    # Not even through a filter that names another's records, by any dimension.
    for filters in theirs_only:
        for dimension in kind.dimensions:
            empty = {"by": dimension, "total": 0, "items": [], "others": 0}
            assert breakdown(rep, kind, f"by={dimension}&{filters}") == empty, filters


@pytest.mark.parametrize(
    ("kind", "shared", "by", "item"),
    [
        pytest.param(
            ACCOUNT, "己", "tier", {"value": "C", "label": "Tier C", "count": 1, "filters": {"tier": "C"}}, id="account"
        ),
        pytest.param(
            CONTACT,
            "戊",
            "stance",
            {"value": "opponent", "label": "Opponent", "count": 1, "filters": {"stance": "opponent"}},
            id="contact",
        ),
    ],
)
def test_someone_without_a_role_counts_only_what_is_shared_with_them(
    make_user: Callable[..., User],
    other_rep: User,
    kind: Kind,
    records: dict[str, Any],
    shared: str,
    by: str,
    item: dict[str, Any],
) -> None:
    """``shared``: one of the other rep's records, counted as ``item`` by ``by``."""
    nobody = make_user()
    assert breakdown(nobody, kind, f"by={by}")["total"] == 0
    assert breakdown(nobody, kind, "by=owner")["total"] == 0
    share(records[shared], user=nobody)
    assert breakdown(nobody, kind, f"by={by}")["items"] == [item]
    assert breakdown(nobody, kind, "by=owner")["items"] == [
        {"value": other_rep.pk, "label": "韩梅梅", "count": 1, "filters": {"owner": str(other_rep.pk)}}
    ]
    assert 'data-total="1"' in client_for(nobody).get(kind.page).content.decode()


@pytest.mark.parametrize(
    ("kind", "not_dimensions", "refused"),
    [
        # A field of the record that is no dimension; another kind's dimension.
        pytest.param(ACCOUNT, ["name", "decision_role"], ("by=tier&tier=Z", "tier"), id="account"),
        pytest.param(CONTACT, ["gender", "tier"], ("by=stance&stance=friendly", "stance"), id="contact"),
    ],
)
def test_a_bad_dimension_is_a_400_naming_by_and_the_allowed_ones(
    admin: User, kind: Kind, records: dict[str, Any], not_dimensions: list[str], refused: tuple[str, str]
) -> None:
    """``refused``: a query with a value the list refuses for one of its filters, and that filter."""
    for query in [*(f"by={by}" for by in not_dimensions), "by=", ""]:
        response = Api(admin).get(f"{kind.spec.path}/breakdown?{query}")
        assert response.status_code == 400
        [error] = response.json_body["errors"]
        assert error["field"] == "by", error
        assert error["detail"].startswith(f"You cannot break {kind.spec.path} down by"), error
        assert error["detail"].endswith(f"Allowed: {', '.join(kind.dimensions)}."), error
    # A filter the list refuses is refused here too, naming it: an unknown one, or a wrong value.
    for query, field in (("by=owner&colour=red", "colour"), refused):
        response = Api(admin).get(f"{kind.spec.path}/breakdown?{query}")
        assert response.status_code == 400 and response.json_body["errors"][0]["field"] == field, query


@pytest.mark.parametrize(
    ("kind", "hidden", "shown"),
    [
        # Hiding the country hides the place (province or country) too.
        pytest.param(ACCOUNT, {"industry": "industry", "country": "province"}, "tier", id="account"),
        # Hiding when a contact was added hides the month added.
        pytest.param(
            CONTACT,
            {
                "decision_role": "decision_role",
                "email_consent": "email_consent",
                "province": "province",
                "created_at": "month",
            },
            "stance",
            id="contact",
        ),
    ],
)
def test_a_hidden_field_is_no_dimension(
    rep: User, kind: Kind, records: dict[str, Any], hidden: dict[str, str], shown: str
) -> None:
    """``hidden``: the fields the rep's role hides -> the dimension each takes away; ``shown``: one left."""
    for name in hidden:
        FieldRule.objects.create(role=rep.role, object_type=kind.object_type, field=name, access="hidden")
    allowed = [by for by in kind.dimensions if by not in hidden.values()]
    for by in hidden.values():
        response = Api(rep).get(f"{kind.spec.path}/breakdown?by={by}")
        assert response.status_code == 400
        assert response.json_body["errors"][0]["detail"].endswith(f"Allowed: {', '.join(allowed)}.")
    assert breakdown(rep, kind, f"by={shown}")["total"] == 4
    first_hidden = next(iter(hidden.values()))
    html = client_for(rep).get(f"{kind.page}?by={first_hidden}").content.decode()
    assert re.findall(r'data-by="(\w+)"', html) == allowed
    assert 'id="breakdown-errors"' in html  # said, and the first dimension shown instead
    assert f'data-by="{allowed[0]}" aria-current="page"' in html


@pytest.mark.parametrize(
    ("kind", "narrowing", "data"),
    [
        pytest.param(ACCOUNT, {"lifecycle_stage": "prospect"}, {"industry": "retail"}, id="account"),
        pytest.param(CONTACT, {"email_consent": "false"}, {"decision_role": "buyer", "province": "浙江"}, id="contact"),
    ],
)
def test_queries_do_not_grow_with_the_values(
    request: pytest.FixtureRequest,
    admin: User,
    make_user: Callable[..., User],
    sales_role: Role,
    kind: Kind,
    narrowing: dict[str, str],
    data: dict[str, str],
) -> None:
    """Each new owner, in a new team, adds a record (``data``) that the list's filter (``narrowing``) keeps."""
    make = request.getfixturevalue(kind.factory)

    def queries(by: str) -> int:
        user = User.objects.get(pk=admin.pk)  # a fresh user: its permissions read again each time
        dimension = breakdown_dimension(kind.spec, user, by)
        with CaptureQueriesContext(connection) as captured:
            record_breakdown(kind.spec, user, narrowing, dimension)
        return len(captured)

    def add_owners(count: int) -> None:
        for _n in range(count):
            owner = make_user(role=sales_role, team=Team.objects.create(name=f"Team {Team.objects.count()}"))
            make(by=owner, **data)

    add_owners(2)
    few = {by: queries(by) for by in kind.dimensions}
    add_owners(8)
    assert {by: queries(by) for by in kind.dimensions} == few
    # One grouped read for every dimension (by month too); the owners' and teams' names of the values
    # shown in one more.
    assert {by: count - few["province"] for by, count in few.items()} == {
        by: 1 if by in ("owner", "team") else 0 for by in kind.dimensions
    }
    for by in ("owner", "month"):
        with CaptureQueriesContext(connection) as captured:
            record_breakdown(kind.spec, admin, {}, breakdown_dimension(kind.spec, admin, by))
        assert sum("GROUP BY" in q["sql"] for q in captured) == 1, by


@pytest.mark.parametrize("owner", ["me", "reports"])
@pytest.mark.parametrize("kind", BOTH)
def test_the_page_links_each_value_to_exactly_its_records(
    rep: User, sales_role: Role, kind: Kind, records: dict[str, Any], owner: str
) -> None:
    """The rep sees every record, the list's ``owner=`` filter leaves theirs (they have no reports)."""
    grant(sales_role, kind.object_type, scope="all")
    client = client_for(rep)
    mine = {record.pk for record in records.values() if record.owner_id == rep.pk}
    for by in kind.dimensions:
        html = client.get(f"{kind.page}?owner={owner}&by={by}&cursor=abc").content.decode()
        rows = re.findall(r'<a href="([^"]+)" class="list-group-item[^"]*" data-value="[^"]*" data-count="(\d+)"', html)
        assert rows, html
        seen: set[int] = set()
        for href, count in rows:
            url = html_lib.unescape(href)
            # The list's filters go along (the owner row's own owner in place of owner=me), not its page.
            assert url.startswith(f"/customers/{kind.spec.path}/?") and "cursor" not in url
            assert (f"owner={owner}" in url) is (by != "owner"), url
            ids = ids_on(client, kind, url)
            assert len(ids) == int(count) and ids <= mine, (by, url)
            seen |= ids
        assert seen == mine  # every record in one row
        assert f'data-total="{len(mine)}"' in html


@pytest.mark.parametrize(
    ("kind", "view_query", "view_total", "refused"),
    [
        pytest.param(ACCOUNT, "country=US", 2, "tier=Z", id="account"),
        pytest.param(CONTACT, "decision_role=buyer", 3, "stance=friendly", id="contact"),
    ],
)
def test_the_page_applies_a_saved_view_and_says_a_refused_filter(
    rep: User,
    other_rep: User,
    sales_role: Role,
    kind: Kind,
    records: dict[str, Any],
    view_query: str,
    view_total: int,
    refused: str,
) -> None:
    """Another's shared view (``view_query`` leaves ``view_total`` records); a value the list refuses
    (``refused``) is said and that filter dropped."""
    grant(sales_role, kind.object_type, scope="all")
    view = SavedView.objects.create(
        user=other_rep, object_type=kind.object_type, name="同事的视图", query=view_query, shared=True
    )
    client = client_for(rep)
    html = client.get(f"{kind.page}?view={view.pk}&by=owner").content.decode()
    assert f'data-total="{view_total}"' in html and "同事的视图" in html
    assert f"view={view.pk}" in html.split('id="breakdown-list-link"')[0]  # back to the list's view
    html = client.get(f"{kind.page}?by=owner&{refused}").content.decode()
    assert 'id="breakdown-errors"' in html and f'data-total="{len(records)}"' in html
    # A view id no saved view can have ("²" is a digit to str.isdigit, not to int): no view, no error.
    html = client.get(f"{kind.page}?by=owner&view=%C2%B2").content.decode()
    assert f'data-total="{len(records)}"' in html


@pytest.mark.parametrize(
    ("kind", "query"),
    [
        pytest.param(ACCOUNT, "tier=A&owner=me", id="account"),
        pytest.param(CONTACT, "stance=supporter&owner=me", id="contact"),
    ],
)
def test_the_list_links_to_it_with_its_filters(rep: User, kind: Kind, records: dict[str, Any], query: str) -> None:
    html = client_for(rep).get(f"/customers/{kind.spec.path}/?{query}").content.decode()
    link = re.search(r'<a href="([^"]+)" class="btn" id="breakdown-link" data-list-query>', html)
    assert link and html_lib.unescape(link.group(1)) == reverse(f"ui:{kind.spec.path}-breakdown") + f"?{query}"
    assert str(kind.spec.title) in html  # Account breakdown, Contact breakdown


@pytest.mark.parametrize(
    ("kind", "by", "words"),
    [
        pytest.param(ACCOUNT, "industry", ["客户分布", "按行业", "零售", "共 4 家"], id="account-industry"),
        pytest.param(ACCOUNT, "source", ["未填"], id="account-source"),
        pytest.param(ACCOUNT, "tier", ["未分级"], id="account-tier"),
        pytest.param(
            CONTACT,
            "decision_role",
            ["联系人分布", "按决策角色", "4 位联系人", "采购人", "决策人", "未填"],
            id="contact-decision_role",
        ),
        pytest.param(CONTACT, "email_consent", ["是", "否"], id="contact-email_consent"),
        pytest.param(CONTACT, "month", ["按新增月份", "年"], id="contact-month"),
    ],
)
def test_the_page_in_chinese(rep: User, kind: Kind, records: dict[str, Any], by: str, words: list[str]) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(rep)
    User.objects.filter(pk=rep.pk).update(language="zh-hans")
    html = client.get(f"{kind.page}?by={by}").content.decode()
    assert [word for word in words if word not in html] == []


# --- accounts only ---------------------------------------------------------------------------------------


def test_account_labels_and_the_empty_value(admin: User, book: dict[str, Account]) -> None:
    """The account's own dimensions (place, owner and team: ``test_place_owner_and_team_labels``)."""
    assert by_label(breakdown(admin, ACCOUNT, "by=tier")) == {"Tier A": 3, "No tier": 2, "Tier C": 2, "Tier B": 1}
    industry = breakdown(admin, ACCOUNT, "by=industry")["items"]
    assert [(i["value"], i["label"], i["count"], i["filters"]) for i in industry] == [
        ("retail", "Retail", 3, {"industry": "retail"}),
        (None, "(none)", 3, {"industry": "none"}),  # equal counts: the empty value last
        ("energy", "Energy and utilities", 2, {"industry": "energy"}),
    ]


def test_the_largest_values_and_the_others(admin: User, book: dict[str, Account]) -> None:
    result = record_breakdown(ACCOUNTS, admin, {}, breakdown_dimension(ACCOUNTS, admin, "tier"), top=2)
    assert [(i.label, i.count) for i in result.items] == [("Tier A", 3), ("Tier C", 2)]
    assert (result.total, result.others, result.others_values) == (8, 3, 2)  # (none) 2, Tier B 1


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


# --- contacts only ---------------------------------------------------------------------------------------


def test_contact_labels_and_the_empty_values(admin: User, people: dict[str, Contact]) -> None:
    """The contact's own dimensions (place, owner and team: ``test_place_owner_and_team_labels``)."""
    roles = breakdown(admin, CONTACT, "by=decision_role")["items"]
    assert [(i["value"], i["label"], i["count"], i["filters"]) for i in roles] == [
        ("buyer", "Buyer", 3, {"decision_role": "buyer"}),
        (None, "(none)", 3, {"decision_role": "none"}),  # 丁 己 庚, not mapped yet; equal counts: the empty value last
        ("decision_maker", "Decision maker", 1, {"decision_role": "decision_maker"}),
    ]
    assert by_label(breakdown(admin, CONTACT, "by=stance")) == {"(none)": 4, "Supporter": 2, "Opponent": 1}
    email = breakdown(admin, CONTACT, "by=email_consent")["items"]
    assert [(i["value"], i["label"], i["count"], i["filters"]) for i in email] == [
        (False, "No", 4, {"email_consent": "false"}),
        (True, "Yes", 3, {"email_consent": "true"}),
    ]
    assert by_label(breakdown(admin, CONTACT, "by=sms_consent")) == {"No": 6, "Yes": 1}
    assert by_label(breakdown(admin, CONTACT, "by=phone_consent")) == {"No": 6, "Yes": 1}


def test_the_contact_list_offers_none_for_the_mapped_fields(admin: User, people: dict[str, Contact]) -> None:
    """``decision_role=none``, the breakdown's "(none)" row, is an option of the list's own select too."""
    html = client_for(admin).get("/customers/contacts/?decision_role=none").content.decode()
    select = html.split('id="filter-decision_role"')[1].split("</select>")[0]
    assert '<option value="none" selected>(none)</option>' in select
    assert listed(admin, CONTACT, "decision_role=none") == {"丁", "己", "庚"}
    assert listed(admin, CONTACT, "stance__in=none,opponent") == {"丙", "丁", "戊", "己", "庚"}
