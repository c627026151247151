"""The page of one account or contact, read fifty times a day and often on a phone: fields in
sections, the empty ones named on one line, consent and record stamps folded, countries by name;
and the lists around it: filters folded until used, long cells shortened with their whole text kept."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from guanxi.customers.models import Account, Contact
from guanxi.customers.normalize import country_choices
from guanxi.identity.models import Role, User
from tests.factories import client_for, field_rule, grant

pytestmark = pytest.mark.django_db


def page(user: User, name: str, *args: Any, query: str = "", language: str = "zh-hans") -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(language=language)
    response = client.get(reverse(f"ui:{name}", args=args) + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, key: str) -> str:
    """The markup of one section of the record's page, up to the next section or card."""
    marker = f'data-section="{key}">'
    assert marker in html, f"no section {key}"
    rest = html.split(marker, 1)[1]
    return re.split(r'data-section="|class="card mb-3"', rest, maxsplit=1)[0]


def filled(html: str) -> set[str]:
    return set(re.findall(r'<div class="datagrid-item" data-field="([\w.]+)">', html))


def unfilled(html: str) -> set[str]:
    line = re.search(r'<p class="[^"]*gx-unfilled">(.*?)</p>', html, re.S)
    return set(re.findall(r'<span data-field="([\w.]+)">', line.group(1))) if line else set()


def test_contact_page_groups_fields_and_names_the_empty_ones(
    admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(name="上海示例")
    contact = make_contact(
        title="采购经理",
        emails=["li@example.com"],
        phones=["13800138000"],
        province="上海",
        city="上海",
        accounts=[{"account": account.pk}],
    )
    html = page(admin, "contacts-detail", contact.pk)
    keys = re.findall(r'data-section="(\w+)"', html)
    assert keys == ["summary", "person", "address", "consent", "record", "custom"][: len(keys)]
    assert keys[:5] == ["summary", "person", "address", "consent", "record"]

    summary = section(html, "summary")
    assert {"title", "emails", "phones", "owner"} <= filled(summary)
    # Empty fields are named, once, on the section's last line: not one "—" row each.
    assert {"department", "wechat_id", "description", "tags"} <= unfilled(summary)
    assert not filled(summary) & unfilled(summary)
    assert "采购经理" in summary and 'href="tel:+8613800138000"' in summary

    address = section(html, "address")
    assert filled(address) == {"country", "province", "city"} and "中国" in address
    assert unfilled(address) == {"district", "street", "postal_code"}

    # The consent trail and the record's stamps start folded; their fields are still there.
    assert re.search(r'<details class="card-body[^"]*" data-section="consent">', html)
    assert re.search(r'<details class="card-body[^"]*" data-section="record">', html)
    assert 'data-field="email_consent"' in section(html, "consent")
    assert 'data-field="created_at"' in section(html, "record")
    assert not re.search(r'<details[^>]*data-section="(summary|address)"', html)

    # Every field the page showed before shows once, filled or named empty.
    every = re.findall(
        r'data-field="([\w.]+)"', html.split('id="detail-fields"', 1)[1].split('id="contact-accounts"')[0]
    )
    assert len(every) == len(set(every))


def test_contact_page_says_where_the_person_works_under_the_name(
    admin: User, rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """Under the name: the role at the primary account and a link to it, and how many more."""
    first = make_account(name="上海示例")
    second = make_account(name="北京示例", by=rep)
    contact = make_contact(
        owner=rep,
        accounts=[{"account": second.pk}, {"account": first.pk, "role": "采购经理", "is_primary": True}],
    )
    html = page(admin, "contacts-detail", contact.pk)
    subtitle = html.split('id="page-subtitle">', 1)[1].split("</div>", 1)[0]
    first_url = reverse("ui:accounts-detail", args=[first.pk])
    assert re.match(rf'采购经理 · <a href="{first_url}">上海示例</a> <span class="small">另有 1 家</span>$', subtitle)
    # The rep may not see 上海示例: their page names the account they see, and no more.
    html = page(rep, "contacts-detail", contact.pk)
    subtitle = html.split('id="page-subtitle">', 1)[1].split("</div>", 1)[0]
    assert "北京示例" in subtitle and "上海示例" not in subtitle and "另有" not in subtitle
    assert 'id="page-subtitle"' not in page(admin, "contacts-detail", make_contact(family_name="王").pk)


def test_empty_sections_and_hidden_fields(rep: User, sales_role: Role, make_contact: Callable[..., Contact]) -> None:
    contact = make_contact(by=rep, birthday="1990-05-04", wechat_id="li_wx")
    field_rule(sales_role, "customers.contact", "birthday", "hidden")
    field_rule(sales_role, "customers.contact", "wechat_id", "hidden")
    html = page(rep, "contacts-detail", contact.pk)
    # A field the user may not see is neither shown nor named as empty.
    assert 'data-field="birthday"' not in html and "1990-05-04" not in html
    assert 'data-field="wechat_id"' not in html and "li_wx" not in html
    person = section(html, "person")
    assert filled(person) == {"display_name", "family_name", "given_name"}
    assert unfilled(person) == set()


def test_account_page_sections(admin: User, make_account: Callable[..., Account]) -> None:
    parent = make_account(name="集团总部")
    account = make_account(
        name="上海示例", industry="manufacturing", parent=parent, annual_revenue=5000000, country="US"
    )
    html = page(admin, "accounts-detail", account.pk, language="en")
    keys = re.findall(r'data-section="(\w+)"', html)
    assert keys[:5] == ["summary", "company", "fit", "address", "record"]
    assert "industry" in filled(section(html, "summary"))
    company = section(html, "company")
    assert {"name", "parent", "annual_revenue"} <= filled(company) and "集团总部" in company
    assert {"legal_name", "website"} <= unfilled(company)
    # The country by name in the reader's language; the stored value stays the code.
    assert re.search(
        r'data-field="country">\s*<div class="datagrid-title">Country</div>\s*'
        r'<div class="datagrid-content gx-break">United States<',
        html,
    )
    account.refresh_from_db()
    assert account.country == "US"
    # Amounts read with separators, on the page, in its change history and in the list.
    assert re.search(r'data-field="annual_revenue">.*?gx-break">5,000,000<', html, re.S)
    changes = html.split('id="panel-changes"', 1)[1]
    assert re.search(r">Annual revenue</th>.*?<ins[^>]*>5,000,000</ins>", changes, re.S)
    assert re.search(r">Country</th>.*?<ins[^>]*>United States</ins>", changes, re.S)
    # The first values are the page's own: the "created" entry lists them folded.
    assert re.search(r"<details data-change-created><summary[^>]*>\d+ fields filled in</summary>", changes)
    assert ">5,000,000<" in page(admin, "accounts-list", query="columns=name,annual_revenue", language="en")
    # In Chinese in 万 and 亿 (core.money), the figure in the list cell's title and beside it on the page.
    assert '<span title="5,000,000">500万</span>' in page(admin, "accounts-list", query="columns=name,annual_revenue")
    html = page(admin, "accounts-detail", account.pk)
    assert re.search(r'data-field="annual_revenue">.*?gx-break">500万 <span[^>]*>\(5,000,000\)</span>', html, re.S)
    changes = html.split('id="panel-changes"', 1)[1]
    assert re.search(r"<ins[^>]*>500万 <span[^>]*>\(5,000,000\)</span></ins>", changes)


def test_country_is_chosen_by_name(admin: User, make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    html = page(admin, "contacts-edit", contact.pk)
    options = re.findall(
        r'<option value="(\w*)"[^>]*>([^<]*)</option>', html.split('name="country"', 1)[1].split("</select>")[0]
    )
    assert options[:3] == [("", "—"), ("CN", "中国 (CN)"), ("HK", "香港 (HK)")]
    assert ("US", "美国 (US)") in options and len(options) > 240
    assert re.search(r'<option value="CN" selected>', html)
    client = client_for(admin)
    contact.refresh_from_db()
    data = {
        "family_name": "张",
        "given_name": "三",
        "country": "US",
        "owner": contact.owner_id,
        "version": contact.version,
        "phones": "650 253 0000",
    }
    response = client.post(reverse("ui:contacts-edit", args=[contact.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    contact.refresh_from_db()
    assert contact.country == "US" and contact.phones[0]["value"] == "+16502530000"
    with translation.override("en"):
        names = [label for _code, label in country_choices("en")]
    # After China and its regions, alphabetical in the reader's language.
    assert names[4:7] == sorted(names[4:7]) and names[4].startswith("Afghanistan")
    zh = [label for _code, label in country_choices("zh-hans")]
    assert zh[4].startswith("阿")  # by pinyin: 阿尔巴尼亚, 阿尔及利亚, ...


def test_list_filters_fold_until_used(admin: User, make_contact: Callable[..., Contact]) -> None:
    make_contact(province="上海")
    html = page(admin, "contacts-list")
    assert re.search(r'<div class="collapse mt-2" id="filter-controls">', html)
    assert 'aria-expanded="false"' in html and 'id="filters-active"' not in html
    html = page(admin, "contacts-list", query="province=上海市&title=")
    assert re.search(r'<div class="collapse show mt-2" id="filter-controls">', html)
    assert re.search(r'id="filters-active">1<', html)
    # A search alone leaves them folded: it has its own box.
    html = page(admin, "contacts-list", query="search=张")
    assert re.search(r'<div class="collapse mt-2" id="filter-controls">', html)


def test_long_list_cells_keep_their_whole_text(
    admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    name = "Harbourfront Capital Partners International Holdings Pte Ltd"
    account = make_account(name=name)
    address = "marcus.rahman.the.longest.address@harbourfront-capital.example.com"
    make_contact(
        family_name="Rahman", given_name="Marcus", emails=[address, "m@example.com"], accounts=[{"account": account.pk}]
    )
    html = page(admin, "contacts-list")
    assert f'title="{name}">{name}</a>' in html
    assert f'class="gx-point" title="{address}">{address}</a> <span class="text-secondary small">+1</span>' in html


# --- possible duplicates on the record's page ------------------------------------------------------


def test_record_page_names_its_possible_duplicates(
    admin: User,
    rep: User,
    make_contact: Callable[..., Contact],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = make_contact(family_name="王", given_name="五", emails=["wang@example.com"])
    with django_capture_on_commit_callbacks(execute=True):
        second = make_contact(by=rep, family_name="王", given_name="伍", emails=["Wang@Example.com"])
    html = page(admin, "contacts-detail", second.pk)
    alert = html.split('id="duplicate-alert"', 1)[1].split("</div>", 1)[0]
    assert f'data-record="{first.pk}"' in alert and "王五" in alert
    assert "same email wang@example.com" in alert or "相同邮箱" in alert
    merge = reverse("ui:duplicates-merge") + f"?type=contacts&amp;ids={first.pk},{second.pk}"
    assert f'href="{merge}"' in alert
    # And on the other record's page, the other way round.
    assert f'data-record="{second.pk}"' in page(admin, "contacts-detail", first.pk)

    # The rep may not see the first contact (another owner): no notice names it.
    assert 'id="duplicate-alert"' not in page(rep, "contacts-detail", second.pk)

    # "Not a duplicate" from the notice: back on the same page, the notice gone for good.
    client = client_for(admin)
    dismiss = re.search(r'<form method="post" action="([^"]+)"', alert).group(1)
    here = reverse("ui:contacts-detail", args=[second.pk])
    response = client.post(dismiss, {"next": here})
    assert response.status_code == 302 and response["Location"] == here
    assert 'id="duplicate-alert"' not in page(admin, "contacts-detail", second.pk)


def test_duplicate_notice_reads_a_fixed_number_of_queries(
    admin: User, make_account: Callable[..., Account], django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(admin)

    def queries(pk: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("ui:accounts-detail", args=[pk])).status_code == 200
        return len(ctx.captured_queries)

    with django_capture_on_commit_callbacks(execute=True):
        target = make_account(name="杭州西湖数据科技有限公司")
        make_account(name="杭州西湖数据科技（集团）有限公司")
    one = queries(target.pk)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            make_account(name="杭州西湖数据科技有限公司")
    html = page(admin, "accounts-detail", target.pk)
    assert html.count("data-merge-link") == 3 and 'id="duplicate-alert-more"' in html
    assert queries(target.pk) == one


def test_list_cells_carry_their_labels_for_the_phone_layout(admin: User, make_contact: Callable[..., Contact]) -> None:
    """On a phone each row reads as "label value" lines (guanxi.css): every cell but the name says
    its column, and an empty one says it is empty, so the card leaves it out."""
    make_contact(family_name="周", given_name="七", title="", phones=["13800138000"])
    html = page(admin, "contacts-list")
    row = re.search(r'<tr data-pk="\d+">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'<td class="gx-first-cell"><a href="[^"]+" class="fw-medium">周七</a><button[^>]+gx-star', row)
    assert '<td data-label="电话">' in row and 'href="tel:+8613800138000"' in row
    assert re.search(r'<td class="gx-empty-cell" data-label="职位">', row)
    assert re.search(r'<td class="gx-empty-cell" data-label="邮箱">', row)


def test_a_phone_sorts_and_selects_all_from_the_bar_above_the_rows(
    admin: User, make_contact: Callable[..., Contact]
) -> None:
    """A phone hides the table's headers (guanxi.css), so their sorts and the "select all" box sit
    in a bar above the rows: each sortable column shown, both ways, the current one marked."""
    make_contact(family_name="周", given_name="七")
    html = page(admin, "contacts-list", query="ordering=-display_name")
    bar = html.split('id="list-phone-bar"', 1)[1].split('<div class="table-responsive">', 1)[0]
    assert 'data-select-all id="phone-select-all"' in bar
    sorts = re.findall(r'<a href="\?([^"]*)" class="dropdown-item( active)?"', bar)
    assert [(query, bool(active)) for query, active in sorts] == [
        ("ordering=display_name", False),
        ("ordering=-display_name", True),
        ("ordering=last_interaction_at", False),
        ("ordering=-last_interaction_at", False),
    ]
    assert re.search(r"排序：名称，降序\s*</button>", bar)
    # Columns that do not sort (职位, 邮箱) are not offered; a list with no row has no box to tick.
    assert "职位" not in bar and "邮箱" not in bar
    empty = page(admin, "contacts-list", query="search=nobody-at-all")
    assert 'id="phone-select-all"' not in empty and 'id="list-sort-menu"' in empty


def test_whose_records_is_one_tap(
    rep: User, other_rep: User, sales_role: Role, make_contact: Callable[..., Contact]
) -> None:
    """全部 / 我负责的 / 我的团队 above the list: links that set the owner or the team filter."""
    mine = make_contact(by=rep, family_name="李", given_name="一")
    theirs = make_contact(by=other_rep, family_name="韩", given_name="二")
    # Everyone's contacts are visible to this role, so "All" and "Mine" differ.
    grant(sales_role, "customers.contact", "view", scope="all")
    html = page(rep, "contacts-list")
    scope = html.split('id="list-scope"', 1)[1].split("</div>", 1)[0]
    links = re.findall(r'<a href="([^"]*)" class="btn( btn-primary)?" data-scope="(\w+)"', scope)
    assert [(key, bool(active)) for _url, active, key in links] == [
        ("all", True),
        ("mine", False),
        ("team", False),
        ("followed", False),
    ]
    urls = {key: url.replace("&amp;", "&") for url, _active, key in links}
    # Relative values, so that a view saved from a link is each user's own (test_whose_records).
    assert "owner=me" in urls["mine"] and "team=mine" in urls["team"]
    assert "李一" in html and "韩二" in html

    html = page(rep, "contacts-list", query=urls["mine"].lstrip("?"))
    assert re.search(r'class="btn btn-primary" data-scope="mine" aria-current="true"', html)
    assert "李一" in html and "韩二" not in html
    # The link says whose they are: the filter panel stays folded, its badge counts the owner.
    assert re.search(r'<div class="collapse mt-2" id="filter-controls">', html)
    assert re.search(r'id="filters-active">1<', html)
    assert mine.pk and theirs.pk

    field_rule(sales_role, "customers.contact", "owner", "hidden")
    assert 'id="list-scope"' not in page(rep, "contacts-list")


def test_the_form_says_before_saving_that_the_customer_exists(
    admin: User,
    rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """As the emails, phones (contacts) or name (accounts) are filled in, the form asks whether such
    a record exists, among those the user may see, and names it with the reason."""
    existing = make_contact(family_name="李", given_name="雷", emails=["li@example.com"], phones=["13800138000"])
    with django_capture_on_commit_callbacks(execute=True):  # detection stores the name's blocking key
        company = make_account(name="阿里巴巴")
    client = client_for(admin)
    check = reverse("ui:duplicates-check", args=["contacts"])

    html = client.get(check, {"emails": "x@example.com\nLI@Example.com", "phones": "138 0013 8000"}).content.decode()
    assert f'data-record="{existing.pk}"' in html and "李雷" in html
    assert "same email li@example.com" in html and "same phone +86 138 0013 8000" in html
    # Its own page's form does not warn about itself; what matches nothing says nothing.
    assert (
        "duplicate-check-found"
        not in client.get(check, {"emails": "li@example.com", "exclude": existing.pk}).content.decode()
    )
    assert client.get(check, {"emails": "new@example.com", "phones": "not a number"}).content.decode().strip() == ""
    # Another rep's contact is not linked for someone who may not see it: their role's 撞单保护 names it
    # and whose it is (by default; tests/customers/test_guard.py), or nothing at all when it is off.
    other = client_for(rep)
    told = other.get(check, {"emails": "li@example.com"}).content.decode()
    assert "duplicate-check-elsewhere" in told and "duplicate-check-found" not in told and "href" not in told
    Role.objects.filter(pk=rep.role_id).update(duplicate_guard="off")
    assert "李雷" not in other.get(check, {"emails": "li@example.com"}).content.decode()

    accounts = reverse("ui:duplicates-check", args=["accounts"])
    html = client.get(accounts, {"name": "阿里巴巴（中国）有限公司"}).content.decode()
    assert f'data-record="{company.pk}"' in html
    assert "duplicate-check-found" not in client.get(accounts, {"name": "腾讯科技"}).content.decode()
    assert client.get(reverse("ui:duplicates-check", args=["tickets"])).status_code == 404

    # The API asks the same (a website's form before it creates a contact): repeated or comma-separated.
    api = client.get("/api/v1/duplicates/check", {"type": "contacts", "phones": ["021 1234 5678", "13800138000"]})
    assert api.json() == {
        "items": [{"id": existing.pk, "display": "李雷", "reasons": ["same phone +86 138 0013 8000"]}],
        "elsewhere": [],
    }
    api = client.get("/api/v1/duplicates/check?type=contacts&emails=a@example.com,li@example.com")
    assert [item["id"] for item in api.json()["items"]] == [existing.pk]
    api = client.get(
        "/api/v1/duplicates/check", {"type": "accounts", "name": "阿里巴巴（中国）", "exclude": company.pk}
    )
    assert api.json() == {"items": [], "elsewhere": []}
    assert client.get("/api/v1/duplicates/check", {"type": "leads"}).status_code == 400

    # The forms ask as the user types: the add form, and the edit form without the record itself.
    add = page(admin, "contacts-add")
    assert f'hx-get="{check}"' in add and 'hx-trigger="change from:#id_emails, change from:#id_phones, ' in add
    assert 'id="id_emails"' in add and 'id="id_phones"' in add and 'data-name="accounts"' in add
    edit = page(admin, "accounts-edit", company.pk)
    assert f'hx-get="{accounts}?exclude={company.pk}"' in edit and 'id="id_name"' in edit


def test_the_form_asks_about_the_name_at_the_chosen_company(
    admin: User,
    rep: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Typing a name and choosing the company finds the person already there, by the name's pinyin
    (張偉 is 张伟, "Wei Zhang" too) and at the company by its blocking key (阿里巴巴 and 阿里巴巴（中国）);
    the same name at another company, or with no company chosen, says nothing."""
    with django_capture_on_commit_callbacks(execute=True):  # detection stores the blocking keys
        group = make_account(name="阿里巴巴（中国）有限公司")
        branch = make_account(name="阿里巴巴")
        other = make_account(name="腾讯科技", by=rep)
        there = make_contact(family_name="张", given_name="伟", accounts=[{"account": group.pk}])
        make_contact(family_name="张", given_name="伟", accounts=[{"account": other.pk}], by=rep)
    client = client_for(admin)
    check = reverse("ui:duplicates-check", args=["contacts"])

    def found(**params: Any) -> list[int]:
        html = client.get(check, params).content.decode()
        return [int(pk) for pk in re.findall(r'data-record="(\d+)"', html)]

    assert found(family_name="張", given_name="偉", accounts=group.pk) == [there.pk]
    html = client.get(check, {"family_name": "Zhang", "given_name": "Wei", "accounts": [other.pk, branch.pk]})
    assert f'data-record="{there.pk}"' in html.content.decode()
    assert "same company (阿里巴巴)" in html.content.decode() or "同一公司（阿里巴巴）" in html.content.decode()
    assert found(family_name="张", given_name="伟") == []  # no company: 张伟 is thousands of people
    assert found(family_name="张", given_name="三", accounts=group.pk) == []
    assert found(family_name="张", given_name="伟", accounts=group.pk, exclude=there.pk) == []
    # A phone and the name, both the same person: one entry, both reasons.
    make_contact(family_name="李", given_name="四", phones=["13900139000"])
    assert found(family_name="张", given_name="伟", accounts=group.pk, phones="13900139000") == [
        next(iter(found(phones="13900139000"))),
        there.pk,
    ]

    # The rep sees their own 张伟 at 腾讯 only; an account id they may not see names nothing.
    mine = client_for(rep)
    rep_sees = mine.get(check, {"family_name": "张", "given_name": "伟", "accounts": [group.pk, other.pk]})
    assert rep_sees.content.decode().count("data-record=") == 1 and "腾讯科技" in rep_sees.content.decode()
    api = client.get(
        "/api/v1/duplicates/check",
        {"type": "contacts", "family_name": "张", "given_name": "伟", "accounts": f"{group.pk},{other.pk}"},
    )
    assert sorted(item["id"] for item in api.json()["items"]) == sorted(
        Contact.objects.filter(family_name="张", given_name="伟").values_list("pk", flat=True)
    )
    # Accounts are ids: anything else is a 400 that names the parameter, not a silent "no match".
    bad = client.get("/api/v1/duplicates/check", {"type": "contacts", "family_name": "张", "accounts": "阿里巴巴"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "accounts"


def test_place_filters_read_what_people_type(
    admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """country=中国 and province=广东 find what is stored as CN and 广东省, in the API and the list's
    filter inputs; a foreign state is matched as typed, and an unknown country says what to type."""
    make_contact(family_name="广", given_name="州", province="广东")
    make_contact(family_name="Lee", given_name="Ann", country="US", province="California")
    make_account(name="深圳示例", province="广东省")
    client = client_for(admin)

    def names(path: str, **params: str) -> set[str]:
        response = client.get(f"/api/v1/{path}", params)
        assert response.status_code == 200, response.content
        return {item.get("display_name") or item.get("name") for item in response.json()["items"]}

    assert names("contacts", province="广东") == names("contacts", province="广东省") == {"广州"}
    assert names("contacts", province="Guangdong") == {"广州"}
    assert names("contacts", country="美国") == names("contacts", country="US") == {"Ann Lee"}
    assert names("contacts", country__in="中国,USA") == {"广州", "Ann Lee"}
    assert names("contacts", province="California") == {"Ann Lee"}
    assert names("accounts", province="广东") == {"深圳示例"}
    bad = client.get("/api/v1/contacts", {"country": "火星"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "country"
    assert "two-letter code" in bad.json()["errors"][0]["detail"]
    html = page(admin, "contacts-list", query="province=广东")
    assert "广州" in html and "Ann Lee" not in html
    # The list's country filter is a list of names to choose from, which a link by name selects too.
    for query in ("country=US", "country=美国"):
        html = page(admin, "contacts-list", query=query)
        control = html.split('<select name="country" id="filter-country"', 1)[1].split("</select>", 1)[0]
        assert '<option value="US" selected>美国 (US)</option>' in control and '<option value="CN">' in control
        assert "Ann Lee" in html and "广州" not in html
