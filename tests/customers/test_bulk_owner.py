"""The set-based bulk owner change (``customers.services.bulk_owner``, ``Resource.bulk_owner``) writes
exactly what one ``account_update`` / ``contact_update`` per record writes.

Two identical sets of accounts and people are built; set A changes hands record by record (the hook
taken away, as before it existed), set B through the hook; then everything the two wrote is compared
row by row, ids and times aside: the records, their change log, their timelines, the notifications.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.activities.models import Notification
from guanxi.api.crud import tag_names_for
from guanxi.core import bulk
from guanxi.core.errors import FieldErrors
from guanxi.core.follows import follow_many
from guanxi.core.models import ChangeLogEntry, Job, TimelineEntry
from guanxi.core.registry import resource_at
from guanxi.core.search import search
from guanxi.customers.models import Account, Contact
from guanxi.customers.services import accounts as account_services
from guanxi.customers.services import bulk_owner
from guanxi.identity.models import Role, Team, User

pytestmark = pytest.mark.django_db

#: Fields that differ between two identical sets by construction, or by the clock.
SKIPPED = {"id", "name", "family_name", "given_name", "display_name", "created_at", "updated_at", "owner_since"}
SKIPPED |= {"dup_key", "name_keys", "pooled_at", "pool_due_at", "accounts"}  # links: compared by the log
#: Changes of the change log that hold a time (each path's own "now").
TIMED = {"owner_since", "pooled_at"}


@dataclass
class People:
    actor: User
    rep: User  # the previous owner of most
    other_rep: User  # holds people at rep's companies, and a company of their own
    successor: User  # the new owner
    follower: User  # follows some of the companies and people


@pytest.fixture
def people(
    admin: User, rep: User, other_rep: User, make_user: Callable[..., User], sales_role: Role, team_east: Team
) -> People:
    return People(
        actor=admin,
        rep=rep,
        other_rep=other_rep,
        successor=make_user(role=sales_role, team=team_east, name="张伟"),
        follower=make_user(superuser=True, name="王芳"),
    )


@dataclass
class Desk:
    accounts: list[Account]
    contacts: list[Contact]


@pytest.fixture
def desk(
    people: People,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    team_south: Team,
) -> Callable[[str], Desk]:
    """``desk(prefix)``: one set of accounts of every kind an owner change treats differently, and
    their people (names starting with ``prefix``, so that two sets stand side by side)."""
    return lambda prefix: build(prefix, people, make_account, make_contact, team_south)


def build(
    prefix: str,
    p: People,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    team_south: Team,
) -> Desk:
    a = [make_account(name=f"{prefix}测试公司{i}", owner_id=p.rep.pk) for i in range(8)]
    a[2] = make_account(name=f"{prefix}测试公司池", owner_id=p.rep.pk, tags=["重点", "意向::高"])
    a[5] = make_account(name=f"{prefix}别人的公司", owner_id=p.other_rep.pk)
    a[6] = make_account(name=f"{prefix}已是他的公司", owner_id=p.successor.pk)
    a[7] = make_account(name=f"{prefix}华南公司", owner_id=p.rep.pk, team_id=team_south.pk)
    now = timezone.now()
    # In the customer pool (no owner) and with a pool rule's date set.
    Account.objects.filter(pk=a[2].pk).update(owner=None, pooled_at=now, pool_reason="久未跟进")
    Account.objects.filter(pk=a[3].pk).update(pool_due_at=now + datetime.timedelta(days=3), pool_reason="旧")

    def person(n: int, owner: User, links: list[dict[str, Any]]) -> Contact:
        return make_contact(family_name=prefix, given_name=f"人{n}", owner_id=owner.pk, accounts=links)

    c = [
        person(0, p.rep, [{"account": a[1].pk, "is_primary": True}]),  # goes along
        person(1, p.rep, [{"account": a[1].pk, "is_primary": True}]),  # goes along
        person(2, p.other_rep, [{"account": a[1].pk, "is_primary": True}]),  # someone else's: stays
        person(3, p.rep, [{"account": a[0].pk, "is_primary": True}, {"account": a[1].pk}]),  # goes with a[0]
        person(4, p.rep, [{"account": a[5].pk, "is_primary": True}, {"account": a[4].pk}]),  # not rep's company: stays
        person(5, p.other_rep, [{"account": a[5].pk, "is_primary": True}]),  # goes along from other_rep
        person(6, p.rep, [{"account": a[7].pk, "is_primary": True}]),  # goes along, into 华南's team
        person(7, p.rep, [{"account": a[2].pk, "is_primary": True}]),  # at the pooled one: stays
    ]
    follow_many(user=p.follower, model=Account, pks=[a[0].pk, a[1].pk, a[2].pk], following=True)
    follow_many(user=p.follower, model=Contact, pks=[c[0].pk, c[6].pk], following=True)
    follow_many(user=p.other_rep, model=Account, pks=[a[4].pk], following=True)
    return Desk(accounts=[Account.all_objects.get(pk=x.pk) for x in a], contacts=c)


def _marks() -> tuple[int, int, int]:
    def last(model: Any) -> int:
        return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    return last(ChangeLogEntry), last(TimelineEntry), last(Notification)


def _untimed(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if k not in TIMED else [v[0] is None, v[1] is None]) for k, v in changes.items()}


def written(desk: Desk, marks: tuple[int, int, int]) -> dict[str, Any]:
    """Everything a set's owner change wrote, with each record named by its place in the set."""
    place = {("account", x.pk): f"a{i}" for i, x in enumerate(desk.accounts)}
    place |= {("contact", x.pk): f"c{i}" for i, x in enumerate(desk.contacts)}

    def named(content_type: Any, object_id: int) -> str:
        return place[(content_type.model, object_id)]

    accounts = Account.all_objects.filter(pk__in=[x.pk for x in desk.accounts]).order_by("pk")
    contacts = Contact.all_objects.filter(pk__in=[x.pk for x in desk.contacts]).order_by("pk")
    tags = {
        model: tag_names_for(model, [x.pk for x in rows]) for model, rows in ((Account, accounts), (Contact, contacts))
    }

    def fields(obj: Any) -> dict[str, Any]:
        # The version and the tags too, which ``model_to_dict`` leaves out (not editable; not a field).
        stored = {"version": obj.version, "tags": tags[type(obj)].get(obj.pk, []), **model_to_dict(obj)}
        return {k: v for k, v in stored.items() if k not in SKIPPED}

    log_mark, timeline_mark, notification_mark = marks
    log = ChangeLogEntry.objects.filter(pk__gt=log_mark).select_related("content_type")
    timeline = TimelineEntry.objects.filter(pk__gt=timeline_mark).select_related("content_type")
    notifications = Notification.objects.filter(pk__gt=notification_mark).select_related("content_type", "change")
    return {
        "accounts": [fields(x) for x in accounts],
        "pool": [(x.pooled_at is None, x.pool_due_at is None, x.owner_since is None) for x in accounts],
        "contacts": [fields(x) for x in contacts],
        # Sorted by their words: the system's rows (a tier computed again) have no actor to compare.
        "log": sorted(
            [
                (named(e.content_type, e.object_id), e.action, e.actor_id, e.source, repr(_untimed(e.changes)))
                for e in log
            ],
            key=repr,
        ),
        "timeline": sorted(
            [(named(e.content_type, e.object_id), e.kind, e.summary, repr(e.data), e.actor_id) for e in timeline],
            key=repr,
        ),
        "notifications": sorted(
            [
                (
                    named(n.content_type, n.object_id),
                    n.recipient_id,
                    n.kind,
                    n.actor_id,
                    n.summary,
                    repr(_untimed(n.change.changes)) if n.change else "",
                )
                for n in notifications
            ],
            key=repr,
        ),
    }


def assert_same(one_by_one: dict[str, Any], in_bulk: dict[str, Any]) -> None:
    """Each kind of row alike, naming the first field or row that differs."""
    for key, rows in one_by_one.items():
        assert len(in_bulk[key]) == len(rows), key
        for a, b in zip(rows, in_bulk[key], strict=True):
            if isinstance(a, dict):
                assert {k: (v, b.get(k)) for k, v in a.items() if b.get(k) != v} == {}, key
            assert b == a, key


def _change(
    desk: Desk,
    p: People,
    *,
    all_or_nothing: bool,
    path: str = "accounts",
    records: Any = None,
    action: str = "owner",
    **given: Any,
) -> Any:
    """``action`` on the set's accounts (or ``records``): the owner to ``p.successor`` unless
    ``given`` says what else (``tags=[...]``)."""
    resource = resource_at(path)
    plan = bulk.bulk_plan(resource=resource, user=p.actor, action=action, **(given or {"owner": p.successor.pk}))
    ids = [x.pk for x in (records if records is not None else desk.accounts)]
    return bulk.bulk_apply_ids(plan, p.actor, ids, all_or_nothing=all_or_nothing)


#: The resource's set-based hook of each action, which the record-by-record way takes away.
HOOKS = {"owner": "bulk_owner", "tag_add": "bulk_tags", "tag_remove": "bulk_tags"}


@dataclass
class BothWays:
    """The same change (of owner, unless told) made record by record (the hook taken away) and in
    bulk, on two identical sets: each way's result and what it wrote."""

    in_bulk: Desk
    result_a: Any
    result_b: Any
    seen_a: Any
    seen_b: Any


@pytest.fixture
def both_ways(
    people: People,
    desk: Callable[[str], Desk],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., BothWays]:
    def run(
        *,
        path: str = "accounts",
        all_or_nothing: bool = True,
        action: str = "owner",
        prepare: Callable[[Desk], Any] = lambda desk: None,
        **given: Any,
    ) -> BothWays:
        """``prepare(desk)``: what else each set holds before the change (tags, say)."""
        one_by_one, in_bulk = desk("甲"), desk("乙")
        prepare(one_by_one)
        prepare(in_bulk)
        records = {"accounts": lambda d: d.accounts, "contacts": lambda d: d.contacts}[path]
        how = {"all_or_nothing": all_or_nothing, "path": path, "action": action, **given}
        marks = _marks()
        with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
            patch.setattr(resource_at(path), HOOKS[action], None)
            result_a = _change(one_by_one, people, records=records(one_by_one), **how)
        seen_a = written(one_by_one, marks)
        marks = _marks()
        with django_capture_on_commit_callbacks(execute=True):
            result_b = _change(in_bulk, people, records=records(in_bulk), **how)
        return BothWays(in_bulk, result_a, result_b, seen_a, written(in_bulk, marks))

    return run


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["request", "job"])
def test_the_set_based_owner_change_writes_what_one_update_per_account_writes(
    people: People, team_south: Team, both_ways: Callable[..., BothWays], all_or_nothing: bool
) -> None:
    ways = both_ways(all_or_nothing=all_or_nothing)
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


def test_contacts_change_hands_in_bulk_as_one_by_one(both_ways: Callable[..., BothWays]) -> None:
    ways = both_ways(path="contacts")
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


def test_an_unforeseen_refusal_falls_back_to_one_by_one(
    people: People, desk: Callable[[str], Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = desk("乙")

    def broken(**kwargs: Any) -> Any:
        Account.objects.filter(pk=made.accounts[0].pk).update(description="half written")
        raise FieldErrors({"owner": ["unforeseen"]})

    monkeypatch.setattr(resource_at("accounts"), "bulk_owner", broken)
    result = _change(made, people, all_or_nothing=False)
    assert result["changed"] == 7
    assert Account.objects.get(pk=made.accounts[0].pk).description == ""  # its savepoint undid it


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
