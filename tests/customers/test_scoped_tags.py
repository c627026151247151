"""Scoped tags (分组标签, ``guanxi.core.tags``): a tag named ``scope::value`` (意向::高) is one of its
scope on a record. The record's own tags refuse two of a scope; adding one (bulk action, import)
replaces the other; a merge keeps the survivor's; list cells show the scope lighter; a list filters
by any tag of a scope (``tag=意向::*``)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.urls import reverse

from guanxi.api.crud import tag_names_for
from guanxi.core.errors import FieldErrors
from guanxi.core.models import ChangeLogEntry, Tag
from guanxi.core.tags import check_scoped, normalize, scope_of, with_added
from guanxi.customers import services
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import User
from tests.customers.conftest import Api
from tests.customers.test_import import csv_bytes, job_client, read_errors, upload
from tests.factories import client_for


def tags_of(obj: Account | Contact) -> list[str]:
    return sorted(tag_names_for(type(obj), [obj.pk]).get(obj.pk, []))


@pytest.mark.parametrize(
    ("typed", "kept", "scope"),
    [
        ("意向::高", "意向::高", "意向"),
        ("意向 ：：高", "意向::高", "意向"),  # full-width, as a Chinese keyboard types it
        ("intent :: high", "intent::high", "intent"),
        ("VIP", "VIP", None),
        ("::高", "::高", None),  # no scope: a plain tag
        ("意向::", "意向::", None),
    ],
)
def test_a_scope_is_the_name_before_two_colons(typed: str, kept: str, scope: str | None) -> None:
    assert normalize(typed) == kept
    assert scope_of(kept) == scope


def test_adding_replaces_the_tag_of_its_scope() -> None:
    assert with_added(["VIP", "意向::高"], ["意向::中"]) == ["VIP", "意向::中"]
    assert with_added(["意向::高"], ["阶段::试用", "VIP"]) == ["意向::高", "阶段::试用", "VIP"]
    assert with_added([], ["意向::高", "意向::低"]) == ["意向::低"]  # the later one wins
    with pytest.raises(FieldErrors) as refused:
        check_scoped(["VIP", "意向::高", "意向::中"])
    assert refused.value.errors["tags"] == ["A record holds one tag of “意向”: keep one of 意向::中, 意向::高."]


@pytest.mark.django_db
def test_a_record_s_tags_refuse_two_of_one_scope(
    admin: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    account = make_account(name="华为", tags=["VIP", "意向::高"])
    api = api_for(admin)
    response = api.patch(f"accounts/{account.pk}", {"tags": ["意向::高", "意向::中"]})
    assert response.status_code == 400
    assert [e["field"] for e in response.json_body["errors"]] == ["tags"]
    assert tags_of(account) == ["VIP", "意向::高"]  # nothing half-written
    assert api.patch(f"accounts/{account.pk}", {"tags": ["VIP", "意向 ：：中"]}).json_body["tags"] == [
        "VIP",
        "意向::中",
    ]
    assert Tag.objects.filter(name="意向::中").count() == 1


@pytest.mark.django_db
def test_the_bulk_action_replaces_the_scope_s_tag(
    admin: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    hot = make_account(name="甲", tags=["VIP", "意向::高"])
    cold = make_account(name="乙", tags=["意向::低"])
    plain = make_account(name="丙")
    api = api_for(admin)
    response = api.post(
        "accounts/bulk", {"action": "tag_add", "tags": ["意向::中"], "ids": [hot.pk, cold.pk, plain.pk]}
    )
    assert response.status_code == 200, response.json_body
    assert (tags_of(hot), tags_of(cold), tags_of(plain)) == (["VIP", "意向::中"], ["意向::中"], ["意向::中"])
    refused = api.post("accounts/bulk", {"action": "tag_add", "tags": ["意向::高", "意向::低"], "ids": [plain.pk]})
    assert refused.status_code == 400 and [e["field"] for e in refused.json_body["errors"]] == ["tags"]
    # The list page's bulk bar does the same (it added beside the scope's tag, and the save refused it).
    page = client_for(admin).post(
        "/customers/accounts/bulk/", {"action": "add_tags", "tags": "意向::低", "pk": [hot.pk, plain.pk]}
    )
    assert page.status_code == 302
    assert (tags_of(hot), tags_of(plain)) == (["VIP", "意向::低"], ["意向::低"])


@pytest.mark.django_db
def test_an_import_replaces_the_scope_s_tag_and_reports_a_row_with_two(
    admin: User, django_capture_on_commit_callbacks: object
) -> None:
    client = job_client(admin, django_capture_on_commit_callbacks)
    rows = [
        ["姓名", "手机", "标签"],
        ["王伟", "13900000001", "VIP, 意向::高"],
        ["李娜", "13900000002", "意向::高, 意向::低"],
    ]
    job = upload(client, csv_bytes(rows), start="true").json()
    assert client.get(f"/api/v1/imports/{job['id']}").json()["result"]["created"] == 1
    errors = read_errors(client, job["id"])
    assert [(row[0], row[1]) for row in errors[1:]] == [("3", "标签")]
    assert "意向" in errors[1][-1]
    wang = Contact.objects.get(display_name="王伟")
    assert tags_of(wang) == ["VIP", "意向::高"]
    # A second file gives 王伟 another value of 意向: it replaces the first, in the change log too.
    rows = [["姓名", "手机", "标签"], ["王伟", "13900000001", "意向：：中"]]
    job = upload(client, csv_bytes(rows), start="true", duplicate_policy="update").json()
    assert client.get(f"/api/v1/imports/{job['id']}").json()["result"]["updated"] == 1
    assert tags_of(wang) == ["VIP", "意向::中"]
    entry = ChangeLogEntry.objects.filter(object_id=wang.pk, content_type__model="contact").latest("id")
    assert entry.changes["tags"] == [["VIP", "意向::高"], ["VIP", "意向::中"]]


@pytest.mark.django_db
def test_a_merge_keeps_the_survivor_s_tag_of_a_scope_and_its_undo_puts_the_other_back(
    admin: User, make_contact: Callable[..., Contact]
) -> None:
    keep = make_contact(given_name="伟", family_name="王")
    gone = make_contact(given_name="伟", family_name="王")
    from guanxi.core.services import tags_set

    tags_set(keep, ["意向::高"])
    tags_set(gone, ["意向::低", "VIP"])
    merge = services.contact_merge(survivor=keep.pk, others=[gone.pk], user=admin)
    assert tags_of(keep) == ["VIP", "意向::高"]
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert tags_of(keep) == ["意向::高"] and tags_of(gone) == ["VIP", "意向::低"]


@pytest.mark.django_db
def test_list_cells_show_the_scope_lighter(admin: User, make_account: Callable[..., Account]) -> None:
    make_account(name="华为", tags=["VIP", "意向::高"])
    page = client_for(admin).get(reverse("ui:accounts-list") + "?columns=name,tags").content.decode()
    assert '<span class="badge bg-blue-lt">VIP</span>' in page
    assert '<span class="badge bg-azure-lt" title="意向::高"><span class="fw-normal">意向:</span> 高</span>' in page


@pytest.mark.django_db
def test_a_list_filters_by_any_tag_of_a_scope(
    admin: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    high = make_account(name="甲", tags=["意向::高"])
    low = make_account(name="乙", tags=["意向::低", "VIP"])
    vip = make_account(name="丙", tags=["VIP"])
    make_account(name="丁", tags=["阶段::试用"])
    api = api_for(admin)

    def listed(query: str) -> set[int]:
        response = api.get(f"accounts?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json_body["items"]}

    assert listed("tag=意向::*") == {high.pk, low.pk}
    assert listed("tag=意向::高") == {high.pk}
    assert listed("tag__in=意向::*,VIP") == {high.pk, low.pk, vip.pk}
    # The list's tag select offers "意向: any" before the scope's values.
    User.objects.filter(pk=admin.pk).update(language="en")
    page = client_for(admin).get(reverse("ui:accounts-list")).content.decode()
    select = page.split('name="tag"', 1)[1].split("</select>", 1)[0]
    values = [v for v in re.findall(r'<option value="([^"]*)"', select) if v]
    assert values == ["VIP", "意向::*", "意向::低", "意向::高", "阶段::*", "阶段::试用"]
    assert ">意向: any<" in select


@pytest.mark.django_db
def test_a_list_finds_the_records_without_a_scope_s_tag(
    admin: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    rated = make_account(name="甲", tags=["意向::高"])
    vip = make_account(name="乙", tags=["VIP"])
    bare = make_account(name="丙")
    api = api_for(admin)

    def listed(query: str) -> set[int]:
        response = api.get(f"accounts?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json_body["items"]}

    # The prospects not yet given a 意向: the next ones to classify.
    assert listed("tag__not=意向::*") == {vip.pk, bare.pk}
    assert listed("tag__not=意向::*,VIP") == {bare.pk}
    assert listed("tag=VIP&tag__not=意向::*") == {vip.pk}
    assert rated.pk in listed("tag__not=阶段::*")
    User.objects.filter(pk=admin.pk).update(language="zh-hans")
    page = client_for(admin).get(reverse("ui:accounts-list"), {"tag__not": "意向::*"}).content.decode()
    control = page.split('id="filter-tag__not"', 1)[1].split("</select>", 1)[0]
    assert '<option value="意向::*" selected>意向：任意</option>' in control
    assert "不含标签" in page and "丙" in page and "甲" not in page.split('id="list-table"', 1)[1]
