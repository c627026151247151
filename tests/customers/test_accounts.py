"""Accounts through the API: CRUD, restrict, hierarchy, timeline and constant query counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers.models import Account
from guanxi.identity.models import User
from tests.customers.conftest import Api, field_errors

pytestmark = pytest.mark.django_db


def test_account_crud(admin_api: Api) -> None:
    created = admin_api.post(
        "accounts",
        {
            "name": "  深圳华强电子有限公司 ",
            "industry": "electronics",
            "employee_count": 320,
            "annual_revenue": "58000000.00",
            "website": "www.HQ-Electronics.cn",
            "province": "广东",
            "city": "深圳市",
            "lifecycle_stage": "customer",
            "tags": ["重点", "华南"],
        },
    )
    assert created.status_code == 201, created.json_body
    body = created.json_body
    assert body["name"] == "深圳华强电子有限公司"
    assert body["size"] == "large"  # derived from the head count
    assert body["province"] == "广东省"
    assert body["region"] == "华南"  # derived from the province
    assert body["website"] == "https://www.hq-electronics.cn"
    assert body["annual_revenue"] == "58000000.00"
    assert body["tags"] == ["华南", "重点"]
    assert body["owner"]["id"] == admin_api.user.pk
    assert created["ETag"] == '"v1"'

    pk = body["id"]
    stale = admin_api.patch(f"accounts/{pk}", {"lifecycle_stage": "partner"}, **{"If-Match": '"v0"'})
    assert stale.status_code == 412
    changed = admin_api.patch(f"accounts/{pk}", {"lifecycle_stage": "partner"}, **{"If-Match": '"v1"'})
    assert changed.status_code == 200
    assert changed.json_body["lifecycle_stage"] == "partner"
    entry = ChangeLogEntry.objects.filter(object_id=pk, action="update").latest("id")
    assert entry.changes == {"lifecycle_stage": ["customer", "partner"]}
    assert entry.source == "api"
    summaries = list(TimelineEntry.objects.filter(object_id=pk).values_list("kind", flat=True))
    assert "lifecycle_stage" in summaries and "created" in summaries

    listed = admin_api.get("accounts?lifecycle_stage=partner&search=华强")
    assert [a["id"] for a in listed.json_body["items"]] == [pk]
    assert admin_api.delete(f"accounts/{pk}").status_code == 204
    assert admin_api.get(f"accounts/{pk}").status_code == 404


def test_account_validation_names_fields(admin_api: Api) -> None:
    response = admin_api.post(
        "accounts", {"name": " ", "website": "not a site", "province": "火星", "currency": "rmb!", "industry": "x"}
    )
    assert response.status_code == 400
    errors = field_errors(response)
    assert {"name", "website", "province", "currency"} <= set(errors)
    assert "www.example.com" in errors["website"][0]


def test_rep_sees_only_own_accounts(
    rep: User, other_rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    mine = make_account(by=rep, name="我的客户")
    theirs = make_account(by=other_rep, name="别人的客户")
    api = api_for(rep)
    listed = api.get("accounts")
    assert [a["name"] for a in listed.json_body["items"]] == ["我的客户"]
    assert api.get(f"accounts/{theirs.pk}").status_code == 404
    assert api.patch(f"accounts/{theirs.pk}", {"name": "x"}).status_code == 404
    assert api.delete(f"accounts/{theirs.pk}").status_code == 404
    assert api.get(f"accounts/{mine.pk}").status_code == 200
    # Not even as a parent: an account the rep cannot see is "not there".
    response = api.patch(f"accounts/{mine.pk}", {"parent": theirs.pk})
    assert response.status_code == 400
    assert "parent" in field_errors(response)
    # Nor can the rep give an account away without the assign permission.
    response = api.patch(f"accounts/{mine.pk}", {"owner": other_rep.pk})
    assert response.status_code == 400
    assert "owner" in field_errors(response)


def test_parent_cycles_are_refused(admin_api: Api, make_account: Callable[..., Account]) -> None:
    group = make_account(name="集团")
    branch = make_account(name="分公司", parent=group)
    shop = make_account(name="门店", parent=branch)
    response = admin_api.patch(f"accounts/{group.pk}", {"parent": shop.pk})
    assert response.status_code == 400
    assert "loop" in field_errors(response)["parent"][0]
    response = admin_api.patch(f"accounts/{group.pk}", {"parent": group.pk})
    assert response.status_code == 400
    assert "own parent" in field_errors(response)["parent"][0]
    moved = admin_api.patch(f"accounts/{shop.pk}", {"parent": group.pk})
    assert moved.status_code == 200
    assert moved.json_body["parent"] == {"id": group.pk, "display": "集团"}
    assert TimelineEntry.objects.filter(object_id=shop.pk, kind="parent").exists()
    children = admin_api.get(f"accounts?parent={group.pk}&ordering=name")
    assert {a["name"] for a in children.json_body["items"]} == {"分公司", "门店"}


def test_owner_change_goes_on_the_timeline(
    admin_api: Api, rep: User, other_rep: User, make_account: Callable[..., Account]
) -> None:
    account = make_account(by=rep)
    response = admin_api.patch(f"accounts/{account.pk}", {"owner": other_rep.pk})
    assert response.status_code == 200
    entry = TimelineEntry.objects.get(object_id=account.pk, kind="owner")
    assert entry.summary == "Owner: 李雷 → 韩梅梅"


def test_ordering_by_revenue_pages_through_every_row(admin_api: Api, make_account: Callable[..., Account]) -> None:
    for n, revenue in enumerate([0, 5, 5, 5, 100, 0, 7]):
        make_account(name=f"客户{n}", annual_revenue=revenue)
    seen, cursor = [], ""
    while True:
        page = admin_api.get(f"accounts?ordering=-annual_revenue&limit=2{cursor}").json_body
        seen += [(a["annual_revenue"], a["name"]) for a in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == 7 and len(set(seen)) == 7
    assert [s[0] for s in seen] == sorted((s[0] for s in seen), key=float, reverse=True)


@pytest.mark.parametrize("as_rep", [False, True])
def test_list_query_count_does_not_grow(
    as_rep: bool, admin: User, rep: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    user = rep if as_rep else admin
    api = api_for(user)
    parent = make_account(by=user, name="总部")

    def count(n: int) -> int:
        for i in range(Account.objects.count(), n):
            make_account(by=user, name=f"客户{i:03d}", parent=parent)
        with CaptureQueriesContext(connection) as queries:
            response = api.get("accounts?limit=200")
        assert response.status_code == 200
        assert len(response.json_body["items"]) == n
        return len(queries)

    assert count(5) == count(30)


def test_contacts_the_previous_owner_held_go_with_the_account(
    admin_api: Api,
    rep: User,
    other_rep: User,
    make_user: Callable[..., User],
    sales_role: Any,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Any],
) -> None:
    """A new owner whose role reaches only their own records must get the company's people too."""
    from guanxi.customers.models import Contact

    acme = make_account(name="转移客户", owner_id=rep.pk)
    elsewhere = make_account(name="另一家", owner_id=rep.pk)

    def person(name: str, owner: User, links: list[dict[str, Any]]) -> Contact:
        return make_contact(family_name=name, given_name="某", owner_id=owner.pk, accounts=links)

    goes = person("随", rep, [{"account": acme.pk, "is_primary": True}])
    colleagues = person("同", other_rep, [{"account": acme.pk, "is_primary": True}])
    primary_elsewhere = person("兼", rep, [{"account": elsewhere.pk, "is_primary": True}, {"account": acme.pk}])
    unlinked = person("散", rep, [])
    newcomer = make_user(role=sales_role, team=rep.team, name="新人")

    changed = admin_api.patch(f"accounts/{acme.pk}", {"owner": newcomer.pk})
    assert changed.status_code == 200, changed.json_body
    owners = dict(Contact.objects.values_list("family_name", "owner_id"))
    assert owners == {"随": newcomer.pk, "同": other_rep.pk, "兼": rep.pk, "散": rep.pk}
    assert {goes.pk, colleagues.pk, primary_elsewhere.pk, unlinked.pk} == set(
        Contact.objects.values_list("pk", flat=True)
    )
    summary = TimelineEntry.objects.filter(content_type__model="account", object_id=acme.pk, kind="owner").get().summary
    assert summary == "Owner: 李雷 → 新人; 1 contact of the account went along"
    log = ChangeLogEntry.objects.get(content_type__model="contact", object_id=goes.pk, action="update")
    assert log.changes["owner"] == [rep.pk, newcomer.pk]
    # The edit form says so next to the owner.
    browser = Client()
    browser.force_login(admin_api.user)
    page = browser.get(f"/customers/accounts/{acme.pk}/edit/").content.decode()
    assert "A new owner takes along the contacts of this account that the current owner holds." in page
    # The newcomer, who sees only their own records, now finds the person at their account.
    assert [c["id"] for c in Api(newcomer).get("contacts").json_body["items"]] == [goes.pk]


def test_contacts_stay_when_the_user_may_not_assign_them(
    rep: User, make_user: Callable[..., User], make_account: Callable[..., Account], make_contact: Callable[..., Any]
) -> None:
    """A role that may hand over accounts but not contacts changes the account only."""
    from guanxi.customers.models import Contact
    from guanxi.identity.models import Role
    from tests.factories import grant

    role = Role.objects.create(name="客户调配员")
    grant(role, "customers.account", ["view", "change", "assign"], scope="all")
    grant(role, "customers.contact", ["view", "change"], scope="all")
    dispatcher = make_user(role=role, name="调配员")
    acme = make_account(name="只转客户", owner_id=rep.pk)
    person = make_contact(family_name="留", owner_id=rep.pk, accounts=[{"account": acme.pk, "is_primary": True}])
    changed = Api(dispatcher).patch(f"accounts/{acme.pk}", {"owner": dispatcher.pk})
    assert changed.status_code == 200, changed.json_body
    assert Contact.objects.get(pk=person.pk).owner_id == rep.pk
    assert (
        TimelineEntry.objects.filter(content_type__model="account", object_id=acme.pk, kind="owner").get().summary
        == "Owner: 李雷 → 调配员"
    )


def test_many_contacts_go_with_the_account_in_a_background_job(
    admin_api: Api,
    rep: User,
    make_user: Callable[..., User],
    sales_role: Any,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from guanxi.core.models import Job
    from guanxi.customers.models import Contact
    from guanxi.customers.services import accounts

    monkeypatch.setattr(accounts, "FOLLOW_IN_REQUEST", 1)
    acme = make_account(name="大客户", owner_id=rep.pk)
    people = [
        make_contact(family_name=f"员工{i}", owner_id=rep.pk, accounts=[{"account": acme.pk, "is_primary": True}])
        for i in range(3)
    ]
    newcomer = make_user(role=sales_role, team=rep.team, name="新人")
    with django_capture_on_commit_callbacks(execute=True):
        changed = admin_api.patch(f"accounts/{acme.pk}", {"owner": newcomer.pk})
    assert changed.status_code == 200, changed.json_body
    job = Job.objects.get(kind="bulk")
    assert job.status == "succeeded" and job.result["changed"] == 3, (job.error, job.result)
    assert {Contact.objects.get(pk=p.pk).owner_id for p in people} == {newcomer.pk}
    summary = TimelineEntry.objects.get(content_type__model="account", object_id=acme.pk, kind="owner").summary
    assert summary == "Owner: 李雷 → 新人; 3 contacts of the account move along in the background"
