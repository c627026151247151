"""Relations between people (人脉关系): adding, reading and removing them through the API and the
contact's page, who sees which, the timelines and change log, merges, on both engines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers.models import Account, Contact, ContactRelation
from guanxi.customers.services import merge as merge_services
from guanxi.customers.services import relation_add
from guanxi.identity.models import User
from tests.customers.conftest import Api

pytestmark = pytest.mark.django_db


def relate(**kwargs: Any) -> Any:
    return relation_add(model=Contact, **kwargs)


@pytest.fixture
def people(rep: User, other_rep: User, make_contact: Callable[..., Contact]) -> dict[str, Contact]:
    """The rep's 张三 and 李四; other_rep's 王五 (the rep cannot see them)."""
    return {
        "zhang": make_contact(by=rep, family_name="张", given_name="三"),
        "li": make_contact(by=rep, family_name="李", given_name="四"),
        "wang": make_contact(owner_id=other_rep.pk, family_name="王", given_name="五"),
    }


def items(api: Api, contact: Contact) -> list[tuple[str, str]]:
    response = api.get(f"contacts/{contact.pk}/relations")
    assert response.status_code == 200, response.content
    return [(item["label"], item["other"]["name"]) for item in response.json()["items"]]


def errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    return {e["field"]: e["detail"] for e in response.json()["errors"]}


def test_a_relation_reads_from_both_sides(
    people: dict[str, Contact], rep: User, api_for: Callable[[User], Api]
) -> None:
    api = api_for(rep)
    zhang, li = people["zhang"], people["li"]
    made = api.post(f"contacts/{li.pk}/relations", {"other": zhang.pk, "kind": "classmate", "note": "  复旦  同学 "})
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["other"] == {"id": zhang.pk, "name": "张三", "company": ""} and body["note"] == "复旦 同学"
    # Stored once, the lower id first, whichever page it was added on.
    relation = ContactRelation.objects.get()
    assert (relation.first_id, relation.second_id) == (zhang.pk, li.pk)
    assert items(api, zhang) == [("Classmates or alumni", "李四")] and items(api, li) == [
        ("Classmates or alumni", "张三")
    ]
    # The same pair and kind again, from the other side: refused, naming the field.
    again = api.post(f"contacts/{zhang.pk}/relations", {"other": li.pk, "kind": "classmate"})
    assert errors(again) == {"other": "These two are already related this way."}
    # A referral has a direction: 张三 referred 李四.
    assert api.post(f"contacts/{zhang.pk}/relations", {"other": li.pk, "kind": "referral"}).status_code == 201
    assert ("Referred", "李四") in items(api, zhang) and ("Referred by", "张三") in items(api, li)
    # ... and 李四 may refer 张三 in turn: another relation.
    assert api.post(f"contacts/{li.pk}/relations", {"other": zhang.pk, "kind": "referral"}).status_code == 201
    assert ContactRelation.objects.count() == 3


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"other": "self", "kind": "friend"}, "other", "Choose someone else: a person is not related to themselves."),
        ({"other": "wang", "kind": "friend"}, "other", "No contact with id"),
        ({"other": "li", "kind": "enemy"}, "kind", "Use one of: colleague, former_colleague, classmate"),
        ({"other": "li", "kind": "friend", "note": "长" * 201}, "note", "Use at most 200 characters."),
    ],
)
def test_bad_relations_are_refused_naming_the_field(
    people: dict[str, Contact],
    rep: User,
    api_for: Callable[[User], Api],
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    zhang = people["zhang"]
    other = zhang if body["other"] == "self" else people[body["other"]]
    response = api_for(rep).post(f"contacts/{zhang.pk}/relations", {**body, "other": other.pk})
    assert errors(response)[field].startswith(message)
    assert not ContactRelation.objects.exists() and not TimelineEntry.objects.filter(kind="relation_added").exists()


def test_a_relation_shows_only_when_both_people_may_be_seen(
    people: dict[str, Contact], rep: User, admin: User, api_for: Callable[[User], Api]
) -> None:
    zhang, li, wang = people["zhang"], people["li"], people["wang"]
    relate(record_id=zhang.pk, other_id=wang.pk, kind="friend", user=admin)
    relate(record_id=zhang.pk, other_id=li.pk, kind="colleague", user=admin)
    rep_api = api_for(rep)
    assert items(rep_api, zhang) == [("Colleagues", "李四")]
    assert sorted(items(api_for(admin), zhang)) == [("Colleagues", "李四"), ("Friends", "王五")]
    assert rep_api.get(f"contacts/{wang.pk}/relations").status_code == 404
    # Not removable by the rep either: they do not see it.
    hidden = ContactRelation.objects.get(kind="friend")
    assert rep_api.delete(f"contacts/{zhang.pk}/relations/{hidden.pk}").status_code == 404
    # Nor through another person's id.
    mine = ContactRelation.objects.get(kind="colleague")
    assert rep_api.delete(f"contacts/{wang.pk}/relations/{mine.pk}").status_code == 404
    assert ContactRelation.objects.count() == 2


def test_adding_and_removing_are_on_both_timelines_and_in_the_change_log(
    people: dict[str, Contact], rep: User, api_for: Callable[[User], Api]
) -> None:
    api = api_for(rep)
    zhang, li = people["zhang"], people["li"]
    made = api.post(f"contacts/{zhang.pk}/relations", {"other": li.pk, "kind": "referral"}).json()
    entries = dict(TimelineEntry.objects.filter(kind="relation_added").values_list("object_id", "summary"))
    assert entries == {zhang.pk: "Relation added: Referred 李四", li.pk: "Relation added: Referred by 张三"}
    assert api.delete(f"contacts/{zhang.pk}/relations/{made['id']}").status_code == 204
    removed = dict(TimelineEntry.objects.filter(kind="relation_removed").values_list("object_id", "summary"))
    assert removed == {zhang.pk: "Relation removed: Referred 李四", li.pk: "Relation removed: Referred by 张三"}
    logged = ChangeLogEntry.objects.filter(object_id=zhang.pk, changes__has_key="relations").order_by("id")
    row = {"first": zhang.pk, "second": li.pk, "kind": "referral", "note": ""}
    assert [entry.changes["relations"] for entry in logged] == [[[], [row]], [[row], []]]


def test_a_merge_takes_the_relations_along_and_undo_puts_them_back(
    people: dict[str, Contact], admin: User, make_contact: Callable[..., Contact]
) -> None:
    zhang, li, wang = people["zhang"], people["li"], people["wang"]
    twin = make_contact(family_name="张", given_name="三")
    relate(record_id=twin.pk, other_id=li.pk, kind="friend", user=admin)  # moves to 张三
    relate(record_id=zhang.pk, other_id=wang.pk, kind="colleague", user=admin)  # stays
    relate(record_id=twin.pk, other_id=wang.pk, kind="colleague", user=admin)  # 张三 has it: dropped
    relate(record_id=twin.pk, other_id=zhang.pk, kind="family", user=admin)  # would be with himself: dropped
    before = set(ContactRelation.objects.values_list("id", "first_id", "second_id", "kind"))
    merge = merge_services.contact_merge(survivor=zhang.pk, others=[twin.pk], user=admin)
    after = set(ContactRelation.objects.values_list("first_id", "second_id", "kind"))
    assert after == {(*sorted((zhang.pk, li.pk)), "friend"), (*sorted((zhang.pk, wang.pk)), "colleague")}
    merge_services.merge_undo(merge_id=merge.pk, user=admin)
    assert set(ContactRelation.objects.values_list("id", "first_id", "second_id", "kind")) == before


def test_the_contact_page_adds_and_removes_through_htmx(people: dict[str, Contact], rep: User) -> None:
    client = Client()
    client.force_login(rep)
    zhang, li = people["zhang"], people["li"]
    add = reverse("ui:contacts-relations", args=[zhang.pk])
    page = client.get(reverse("ui:contacts-detail", args=[zhang.pk])).content.decode()
    # The add form is fetched when 添加关系 is opened (htmx), not rendered with each view of the page.
    assert 'id="contact-relations-empty"' in page and 'id="relation-form"' not in page and f'hx-get="{add}"' in page
    fragment = client.get(add, headers={"HX-Request": "true"}).content.decode()
    assert 'id="relation-form"' in fragment and 'id="id_other"' in fragment and "<html" not in fragment
    assert 'id="relation-form"' in client.get(add).content.decode()  # without JavaScript: a page of its own
    # A mistake: the card comes back with the message at the field and the note as typed.
    refused = client.post(add, {"other": "", "kind": "friend", "note": "高尔夫球友"}, headers={"HX-Request": "true"})
    card = refused.content.decode()
    assert refused.status_code == 200 and 'id="id_other_error"' in card and "Choose the other person." in card
    assert 'value="高尔夫球友"' in card
    done = client.post(add, {"other": li.pk, "kind": "friend", "note": "高尔夫球友"}, headers={"HX-Request": "true"})
    card = done.content.decode()
    assert card.count("data-relation=") == 1 and "李四" in card and "高尔夫球友" in card and "is-invalid" not in card
    relation = ContactRelation.objects.get()
    remove = reverse("ui:contacts-relation-remove", args=[zhang.pk, relation.pk])
    gone = client.post(remove, headers={"HX-Request": "true"}).content.decode()
    assert 'id="contact-relations-empty"' in gone and not ContactRelation.objects.exists()
    # Without htmx (a plain form): back to the page, the message said there.
    back = client.post(add, {"other": li.pk, "kind": "colleague"})
    assert back.status_code == 302 and back["Location"].endswith("#contact-relations")


def test_the_contact_page_reads_relations_in_a_fixed_number_of_queries(
    people: dict[str, Contact], rep: User, make_contact: Callable[..., Contact], admin: User
) -> None:
    client = Client()
    client.force_login(rep)
    zhang = people["zhang"]
    url = reverse("ui:contacts-detail", args=[zhang.pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    relate(record_id=zhang.pk, other_id=people["li"].pk, kind="friend", user=rep)
    client.get(url)
    before = count()
    for i in range(5):
        other = make_contact(by=rep, family_name="赵", given_name=f"{i}")
        relate(record_id=zhang.pk, other_id=other.pk, kind="classmate", user=rep)
    assert count() == before
    assert client.get(url).content.decode().count("data-relation=") == 6


def test_an_account_lists_whom_its_people_know_elsewhere(
    people: dict[str, Contact],
    rep: User,
    admin: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    api_for: Callable[[User], Api],
) -> None:
    here = make_account(by=rep, name="恒信电子")
    there = make_account(by=rep, name="华东精密")
    ours = make_contact(by=rep, family_name="上官", given_name="婉清", accounts=[{"account": here.pk}])
    colleague = make_contact(by=rep, family_name="欧阳", given_name="小雨", accounts=[{"account": here.pk}])
    theirs = make_contact(by=rep, family_name="司马", given_name="长风", accounts=[{"account": there.pk}])
    relate(record_id=theirs.pk, other_id=ours.pk, kind="referral", note="介绍入场", user=rep)
    relate(record_id=ours.pk, other_id=colleague.pk, kind="colleague", user=rep)  # both here: not listed
    relate(record_id=colleague.pk, other_id=people["wang"].pk, kind="friend", user=admin)  # hidden from rep
    api = api_for(rep)
    body = api.get(f"accounts/{here.pk}/network").json()
    assert [(i["ours"]["name"], i["label"], i["theirs"]["name"], i["theirs"]["company"]) for i in body["items"]] == [
        ("上官婉清", "Referred by", "司马长风", "华东精密")
    ]
    assert [i["theirs"]["name"] for i in api_for(admin).get(f"accounts/{here.pk}/network").json()["items"]] == [
        "王五",
        "司马长风",
    ]
    # The other side reads it the other way round.
    assert [(i["ours"]["name"], i["label"]) for i in api.get(f"accounts/{there.pk}/network").json()["items"]] == [
        ("司马长风", "Referred")
    ]
    client = Client()
    client.force_login(rep)
    page = client.get(reverse("ui:accounts-detail", args=[here.pk])).content.decode()
    card = page[page.index('id="account-network"') :]
    assert card.count("data-relation=") == 1 and "司马长风" in card and "介绍入场" in card
    # No card where nobody knows anyone elsewhere.
    alone = make_account(by=rep, name="独立公司")
    assert 'id="account-network"' not in client.get(reverse("ui:accounts-detail", args=[alone.pk])).content.decode()


def test_an_accounts_network_costs_the_same_however_many_people(
    rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    here = make_account(by=rep, name="恒信电子")
    there = make_account(by=rep, name="华东精密")
    client = Client()
    client.force_login(rep)
    url = reverse("ui:accounts-detail", args=[here.pk])

    def pair(i: int) -> None:
        ours = make_contact(by=rep, family_name="内", given_name=f"{i}", accounts=[{"account": here.pk}])
        theirs = make_contact(by=rep, family_name="外", given_name=f"{i}", accounts=[{"account": there.pk}])
        relate(record_id=ours.pk, other_id=theirs.pk, kind="former_colleague", user=rep)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    pair(0)
    client.get(url)
    before = count()
    for i in range(1, 6):
        pair(i)
    assert count() == before
