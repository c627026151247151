"""Fixtures of the customer tests: people with roles, an API client, and small record builders.

Records are built through the services (so display names, contact points and links are what the
app would store); permissions are granted by writing role rules directly. The bulk actions with a
set-based hook are compared with their record-by-record path on two identical sets (``desk``,
``bulk_both_ways``, ``written``, ``assert_same``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from guanxi.activities.models import Notification
from guanxi.api.crud import tag_names_for
from guanxi.core import bulk, filters
from guanxi.core.follows import follow_many
from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.core.registry import resource_at
from guanxi.customers import services
from guanxi.customers.models import Account, Contact, PoolMove, PoolRule
from guanxi.identity.models import Role, RolePermission, Share, Team, User

PASSWORD = "Correct-Horse-73!"
CRUD = ("view", "add", "change", "delete")


def grant(role: Role, object_type: str, actions: Iterable[str] = CRUD, scope: str = "own") -> None:
    for action in actions:
        RolePermission.objects.update_or_create(
            role=role, object_type=object_type, action=action, defaults={"scope": scope}
        )


class Api:
    """A logged-in JSON client for /api/v1/."""

    def __init__(self, user: User):
        self.user = user
        self.client = Client()
        self.client.force_login(user)

    def _call(self, method: str, path: str, data: Any = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {"headers": headers}
        if data is not None:
            kwargs.update(data=json.dumps(data), content_type="application/json")
        response = getattr(self.client, method)(f"/api/v1/{path.lstrip('/')}", **kwargs)
        try:
            response.json_body = response.json()
        except (ValueError, TypeError):
            response.json_body = None
        return response

    def get(self, path: str, **headers: str) -> Any:
        return self._call("get", path, **headers)

    def post(self, path: str, data: Any = None, **headers: str) -> Any:
        return self._call("post", path, data if data is not None else {}, **headers)

    def patch(self, path: str, data: Any, **headers: str) -> Any:
        return self._call("patch", path, data, **headers)

    def put(self, path: str, data: Any, **headers: str) -> Any:
        return self._call("put", path, data, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self._call("delete", path, **headers)


def field_errors(response: Any) -> dict[str, list[str]]:
    """A refused API call's messages by field (``problem+json``'s ``errors``)."""
    out: dict[str, list[str]] = {}
    for error in response.json_body.get("errors", []):
        out.setdefault(error["field"], []).append(error["detail"])
    return out


@pytest.fixture(autouse=True)
def english(settings: Any) -> Iterator[None]:
    """Messages are asserted in English, whatever the install's language and its catalogue say."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def team_east(db: Any) -> Team:
    return Team.objects.create(name="华东销售部", territory="华东")


@pytest.fixture
def team_south(db: Any) -> Team:
    return Team.objects.create(name="华南销售部", territory="华南")


@pytest.fixture
def sales_role(db: Any) -> Role:
    """A sales rep: own accounts and contacts (view/add/change/delete), nothing else."""
    role = Role.objects.create(name="销售代表")
    grant(role, "customers.account")
    grant(role, "customers.contact")
    return role


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(*, role: Role | None = None, team: Team | None = None, superuser: bool = False, name: str = "") -> User:
        n = next(counter)
        return User.objects.create_user(
            email=f"person{n}@example.com",
            password=PASSWORD,
            display_name=name or f"用户{n}",
            role=role,
            team=team,
            is_superuser=superuser,
            language="en",
        )

    return make


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(superuser=True, name="管理员")


@pytest.fixture
def rep(make_user: Callable[..., User], sales_role: Role, team_east: Team) -> User:
    return make_user(role=sales_role, team=team_east, name="李雷")


@pytest.fixture
def other_rep(make_user: Callable[..., User], sales_role: Role, team_south: Team) -> User:
    return make_user(role=sales_role, team=team_south, name="韩梅梅")


@pytest.fixture
def api_for() -> Callable[[User], Api]:
    return Api


@pytest.fixture
def admin_api(admin: User) -> Api:
    return Api(admin)


@pytest.fixture
def prospects_rule(db: Any) -> PoolRule:
    """A pool rule: prospects not followed up for 30 days go back to the customer pool (warned a week before)."""
    return PoolRule.objects.create(
        name="潜在客户30天", position=1, conditions={"lifecycle_stages": ["prospect"]}, idle_days=30
    )


@pytest.fixture
def make_account(admin: User) -> Callable[..., Account]:
    def make(*, by: User | None = None, tags: list[str] | None = None, **data: Any) -> Account:
        data.setdefault("name", "上海示例科技有限公司")
        return services.account_create(user=by or admin, data=data, tags=tags)

    return make


@pytest.fixture
def make_contact(admin: User) -> Callable[..., Contact]:
    def make(
        *, by: User | None = None, emails: Any = None, phones: Any = None, accounts: Any = None, **data: Any
    ) -> Contact:
        data.setdefault("family_name", "张")
        data.setdefault("given_name", "三")
        return services.contact_create(user=by or admin, data=data, emails=emails, phones=phones, accounts=accounts)

    return make


@pytest.fixture(params=[filters.FEW, 1], ids=["ids first", "row by row"])
def both_ways(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Filters through another table (``filters.through``) read their few ids first, or, when they
    match ``FEW`` rows or more, check the records row by row: a test that uses it runs both ways."""
    monkeypatch.setattr(filters, "FEW", request.param)


# --- two identical sets, one changed record by record and one in bulk (the set-based hooks) ----------

#: The set-based hook of each bulk action that has one (``Resource``'s attribute of that name).
SET_BASED = {
    "owner": "bulk_owner",
    "delete": "bulk_delete",
    "tag_add": "bulk_tags",
    "tag_remove": "bulk_tags",
    "update": "bulk_update",
    "release": "bulk_release",
    "claim": "bulk_claim",
    "assign_rules": "bulk_assign",
}
#: Fields that differ between two identical sets by construction (the names and what they spell).
NAMED = {"id", "name", "family_name", "given_name", "display_name", "dup_key"}
#: Changes of the change log that hold a time (each path's own "now").
TIMED = {"owner_since", "pooled_at", "deleted_at", *(f"{c}_consent_at" for c in Contact.CONSENT_CHANNELS)}


@dataclass
class People:
    actor: User
    rep: User  # the owner of most
    other_rep: User  # holds people at rep's companies, and a company of their own
    successor: User  # a colleague (the new owner of a hand-over)
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
    """``desk(prefix)``: one set of accounts of every kind a bulk action treats differently, and
    their people (names starting with ``prefix``, so that two sets stand side by side)."""
    return lambda prefix: _build(prefix, people, make_account, make_contact, team_south)


def _build(
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


def marks() -> tuple[int, int, int]:
    """Where the change log, the timelines and the notifications end now: ``written`` reads what follows."""

    def last(model: Any) -> int:
        return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    return last(ChangeLogEntry), last(TimelineEntry), last(Notification)


def _untimed(changes: dict[str, Any]) -> dict[str, Any]:
    """A change's values, a time only as set or not (each path has its own "now")."""
    return {k: (v if k not in TIMED else [v[0] is None, v[1] is None]) for k, v in changes.items()}


def written(desk: Desk, since: tuple[int, int, int]) -> dict[str, Any]:
    """The set's records (every stored field; a time only as set or not) and the change-log rows,
    timeline entries and notifications written since ``since``, each record named by its place;
    the accounts' moves to and from the customer pool and the records' shares, all of them."""
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
        stored = {f.name: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.name not in NAMED}
        stored["tags"] = tags[type(obj)].get(obj.pk, [])  # not a column: the tag rows
        return {k: ("<time>" if isinstance(v, datetime.datetime) else v) for k, v in stored.items()}

    log_mark, timeline_mark, notification_mark = since
    log = ChangeLogEntry.objects.filter(pk__gt=log_mark).select_related("content_type")
    timeline = TimelineEntry.objects.filter(pk__gt=timeline_mark).select_related("content_type")
    notifications = Notification.objects.filter(pk__gt=notification_mark).select_related("content_type", "change")
    moves = PoolMove.objects.filter(account_id__in=[x.pk for x in desk.accounts])
    shares = Share.objects.filter(
        content_type__model__in=("account", "contact"), object_id__in=[x.pk for x in (*desk.accounts, *desk.contacts)]
    ).select_related("content_type")
    # Sorted by their words: the system's rows (a tier computed again) have no actor to compare.
    return {
        "moves": sorted((place[("account", m.account_id)], m.kind, m.user_id, m.reason_id, m.rule_id) for m in moves),
        "shares": sorted((named(x.content_type, x.object_id), x.user_id or 0, x.team_id or 0) for x in shares),
        "accounts": [fields(x) for x in accounts],
        "contacts": [fields(x) for x in contacts],
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


def apply_in_bulk(
    user: User, records: list[Any], action: str, *, path: str = "accounts", all_or_nothing: bool = True, **kwargs: Any
) -> dict[str, Any]:
    """``action`` on these records as a bulk request (``all_or_nothing``) or a job's chunk runs it."""
    plan = bulk.bulk_plan(resource=resource_at(path), user=user, action=action, **kwargs)
    return bulk.bulk_apply_ids(plan, user, [x.pk for x in records], all_or_nothing=all_or_nothing)


@dataclass
class BothWays:
    """The same bulk action done record by record (the set-based hook taken away) on one set and
    through the hook on an identical one: each way's result, what it wrote, and its statements."""

    one_by_one: Desk
    in_bulk: Desk
    result_a: Any
    result_b: Any
    seen_a: Any
    seen_b: Any
    queries_a: int
    queries_b: int


@pytest.fixture
def bulk_both_ways(
    people: People,
    desk: Callable[[str], Desk],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> Callable[..., BothWays]:
    """``bulk_both_ways(action, path=, all_or_nothing=, prepare=, before=, actor=, **bulk_plan's
    input)`` by ``actor`` (``people.actor`` by default); ``prepare(desk)``: what else each set holds
    first (tags, say); ``before()``: what to set again before each way runs (a rule's turn)."""

    def run(
        action: str,
        *,
        path: str = "accounts",
        all_or_nothing: bool = True,
        prepare: Callable[[Desk], Any] = lambda desk: None,
        before: Callable[[], Any] = lambda: None,
        actor: User | None = None,
        **kwargs: Any,
    ) -> BothWays:
        one_by_one, in_bulk = desk("甲"), desk("乙")
        prepare(one_by_one)
        prepare(in_bulk)
        records = {"accounts": lambda d: d.accounts, "contacts": lambda d: d.contacts}[path]
        ways = []
        for made, hook_kept in ((one_by_one, False), (in_bulk, True)):
            before()
            since = marks()
            with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
                if not hook_kept:
                    patch.setattr(resource_at(path), SET_BASED[action], None)
                with CaptureQueriesContext(connection) as queries:
                    result = apply_in_bulk(
                        actor or people.actor, records(made), action, path=path, all_or_nothing=all_or_nothing, **kwargs
                    )
            ways.append((result, written(made, since), len(queries)))
        (result_a, seen_a, queries_a), (result_b, seen_b, queries_b) = ways
        return BothWays(one_by_one, in_bulk, result_a, result_b, seen_a, seen_b, queries_a, queries_b)

    return run
