# ruff: noqa: F811 - the customer fixtures are imported by name and then used as arguments
"""Bulk actions (API and list pages): edit, change owner, add/remove tags, delete to the recycle bin.

Each record is re-checked through restrict for the action; one the user may not change is skipped and
reported, never half-written; large selections run as a job; query counts grow per record, not worse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guanxi.core import bulk
from guanxi.core.models import ChangeLogEntry, Job, TimelineEntry
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import Role, User
from tests.customers.conftest import (  # noqa: F401 - fixtures
    Api,
    admin,
    english,
    grant,
    make_account,
    make_contact,
    make_user,
    other_rep,
    rep,
    sales_role,
    team_east,
    team_south,
)
from tests.factories import client_for, share, tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def assigner(sales_role: Role) -> Role:
    grant(sales_role, "customers.contact", ("assign",))
    grant(sales_role, "customers.account", ("assign",))
    return sales_role


def tags_of(obj: Any) -> set[str]:
    from guanxi.api.crud import tag_names_for

    return set(tag_names_for(type(obj), [obj.pk]).get(obj.pk, []))


def test_change_owner_uses_the_service_and_skips_what_the_user_may_not_assign(
    rep: User, other_rep: User, assigner: Role, make_contact: Callable[..., Contact]
) -> None:
    mine = [make_contact(by=rep, given_name=str(i)) for i in range(2)]
    theirs = make_contact(by=other_rep)
    response = Api(rep).post(
        "contacts/bulk", {"action": "owner", "owner": other_rep.pk, "ids": [c.pk for c in mine] + [theirs.pk]}
    )
    assert response.status_code == 200, response.json_body
    body = response.json_body
    assert (body["selected"], body["changed"], body["skipped"], body["failed"]) == (3, 2, 1, 0)
    assert body["skipped_ids"] == [theirs.pk]
    for contact in mine:
        contact.refresh_from_db()
        assert contact.owner_id == other_rep.pk
        # the contact service's rules apply: an owner entry on the timeline, one change-log row per record
        assert TimelineEntry.objects.filter(object_id=contact.pk, kind="owner").count() == 1
        entry = ChangeLogEntry.objects.get(object_id=contact.pk, request_id=response["X-Request-ID"])
        assert entry.changes["owner"] == [rep.pk, other_rep.pk]


def test_change_owner_needs_the_assign_permission(
    rep: User, other_rep: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact(by=rep)
    response = Api(rep).post("contacts/bulk", {"action": "owner", "owner": other_rep.pk, "ids": [contact.pk]})
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.owner_id == rep.pk


def test_tag_add_and_remove_by_query_and_view_only_records_are_skipped(
    rep: User, other_rep: User, make_contact: Callable[..., Contact]
) -> None:
    mine = [make_contact(by=rep, family_name="王", given_name=str(i)) for i in range(3)]
    shared = make_contact(by=other_rep, family_name="王", given_name="共享")
    share(shared, user=rep, access="view")
    hidden = make_contact(by=other_rep, family_name="王", given_name="别人")
    tag(mine[0], "old")
    api = Api(rep)
    added = api.post("contacts/bulk", {"action": "tag_add", "tags": ["重点", "vip"], "query": {"search": "王"}})
    assert added.status_code == 200, added.json_body
    assert (added.json_body["selected"], added.json_body["changed"], added.json_body["skipped"]) == (4, 3, 1)
    assert added.json_body["skipped_ids"] == [shared.pk]
    assert tags_of(mine[0]) == {"old", "重点", "vip"} and tags_of(mine[1]) == {"重点", "vip"}
    assert tags_of(shared) == set() and tags_of(hidden) == set()
    removed = api.post("contacts/bulk", {"action": "tag_remove", "tags": ["vip"], "ids": [c.pk for c in mine]})
    assert removed.json_body["changed"] == 3
    assert tags_of(mine[0]) == {"old", "重点"}
    again = api.post("contacts/bulk", {"action": "tag_remove", "tags": ["vip"], "ids": [c.pk for c in mine]})
    assert (again.json_body["changed"], again.json_body["unchanged"]) == (0, 3)


def test_delete_goes_to_the_recycle_bin_and_update_sets_a_field(
    rep: User, other_rep: User, make_contact: Callable[..., Contact]
) -> None:
    mine = [make_contact(by=rep, given_name=str(i)) for i in range(2)]
    theirs = make_contact(by=other_rep)
    api = Api(rep)
    updated = api.post(
        "contacts/bulk", {"action": "update", "data": {"department": "华东销售部"}, "ids": [c.pk for c in mine]}
    )
    assert updated.json_body["changed"] == 2
    assert set(Contact.objects.filter(pk__in=[c.pk for c in mine]).values_list("department", flat=True)) == {
        "华东销售部"
    }
    deleted = api.post("contacts/bulk", {"action": "delete", "ids": [c.pk for c in mine] + [theirs.pk]})
    assert (deleted.json_body["changed"], deleted.json_body["skipped"]) == (2, 1)
    assert Contact.all_objects.filter(pk__in=[c.pk for c in mine], deleted_at__isnull=False).count() == 2
    assert Contact.objects.filter(pk=theirs.pk).exists()


def test_bad_input_names_the_field_and_a_refused_record_undoes_the_batch(
    admin: User, make_account: Callable[..., Account]
) -> None:
    parent, child = make_account(name="母公司"), make_account(name="子公司")
    api = Api(admin)
    for body, field in (
        ({"action": "explode", "ids": [parent.pk]}, "action"),
        ({"action": "update", "ids": [parent.pk], "data": {"nonsense": 1}}, "data.nonsense"),
        ({"action": "update", "ids": [parent.pk], "data": {"annual_revenue": "lots"}}, "data.annual_revenue"),
        ({"action": "tag_add", "ids": [parent.pk], "tags": []}, "tags"),
        ({"action": "owner", "ids": [parent.pk], "owner": 999999}, "owner"),
        ({"action": "delete"}, "ids"),
        ({"action": "delete", "query": {"bogus": "x"}}, "query.bogus"),
    ):
        response = api.post("accounts/bulk", body)
        assert response.status_code == 400, (body, response.json_body)
        assert response.json_body["errors"][0]["field"] == field, response.json_body
    # The child takes the parent first; then the parent would become its own parent: refused, all undone.
    response = api.post(
        "accounts/bulk", {"action": "update", "data": {"parent": parent.pk}, "ids": [child.pk, parent.pk]}
    )
    assert response.status_code == 400
    assert response.json_body["errors"][0]["field"].startswith(f"records.{parent.pk}")
    child.refresh_from_db()
    assert child.parent_id is None


def test_large_selection_runs_as_a_job_in_chunks(
    rep: User,
    other_rep: User,
    make_contact: Callable[..., Contact],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(bulk, "SYNC_LIMIT", 3)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    mine = [make_contact(by=rep, family_name="赵", given_name=str(i)) for i in range(5)]
    viewable = [make_contact(by=other_rep, family_name="赵", given_name=f"s{i}") for i in range(2)]
    for contact in viewable:
        share(contact, user=rep, access="view")
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(rep).post("contacts/bulk", {"action": "tag_add", "tags": ["华东"], "query": {"search": "赵"}})
    assert response.status_code == 202, response.json_body
    job = Job.objects.get(pk=response.json_body["id"])
    assert job.kind == "bulk" and job.status == "succeeded", job.error
    assert (job.result["selected"], job.result["changed"], job.result["skipped"]) == (7, 5, 2)
    assert (job.processed, job.total) == (7, 7) and job.checkpoint["last"] == max(c.pk for c in mine + viewable)
    assert all(tags_of(c) == {"华东"} for c in mine) and all(tags_of(c) == set() for c in viewable)
    assert Api(rep).get(f"jobs/{job.pk}").json_body["result"]["changed"] == 5
    assert Api(other_rep).get(f"jobs/{job.pk}").status_code == 404


def test_bulk_queries_grow_per_record_only(admin: User, make_contact: Callable[..., Contact]) -> None:
    contacts = [make_contact(given_name=str(i)) for i in range(12)]
    api = Api(admin)

    def queries(ids: list[int], tag_name: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api.post("contacts/bulk", {"action": "tag_add", "tags": [tag_name], "ids": ids})
        assert response.json_body["changed"] == len(ids)
        return len(captured)

    few = queries([c.pk for c in contacts[:2]], "a")
    many = queries([c.pk for c in contacts[2:12]], "b")
    per_record = (many - few) / 8
    # Selection, permission and current tags are read once per batch; contacts are tagged set-based
    # (``Resource.bulk_tags``; ``tests/customers/test_bulk_tags.py`` counts them), others by a service call each.
    assert per_record <= 30 and few - 2 * per_record <= 20, (few, many)


def test_list_page_offers_owner_and_all_matching(
    rep: User, other_rep: User, assigner: Role, make_contact: Callable[..., Contact]
) -> None:
    mine = [make_contact(by=rep, family_name="钱", given_name=str(i)) for i in range(3)]
    client = client_for(rep)
    page = client.get(reverse("ui:contacts-list")).content.decode()
    assert 'value="owner"' in page and "data-bulk-matching" in page
    # Change the owner of selected rows: the form asks for the owner, then applies.
    url = reverse("ui:contacts-bulk")
    ask = client.post(url, {"action": "owner", "pk": [mine[0].pk]})
    assert ask.status_code == 200 and 'name="owner"' in ask.content.decode()
    done = client.post(url, {"action": "owner", "pk": [mine[0].pk], "owner": other_rep.pk, "confirm": "yes"})
    assert done.status_code == 302
    mine[0].refresh_from_db()
    assert mine[0].owner_id == other_rep.pk
    # All records matching the filter, on every page: a confirmation that says how many, then the action.
    data = {"action": "add_tags", "select_all": "matching", "query": "search=钱", "tags": "跟进"}
    confirm = client.post(url, data)
    assert confirm.status_code == 200 and 'id="bulk-matching-count"' in confirm.content.decode()
    assert (
        ">2 records match" in confirm.content.decode().replace("\n", " ")
        or "2 records match" in confirm.content.decode()
    )
    client.post(url, {**data, "confirm": "yes"})
    assert tags_of(mine[1]) == {"跟进"} and tags_of(mine[2]) == {"跟进"} and tags_of(mine[0]) == set()
    delete = {"action": "delete", "select_all": "matching", "query": "search=钱", "confirm": "yes"}
    client.post(url, delete)
    assert not Contact.objects.filter(pk__in=[mine[1].pk, mine[2].pk]).exists()


def test_all_matching_edit_of_a_field(admin: User, make_account: Callable[..., Account]) -> None:
    accounts = [make_account(name=f"孙{i}", lifecycle_stage="prospect") for i in range(3)]
    other = make_account(name="周", lifecycle_stage="prospect")
    client = client_for(admin)
    url = reverse("ui:accounts-bulk")
    base = {"action": "edit", "select_all": "matching", "query": "search=孙"}
    form = client.post(url, base)
    assert form.status_code == 200 and 'name="lifecycle_stage"' in form.content.decode()
    done = client.post(
        url, {**base, "confirm": "yes", "step": "apply", "_apply": "lifecycle_stage", "lifecycle_stage": "customer"}
    )
    assert done.status_code == 302
    assert {a.lifecycle_stage for a in Account.objects.filter(pk__in=[a.pk for a in accounts])} == {"customer"}
    other.refresh_from_db()
    assert other.lifecycle_stage == "prospect"


# --- saved views on the customer lists (filters + columns + sort), personal and shared ---------------------


@pytest.mark.parametrize("path", ["accounts", "contacts"])
def test_saved_views_keep_filters_columns_and_sort(
    path: str, admin: User, rep: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    import re

    from guanxi.core.models import SavedView

    if path == "accounts":
        rows = [make_account(name=n, lifecycle_stage=s) for n, s in (("甲客户", "customer"), ("乙客户", "customer"))]
        make_account(name="丙潜在", lifecycle_stage="prospect")
        query, columns, first_col = "lifecycle_stage=customer&ordering=-name", "name,tier", "tier"
    else:
        rows = [make_contact(family_name="甲", title="CTO"), make_contact(family_name="乙", title="CTO")]
        make_contact(family_name="丙", title="CFO")
        query, columns, first_col = "title=CTO&ordering=-display_name", "display_name,department", "department"
    client = client_for(admin)
    list_url = reverse(f"ui:{path}-list")
    saved = client.post(
        reverse("ui:saved-view-save", args=[path]), {"name": "我的视图", "query": query, "columns": columns}
    )
    view = SavedView.objects.get(name="我的视图")
    assert saved.status_code == 302 and saved["Location"] == f"{list_url}?view={view.pk}"
    html = client.get(saved["Location"]).content.decode()
    shown = [int(pk) for pk in re.findall(r'<tr data-pk="(\d+)"', html)]
    assert shown == sorted((r.pk for r in rows), key=lambda pk: str(next(r for r in rows if r.pk == pk)), reverse=True)
    assert f'data-column="{first_col}"' in html and 'data-column="owner"' not in html
    assert 'aria-sort="descending"' in html
    # Private: another user neither sees it in the menu nor gets its filters.
    grant(rep.role, "customers.account", ("view",), "all")
    grant(rep.role, "customers.contact", ("view",), "all")
    other_html = client_for(rep).get(list_url).content.decode()
    assert "我的视图" not in other_html
    # Shared: now they do.
    view.shared = True
    view.save()
    shared_html = client_for(rep).get(f"{list_url}?view={view.pk}").content.decode()
    assert "我的视图" in shared_html
    assert [int(pk) for pk in re.findall(r'<tr data-pk="(\d+)"', shared_html)] == shown


def test_a_crashed_bulk_job_resumes_after_its_checkpoint(
    admin: User, make_contact: Callable[..., Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    from guanxi.core.jobs import job_run

    monkeypatch.setattr(bulk, "SYNC_LIMIT", 2)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    contacts = [make_contact(given_name=str(i)) for i in range(5)]
    real = bulk.bulk_apply_ids
    calls = {"n": 0}

    def crash_on_second_chunk(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "bulk_apply_ids", crash_on_second_chunk)
    job = bulk.bulk_start_or_run(
        resource=bulk.bulk_resource("contacts"),
        user=admin,
        action="update",
        ids=[c.pk for c in contacts],
        data={"department": "华北"},
    )
    assert isinstance(job, Job)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.checkpoint == {"last": contacts[1].pk} and job.processed == 2
    job_run(job.pk)  # the worker comes back: the job runs again from its checkpoint
    job.refresh_from_db()
    assert job.status == "succeeded" and (job.result["selected"], job.result["changed"]) == (5, 5)
    for contact in contacts:
        updates = ChangeLogEntry.objects.filter(object_id=contact.pk, content_type__model="contact", action="update")
        assert updates.count() == 1, contact.pk  # nothing done twice


def test_a_hand_over_costs_a_few_queries_a_record_and_no_savepoint_each(
    admin: User,
    make_user: Callable[..., User],
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    """Each record still goes through its service, but without a savepoint of its own (PostgreSQL
    slows down past 64 in one transaction: 500 accounts made 1,500) and without checking again the
    constraints over fields that did not change (Django asks the database once per check constraint).
    A changed field is checked as before: a negative revenue is refused, naming the record."""
    other = make_user(name="接手人")
    accounts = [make_account(name=f"公司{i}") for i in range(10)]
    for account in accounts[:5]:
        make_contact(family_name="张", given_name=str(account.pk), accounts=[{"account": account.pk}])
    api = Api(admin)

    def run(body: dict[str, Any]) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = api.post("accounts/bulk", {**body, "ids": [a.pk for a in accounts]})
        assert response.status_code == 200 and response.json_body["changed"] == 10, response.json_body
        return [query["sql"] for query in captured]

    for sqls in (
        run({"action": "owner", "owner": other.pk}),
        run({"action": "update", "data": {"industry": "retail"}}),
    ):
        # SQLite's search index writes in a savepoint of its own (FTS5 flushes its terms there).
        fts_writes = sum(sql.startswith("DELETE FROM core_search_fts") for sql in sqls)
        assert sum(sql.startswith("SAVEPOINT") for sql in sqls) - fts_writes <= 2
        assert not any('AS "_check"' in sql for sql in sqls)
    assert Contact.objects.filter(owner=other).count() == 5  # the people went with their companies

    def statements(sqls: list[str]) -> int:
        return sum(not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for sql in sqls)

    owner_queries = statements(run({"action": "owner", "owner": admin.pk}))
    edit_queries = statements(run({"action": "update", "data": {"industry": "software"}}))
    assert owner_queries <= 10 * 17 and edit_queries <= 10 * 8, (owner_queries, edit_queries)
    refused = api.post("accounts/bulk", {"action": "update", "data": {"annual_revenue": "-5"}, "ids": [accounts[3].pk]})
    assert refused.status_code == 400, refused.json_body
    assert any(f"records.{accounts[3].pk}" in e["field"] for e in refused.json_body["errors"]), refused.json_body
    assert Account.objects.get(pk=accounts[3].pk).annual_revenue != -5


def test_a_batch_tells_and_recomputes_in_one_go_after_it_commits(
    admin: User, rep: User, make_account: Callable[..., Account], django_capture_on_commit_callbacks: Any
) -> None:
    """Each record's change is told to whom it concerns as before (here its owner), but the batch's
    notifications and its tier recompute run once after the commit (``core.db.one_unit``), not
    once a record; in a job, a record refused is told to nobody."""
    from guanxi.activities.models import Notification

    accounts = [make_account(name=f"关注{i}", by=rep) for i in range(6)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = Api(admin).post(
            "accounts/bulk", {"action": "update", "data": {"industry": "retail"}, "ids": [a.pk for a in accounts]}
        )
    assert response.json_body["changed"] == 6
    assert len(callbacks) <= 3, callbacks  # the notifications, the tiers, the fit scores
    assert Notification.objects.filter(recipient=rep, kind="changed").count() == 6
    # A job goes on past a refusal: the refused record's change is undone and told to nobody.
    Notification.objects.all().delete()
    parent = accounts[1].pk  # its own parent: refused, the other two take it
    plan = bulk.bulk_plan(resource=bulk.bulk_resource("accounts"), user=admin, action="update", data={"parent": parent})
    with django_capture_on_commit_callbacks(execute=True):
        result = bulk.bulk_apply_ids(plan, admin, [a.pk for a in accounts[:3]], all_or_nothing=False)
    assert (result["changed"], result["failed"]) == (2, 1), result
    told = set(Notification.objects.filter(recipient=rep).values_list("object_id", flat=True))
    assert told == {accounts[0].pk, accounts[2].pk}
    assert Account.objects.get(pk=parent).parent_id is None
