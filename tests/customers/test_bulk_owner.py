"""The set-based bulk owner change (``customers.services.bulk_owner``, ``Resource.bulk_owner``) writes
exactly what one ``account_update`` / ``contact_update`` per record writes.

Two identical sets of accounts and people are built; set A changes hands record by record (the hook
taken away, as before it existed), set B through the hook; then everything the two wrote is compared
row by row, ids and times aside: the records, their change log, their timelines, the notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core import bulk
from guanxi.core.errors import FieldErrors
from guanxi.core.follows import follow_many
from guanxi.core.models import ChangeLogEntry, Job, TimelineEntry
from guanxi.core.registry import resource_at
from guanxi.core.search import search
from guanxi.customers.models import Account, AssignmentRule, Contact
from guanxi.customers.services import accounts as account_services
from guanxi.customers.services import bulk_owner
from guanxi.identity.models import Team
from tests.customers.conftest import BothWays, Desk, People, apply_in_bulk, assert_same, marks

pytestmark = pytest.mark.django_db


def _change(desk: Desk, p: People, *, all_or_nothing: bool) -> Any:
    return apply_in_bulk(p.actor, desk.accounts, "owner", all_or_nothing=all_or_nothing, owner=p.successor.pk)


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["request", "job"])
def test_the_set_based_owner_change_writes_what_one_update_per_account_writes(
    people: People, team_south: Team, bulk_both_ways: Callable[..., BothWays], all_or_nothing: bool
) -> None:
    ways = bulk_both_ways("owner", all_or_nothing=all_or_nothing, owner=people.successor.pk)
    result_a, result_b, seen_a, seen_b, in_bulk = ways.result_a, ways.result_b, ways.seen_a, ways.seen_b, ways.in_bulk

    assert result_a == result_b == {**result_a, "selected": 8, "changed": 7, "unchanged": 1, "failed": 0}
    assert_same(seen_a, seen_b)
    # What the comparison stands on: the people went along, the pool let go, the new owner was told.
    owners = [Contact.objects.get(pk=x.pk).owner_id for x in in_bulk.contacts]
    moved = {f"c{i}" for i, owner in enumerate(owners) if owner == people.successor.pk}
    assert moved == {"c0", "c1", "c3", "c5", "c6"}
    assert Contact.objects.get(pk=in_bulk.contacts[6].pk).team_id == team_south.pk
    assert Account.objects.get(pk=in_bulk.accounts[2].pk).pooled_at is None
    assert Account.objects.get(pk=in_bulk.accounts[3].pk).pool_due_at is None
    assert any("2 contacts of the account went along" in t[2] for t in seen_b["timeline"])
    told = {(n[0], n[1], n[2]) for n in seen_b["notifications"]}
    assert ("a1", people.successor.pk, "assigned") in told
    assert ("a1", people.follower.pk, "changed") in told
    # The search index follows: the new owner finds the companies and people given to them.
    assert in_bulk.accounts[1].pk in {hit.id for hit in search(people.successor, "乙测试公司1")}


def test_contacts_change_hands_in_bulk_as_one_by_one(people: People, bulk_both_ways: Callable[..., BothWays]) -> None:
    ways = bulk_both_ways("owner", path="contacts", owner=people.successor.pk)
    result_a, result_b, seen_a, seen_b = ways.result_a, ways.result_b, ways.seen_a, ways.seen_b
    assert result_a == result_b == {**result_a, "changed": 8}
    assert_same(seen_a, seen_b)


def test_more_people_than_a_request_moves_go_to_a_job_as_one_by_one(
    people: People,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(account_services, "FOLLOW_IN_REQUEST", 1)
    monkeypatch.setattr(bulk_owner, "FOLLOW_IN_REQUEST", 1)
    sets = []
    for prefix in ("甲", "乙"):
        account = make_account(name=f"{prefix}大公司", owner_id=people.rep.pk)
        for n in range(2):
            links = [{"account": account.pk, "is_primary": True}]
            make_contact(family_name=prefix, given_name=f"人{n}", owner_id=people.rep.pk, accounts=links)
        sets.append(Desk(accounts=[account], contacts=[]))
    accounts = resource_at("accounts")
    with monkeypatch.context() as patch:
        patch.setattr(accounts, "bulk_owner", None)
        _change(sets[0], people, all_or_nothing=True)
    _change(sets[1], people, all_or_nothing=True)
    jobs = list(Job.objects.filter(kind="bulk").order_by("pk"))
    assert len(jobs) == 2
    for job in jobs:
        job.params.pop("ids")
    assert jobs[0].params == jobs[1].params
    summaries = [
        TimelineEntry.objects.get(object_id=d.accounts[0].pk, kind="owner", content_type__model="account").summary
        for d in sets
    ]
    assert summaries[0] == summaries[1]
    assert "move along in the background" in summaries[1]


def test_a_refusal_is_reported_per_record_and_writes_nothing_of_it(
    people: People,
    desk: Callable[[str], Desk],
    team_south: Team,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A team the people of a company may not be given (here, refused by a stand-in check): the
    companies of that team fail, with the service's error; the others change hands."""
    made = desk("乙")
    checked = bulk_owner.record_bulk_check

    def refuse_south(**kwargs: Any) -> None:
        if kwargs["data"].get("team_id") == team_south.pk:
            raise FieldErrors({"team_id": ["You may not change this field."]})
        checked(**kwargs)

    monkeypatch.setattr(bulk_owner, "record_bulk_check", refuse_south)
    result = _change(made, people, all_or_nothing=False)
    assert result["failed"] == 1 and result["changed"] == 6
    assert result["errors"] == [{"id": made.accounts[7].pk, "errors": {"team_id": ["You may not change this field."]}}]
    assert Account.objects.get(pk=made.accounts[7].pk).owner_id == people.rep.pk
    assert Contact.objects.get(pk=made.contacts[6].pk).owner_id == people.rep.pk
    assert not TimelineEntry.objects.filter(object_id=made.accounts[7].pk, kind="owner").exists()
    with pytest.raises(FieldErrors) as refused:
        _change(desk("丙"), people, all_or_nothing=True)
    assert list(refused.value.errors) == [f"records.{Account.objects.get(name='丙华南公司').pk}.team_id"]


@pytest.mark.parametrize(
    ("action", "hook", "given", "changed", "logged"),
    [
        ("owner", "bulk_owner", {}, 7, None),
        ("delete", "bulk_delete", {}, 8, 8),
        ("tag_add", "bulk_tags", {"tags": ["新标签"]}, 8, 8),
        ("update", "bulk_update", {"data": {"industry": "software"}}, 8, 8),
        ("release", "bulk_release", {"reason": "不再跟进"}, 7, 12),
        ("claim", "bulk_claim", {}, 1, 1),
        ("assign_rules", "bulk_assign", {}, 7, 12),
    ],
)
def test_an_unforeseen_failure_of_a_hook_falls_back_to_one_by_one(
    people: People,
    desk: Callable[[str], Desk],
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    hook: str,
    given: dict[str, Any],
    changed: int,
    logged: int | None,
) -> None:
    """``core.bulk._in_bulk``, the one runner of every set-based hook: a hook that fails unforeseen
    after writing is undone by its savepoint, and the records go through the service one by one."""
    made = desk("乙")
    if action == "assign_rules":  # every account to the successor (a6 is theirs already)
        AssignmentRule.objects.create(name="全部", position=1, conditions={}, assignee=people.successor)
    real = getattr(resource_at("accounts"), hook)

    def broken(**kwargs: Any) -> Any:
        real(**kwargs)
        Account.all_objects.filter(pk=made.accounts[0].pk).update(description="half written")
        raise FieldErrors({"": ["unforeseen"]})

    monkeypatch.setattr(resource_at("accounts"), hook, broken)
    log_mark = marks()[0]
    kwargs = given or ({"owner": people.successor.pk} if action == "owner" else {})
    result = apply_in_bulk(people.actor, made.accounts, action, all_or_nothing=False, **kwargs)
    assert result["changed"] == changed
    assert Account.all_objects.get(pk=made.accounts[0].pk).description == ""  # its savepoint undid it
    if logged is not None:  # one change-log row each: the hook's went with its savepoint
        assert ChangeLogEntry.objects.filter(pk__gt=log_mark).count() == logged


def _query_count(n: int, p: People, make_account: Callable[..., Account], make_contact: Callable[..., Contact]) -> int:
    ids = []
    for i in range(n):
        account = make_account(name=f"数量{n}公司{i}", owner_id=p.rep.pk)
        ids.append(account.pk)
        links = [{"account": account.pk, "is_primary": True}]
        make_contact(family_name=f"数{n}", given_name=f"人{i}", owner_id=p.rep.pk, accounts=links)
    follow_many(user=p.follower, model=Account, pks=ids, following=True)
    plan = bulk.bulk_plan(resource=resource_at("accounts"), user=p.actor, action="owner", owner=p.successor.pk)
    with CaptureQueriesContext(connection) as queries:
        result = bulk.bulk_apply_ids(plan, p.actor, ids, all_or_nothing=True)
    assert result["changed"] == n
    assert Contact.objects.filter(family_name=f"数{n}", owner=p.successor).count() == n
    return len(queries)


def test_the_queries_do_not_grow_with_the_accounts(
    people: People, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """The same statements for 10 accounts and their people as for 100. Only SQLite's limit of 999
    parameters a statement makes Django split an insert of 100 change-log rows (10 columns) in two,
    once for the accounts and once for the people; PostgreSQL inserts each in one."""
    few = _query_count(10, people, make_account, make_contact)
    many = _query_count(100, people, make_account, make_contact)
    assert few <= many <= few + (2 if connection.vendor == "sqlite" else 0), (few, many)
