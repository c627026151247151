"""The change history words structured values as people read them, not as the stored data: a person's
emails, phones, companies and relations, a company's relations, a rule's conditions and a profile's
weights (``guanxi/customers/change_words.py``). Names of records the reader may not see are not
given, and a longer history costs no more queries."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.customers.models import Account, Contact, ContactRelation
from guanxi.customers.services import relation_add, relation_remove
from guanxi.identity.models import User
from tests.customers.conftest import Api
from tests.customers.test_pages import url
from tests.factories import client_for

pytestmark = pytest.mark.django_db


def history(page: str) -> dict[str, list[tuple[str, str]]]:
    """The history's rows: {field: [(before, after), ...]}, newest first, markup but line breaks dropped."""
    section = page[page.index('id="panel-changes"') :]
    rows: dict[str, list[tuple[str, str]]] = {}
    pattern = r'<th scope="row"[^>]*>([^<]*)</th><td[^>]*><del[^>]*>(.*?)</del></td>.*?<ins[^>]*>(.*?)</ins>'
    for field, before, after in re.findall(pattern, section, re.S):

        def text(cell: str) -> str:
            return re.sub(r"<(?!br>)[^>]+>", "", cell).strip()

        rows.setdefault(field, []).append((text(before), text(after)))
    return rows


def test_a_persons_relations_are_named_from_their_side(
    admin: User, rep: User, other_rep: User, make_contact: Callable[..., Contact]
) -> None:
    zhang = make_contact(by=rep, family_name="张", given_name="三")
    li = make_contact(by=rep, family_name="李", given_name="四")
    wang = make_contact(owner_id=other_rep.pk, family_name="王", given_name="五")
    relation_add(model=Contact, record_id=zhang.pk, other_id=li.pk, kind="referral", user=admin, note="年会上介绍")
    relation_add(model=Contact, record_id=zhang.pk, other_id=wang.pk, kind="friend", user=admin)
    rows = history(client_for(rep).get(url("contacts-detail", zhang.pk)).content.decode())["Relationships"]
    # Newest first: 王五 added (the rep may not see them: unnamed), then 李四 with the note.
    assert rows == [
        ("Referred 李四: 年会上介绍", "Referred 李四: 年会上介绍<br>Friends a record you may not see"),
        ("—", "Referred 李四: 年会上介绍"),
    ]
    admin_rows = history(client_for(admin).get(url("contacts-detail", zhang.pk)).content.decode())["Relationships"]
    assert "王五" in admin_rows[0][1] and "may not see" not in admin_rows[0][1]


def test_a_longer_history_reads_the_names_once(
    admin: User, make_contact: Callable[..., Contact], make_account: Callable[..., Account]
) -> None:
    """Each structured field's names are read in one query for the whole history, not per entry."""
    zhang = make_contact(by=admin, family_name="张", given_name="三")
    others = [make_contact(by=admin, family_name="李", given_name=f"{i}号") for i in range(6)]
    client = client_for(admin)
    relation_add(model=Contact, record_id=zhang.pk, other_id=others[0].pk, kind="friend", user=admin)
    client.get(url("contacts-detail", zhang.pk))
    with CaptureQueriesContext(connection) as one:
        client.get(url("contacts-detail", zhang.pk))
    for other in others[1:]:
        relation_add(model=Contact, record_id=zhang.pk, other_id=other.pk, kind="colleague", user=admin)
    friend = ContactRelation.objects.get(kind="friend")
    relation_remove(model=Contact, record_id=zhang.pk, relation_id=friend.pk, user=admin)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url("contacts-detail", zhang.pk)).content.decode()
    assert len(many) == len(one)
    rows = history(page)["Relationships"]
    assert len(rows) == 7 and "Colleagues 李5号" in rows[0][0] and "李0号" not in rows[0][1]


def test_a_companys_relations_and_people_read_in_words(
    admin: User, make_contact: Callable[..., Contact], make_account: Callable[..., Account]
) -> None:
    maker, buyer = make_account(name="华东精密"), make_account(name="恒信电子")
    relation_add(model=Account, record_id=maker.pk, other_id=buyer.pk, kind="supplier", user=admin)
    client = client_for(admin)
    # Kept on the company it was added on, read from its side: it supplies 恒信电子.
    rows = history(client.get(url("accounts-detail", maker.pk)).content.decode())["Related companies"]
    assert rows == [("—", "Supplies 恒信电子")]
    person = make_contact(
        by=admin,
        family_name="王",
        given_name="五",
        emails=["wang@example.com", {"value": "wang@home.example.net", "label": "personal"}],
        phones=[{"value": "021 6123 4567 转 802", "label": "work"}],
        accounts=[{"account": maker.pk, "role": "采购经理", "is_primary": True}, {"account": buyer.pk}],
    )
    created = history(client.get(url("contacts-detail", person.pk)).content.decode())
    assert created["Emails"][0][1] == "wang@example.com<br>wang@home.example.net (Personal)"
    assert created["Phones"][0][1] == "+86 21 6123 4567 ext. 802 (Work)"
    assert created["Accounts"][0][1] == "华东精密 (采购经理, primary account)<br>恒信电子"


def test_rules_and_profiles_read_their_conditions_in_words(admin_api: Api, admin: User) -> None:
    rule = admin_api.post(
        "tier-rules", {"name": "大客户", "tier": "A", "position": 10, "conditions": {"industries": ["software"]}}
    )
    assert rule.status_code == 201, rule.content
    rule_id = rule.json()["id"]
    changed = admin_api.patch(f"tier-rules/{rule_id}", {"conditions": {"min_annual_revenue": "10000000"}})
    assert changed.status_code == 200, changed.content
    page = client_for(admin).get(f"/settings/tier-rules/{rule_id}/").content.decode()
    assert history(page)["Conditions"][0] == (
        "Industry: Software and IT services",
        "Annual revenue: at least 10,000,000",
    )
    profile = admin_api.post(
        "customer-profiles",
        {
            "name": "理想客户",
            "criteria": {"industries": ["software"], "min_annual_revenue": "5000000"},
            "weights": {"industries": 40, "annual_revenue": 60},
        },
    )
    assert profile.status_code == 201, profile.content
    page = client_for(admin).get(f"/settings/customer-profiles/{profile.json()['id']}/").content.decode()
    rows = history(page)
    assert rows["Weights"] == [("—", "Industry 40; Annual revenue 60")]
    assert rows["Criteria"] == [("—", "Industry: Software and IT services; Annual revenue: at least 5,000,000")]
