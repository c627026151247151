"""The customer pages: the contact form with emails, phones and account links, the panels that connect
contacts and accounts, field rules on those inputs, and query counts that do not grow with the data."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core.registry import resource_at
from guanxi.customers.forms import contact_form_class, phone_text
from guanxi.customers.models import Account, AccountContact, Contact
from guanxi.identity.models import Role, User
from tests.factories import client_for, field_rule

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any, query: str = "") -> str:
    return reverse(f"ui:{name}", args=args) + (f"?{query}" if query else "")


def html(response: Any) -> str:
    return response.content.decode()


def form_data(contact: Contact, **changes: Any) -> dict[str, Any]:
    """The edit form of ``contact`` as the browser sends it back (links as the rep sees them), plus changes."""
    contact.refresh_from_db()
    data: dict[str, Any] = {
        "family_name": contact.family_name,
        "given_name": contact.given_name,
        "title": contact.title,
        "department": contact.department,
        "country": contact.country,
        "owner": contact.owner_id or "",
        "team": contact.team_id or "",
        "version": contact.version,
        "tags": "",
        "emails": "\n".join(p["value"] for p in contact.emails),
        "phones": "\n".join(phone_text(p) for p in contact.phones),
        "accounts": [str(link.account_id) for link in contact.account_links.all()],
        "new_accounts_role": "",
    }
    for link in contact.account_links.all():
        data[f"role_{link.account_id}"] = link.role
    data.update(changes)
    return data


@pytest.fixture
def rep_client(rep: User) -> Client:
    return client_for(rep)


# --- adding and editing -------------------------------------------------------------------------------------


def test_add_contact_with_emails_phones_and_accounts(
    rep: User, other_rep: User, rep_client: Client, make_account: Callable[..., Account]
) -> None:
    mine = make_account(name="杭州示例网络", by=rep)
    theirs = make_account(name="广州别人的客户", by=other_rep)
    page = html(rep_client.get(url("contacts-add", query=f"account={mine.pk}")))
    assert 'name="emails"' in page and 'name="phones"' in page and 'name="new_accounts_role"' in page
    assert f'<input type="hidden" name="accounts" value="{mine.pk}">' in page and "杭州示例网络" in page
    assert "广州别人的客户" not in page  # only accounts the rep may see are offered

    response = rep_client.post(
        url("contacts-add"),
        {
            "family_name": "张",
            "given_name": "三",
            "country": "CN",
            "emails": " Zhang.San@Example.com \n\nzs@home.example.net",
            "phones": "138 0013 8000\n021-6123 4567 ext. 802",
            "accounts": [str(mine.pk)],
            "new_accounts_role": "采购经理",
        },
    )
    contact = Contact.objects.get()
    assert response.status_code == 302 and response["Location"] == url("contacts-detail", contact.pk)
    assert [(p["value"], p["is_primary"]) for p in contact.emails] == [
        ("zhang.san@example.com", True),
        ("zs@home.example.net", False),
    ]
    assert [(p["value"], p["extension"], p["is_primary"]) for p in contact.phones] == [
        ("+8613800138000", "", True),
        ("+862161234567", "802", False),
    ]
    assert [(link.account_id, link.role, link.is_primary) for link in contact.account_links.all()] == [
        (mine.pk, "采购经理", True)
    ]
    # An account the rep cannot see is not a choice.
    response = rep_client.post(url("contacts-add"), {"family_name": "李", "accounts": [str(theirs.pk)]})
    assert response.status_code == 400 and Contact.objects.count() == 1


def test_errors_land_on_the_input_and_line(rep_client: Client) -> None:
    response = rep_client.post(
        url("contacts-add"),
        {"family_name": "李", "emails": "ok@example.com\nnot-an-email", "phones": "13800138000\n123"},
    )
    assert response.status_code == 400 and not Contact.objects.exists()
    page = html(response)
    phones_error = re.search(r'id="id_phones_error">([^<]*)<', page)
    emails_error = re.search(r'id="id_emails_error">([^<]*)<', page)
    assert phones_error and phones_error.group(1).startswith("Line 2: “123” is not a valid phone number")
    assert emails_error and emails_error.group(1).startswith("Line 2: “not-an-email” is not a valid email")
    assert re.search(r'<textarea name="phones"[^>]*class="form-control is-invalid"', page)
    assert "13800138000\n123" in page  # what was typed stays in the box


def test_service_errors_map_to_their_inputs(
    admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    first, second = make_account(name="甲公司"), make_account(name="乙公司")
    contact = make_contact(accounts=[{"account": first.pk, "role": "CTO"}])
    form_class = contact_form_class(resource_at("contacts"), admin)
    data = form_data(contact, accounts=[str(first.pk), str(second.pk)], new_accounts_role="顾问")
    form = form_class(data, instance=contact, resource=resource_at("contacts"), user=admin)
    assert form.is_valid(), form.errors
    assert form.contact_extras()["accounts"] == [  # type: ignore[attr-defined]
        {"account": first.pk, "role": "CTO", "is_primary": True},
        {"account": second.pk, "role": "顾问", "is_primary": False},
    ]
    form.add_service_errors(
        {
            "accounts.0.role": ["too long"],
            "accounts.1.role": ["also too long"],
            "accounts.1.account": ["No account with id 9."],
            "phones.0.extension": ["Use up to 8 digits."],
            "emails": ["Mark at most one as primary."],
            "family_name": ["Give a name."],
        }
    )
    assert form.errors[f"role_{first.pk}"] == ["too long"]
    assert form.errors["new_accounts_role"] == ["also too long"]
    assert form.errors["accounts"] == ["No account with id 9."]
    assert form.errors["phones"] == ["Line 1: Use up to 8 digits."]
    assert form.errors["emails"] == ["Mark at most one as primary."]
    assert form.errors["family_name"] == ["Give a name."]


def test_edit_keeps_labels_extensions_and_roles(
    rep: User, rep_client: Client, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    group, plant = make_account(name="浦江集团", by=rep), make_account(name="浦江苏州工厂", by=rep)
    contact = make_contact(
        by=rep,
        emails=[{"value": "chen@example.com", "label": "work"}],
        phones=[{"value": "13800138000", "label": "mobile"}, {"value": "021 6123 4567 转 802", "label": "work"}],
        accounts=[{"account": group.pk, "role": "总经理", "is_primary": True}, {"account": plant.pk, "role": "董事"}],
    )
    page = html(rep_client.get(url("contacts-edit", contact.pk)))
    assert "+86 138 0013 8000\n+86 21 6123 4567 ext. 802</textarea>" in page
    assert f'name="role_{plant.pk}" value="董事"' in page and "Role at 浦江苏州工厂" in page
    version = contact.version

    # Only the title changes: the lists are not sent again, nothing else moves.
    response = rep_client.post(url("contacts-edit", contact.pk), form_data(contact, title="总经理"))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.title == "总经理" and contact.version == version + 1
    assert [p["label"] for p in contact.phones] == ["mobile", "work"]

    # Lines swapped and a role changed: labels and extension follow their number, the first is the main one.
    data = form_data(contact, phones="021-6123 4567 转 802\n138 0013 8000", **{f"role_{plant.pk}": "集团董事"})
    assert rep_client.post(url("contacts-edit", contact.pk), data).status_code == 302
    contact.refresh_from_db()
    assert [(p["value"], p["extension"], p["label"], p["is_primary"]) for p in contact.phones] == [
        ("+862161234567", "802", "work", True),
        ("+8613800138000", "", "mobile", False),
    ]
    links = {link.account_id: (link.role, link.is_primary) for link in contact.account_links.all()}
    assert links == {group.pk: ("总经理", True), plant.pk: ("集团董事", False)}

    # Nothing changed at all: said so, nothing written.
    response = rep_client.post(url("contacts-edit", contact.pk), form_data(contact), follow=True)
    assert "Nothing was changed." in html(response)
    assert Contact.objects.get(pk=contact.pk).version == contact.version


def test_edit_leaves_links_the_user_cannot_see(
    rep: User,
    other_rep: User,
    rep_client: Client,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    mine, theirs = make_account(name="我的客户", by=rep), make_account(name="别人的客户", by=other_rep)
    contact = make_contact(by=rep, accounts=[{"account": mine.pk, "role": "CTO"}])
    AccountContact.objects.create(contact=contact, account=theirs, role="顾问")
    page = html(rep_client.get(url("contacts-edit", contact.pk)))
    assert "别人的客户" not in page and f"role_{theirs.pk}" not in page

    data = form_data(contact, accounts=[])
    del data[f"role_{theirs.pk}"]
    assert rep_client.post(url("contacts-edit", contact.pk), data).status_code == 302
    assert [(link.account_id, link.role) for link in contact.account_links.all()] == [(theirs.pk, "顾问")]


def test_field_rules_hide_and_freeze_the_contact_inputs(
    rep: User,
    sales_role: Role,
    rep_client: Client,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    account = make_account(name="规则客户", by=rep)
    contact = make_contact(
        by=rep, emails=["secret@example.com"], phones=["13800138000"], accounts=[{"account": account.pk}]
    )
    field_rule(sales_role, "customers.contact", "emails", "hidden")
    field_rule(sales_role, "customers.contact", "phones", "readonly")
    field_rule(sales_role, "customers.contact", "accounts", "readonly")

    page = html(rep_client.get(url("contacts-edit", contact.pk)))
    assert 'name="emails"' not in page and "secret@example.com" not in page
    assert re.search(r'<textarea name="phones"[^>]*disabled', page)
    assert re.search(r'id="id_accounts" class="form-control-plaintext gx-picker-disabled"', page)
    detail = html(rep_client.get(url("contacts-detail", contact.pk)))
    assert "secret@example.com" not in detail and "tel:+8613800138000" in detail

    data = form_data(contact, title="CTO", phones="13900139000", accounts=[], new_accounts_role="x")
    del data["emails"]
    assert rep_client.post(url("contacts-edit", contact.pk), data).status_code == 302
    contact.refresh_from_db()
    assert contact.title == "CTO" and contact.phones[0]["value"] == "+8613800138000"
    assert contact.emails[0]["value"] == "secret@example.com"
    assert contact.account_links.count() == 1

    field_rule(sales_role, "customers.contact", "accounts", "hidden")
    page = html(rep_client.get(url("contacts-edit", contact.pk)))
    assert 'name="accounts"' not in page
    assert 'id="contact-accounts"' not in html(rep_client.get(url("contacts-detail", contact.pk)))


def test_bulk_edit_of_contacts_keeps_the_plain_form(admin: User, make_contact: Callable[..., Contact]) -> None:
    contacts = [make_contact(given_name=name) for name in ("一", "二")]
    response = client_for(admin).post(url("contacts-bulk"), {"action": "edit", "pk": [str(c.pk) for c in contacts]})
    assert response.status_code == 200
    assert 'name="department"' in html(response) and 'name="emails"' not in html(response)


# --- detail pages and lists --------------------------------------------------------------------------------


def test_contact_detail_shows_reach_and_accounts(
    rep: User,
    other_rep: User,
    rep_client: Client,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    mine, theirs = make_account(name="上海示例", by=rep), make_account(name="深圳别家", by=other_rep)
    contact = make_contact(
        by=rep,
        emails=["li@example.com", {"value": "li@home.example.net", "label": "personal"}],
        phones=[{"value": "021 6123 4567 转 802", "label": "work"}],
        accounts=[{"account": mine.pk, "role": "采购经理"}],
    )
    AccountContact.objects.create(contact=contact, account=theirs, role="顾问")
    page = html(rep_client.get(url("contacts-detail", contact.pk)))
    assert '<a href="mailto:li@example.com">li@example.com</a>' in page
    assert (
        '<a href="mailto:li@home.example.net">li@home.example.net</a> <span class="text-secondary small">Personal'
        in page
    )
    assert '<a href="tel:+862161234567;ext=802">+86 21 6123 4567 ext. 802</a>' in page
    assert f'<a href="{url("accounts-detail", mine.pk)}" class="fw-medium">上海示例</a>' in page
    assert "采购经理" in page and "Primary account" in page
    assert "深圳别家" not in page and "顾问" not in page
    # The history reads as text too, not as the stored JSON.
    assert "li@example.com<br>li@home.example.net (Personal)" in page
    assert "上海示例 (采购经理, primary account)" in page
    assert "{&#x27;value&#x27;" not in page and "is_primary" not in page


def test_account_detail_lists_the_contacts_the_user_may_see(
    rep: User,
    other_rep: User,
    rep_client: Client,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    account = make_account(name="合肥示例", by=rep)
    make_contact(
        by=rep,
        family_name="王",
        given_name="五",
        emails=["wang@example.com"],
        phones=["13800138000", "13900139000"],
        accounts=[{"account": account.pk, "role": "总经理"}],
    )
    hidden = make_contact(by=other_rep, family_name="赵", given_name="六")
    AccountContact.objects.create(contact=hidden, account=account, role="财务")
    page = html(rep_client.get(url("accounts-detail", account.pk)))
    assert 'id="account-contacts"' in page and "王五" in page and "总经理" in page
    assert 'href="mailto:wang@example.com"' in page and 'href="tel:+8613800138000"' in page
    assert "赵六" not in page and "财务" not in page
    assert f'href="{url("contacts-add", query=f"account={account.pk}")}"' in page


def test_an_account_with_many_contacts_lists_the_newest_first(
    admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact], monkeypatch: Any
) -> None:
    """By name, the panel would read every contact of the account to sort them."""
    from guanxi.customers import org_chart, views

    monkeypatch.setattr(views, "PANEL_LIMIT", 2)
    account = make_account(name="大客户")
    made = [make_contact(given_name=name, accounts=[{"account": account.pk}]) for name in ("丙", "乙", "甲")]
    client = client_for(admin)

    def shown() -> tuple[list[str], bool]:
        page = html(client.get(url("accounts-detail", account.pk)))
        return re.findall(r'data-contact="(\d+)"', page), 'id="account-contacts-newest"' in page

    monkeypatch.setattr(org_chart, "CHART_LIMIT", 4)
    assert shown() == ([str(made[0].pk), str(made[1].pk)], False)  # 张丙, 张乙: by name
    monkeypatch.setattr(org_chart, "CHART_LIMIT", 3)
    assert shown() == ([str(made[2].pk), str(made[1].pk)], True)  # the newest two (nobody mapped)


def test_contact_list_shows_the_main_email_and_phone(admin: User, make_contact: Callable[..., Contact]) -> None:
    make_contact(emails=["a@example.com", "b@example.com"], phones=["13800138000"])
    page = html(client_for(admin).get(url("contacts-list")))
    # The whole address is the link's title: a narrow cell may show it shortened.
    assert (
        '<a href="mailto:a@example.com" class="gx-point" title="a@example.com">a@example.com</a> '
        '<span class="text-secondary small">+1</span>'
    ) in page
    assert '<a href="tel:+8613800138000" class="gx-point" title="+86 138 0013 8000">+86 138 0013 8000</a>' in page
    assert "is_primary" not in page


def test_list_times_leave_out_this_years_year(admin: User, make_account: Callable[..., Account]) -> None:
    """This year's times read "12-05 21:49" and older ones as their date, the whole stamp in the title:
    two time columns in their long form made the account list wider than a 1280-px screen."""
    from django.utils import timezone

    account = make_account(name="甲")
    old = timezone.localtime().replace(year=timezone.localtime().year - 1, month=11, day=30, hour=9, minute=5)
    Account.objects.filter(pk=account.pk).update(last_interaction_at=old)
    updated = timezone.localtime(Account.objects.get(pk=account.pk).updated_at)
    page = html(client_for(admin).get(url("accounts-list", query="columns=name,last_interaction_at,updated_at")))
    assert (
        f'<time datetime="{updated.isoformat()}" title="{updated:%Y-%m-%d %H:%M}">{updated:%m-%d %H:%M}</time>'
    ) in page
    assert f'<time datetime="{old.isoformat()}" title="{old:%Y-%m-%d %H:%M}">{old:%Y-%m-%d}</time>' in page


def test_contact_list_shows_each_persons_company(
    rep: User,
    other_rep: User,
    rep_client: Client,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    """The 公司 column: the primary account, else the first one the user may see, linked; never one
    they may not see. The export has the same column, in words, which an import reads back."""
    mine = make_account(name="杭州甲科技", by=rep)
    theirs = make_account(name="深圳乙保密", by=other_rep)
    also_mine = make_account(name="宁波丙贸易", by=rep)
    make_contact(by=rep, given_name="一", accounts=[{"account": mine.pk, "is_primary": True}])
    two = make_contact(by=rep, given_name="二", accounts=[{"account": also_mine.pk}])
    AccountContact.objects.filter(contact=two, account=also_mine).update(is_primary=False)
    AccountContact.objects.create(contact=two, account=theirs, is_primary=True)  # primary, but not the rep's
    make_contact(by=rep, given_name="三")
    page = html(rep_client.get(url("contacts-list", query="ordering=display_name")))
    rows = {}
    for row in re.findall(r"<tr data-pk=.*?</tr>", page):
        name = re.search(r'fw-medium">([^<]+)<', row)
        assert name, row
        rows[name.group(1)] = row
    assert set(rows) == {"张一", "张二", "张三"}, page
    assert f'<a href="{url("accounts-detail", mine.pk)}" title="杭州甲科技">杭州甲科技</a>' in rows["张一"]
    assert f'<a href="{url("accounts-detail", also_mine.pk)}" title="宁波丙贸易">宁波丙贸易</a>' in rows["张二"]
    assert "深圳乙保密" not in page
    assert rows["张三"].count('<span class="text-secondary">—</span>') >= 1
    assert "<th" in page and "Company" in page

    from tests.customers.conftest import grant

    grant(rep.role, "customers.contact", ("export",))
    response = rep_client.post(reverse("ui:export", args=["contacts"]), {"query": "ordering=display_name"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *lines = text.splitlines()
    assert header.split(",")[:3] == ["Record ID", "Name", "Company"]
    assert {line.split(",")[1]: line.split(",")[2] for line in lines} == {
        "张一": "杭州甲科技",
        "张二": "宁波丙贸易",
        "张三": "",
    }


# --- query counts --------------------------------------------------------------------------------------------


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_pages_do_not_query_per_link(
    rep: User, rep_client: Client, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(name="查询计数", by=rep)
    others = [make_account(name=f"其他 {i}", by=rep) for i in range(6)]
    contact = make_contact(by=rep, accounts=[{"account": account.pk, "role": "CTO"}])
    for i in range(2):
        make_contact(by=rep, given_name=f"{i}", phones=["13800138000"], accounts=[{"account": account.pk}])
    pages = {
        "account": url("accounts-detail", account.pk),
        "contact": url("contacts-detail", contact.pk),
        "edit": url("contacts-edit", contact.pk),
        "list": url("contacts-list"),
    }
    for path in pages.values():  # warm the content-type cache, which the test order may have left cold
        _queries(rep_client, path)
    before = {name: _queries(rep_client, path) for name, path in pages.items()}

    for i in range(6):
        make_contact(by=rep, given_name=f"多{i}", emails=[f"m{i}@example.com"], accounts=[{"account": account.pk}])
    for other in others:
        AccountContact.objects.create(contact=contact, account=other, role="顾问")
    after = {name: _queries(rep_client, path) for name, path in pages.items()}
    assert after == before
    assert html(rep_client.get(pages["account"])).count("data-contact=") == 9
    assert html(rep_client.get(pages["contact"])).count("data-account=") == 7


def test_contact_list_cells_escape_and_join_only_what_they_show(
    admin: User, make_contact: Callable[..., Contact]
) -> None:
    """A contact's list row is written with f-strings of ``display.escaped`` values (its name, the
    main email, a scoped tag, its manager's link, its star): ``<script>`` and ``&`` come out escaped,
    as ``conditional_escape`` writes them. The contact list joins only the relations its columns
    show, and a page with its manager's column still costs the same queries however many rows."""
    from django.utils.html import conditional_escape
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext_lazy

    from guanxi.core.views.display import escaped
    from guanxi.customers import services

    for value in ['<script>alert("x")</script> & co', mark_safe("<b>ok</b>"), gettext_lazy("Tags"), 12, None]:
        assert escaped(value) == conditional_escape(value)

    hostile = "<script>alert(1)</script>&"
    boss = make_contact(family_name="李", given_name=f"总{hostile}")
    services.contact_create(
        user=admin,
        data={"family_name": "王", "given_name": hostile, "reports_to": boss},
        emails=["a&b@example.com", "c@example.com"],
        tags=[f"意向::高{hostile}"],
    )
    page = html(client_for(admin).get(url("contacts-list", query="columns=display_name,emails,reports_to,tags")))
    assert "<script>" not in page
    text = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;"
    assert f'class="fw-medium">王{text}</a><button' in page  # the first cell, linked, then its star
    assert f'aria-label="Follow 王{text}"' in page
    assert 'title="a&amp;b@example.com">a&amp;b@example.com</a> <span class="text-secondary small">+1</span>' in page
    assert f'">李总{text}</a></td>' in page  # the manager, linked
    assert f'title="意向::高{text}"><span class="fw-normal">意向:</span> 高{text}</span>' in page

    client = client_for(admin)
    with CaptureQueriesContext(connection) as captured:
        client.get(url("contacts-list", query="columns=display_name,title"))
    assert not [q["sql"] for q in captured if 'JOIN "identity_team"' in q["sql"]]  # no team column, no team
    path = url("contacts-list", query="columns=display_name,reports_to,owner")
    before = _queries(client, path)
    for i in range(4):
        make_contact(given_name=f"多{i}", reports_to=boss)
    assert _queries(client, path) == before


def test_account_detail_explains_the_fit(admin: User, make_account: Callable[..., Account]) -> None:
    from guanxi.customers import services
    from guanxi.customers.models import CustomerProfile

    account = make_account(name="宁波示例", employee_count=300, province="浙江")
    CustomerProfile.objects.create(name="ICP", criteria={"sizes": ["large"], "industries": ["software"]})
    services.account_fit_recompute(account_ids=[account.pk])
    page = html(client_for(admin).get(url("accounts-detail", account.pk)))
    assert '<span class="badge bg-green-lt me-1">met</span>Company size' in page
    assert '<span class="badge bg-secondary-lt me-1">not met</span>Industry is not recorded' in page
    assert "&quot;matched&quot;" not in page and "'matched'" not in page


def test_timeline_badges_say_what_happened_in_words(admin: User, make_account: Callable[..., Account]) -> None:
    """Each entry's badge is its kind's label ("Tier", "Owner", "Merged"…), not the stored key."""
    from guanxi.customers import services
    from guanxi.customers.choices import TimelineKind

    account = make_account(name="徽章测试")
    services.account_update(pk=account.pk, user=admin, data={"lifecycle_stage": "customer"})
    page = html(client_for(admin).get(url("accounts-detail", account.pk)))
    badges = re.findall(r'<span class="badge bg-secondary-lt">([^<]*)</span>', page)
    assert {"Created", "Lifecycle stage"} <= set(badges), badges
    assert not {kind.value for kind in TimelineKind} & set(badges), badges


def test_list_cells_and_filter_options_escape_what_people_typed(admin: User, make_user: Callable[..., User]) -> None:
    """A list page writes its cells and its filters' options as strings (``lists.rows_html``,
    ``display.select_options``), not through template nodes: every value typed by someone is escaped
    there, in a cell's text, a link's text, a label and an option alike."""
    from guanxi.core.models import CustomFieldDefinition
    from guanxi.customers import services
    from guanxi.identity.models import Team

    hostile = '<img src=x onerror="alert(1)">'
    team = Team.objects.create(name=f"团队{hostile}")
    owner = make_user(name=f"销售{hostile}", team=team)
    CustomFieldDefinition.objects.create(
        object_type="customers.account",
        key="grade",
        label_en=f"Grade{hostile}",
        label_zh=f"等级{hostile}",
        field_type="choice",
        choices=["A", f"B{hostile}"],
    )
    services.account_create(
        user=admin,
        data={"name": f"公司{hostile}", "website": "https://example.com/?a=1&b=2", "owner": owner, "team": team},
        tags=[f"标签{hostile}"],
        custom_fields={"grade": f"B{hostile}"},
    )
    columns = "name,website,owner,team,tags,cf.grade"
    page = html(client_for(admin).get(url("accounts-list", query=f"columns={columns}&cf_grade=B{hostile}")))
    assert "<img" not in page
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert f'class="fw-medium">公司{escaped}</a><button' in page  # the first cell, linked, then its star
    assert f'aria-label="Follow 公司{escaped}"' in page  # the star's label
    assert f'aria-label="Select 公司{escaped}"' in page  # its checkbox
    assert f">销售{escaped}</a></td>" in page  # the owner, linked
    assert f">团队{escaped}</a></td>" in page
    assert f'data-label="Grade{escaped}">B{escaped}</td>' in page  # a custom field: label and value
    assert f'<option value="B{escaped}" selected>B{escaped}</option>' in page  # the filter, chosen
    assert f">团队{escaped}</option>" in page  # the team filter's options
    assert "https://example.com/?a=1&amp;b=2" in page
