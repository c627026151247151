"""Contacts through the API: names, emails and phones, account links, filters, field rules, query counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanxi.core import filters
from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint
from guanxi.identity.models import FieldRule, User
from tests.customers.conftest import Api, field_errors
from tests.factories import tag

pytestmark = pytest.mark.django_db


def test_contact_crud_with_emails_and_phones(admin_api: Api, make_account: Callable[..., Account]) -> None:
    account = make_account(name="杭州示例网络")
    created = admin_api.post(
        "contacts",
        {
            "family_name": "张",
            "given_name": "三",
            "title": "采购经理",
            "emails": ["Zhang.San@Example.com", {"value": "zs@home.example.cn", "label": "personal"}],
            "phones": [
                {"value": "138 0013 8000", "label": "mobile"},
                {"value": "0571-8888 6666 转 802", "label": "work", "is_primary": True},
            ],
            "accounts": [{"account": account.pk, "role": "采购经理"}],
            "email_consent": True,
        },
    )
    assert created.status_code == 201, created.json_body
    body = created.json_body
    assert body["display_name"] == "张三"
    assert body["emails"] == [
        {"value": "zhang.san@example.com", "label": "", "is_primary": True},
        {"value": "zs@home.example.cn", "label": "personal", "is_primary": False},
    ]
    assert body["phones"] == [
        {"value": "+865718888666" + "6", "extension": "802", "label": "work", "is_primary": True},
        {"value": "+8613800138000", "extension": "", "label": "mobile", "is_primary": False},
    ]
    assert body["accounts"] == [
        {"account": {"id": account.pk, "display": "杭州示例网络"}, "role": "采购经理", "is_primary": True}
    ]
    assert body["email_consent"] is True
    assert body["email_consent_source"] == "api" and body["email_consent_at"]
    pk = body["id"]
    assert set(ContactPoint.objects.filter(contact_id=pk).values_list("kind", "value")) == {
        ("email", "zhang.san@example.com"),
        ("email", "zs@home.example.cn"),
        ("phone", "+8657188886666"),
        ("phone", "+8613800138000"),
    }

    western = admin_api.post("contacts", {"family_name": "Smith", "given_name": "John", "phones": ["+1 415 555 2671"]})
    assert western.json_body["display_name"] == "John Smith"
    assert western.json_body["phones"][0]["value"] == "+14155552671"

    # A PATCH without the lists leaves them alone.
    renamed = admin_api.patch(f"contacts/{pk}", {"given_name": "三丰"})
    assert renamed.json_body["display_name"] == "张三丰"
    assert len(renamed.json_body["emails"]) == 2
    assert len(renamed.json_body["accounts"]) == 1


def test_bad_points_name_the_field_and_index(admin_api: Api) -> None:
    response = admin_api.post(
        "contacts",
        {"family_name": "李", "emails": ["ok@example.com", "not-an-email"], "phones": ["13800138000", "123"]},
    )
    assert response.status_code == 400
    errors = field_errors(response)
    assert errors["phones.1"] == ["“123” is not a valid phone number; use e.g. +86 138 0013 8000."]
    assert errors["emails.1"][0].startswith("“not-an-email” is not a valid email address")
    assert "phones.0" not in errors and "emails.0" not in errors
    response = admin_api.post("contacts", {"title": "CEO", "phones": [{"value": "13800138000", "label": "pager"}]})
    errors = field_errors(response)
    assert "family_name" in errors and "phones.0.label" in errors
    assert not Contact.objects.exists()


def test_change_log_shows_contact_points_as_lists(admin_api: Api, make_contact: Callable[..., Contact]) -> None:
    contact = make_contact(emails=["a@example.com"], phones=["13800138000"])
    response = admin_api.patch(
        f"contacts/{contact.pk}",
        {"emails": ["b@example.com", "a@example.com"], "phones": []},
        **{"If-Match": '"v1"'},
    )
    assert response.status_code == 200, response.json_body
    entry = ChangeLogEntry.objects.filter(object_id=contact.pk, action="update").latest("id")
    assert entry.changes["emails"] == [
        [{"value": "a@example.com", "label": "", "is_primary": True}],
        [
            {"value": "b@example.com", "label": "", "is_primary": True},
            {"value": "a@example.com", "label": "", "is_primary": False},
        ],
    ]
    assert entry.changes["phones"] == [
        [{"value": "+8613800138000", "extension": "", "label": "", "is_primary": True}],
        [],
    ]
    assert list(ContactPoint.objects.filter(contact=contact).values_list("value", "is_primary")) == [
        ("b@example.com", True),
        ("a@example.com", False),
    ]


def test_links_and_unlinks(
    admin_api: Api, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    first, second = make_account(name="甲公司"), make_account(name="乙公司")
    contact = make_contact(accounts=[{"account": first.pk, "role": "CTO"}])
    linked = admin_api.post(
        f"contacts/{contact.pk}/accounts", {"account": second.pk, "role": "顾问", "is_primary": True}
    )
    assert linked.status_code == 201
    assert linked.json_body == {"account": {"id": second.pk, "display": "乙公司"}, "role": "顾问", "is_primary": True}
    assert AccountContact.objects.get(contact=contact, account=first).is_primary is False
    at_account = admin_api.get(f"accounts/{second.pk}/contacts").json_body["items"]
    assert [(c["display_name"], c["role"]) for c in at_account] == [("张三", "顾问")]
    assert admin_api.delete(f"contacts/{contact.pk}/accounts/{first.pk}").status_code == 204
    assert admin_api.delete(f"contacts/{contact.pk}/accounts/{first.pk}").status_code == 404
    entry = ChangeLogEntry.objects.filter(object_id=contact.pk, content_type__model="contact").latest("id")
    assert entry.changes["accounts"][1] == [{"account": second.pk, "role": "顾问", "is_primary": True}]
    assert TimelineEntry.objects.filter(object_id=first.pk, kind="contact_unlinked").exists()
    assert TimelineEntry.objects.filter(object_id=contact.pk, kind="account_linked").count() == 2


def test_replacing_links_keeps_accounts_the_user_cannot_see(
    rep: User,
    other_rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    api_for: Callable[[User], Api],
) -> None:
    mine, theirs, mine_too = (
        make_account(by=rep, name="我的"),
        make_account(by=other_rep, name="别人的"),
        make_account(by=rep, name="我的2"),
    )
    contact = make_contact(by=rep, accounts=[{"account": mine.pk}])
    AccountContact.objects.create(contact=contact, account=theirs, role="董事")
    api = api_for(rep)
    shown = api.get(f"contacts/{contact.pk}").json_body
    assert [a["account"]["id"] for a in shown["accounts"]] == [mine.pk]  # the other account stays out of sight
    response = api.patch(f"contacts/{contact.pk}", {"accounts": [{"account": mine_too.pk}]})
    assert response.status_code == 200
    assert set(AccountContact.objects.filter(contact=contact).values_list("account_id", flat=True)) == {
        mine_too.pk,
        theirs.pk,
    }
    response = api.patch(f"contacts/{contact.pk}", {"accounts": [{"account": theirs.pk}]})
    assert field_errors(response) == {"accounts.0.account": [f"No account with id {theirs.pk}."]}


@pytest.mark.usefixtures("both_ways")
def test_contact_filters(
    admin_api: Api, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """An account matches through another table, read either way; an email or a phone, the first way."""
    acme, other = make_account(name="Acme"), make_account(name="Other")
    zhang = make_contact(emails=["zs@example.com"], phones=["13800138000"], accounts=[{"account": acme.pk}])
    li = make_contact(
        family_name="李",
        given_name="四",
        phones=["13912348000"],
        accounts=[{"account": acme.pk}, {"account": other.pk}],
    )
    wang = make_contact(family_name="王", given_name="五")

    def ids(query: str) -> set[int]:
        response = admin_api.get(f"contacts?{query}")
        assert response.status_code == 200, response.json_body
        return {c["id"] for c in response.json_body["items"]}

    assert ids(f"account={acme.pk}") == {zhang.pk, li.pk}
    assert ids(f"account__in={acme.pk},{other.pk}") == {zhang.pk, li.pk}  # li once, not twice
    assert ids("account__isnull=true") == {wang.pk}
    assert ids("email=ZS@Example.com") == {zhang.pk}
    assert ids("phone=138 0013 8000") == {zhang.pk}
    assert ids("phone__endswith=8000") == {zhang.pk, li.pk}
    assert ids("phone__endswith=48000") == {li.pk}
    assert ids("search=张三") == {zhang.pk}
    assert admin_api.get("contacts?phone__endswith=12").status_code == 400
    assert admin_api.get("contacts?accounts=1").status_code == 400  # not an allowed filter name

    def queries(query: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_api.get(f"contacts?{query}").status_code == 200
        return len(captured)

    # An email or a phone's last digits match few contacts whatever the data: the page is read
    # straight from their ids, with no count first, in as many queries as the plain list.
    assert queries("email=ZS@Example.com") == queries("phone__endswith=8000") == queries("limit=50")


@pytest.mark.usefixtures("both_ways")
def test_contacts_and_accounts_filtered_by_tag(
    admin_api: Api, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """Both ways of reading a tag give the same records."""
    zhang, li, wang = (make_contact(given_name=name) for name in ("三", "四", "五"))
    tag(zhang, "重点客户", "VIP")
    tag(li, "VIP")
    acme, other = make_account(name="Acme"), make_account(name="Other")
    tag(acme, "重点客户")

    def ids(path: str) -> set[int]:
        response = admin_api.get(path)
        assert response.status_code == 200, response.json_body
        return {item["id"] for item in response.json_body["items"]}

    assert ids("contacts?tag=重点客户") == {zhang.pk}
    assert ids("contacts?tag=VIP") == {zhang.pk, li.pk}
    assert ids("contacts?tag__in=重点客户,VIP") == {zhang.pk, li.pk}  # zhang once, not twice
    assert ids("contacts?tag=没有这个标签") == set()
    assert ids("accounts?tag=重点客户") == {acme.pk}  # the tag on a contact is not the account's
    assert ids("contacts?tag=VIP&ordering=display_name") == {zhang.pk, li.pk}
    response = admin_api.get("contacts?tag=")
    assert response.status_code == 400 and "tag" in field_errors(response)
    assert wang.pk and other.pk


def test_list_search_asks_the_search_index(
    admin_api: Api,
    rep: User,
    api_for: Callable[[User], Api],
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    """The list's search box finds what the global search finds: pinyin, email, phone digits, company."""
    acme = make_account(name="华强电子有限公司")
    zhang = make_contact(emails=["zs@example.com"], phones=["13800138000"], accounts=[{"account": acme.pk}])
    li = make_contact(family_name="李", given_name="四", title="采购经理", by=rep)

    def ids(api: Api, query: str) -> set[int]:
        response = api.get(f"contacts?{query}")
        assert response.status_code == 200, response.json_body
        return {c["id"] for c in response.json_body["items"]}

    assert ids(admin_api, "search=zs") == {zhang.pk}  # initials
    assert ids(admin_api, "search=zhangsan") == {zhang.pk}  # full pinyin
    assert ids(admin_api, "search=张三") == {zhang.pk}
    assert ids(admin_api, "search=zs@example.com") == {zhang.pk}
    assert ids(admin_api, "search=8000") == {zhang.pk}  # a phone's last digits
    assert ids(admin_api, "search=华强") == {zhang.pk}  # through the company
    assert ids(admin_api, "search=lisi&ordering=display_name") == {li.pk}
    assert ids(admin_api, "search=nobody") == set()
    assert ids(admin_api, "title__icontains=采购") == {li.pk}  # titles have their own filter
    assert ids(api_for(rep), "search=zs") == set()  # not the rep's contact
    assert ids(api_for(rep), "search=ls") == {li.pk}
    listed = admin_api.get("accounts?search=hq").json_body["items"]
    assert [a["id"] for a in listed] == [acme.pk]


def test_a_list_search_the_index_finds_often_also_reads_the_names(
    admin_api: Api, make_contact: Callable[..., Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``SEARCH_LIMIT`` index matches, the list (and so an export or a bulk action) gets every
    record containing the text, not only the best matches."""
    monkeypatch.setattr(filters, "SEARCH_LIMIT", 2)
    found = {make_contact(given_name=name).pk for name in ("三", "三丰", "三妹")}
    make_contact(family_name="李", given_name="四")
    response = admin_api.get("contacts?search=张三")
    assert {c["id"] for c in response.json_body["items"]} == found


def test_the_list_page_filters_by_tag(admin: User, make_contact: Callable[..., Contact]) -> None:
    zhang, li = make_contact(given_name="三"), make_contact(given_name="四")
    tag(zhang, "重点客户")
    tag(li, "普通")
    client = Client()
    client.force_login(admin)
    page = client.get("/customers/contacts/").content.decode()
    assert 'name="tag"' in page and "重点客户" in page  # a select of the tag names
    page = client.get("/customers/contacts/", {"tag": "重点客户"}).content.decode()
    assert f"/customers/contacts/{zhang.pk}/" in page and f"/customers/contacts/{li.pk}/" not in page


def test_hidden_emails_are_hidden_and_frozen(
    rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    contact = make_contact(by=rep, emails=["secret@example.com"])
    FieldRule.objects.create(role=rep.role, object_type="customers.contact", field="emails", access="hidden")
    api = api_for(rep)
    shown = api.get(f"contacts/{contact.pk}").json_body
    assert "emails" not in shown and "phones" in shown
    assert api.get("contacts?email=secret@example.com").status_code == 400
    response = api.patch(f"contacts/{contact.pk}", {"emails": ["other@example.com"]})
    assert response.status_code == 400 and "emails" in field_errors(response)


def test_rep_restrict_on_contacts(
    rep: User, other_rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    theirs = make_contact(by=other_rep)
    api = api_for(rep)
    assert api.get(f"contacts/{theirs.pk}").status_code == 404
    assert api.post(f"contacts/{theirs.pk}/accounts", {"account": 1}).status_code == 404
    assert api.get("contacts").json_body["items"] == []


@pytest.mark.parametrize("as_rep", [False, True])
def test_contact_list_query_count_does_not_grow(
    as_rep: bool,
    admin: User,
    rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    api_for: Callable[[User], Api],
) -> None:
    user = rep if as_rep else admin
    api = api_for(user)
    account = make_account(by=user)

    def count(n: int) -> int:
        for i in range(Contact.objects.count(), n):
            make_contact(
                by=user,
                given_name=f"{i}",
                emails=[f"p{i}@example.com"],
                phones=["13800138000"],
                accounts=[{"account": account.pk}],
            )
        total = 0
        for path in ("contacts?limit=200", f"accounts/{account.pk}/contacts?limit=200"):
            with CaptureQueriesContext(connection) as queries:
                response = api.get(path)
            assert len(response.json_body["items"]) == n
            assert all(c["accounts"] for c in response.json_body["items"])
            total += len(queries)
        return total

    assert count(5) == count(30)


def test_a_page_names_its_accounts_in_one_query_for_those_who_see_every_account(
    admin: User, rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    from guanxi.core.services import record_delete
    from guanxi.customers.api import contact_accounts

    mine, theirs, gone = make_account(name="甲", by=rep), make_account(name="乙"), make_account(name="丙", by=rep)
    contact = make_contact(
        by=admin,
        accounts=[{"account": mine.pk, "is_primary": True}, {"account": theirs.pk}, {"account": gone.pk}],
    )
    record_delete(model=Account, pk=gone.pk, user=admin)  # in the recycle bin: listed for nobody
    for user, names, queries in ((admin, ["甲", "乙"], 1), (rep, ["甲"], 2)):
        contact_accounts([contact], user)  # the user's role and teams are read once per request
        with CaptureQueriesContext(connection) as captured:
            links = contact_accounts([contact], user)[contact.pk]["accounts"]
        assert [link["account"]["display"] for link in links] == names, user
        assert len(captured) == queries, [q["sql"] for q in captured]


def test_yes_no_filters_take_what_the_lists_selects_send(
    admin_api: Api, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """The lists' Yes/No selects send true / false (BooleanField itself takes only True, t or 1)."""
    locked = make_account(name="手动定级客户", tier="A", tier_locked=True)
    make_account(name="规则定级客户")
    agrees = make_contact(family_name="许", given_name="可", email_consent=True)
    make_contact(family_name="未", given_name="定")
    for raw in ("true", "True", "1", "是"):
        names = [row["name"] for row in admin_api.get(f"accounts?tier_locked={raw}").json()["items"]]
        assert names == [locked.name], raw
    assert locked.name not in [r["name"] for r in admin_api.get("accounts?tier_locked=false").json()["items"]]
    rows = admin_api.get("contacts?email_consent=true").json()["items"]
    assert [row["id"] for row in rows] == [agrees.pk]
    refused = admin_api.get("accounts?tier_locked=maybe")
    assert refused.status_code == 400 and [(e["field"], e["detail"]) for e in refused.json()["errors"]] == [
        ("tier_locked", "Use true or false.")
    ]
