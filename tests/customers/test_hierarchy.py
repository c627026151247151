"""Account groups (集团): the accounts above an account, its subsidiaries, the roll-ups of what it heads,
and the ``group=`` filter of the account and contact lists, on both engines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core import filters
from guanxi.core import services as core_services
from guanxi.customers import hierarchy
from guanxi.customers.models import Account, AccountContact, Contact
from guanxi.identity.models import User
from tests.customers.conftest import Api
from tests.factories import field_rule

pytestmark = pytest.mark.django_db


@dataclass
class Group:
    top: Account
    east: Account  # below top
    east_factory: Account  # below east
    south: Account  # below top
    binned: Account  # below top, in the recycle bin
    alone: Account  # in no group


@pytest.fixture
def group(rep: User, admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]) -> Group:
    """top (¥100) → east (¥50) → east_factory ($10, the admin's); top → south (no revenue);
    top → binned (¥1,000, in the recycle bin). Contacts: 1 at east, 1 at both east_factory and south
    (counted once), 1 at the binned one, 1 at ``alone``; the rep owns all but east_factory."""
    cny, usd = {"currency": "CNY"}, {"currency": "USD"}
    top = make_account(by=rep, name="华夏集团", annual_revenue=Decimal(100), **cny)
    east = make_account(by=rep, name="华夏华东", annual_revenue=Decimal(50), **cny, parent_id=top.pk, tier="A")
    east_factory = make_account(by=admin, name="华夏苏州工厂", annual_revenue=Decimal(10), **usd, parent_id=east.pk)
    south = make_account(by=rep, name="华夏华南", parent_id=top.pk, region="华南")
    binned = make_account(by=rep, name="华夏旧公司", annual_revenue=Decimal(1000), **cny, parent_id=top.pk)
    alone = make_account(by=rep, name="独立公司", annual_revenue=Decimal(7), **cny)
    make_contact(by=rep, family_name="东", given_name="一", accounts=[{"account": east.pk}])
    make_contact(
        by=admin,
        owner_id=rep.pk,
        family_name="两",
        given_name="处",
        accounts=[{"account": east_factory.pk}, {"account": south.pk}],
    )
    make_contact(by=rep, family_name="旧", given_name="人", accounts=[{"account": binned.pk}])
    make_contact(by=rep, family_name="独", given_name="立", accounts=[{"account": alone.pk}])
    core_services.record_delete(model=Account, pk=binned.pk, user=rep)
    return Group(top, east, east_factory, south, binned, alone)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(item.get("name") or item["display_name"] for item in response.json()["items"])


# --- roll-ups and the place in the group -----------------------------------------------------------------


def test_rollups_cover_the_account_and_every_account_below_it(group: Group, admin_api: Api) -> None:
    response = admin_api.get(f"accounts/{group.top.pk}/hierarchy")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": group.top.pk,
        "ancestors": [],
        "subsidiaries": 2,  # east and south; the binned one is not counted
        "rollups": {
            "accounts": 4,
            "contacts": 2,  # the contact at two subsidiaries once; the binned account's not at all
            "annual_revenue": [{"currency": "CNY", "total": "150.00"}, {"currency": "USD", "total": "10.00"}],
        },
        "at_least": [],
    }
    below = admin_api.get(f"accounts/{group.east_factory.pk}/hierarchy").json()
    assert below["ancestors"] == [{"id": group.top.pk, "name": "华夏集团"}, {"id": group.east.pk, "name": "华夏华东"}]
    assert below["subsidiaries"] == 0
    assert below["rollups"]["accounts"] == 1


def test_a_rep_sees_the_group_only_as_far_as_they_may_see_it(
    group: Group, rep: User, admin: User, make_account: Callable[..., Account]
) -> None:
    api = Api(rep)
    top = api.get(f"accounts/{group.top.pk}/hierarchy").json()
    # The admin's factory is left out of every figure, its dollars too.
    assert top["rollups"] == {
        "accounts": 3,
        "contacts": 2,
        "annual_revenue": [{"currency": "CNY", "total": "150.00"}],
    }
    assert api.get(f"accounts/{group.east_factory.pk}/hierarchy").status_code == 404
    # An account the rep may see below one they may not: the hidden one is not named.
    under_hidden = make_account(by=admin, owner_id=rep.pk, name="华夏苏州分部", parent_id=group.east_factory.pk)
    ancestors = api.get(f"accounts/{under_hidden.pk}/hierarchy").json()["ancestors"]
    assert ancestors == [{"id": group.top.pk, "name": "华夏集团"}, {"id": group.east.pk, "name": "华夏华东"}]
    field_rule(rep.role, "customers.account", "annual_revenue", "hidden")
    assert "annual_revenue" not in api.get(f"accounts/{group.top.pk}/hierarchy").json()["rollups"]


@pytest.mark.usefixtures("both_ways")
def test_the_group_filter_lists_what_the_rollups_count(group: Group, admin_api: Api, rep: User) -> None:
    assert names(admin_api.get(f"accounts?group={group.top.pk}")) == [
        "华夏华东",
        "华夏华南",
        "华夏苏州工厂",
        "华夏集团",
    ]
    assert names(admin_api.get(f"accounts?group={group.east.pk}")) == ["华夏华东", "华夏苏州工厂"]
    assert names(admin_api.get(f"contacts?group={group.top.pk}")) == ["东一", "两处"]
    assert names(admin_api.get(f"contacts?group={group.east_factory.pk}")) == ["两处"]
    rep_api = Api(rep)
    assert names(rep_api.get(f"accounts?group={group.top.pk}")) == ["华夏华东", "华夏华南", "华夏集团"]
    # Through the accounts the rep may see: the contact at the admin's factory counts by the south.
    assert names(rep_api.get(f"contacts?group={group.east.pk}")) == ["东一"]
    bad = admin_api.get("accounts?group=华夏")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"field": "group", "detail": "Use one account id, e.g. 12."}]


def test_counts_of_a_large_group_stop_at_the_limit(group: Group, admin: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hierarchy, "COUNT_LIMIT", 2)
    response = Api(admin).get(f"accounts/{group.top.pk}/hierarchy").json()
    assert response["rollups"]["accounts"] == 2 and response["rollups"]["contacts"] == 2
    assert response["at_least"] == ["accounts"]  # 4 accounts; the 2 contacts are not past the limit
    client = Client()
    client.force_login(admin)
    assert f'?group={group.top.pk}">2+</a>' in page(client, group.top)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's count of its own steps")
def test_a_group_filter_checked_row_by_row_reads_each_contacts_own_links(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contact by contact, the filter must not probe the link index once per account of the group."""
    from tests.customers.test_page_speed import STEP, vm_steps

    monkeypatch.setattr(filters, "FEW", 1)  # the second way, whatever the size
    top = Account.objects.create(name="大集团", owner=admin, created_by=admin)
    api = Api(admin)

    def steps() -> int:
        api.get(f"contacts?group={top.pk}")
        with vm_steps() as counted:
            assert api.get(f"contacts?group={top.pk}").status_code == 200
        return counted[0] * STEP

    def grow(count: int) -> None:
        made = Account.objects.bulk_create(
            Account(name=f"子公司 {i}", parent=top, owner=admin, created_by=admin) for i in range(count)
        )
        people = Contact.objects.bulk_create(
            Contact(family_name="员", given_name=f"工{i}", display_name=f"员工{i}", owner=admin, created_by=admin)
            for i in range(count)
        )
        AccountContact.objects.bulk_create(
            AccountContact(account=a, contact=c) for a, c in zip(made, people, strict=True)
        )

    grow(60)
    before = steps()
    grow(600)
    after = steps()
    # Each account more in the group is found once (the walk down the group, a look-up): about 70
    # steps here. Probed once for every contact read down the list, it cost about 320.
    assert (after - before) / 600 < 200, (before, after)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's count of its own steps")
def test_subsidiaries_are_read_by_their_parent_whatever_the_statistics_say(admin: User) -> None:
    """Most accounts have no parent, so planner statistics say a parent matches a whole table: with
    a parent index alone SQLite walked every account in name order instead (230 ms at 200,000)."""
    from tests.customers.test_page_speed import STEP, vm_steps

    top = Account.objects.create(name="母公司", owner=admin, created_by=admin)
    Account.objects.bulk_create(Account(name=f"公司 {i:04d}", owner=admin, created_by=admin) for i in range(3000))
    Account.objects.create(name="子公司", parent=top, owner=admin, created_by=admin)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with vm_steps() as counted:
        assert [a.name for a in hierarchy.subsidiaries(top, admin, 51)] == ["子公司"]
    assert counted[0] * STEP < 1000, counted[0] * STEP


def test_a_loop_in_the_data_ends_the_walk(group: Group, admin_api: Api) -> None:
    """Writes refuse loops; one written behind the services' back must not hang a page."""
    Account.all_objects.filter(pk=group.top.pk).update(parent=group.east_factory.pk)
    response = admin_api.get(f"accounts/{group.east.pk}/hierarchy")
    assert response.status_code == 200
    assert response.json()["rollups"]["accounts"] == 4
    assert len(response.json()["ancestors"]) <= 21
    assert names(admin_api.get(f"accounts?group={group.top.pk}")) == [
        "华夏华东",
        "华夏华南",
        "华夏苏州工厂",
        "华夏集团",
    ]


# --- the account page --------------------------------------------------------------------------------------


def page(client: Client, account: Account) -> str:
    response = client.get(reverse("ui:accounts-detail", args=[account.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_account_page_shows_the_group(group: Group, rep: User) -> None:
    client = Client()
    client.force_login(rep)
    top = page(client, group.top)
    assert 'id="account-group"' in top and 'id="account-group-path"' not in top
    assert top.count("data-account=") == 2 and "华夏华东" in top and "华夏华南" in top and "华夏旧公司" not in top
    accounts_list = reverse("ui:accounts-list")
    assert f'<a href="{accounts_list}?group={group.top.pk}">3</a>' in top
    assert f'<a href="{reverse("ui:contacts-list")}?group={group.top.pk}">2</a>' in top
    assert "CNY 150.00" in top and "USD" not in top
    assert "CNY 1,000" not in top  # the binned account's revenue

    east = page(client, group.east)
    assert (
        f'<li class="breadcrumb-item"><a href="{reverse("ui:accounts-detail", args=[group.top.pk])}">华夏集团</a>'
        in east
    )
    # The admin's factory is not the rep's to see: no subsidiary, so no roll-up either.
    assert "华夏苏州工厂" not in east and "data-rollup" not in east

    assert 'id="account-group"' not in page(client, group.alone)
    Account.objects.filter(pk=group.east.pk).update(annual_revenue=Decimal(1_234_567))
    assert "CNY 1,234,667.00" in page(client, group.top)  # grouped by thousands


def test_the_account_page_does_not_query_per_subsidiary(
    rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    top = make_account(by=rep, name="计数集团")
    middle = make_account(by=rep, name="计数中层", parent_id=top.pk)
    make_account(by=rep, name="计数子公司 0", parent_id=top.pk)
    client = Client()
    client.force_login(rep)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(client, middle)
        return len(captured)

    make_account(by=rep, name="计数孙公司 0", parent_id=middle.pk)
    make_contact(by=rep, given_name="0", accounts=[{"account": middle.pk}])
    page(client, middle)  # caches filled once (content types, the role's rules)
    before = count()
    for i in range(1, 6):
        below = make_account(by=rep, name=f"计数孙公司 {i}", parent_id=middle.pk)
        make_account(by=rep, name=f"计数曾孙公司 {i}", parent_id=below.pk)
        make_contact(by=rep, given_name=f"{i}", accounts=[{"account": below.pk}])
    assert count() == before
    assert page(client, middle).count("data-account=") == 6


def test_the_lists_pick_a_group_and_contacts_an_account(group: Group, admin: User) -> None:
    client = Client()
    client.force_login(admin)
    accounts = client.get(reverse("ui:accounts-list"), {"group": group.east.pk}).content.decode()
    assert 'id="filter-group"' in accounts and "华夏苏州工厂" in accounts and "华夏华南" not in accounts
    contacts = client.get(reverse("ui:contacts-list"), {"account": group.alone.pk}).content.decode()
    assert 'id="filter-account"' in contacts and 'id="filter-group"' in contacts
    assert "独立" in contacts and "东一" not in contacts


def test_links_survive_only_through_live_accounts(group: Group) -> None:
    """The binned account keeps its place: restored, it is counted again with its contact."""
    assert AccountContact.objects.filter(account=group.binned).count() == 1
    admin = User.objects.filter(is_superuser=True).first()
    core_services.record_restore(model=Account, pk=group.binned.pk, user=admin)
    rollups = Api(admin).get(f"accounts/{group.top.pk}/hierarchy").json()["rollups"]
    assert rollups["accounts"] == 5 and rollups["contacts"] == 3
