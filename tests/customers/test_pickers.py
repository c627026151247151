"""Record pickers: accounts are chosen by typing (name, pinyin, initials) instead of from a select of every
account, in the record forms, the contact form and the list filters; the matches go through ``restrict``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanxi.customers.models import Account, Contact
from guanxi.identity.models import Role, Team, User
from tests.customers.test_pages import client_for, url
from tests.factories import UserFactory, field_rule

pytestmark = pytest.mark.django_db


def html(response: Any) -> str:
    """The page, which must be one (a 404 or a sign-in redirect would pass "not in" checks)."""
    assert response.status_code in (200, 400), response.status_code
    return response.content.decode()


def option_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-picker-option data-id="(\d+)"', page)]


# --- the matches ---------------------------------------------------------------------------------------------


def test_picker_finds_accounts_by_pinyin_and_initials_among_those_the_user_may_see(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    mine = make_account(name="上海阿克米科技", by=rep)
    theirs = make_account(name="上海阿克米贸易", by=other_rep)
    client = client_for(rep)
    for q in ("上海", "shanghai", "shak", "akemi"):
        page = html(client.get(url("pick", "accounts", query=f"q={q}")))
        assert option_ids(page) == [mine.pk], q
        assert "上海阿克米贸易" not in page
    assert option_ids(html(client_for(other_rep).get(url("pick", "accounts", query="q=shanghai")))) == [theirs.pk]
    page = html(client.get(url("pick", "accounts", query="q=nothing-like-it")))
    assert option_ids(page) == [] and "Nothing matches “nothing-like-it”." in page


def test_picker_without_a_query_offers_the_recently_changed_records(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    from guanxi.customers import services

    first, second = make_account(name="甲公司", by=rep), make_account(name="乙公司", by=rep)
    make_account(name="丙公司", by=other_rep)
    services.account_update(user=rep, pk=first.pk, data={"website": "https://jia.example.com"})
    assert option_ids(html(client_for(rep).get(url("pick", "accounts")))) == [first.pk, second.pk]


def test_types_outside_global_search_are_found_by_name(
    rep: User, other_rep: User, make_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    import guanxi.core.search

    mine = make_account(name="宁波港务", by=rep)
    make_account(name="宁波别家", by=other_rep)
    monkeypatch.setattr(guanxi.core.search, "search_type_for", lambda model: None)
    client = client_for(rep)
    assert option_ids(html(client.get(url("pick", "accounts", query="q=宁波")))) == [mine.pk]
    assert option_ids(html(client.get(url("pick", "accounts", query="q=ningbo")))) == []


def test_picker_answers_only_for_record_types(admin: User) -> None:
    client = client_for(admin)
    assert client.get(url("pick", "teams")).status_code == 404  # few: they keep their select
    assert client.get(url("pick", "no-such-thing")).status_code == 404
    anonymous = Client().get(url("pick", "accounts"))
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]


def edit_data(user: User, account: Account) -> dict[str, Any]:
    """The account's edit form as the browser posts it back unchanged."""
    from guanxi.core.forms import record_form_class
    from guanxi.core.registry import resource_at

    form = record_form_class(resource_at("accounts"), user)(
        instance=account, user=user, resource=resource_at("accounts")
    )
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is not None and not field.disabled:
            data[name] = value
    return data


# --- the account form's parent -------------------------------------------------------------------------------


def _page_queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_account_form_offers_a_picker_not_every_account(admin: User, make_account: Callable[..., Account]) -> None:
    parent = make_account(name="集团总部")
    account = make_account(name="分公司", parent_id=parent.pk)
    client = client_for(admin)
    edit = url("accounts-edit", account.pk)
    page = html(client.get(edit))
    assert '<select name="parent"' not in page and "A record picker" not in page
    assert re.search(
        rf'data-picker-item data-id="{parent.pk}">\s*<span class="gx-picker-chip-label">集团总部</span>', page
    )
    assert f'<input type="hidden" name="parent" value="{parent.pk}">' in page

    before = _page_queries(client, edit)
    for i in range(30):
        make_account(name=f"别的客户{i}")
    assert _page_queries(client, edit) == before
    page = html(client.get(edit))
    assert "别的客户" not in page  # no option lists the other accounts


def test_parent_chosen_in_the_picker_is_checked_against_what_the_user_may_see(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    mine, parent = make_account(name="我的客户", by=rep), make_account(name="我的集团", by=rep)
    theirs = make_account(name="别人的集团", by=other_rep)
    client = client_for(rep)
    data = edit_data(rep, mine)
    response = client.post(url("accounts-edit", mine.pk), {**data, "parent": theirs.pk})
    assert response.status_code == 400 and "Select a valid choice." in html(response)
    mine.refresh_from_db()
    assert mine.parent_id is None

    assert client.post(url("accounts-edit", mine.pk), {**data, "parent": parent.pk}).status_code == 302
    mine.refresh_from_db()
    assert mine.parent_id == parent.pk
    # The emptied picker posts an empty value: the parent is removed.
    data = edit_data(rep, mine)
    assert client.post(url("accounts-edit", mine.pk), {**data, "parent": ""}).status_code == 302
    mine.refresh_from_db()
    assert mine.parent_id is None


# --- the contact form's accounts ------------------------------------------------------------------------------


def test_contact_form_links_accounts_chosen_in_the_picker(
    rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    first, second = make_account(name="一号", by=rep), make_account(name="二号", by=rep)
    theirs = make_account(name="三号", by=other_rep)
    client = client_for(rep)
    page = html(client.get(url("contacts-add", query=f"account={second.pk}")))
    assert '<select name="accounts"' not in page and 'data-gx-picker data-name="accounts" data-multiple' in page
    assert f'<input type="hidden" name="accounts" value="{second.pk}">' in page
    assert "一号" not in page

    response = client.post(
        url("contacts-add"),
        {
            "family_name": "周",
            "accounts": [str(first.pk), str(second.pk)],
            "new_accounts_role": "顾问",
            "country": "CN",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert sorted(contact.account_links.values_list("account_id", "role")) == [(first.pk, "顾问"), (second.pk, "顾问")]

    response = client.post(url("contacts-add"), {"family_name": "吴", "accounts": [str(theirs.pk)], "country": "CN"})
    assert response.status_code == 400 and f"No account with id {theirs.pk}." in html(response)
    response = client.post(url("contacts-add"), {"family_name": "吴", "accounts": ["一号"], "country": "CN"})
    assert response.status_code == 400 and "Choose records from the list." in html(response)
    assert Contact.objects.count() == 1


def test_a_readonly_accounts_field_shows_the_accounts_without_a_picker(
    rep: User, sales_role: Role, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(name="只读客户", by=rep)
    contact = make_contact(by=rep, accounts=[{"account": account.pk}])
    field_rule(sales_role, "customers.contact", "accounts", "readonly")
    page = html(client_for(rep).get(url("contacts-edit", contact.pk)))
    assert re.search(r'id="id_accounts" class="form-control-plaintext gx-picker-disabled" aria-disabled="true"', page)
    assert "只读客户" in page and 'name="accounts"' not in page


# --- list filters ---------------------------------------------------------------------------------------------


def test_account_list_filters_by_a_parent_chosen_in_a_picker(admin: User, make_account: Callable[..., Account]) -> None:
    group = make_account(name="华东集团")
    child = make_account(name="华东分公司", parent_id=group.pk)
    make_account(name="独立公司")
    client = client_for(admin)
    page = html(client.get(url("accounts-list", query=f"parent={group.pk}")))
    assert 'data-gx-picker data-name="parent"' in page and '<select name="parent"' not in page
    assert f'<input type="hidden" name="parent" value="{group.pk}">' in page
    assert f'href="{url("accounts-detail", child.pk)}"' in page
    assert "独立公司" not in page


# --- the platform's UI permission matrix -----------------------------------------------------------------------


def ui_pick_policy(c: Any) -> None:
    """``/pick/<path>/``, with the world's query and without one: never a record the principal may not see
    (ten matches at most, so only "nothing unseen" is checked, and that a query finds something seen)."""
    from tests.core.test_search_api import WORLD_QUERIES, index_world
    from tests.customers.platform_policies import ACCOUNT_VIEW, CONTACT_VIEW

    w = index_world(c.w)
    for path, kind, view in (("accounts", "account", ACCOUNT_VIEW), ("contacts", "contact", CONTACT_VIEW)):
        want = c.rows_for(view, kind)
        for query in (f"q={WORLD_QUERIES[path]}", ""):
            response = c.request(
                f"pick {path}", "GET", url("pick", path, query=query), 302 if c.who == "anonymous" else 200
            )
            if response.status_code != 200:
                continue
            got = {w.key_of(kind, pk) for pk in option_ids(response.content.decode())}
            if not got <= want:
                c.errors.append(f"pick {path}?{query}: offers {sorted(got - want)} the principal may not see")
            if want and not got:
                c.errors.append(f"pick {path}?{query}: offers nothing, though the principal sees {sorted(want)}")


def test_the_owner_is_picked_by_typing_among_the_active_people(admin: User) -> None:
    """A company's people are hundreds: no owner select lists each one in every add and edit form."""
    client = client_for(admin)
    client.get("/customers/accounts/add/")
    with CaptureQueriesContext(connection) as few:
        client.get("/customers/accounts/add/")
    User.objects.bulk_create(User(email=f"sales{i}@example.com", display_name=f"销售{i:03d}") for i in range(150))
    UserFactory(email="wang.gone@example.com", display_name="王离职", is_active=False)
    wang = UserFactory(email="wang.wu@example.com", display_name="王五")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/customers/accounts/add/").content.decode()
    assert len(many) == len(few)
    assert not re.search(r'<select[^>]*name="owner"', page) and "销售001" not in page
    assert f'<input type="hidden" name="owner" value="{admin.pk}">' in page  # proposed: the user
    found = client.get(url("pick", "users"), {"q": "王"}).content.decode()
    assert f'data-id="{wang.pk}"' in found and "王离职" not in found
    assert f'data-id="{wang.pk}"' in client.get(url("pick", "users"), {"q": "wang.wu@"}).content.decode()
    assert client.get(url("pick", "users")).content.decode().count("data-picker-option") == 10
    # What the picker posts saves, as the select's choice did.
    form = {
        "name": "王五的客户",
        "annual_revenue": "0",
        "currency": "CNY",
        "lifecycle_stage": "prospect",
        "country": "CN",
    }
    assert client.post("/customers/accounts/add/", {**form, "owner": wang.pk}).status_code == 302
    assert Account.objects.get(name="王五的客户").owner_id == wang.pk


def test_a_person_is_found_by_email_only_by_who_may_see_them(admin: User, rep: User) -> None:
    """Names are on every record (owners), emails are not: the picker matches and shows a person's
    email only to who may see them in the users list (this rep's role grants none of it)."""
    wang = UserFactory(email="wang.wu@example.com", display_name="王五")
    by_name = client_for(rep).get(url("pick", "users"), {"q": "王五"}).content.decode()
    assert f'data-id="{wang.pk}"' in by_name and "wang.wu@example.com" not in by_name
    assert "data-picker-option" not in client_for(rep).get(url("pick", "users"), {"q": "wang.wu@"}).content.decode()
    found = client_for(admin).get(url("pick", "users"), {"q": "wang.wu@"}).content.decode()
    assert f'data-id="{wang.pk}"' in found and "wang.wu@example.com" in found


def test_a_person_is_found_by_the_pinyin_of_their_name(admin: User, rep: User) -> None:
    """A colleague is picked as a customer is searched: 李伟 by "liwei", "li wei", "lw" or "wei", 司马长风
    by either reading of 长; an email typed is not read as a spelling (wang.wu@ is not 王五's name)."""
    li = UserFactory(email="l.w@example.com", display_name="李伟")
    sima = UserFactory(email="sima@example.com", display_name="司马长风")
    smith = UserFactory(email="js@example.com", display_name="John Smith")
    wang = UserFactory(email="wang.wu@example.com", display_name="王五")

    def found(q: str, who: User = rep) -> list[int]:
        return option_ids(client_for(who).get(url("pick", "users"), {"q": q}).content.decode())

    for typed in ("liwei", "Li Wei", "LW", "ｌｗ", "wei"):
        assert li.pk in found(typed), typed
    assert sima.pk in found("smcf") and sima.pk in found("smzf") and sima.pk in found("changfeng")
    assert smith.pk in found("smith") and smith.pk in found("smithj") and smith.pk in found("JS")
    assert li.pk not in found("iwei")  # a word's beginning, not anywhere inside it
    assert wang.pk in found("wangwu") and wang.pk not in found("wang.wu@")
    # Renamed, the name is spelled anew (a save with update_fields too).
    li.display_name = "黎明"
    li.save(update_fields=["display_name"])
    assert li.pk in found("liming") and li.pk not in found("liwei")


def test_the_users_list_searches_the_pinyin_of_names_too(admin: User) -> None:
    """The settings' users list and ``/api/v1/users?search=`` share the filter set: 李伟 by "lw"."""
    li = UserFactory(email="l.w@example.com", display_name="李伟")
    UserFactory(email="z.s@example.com", display_name="张三")
    response = Client()
    response.force_login(admin)
    rows = response.get("/api/v1/users", {"search": "lw"}).json()
    ids = [row["id"] for row in rows.get("results", rows.get("items", []))]
    assert ids == [li.pk]


def test_two_people_of_one_name_are_told_apart_by_their_team(rep: User, admin: User) -> None:
    """Names and teams are on every record's page; emails only where the users list shows them."""
    east, south = Team.objects.create(name="华东一组"), Team.objects.create(name="华南二组")
    UserFactory(email="wf1@example.com", display_name="王芳", team=east)
    UserFactory(email="wf2@example.com", display_name="王芳", team=south)
    details = re.findall(r'<span class="d-block text-truncate small[^>]*>([^<]*)</span>', picked(rep, "wangfang"), re.S)
    assert sorted(details) == ["华东一组", "华南二组"]
    details = re.findall(r'<span class="d-block text-truncate small[^>]*>([^<]*)</span>', picked(admin, "王芳"), re.S)
    assert sorted(details) == ["wf1@example.com · 华东一组", "wf2@example.com · 华南二组"]


def picked(user: User, q: str) -> str:
    return html(client_for(user).get(url("pick", "users"), {"q": q}))
