"""Relations between companies (企业关系, ``AccountRelation``): suppliers and their customers,
distributors, investors, partners, competitors; through ``/accounts/{id}/relations`` and the
account's page, seen when both companies may be, moved by a merge. The same code path as the
relations between people (``guanxi.customers.relations``), so these check what differs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers.models import Account, AccountRelation, Contact
from guanxi.customers.services import merge as merge_services
from guanxi.customers.services import relation_add
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def companies(rep: User, other_rep: User, make_account: Callable[..., Account]) -> dict[str, Account]:
    """The rep's 宝钢材料 (Shanghai) and 长城制造; other_rep's 远方科技 (the rep cannot see it)."""
    return {
        "steel": make_account(by=rep, name="宝钢材料", city="上海"),
        "maker": make_account(by=rep, name="长城制造", city="保定"),
        "far": make_account(by=other_rep, name="远方科技"),
    }


def items(api: Api, account: Account) -> list[tuple[str, str]]:
    response = api.get(f"accounts/{account.pk}/relations")
    assert response.status_code == 200, response.content
    return [(item["label"], item["other"]["name"]) for item in response.json()["items"]]


def test_a_supplier_reads_from_both_sides(
    companies: dict[str, Account], rep: User, api_for: Callable[[User], Api]
) -> None:
    api = api_for(rep)
    steel, maker = companies["steel"], companies["maker"]
    made = api.post(f"accounts/{steel.pk}/relations", {"other": maker.pk, "kind": "supplier", "note": "冷轧钢板"})
    assert made.status_code == 201, made.content
    assert made.json()["other"] == {"id": maker.pk, "name": "长城制造", "city": "保定"}
    relation = AccountRelation.objects.get()
    assert (relation.first_id, relation.second_id, relation.kind) == (steel.pk, maker.pk, "supplier")
    assert items(api, steel) == [("Supplies", "长城制造")] and items(api, maker) == [("Buys from", "宝钢材料")]
    # Competitors read the same from both sides, the lower id stored first.
    assert api.post(f"accounts/{maker.pk}/relations", {"other": steel.pk, "kind": "competitor"}).status_code == 201
    rival = AccountRelation.objects.get(kind="competitor")
    assert (rival.first_id, rival.second_id) == (steel.pk, maker.pk)
    assert ("Competitors", "长城制造") in items(api, steel) and ("Competitors", "宝钢材料") in items(api, maker)
    # Both timelines say so, and the change log of the company it was added on.
    entries = dict(
        TimelineEntry.objects.filter(kind="relation_added", summary__contains="Supplies").values_list(
            "object_id", "summary"
        )
    )
    assert entries == {steel.pk: "Relation added: Supplies 长城制造"}
    logged = ChangeLogEntry.objects.filter(object_id=steel.pk, changes__has_key="relations").first()
    assert logged is not None and logged.changes["relations"][1][0]["kind"] == "supplier"


@pytest.mark.parametrize(
    ("other", "kind", "field", "message"),
    [
        ("self", "partner", "other", "Choose another company: a company is not related to itself."),
        ("far", "partner", "other", "No account with id"),
        ("maker", "friend", "kind", "Use one of: supplier, distributor, investor"),
    ],
)
def test_bad_relations_are_refused_naming_the_field(
    companies: dict[str, Account],
    rep: User,
    api_for: Callable[[User], Api],
    other: str,
    kind: str,
    field: str,
    message: str,
) -> None:
    steel = companies["steel"]
    target = steel if other == "self" else companies[other]
    response = api_for(rep).post(f"accounts/{steel.pk}/relations", {"other": target.pk, "kind": kind})
    assert response.status_code == 400, response.content
    assert {e["field"]: e["detail"] for e in response.json()["errors"]}[field].startswith(message)
    assert not AccountRelation.objects.exists()


def test_a_relation_shows_only_when_both_companies_may_be_seen(
    companies: dict[str, Account], rep: User, admin: User, api_for: Callable[[User], Api]
) -> None:
    steel, maker, far = companies["steel"], companies["maker"], companies["far"]
    relation_add(model=Account, record_id=steel.pk, other_id=far.pk, kind="investor", user=admin)
    relation_add(model=Account, record_id=steel.pk, other_id=maker.pk, kind="partner", user=admin)
    rep_api = api_for(rep)
    assert items(rep_api, steel) == [("Partners", "长城制造")]
    assert sorted(items(api_for(admin), steel)) == [("Invests in", "远方科技"), ("Partners", "长城制造")]
    hidden = AccountRelation.objects.get(kind="investor")
    assert rep_api.delete(f"accounts/{steel.pk}/relations/{hidden.pk}").status_code == 404
    assert rep_api.get(f"accounts/{far.pk}/relations").status_code == 404


def test_a_merge_takes_a_companys_relations_along_and_undo_puts_them_back(
    companies: dict[str, Account], admin: User, make_account: Callable[..., Account]
) -> None:
    steel, maker, far = companies["steel"], companies["maker"], companies["far"]
    twin = make_account(name="宝钢材料有限公司")
    relation_add(model=Account, record_id=twin.pk, other_id=maker.pk, kind="supplier", user=admin)  # moves
    relation_add(model=Account, record_id=steel.pk, other_id=far.pk, kind="partner", user=admin)  # stays
    relation_add(model=Account, record_id=twin.pk, other_id=far.pk, kind="partner", user=admin)  # repeated: dropped
    relation_add(model=Account, record_id=twin.pk, other_id=steel.pk, kind="competitor", user=admin)  # itself: dropped
    before = set(AccountRelation.objects.values_list("id", "first_id", "second_id", "kind"))
    merge = merge_services.account_merge(survivor=steel.pk, others=[twin.pk], user=admin)
    after = set(AccountRelation.objects.values_list("first_id", "second_id", "kind"))
    assert after == {(steel.pk, maker.pk, "supplier"), (*sorted((steel.pk, far.pk)), "partner")}
    merge_services.merge_undo(merge_id=merge.pk, user=admin)
    assert set(AccountRelation.objects.values_list("id", "first_id", "second_id", "kind")) == before


def test_the_account_page_adds_and_removes_through_htmx(companies: dict[str, Account], rep: User) -> None:
    client = Client()
    client.force_login(rep)
    steel, maker = companies["steel"], companies["maker"]
    add = reverse("ui:accounts-relations", args=[steel.pk])
    page = client.get(reverse("ui:accounts-detail", args=[steel.pk])).content.decode()
    # The add form is fetched when 添加关系 is opened (htmx), not rendered with each view of the page.
    assert 'id="account-relations-empty"' in page and 'id="relation-form"' not in page and f'hx-get="{add}"' in page
    fragment = client.get(add, headers={"HX-Request": "true"}).content.decode()
    assert 'id="relation-form"' in fragment and 'id="id_other"' in fragment and "<html" not in fragment
    assert 'id="relation-form"' in client.get(add).content.decode()  # without JavaScript: a page of its own
    refused = client.post(add, {"other": "", "kind": "supplier", "note": "冷轧钢板"}, headers={"HX-Request": "true"})
    card = refused.content.decode()
    assert 'id="id_other_error"' in card and "Choose the other company." in card and 'value="冷轧钢板"' in card
    done = client.post(add, {"other": maker.pk, "kind": "supplier", "note": "冷轧钢板"}, headers={"HX-Request": "true"})
    card = done.content.decode()
    assert card.count("data-relation=") == 1 and "长城制造" in card and "Supplies" in card and "保定" in card
    relation = AccountRelation.objects.get()
    other_side = client.get(reverse("ui:accounts-detail", args=[maker.pk])).content.decode()
    assert "Buys from" in other_side[other_side.index('id="account-relations"') :]
    gone = client.post(
        reverse("ui:accounts-relation-remove", args=[steel.pk, relation.pk]), headers={"HX-Request": "true"}
    )
    assert 'id="account-relations-empty"' in gone.content.decode() and not AccountRelation.objects.exists()
    back = client.post(add, {"other": maker.pk, "kind": "partner"})
    assert back.status_code == 302 and back["Location"].endswith("#account-relations")


def test_the_account_page_reads_relations_in_a_fixed_number_of_queries(
    companies: dict[str, Account], rep: User, make_account: Callable[..., Account]
) -> None:
    client = Client()
    client.force_login(rep)
    steel = companies["steel"]
    url = reverse("ui:accounts-detail", args=[steel.pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    relation_add(model=Account, record_id=steel.pk, other_id=companies["maker"].pk, kind="supplier", user=rep)
    client.get(url)
    before = count()
    for i in range(5):
        other = make_account(by=rep, name=f"下游客户{i}")
        relation_add(model=Account, record_id=steel.pk, other_id=other.pk, kind="supplier", user=rep)
    assert count() == before
    page = client.get(url).content.decode()
    assert page[page.index('id="account-relations"') :].count("data-relation=") == 6


def test_the_api_lists_in_a_fixed_number_of_queries(
    companies: dict[str, Account], rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    api = api_for(rep)
    steel = companies["steel"]

    def count() -> Any:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"accounts/{steel.pk}/relations").status_code == 200
        return len(captured)

    relation_add(model=Account, record_id=steel.pk, other_id=companies["maker"].pk, kind="distributor", user=rep)
    before = count()
    for i in range(5):
        other = make_account(by=rep, name=f"经销商{i}")
        relation_add(model=Account, record_id=other.pk, other_id=steel.pk, kind="distributor", user=rep)
    assert count() == before
    assert ("Distributed by", "经销商4") in items(api, steel)


def test_the_lists_filter_the_records_related_to_one(
    companies: dict[str, Account],
    rep: User,
    admin: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Any],
    api_for: Callable[[User], Api],
) -> None:
    """``related_to=`` on both lists (API and page): the other side of each relation, those the
    reader may see, nothing for a record they may not see; the card links to that list."""
    steel, maker, far = companies["steel"], companies["maker"], companies["far"]
    buyer = make_account(by=rep, name="重庆汽配")
    relation_add(model=Account, record_id=steel.pk, other_id=maker.pk, kind="supplier", user=admin)
    relation_add(model=Account, record_id=buyer.pk, other_id=steel.pk, kind="partner", user=admin)
    relation_add(model=Account, record_id=steel.pk, other_id=far.pk, kind="competitor", user=admin)
    api = api_for(rep)

    def names(who: Api, path: str, pk: int) -> list[str]:
        response = who.get(f"{path}?related_to={pk}&ordering=id")
        assert response.status_code == 200, response.content
        return [item.get("name") or item.get("display_name") for item in response.json()["items"]]

    assert names(api, "accounts", steel.pk) == ["长城制造", "重庆汽配"]
    assert names(api_for(admin), "accounts", steel.pk) == ["长城制造", "远方科技", "重庆汽配"]
    assert names(api, "accounts", far.pk) == []  # the rep may not see it: nothing, not its relations
    assert names(api, "accounts", maker.pk) == ["宝钢材料"]
    refused = api.get("accounts?related_to=宝钢")
    assert refused.status_code == 400 and [e["field"] for e in refused.json()["errors"]] == ["related_to"]
    # People the same way.
    zhang = make_contact(by=rep, family_name="张", given_name="三")
    li = make_contact(by=rep, family_name="李", given_name="四")
    relation_add(model=Contact, record_id=zhang.pk, other_id=li.pk, kind="classmate", user=rep)
    assert names(api, "contacts", zhang.pk) == ["李四"] and names(api, "contacts", li.pk) == ["张三"]
    assert api.get("contacts?related_to=x").json()["errors"][0]["detail"] == "Use one contact id, e.g. 12."
    # The page's card links to the list, and the list page shows the same.
    client = Client()
    client.force_login(rep)
    page = client.get(reverse("ui:accounts-detail", args=[steel.pk])).content.decode()
    assert f"?related_to={steel.pk}" in page
    listed = client.get(reverse("ui:accounts-list") + f"?related_to={steel.pk}").content.decode()
    assert "长城制造" in listed and "重庆汽配" in listed and "远方科技" not in listed
