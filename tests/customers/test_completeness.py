"""资料完整度 (``guanxi.customers.completeness``): the share of a customer's key items filled in, on the
account's and the contact's page, with each missing item a link to its field; fields a role hides
are counted on neither side; a complete record shows nothing; the pages read no more queries."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.customers.completeness import ACCOUNT_ITEMS, CONTACT_ITEMS, completeness
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import User
from tests.factories import client_for, field_rule

pytestmark = pytest.mark.django_db

FULL_ACCOUNT = {
    "industry": "manufacturing",
    "size": "large",
    "annual_revenue": 280000000,
    "registration_number": "91330100U83A39B1RX",
    "website": "https://pujiang.example.com",
    "province": "上海市",
    "street": "春东路 508 号",
    "source": "trade_show",
}


def missing(html: str) -> list[str]:
    return re.findall(r'data-missing="([a-z_]+)"', html)


def test_counts_the_key_items_filled_in(make_account: Callable[..., Account]) -> None:
    bare = make_account(name="上海空白科技有限公司", province="")
    found = completeness(bare, set(), contacts=[])
    assert found is not None and found.percent == 0
    assert [key for key, _label, _field in found.missing] == [item.key for item in ACCOUNT_ITEMS]
    half = make_account(
        name="上海一半科技有限公司",
        industry="manufacturing",
        size="large",
        website="https://a.example.com",
        province="上海市",
    )
    found = completeness(half, set(), contacts=[])
    assert found is not None and found.percent == round(100 * 4 / 9)
    assert ("industry", "website") not in {(key, key) for key, _l, _f in found.missing}
    # A company abroad is placed by its country, as 客户分布 places it.
    abroad = make_account(name="Acme Inc.", country="US", province="")
    placed = completeness(abroad, set(), contacts=[])
    assert placed is not None and "province" not in [key for key, _l, _f in placed.missing]


def test_a_hidden_field_counts_on_neither_side(make_contact: Callable[..., Contact]) -> None:
    person = make_contact(family_name="王", given_name="芳", phones=["13800138000"])
    shown = completeness(person, set(), accounts=[])
    hidden = completeness(person, {"birthday", "phones"}, accounts=[])
    assert shown is not None and hidden is not None
    assert [key for key, _l, _f in hidden.missing] == [
        key for key, _l, _f in shown.missing if key != "birthday"
    ]  # the phone was filled in, the birthday not: neither is counted now
    assert hidden.percent == 0 and shown.percent == round(100 / len(CONTACT_ITEMS))
    everything = {name for item in CONTACT_ITEMS for name in item.fields}
    assert completeness(person, everything, accounts=[]) is None


def test_the_pages_link_each_missing_item_to_its_field(
    rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(by=rep, name="宁波甬江模具有限公司", **{**FULL_ACCOUNT, "website": ""})
    client = client_for(rep)
    html = client.get(reverse("ui:accounts-detail", args=[account.pk])).content.decode()
    # No contact yet, no website: both missing, the contact a link to add one there.
    assert missing(html) == ["website", "contacts"]
    assert 'id="completeness" data-percent="78"' in html
    edit = reverse("ui:accounts-edit", args=[account.pk])
    assert f'href="{edit}#id_website" data-missing="website"' in html
    assert f'?account={account.pk}" data-missing="contacts"' in html
    # The edit form has the field the link points at.
    assert 'id="id_website"' in client.get(edit).content.decode()

    person = make_contact(
        by=rep,
        family_name="刘",
        given_name="鹏飞",
        title="总经理",
        department="总经办",
        province="浙江省",
        emails=["liu@example.com"],
        phones=["13945000373"],
        accounts=[{"account": account.pk, "role": "总经理"}],
    )
    html = client.get(reverse("ui:contacts-detail", args=[person.pk])).content.decode()
    assert missing(html) == ["wechat_id", "birthday"] and 'data-percent="75"' in html
    contact_edit = client.get(reverse("ui:contacts-edit", args=[person.pk])).content.decode()
    assert 'id="id_wechat_id"' in contact_edit and 'id="id_birthday"' in contact_edit
    html = client.get(reverse("ui:accounts-detail", args=[account.pk])).content.decode()
    assert missing(html) == ["website"]  # someone to talk to there now

    # Complete: the card is gone. A role that hides the birthday is not asked for it.
    field_rule(rep.role, "customers.contact", "birthday", "hidden")
    Contact.objects.filter(pk=person.pk).update(wechat_id="liupf")
    html = client_for(User.objects.get(pk=rep.pk)).get(reverse("ui:contacts-detail", args=[person.pk])).content.decode()
    assert 'id="completeness"' not in html


def test_the_pages_read_no_more_queries_for_it(
    admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(name="苏州浦江精密零部件有限公司")
    client = client_for(admin)
    url = reverse("ui:accounts-detail", args=[account.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for i in range(5):
        make_contact(given_name=f"工{i}", accounts=[{"account": account.pk, "role": "采购"}])
    client.get(url)
    with CaptureQueriesContext(connection) as after:
        html = client.get(url).content.decode()
    assert "contacts" not in missing(html) and len(after) <= len(before) + 2  # the contacts card's own reads
