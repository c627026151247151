"""The customer pool's bulk actions (退回公海 / 领取) and the assignment by rules (按规则分配), set-based
(``customers.services.bulk_pool``, ``bulk_owner.accounts_assign_bulk``; ``Resource.bulk_release``,
``bulk_claim``, ``bulk_assign``), write exactly what one ``pool_release`` / ``pool_claim`` /
``AccountsByRules.assign`` per account writes.

As in ``test_bulk_owner.py``: two identical sets, one done record by record (the hook taken away),
one through the hook, compared row by row (``bulk_both_ways``): the records, the people who went
along, the change log, the timelines, the notifications, the moves to and from the pool, the shares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from guanxi.core import bulk
from guanxi.core.errors import FieldErrors
from guanxi.core.follows import follow_many
from guanxi.core.models import TimelineEntry
from guanxi.core.registry import resource_at
from guanxi.customers import services
from guanxi.customers.models import Account, AssignmentRule, Contact, PoolMove, PoolReason
from guanxi.customers.services.pool import prospects_held
from guanxi.identity.models import Role, Team, User
from tests.customers.conftest import BothWays, Desk, People, apply_in_bulk, assert_same, grant, marks, written
from tests.factories import share

pytestmark = pytest.mark.django_db

WORDS = "季度末清理"


@pytest.fixture
def reason(sales_role: Role) -> PoolReason:
    grant(sales_role, "customers.poolreason", ["view"], scope="all")
    return PoolReason.objects.create(label_zh="联系不上", label_en="Cannot reach them", position=0)


def _placed(ways: BothWays) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each way's result with its records named by their place in the set (a0, a1, ...)."""

    def placed(result: dict[str, Any], desk: Desk) -> dict[str, Any]:
        place = {x.pk: f"a{i}" for i, x in enumerate(desk.accounts)}
        errors = [{**error, "id": place[error["id"]]} for error in result["errors"]]
        return {**result, "skipped_ids": [place[pk] for pk in result["skipped_ids"]], "errors": errors}

    return placed(ways.result_a, ways.one_by_one), placed(ways.result_b, ways.in_bulk)


def _hook(patch: pytest.MonkeyPatch, name: str, *, kept: bool) -> list[Any]:
    """The accounts' set-based hook ``name`` taken away, or kept and watched: what each of its calls
    refused (a refusal test passes one by one too, so it checks that the hook answered)."""
    calls: list[Any] = []
    real = getattr(resource_at("accounts"), name)

    def watched(**kwargs: Any) -> Any:
        calls.append(real(**kwargs))
        return calls[-1]

    patch.setattr(resource_at("accounts"), name, watched if kept else None)
    return calls


def _shared(desk: Desk, people: People) -> None:
    """Each set's first two companies shared with a colleague: a release takes the shares away."""
    share(desk.accounts[0], user=people.successor, access="change")
    share(desk.accounts[1], user=people.follower)


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["request", "job"])
def test_the_set_based_release_writes_what_one_release_per_account_writes(
    people: People, reason: PoolReason, bulk_both_ways: Callable[..., BothWays], all_or_nothing: bool
) -> None:
    ways = bulk_both_ways(
        "release",
        all_or_nothing=all_or_nothing,
        prepare=lambda desk: _shared(desk, people),
        reason=WORDS,
        reason_id=reason.pk,
    )
    result_a, result_b = _placed(ways)
    assert result_a == result_b == {**result_a, "selected": 8, "changed": 7, "skipped": 1, "skipped_ids": ["a2"]}
    assert_same(ways.seen_a, ways.seen_b)
    assert ways.queries_b * 2 < ways.queries_a, (ways.queries_a, ways.queries_b)  # the hook did it
    # What the comparison stands on: the people went to the pool, the shares went, the moves say whose.
    made = ways.in_bulk
    pooled = [Contact.objects.get(pk=x.pk).owner_id is None for x in made.contacts]
    assert {f"c{i}" for i, gone in enumerate(pooled) if gone} == {"c0", "c1", "c3", "c5", "c6"}
    assert not ways.seen_b["shares"]
    assert ("a1", "released", people.rep.pk, reason.pk, None) in ways.seen_b["moves"]
    assert ("a5", "released", people.other_rep.pk, reason.pk, None) in ways.seen_b["moves"]
    assert any("with 2 contacts" in entry[2] for entry in ways.seen_b["timeline"])
    assert people.follower.pk in {n[1] for n in ways.seen_b["notifications"] if n[0] == "a1"}
    # One time for the account, its timeline entry and its move, as the single path writes them.
    account = Account.objects.get(pk=made.accounts[1].pk)
    entry = TimelineEntry.objects.get(object_id=account.pk, kind="pool", content_type__model="account")
    assert account.pool_reason == f"Cannot reach them：{WORDS}"
    assert account.pooled_at == entry.at == PoolMove.objects.get(account=account).at
    assert entry.body == account.pool_reason


def _into_the_pool(desk: Desk, people: People) -> None:
    """Four of the set's companies released by the administrator: two of the rep's (the rep let them
    go: ``PoolMove.user``), one of each colleague's; the set's third company is in the pool already."""
    for i in (0, 1, 5, 6):
        services.pool_release(pk=desk.accounts[i].pk, user=people.actor, reason="没有预算")


def test_the_set_based_claim_writes_what_one_claim_per_account_writes(
    people: People, bulk_both_ways: Callable[..., BothWays]
) -> None:
    ways = bulk_both_ways("claim", prepare=lambda desk: _into_the_pool(desk, people))
    result_a, result_b = _placed(ways)
    assert result_a == result_b == {**result_a, "selected": 8, "changed": 5, "skipped": 3}
    assert_same(ways.seen_a, ways.seen_b)
    assert ways.queries_b * 2 < ways.queries_a, (ways.queries_a, ways.queries_b)
    made = ways.in_bulk
    claimed = [Contact.objects.get(pk=x.pk).owner_id == people.actor.pk for x in made.contacts]
    # The people the pool held at them came back with them (those at a2 were never pooled: c7 stays).
    assert {f"c{i}" for i, came in enumerate(claimed) if came} == {"c0", "c1", "c3", "c5"}
    assert ("a2", "claimed", people.actor.pk, None, None) in ways.seen_b["moves"]
    account = Account.objects.get(pk=made.accounts[2].pk)
    entry = TimelineEntry.objects.get(object_id=account.pk, kind="pool", content_type__model="account")
    assert account.owner_since == entry.at == PoolMove.objects.get(account=account, kind="claimed").at


def test_a_claim_past_the_limit_or_too_soon_back_is_refused_as_one_by_one(
    people: People,
    sales_role: Role,
    desk: Callable[[str], Desk],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The role waits a week before taking back what one let go, and claims below what the rep holds
    and two more prospects: with the ids in reverse, a6 and a5 take the rep there and a2 is one too
    many (the limit counts in the order claimed); a1 and a0 were the rep's a moment ago. One set,
    each way in a savepoint undone after (a claim's count is the rep's, whichever set it is in)."""
    made = desk("甲")
    _into_the_pool(made, people)
    limit = prospects_held(people.rep) + 2
    Role.objects.filter(pk=sales_role.pk).update(pool_claim_limit=limit, pool_reclaim_days=7)
    ways = []
    for hook_kept in (False, True):
        with transaction.atomic():
            since = marks()
            with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
                calls = _hook(patch, "bulk_claim", kept=hook_kept)
                records = list(reversed(made.accounts))
                result = apply_in_bulk(people.rep, records, "claim", all_or_nothing=False)
            assert len(calls) == hook_kept and all(len(refused) == 3 for refused in calls)
            ways.append((result, written(made, since)))
            transaction.set_rollback(True)
    (result_a, seen_a), (result_b, seen_b) = ways
    assert result_a == result_b == {**result_a, "changed": 2, "failed": 3, "skipped": 3}
    messages = [(error["id"], str(error["errors"])) for error in result_b["errors"]]
    a0, a1, a2 = (made.accounts[i].pk for i in range(3))
    assert [pk for pk, m in messages if "you may claim it again" in m] == [a1, a0]
    assert [pk for pk, m in messages if f"may claim only below {limit}" in m] == [a2]
    assert_same(seen_a, seen_b)


def test_a_release_refused_meanwhile_is_refused_as_one_by_one(
    people: People, sales_role: Role, reason: PoolReason, desk: Callable[[str], Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the request's check and the chunk (a job's), the rep's role came to require a listed
    reason, and a colleague released one of the accounts: each refusal is the single path's."""
    results = []
    for prefix, hook_kept in (("甲", False), ("乙", True)):
        made = desk(prefix)
        plan = bulk.bulk_plan(resource=resource_at("accounts"), user=people.actor, action="release", reason=WORDS)
        services.pool_release(pk=made.accounts[4].pk, user=people.actor, reason="别人先退回了")
        real_allowed = bulk.allowed

        def stale(plan: Any, user: Any, real: Any = real_allowed, pk: Any = made.accounts[4].pk) -> Any:
            return real(plan, user) | Account.objects.filter(pk=pk)  # read before the colleague's release

        with monkeypatch.context() as patch:
            patch.setattr(bulk, "allowed", stale)
            calls = _hook(patch, "bulk_release", kept=hook_kept)
            ids = [made.accounts[i].pk for i in (0, 4)]
            results.append(bulk.bulk_apply_ids(plan, people.actor, ids, all_or_nothing=False))
            with pytest.raises(FieldErrors) as refused:
                bulk.bulk_apply_ids(plan, people.actor, [made.accounts[4].pk], all_or_nothing=True)
            assert refused.value.errors == {f"records.{made.accounts[4].pk}": ["This account is in the pool already."]}
            assert [list(r) for r in calls] == ([[made.accounts[4].pk]] * 2 if hook_kept else [])
    one_by_one, in_bulk = results
    assert in_bulk["changed"] == 1 and in_bulk["failed"] == 1
    assert [e["errors"] for e in in_bulk["errors"]] == [e["errors"] for e in one_by_one["errors"]]

    # The role now requires a listed reason: every record of the chunk is refused with it.
    results = []
    for prefix, hook_kept in (("丙", False), ("丁", True)):
        mine = [Account.objects.get(pk=x.pk) for x in desk(prefix).accounts if x.owner_id == people.rep.pk][:3]
        plan = bulk.bulk_plan(resource=resource_at("accounts"), user=people.rep, action="release", reason=WORDS)
        Role.objects.filter(pk=sales_role.pk).update(pool_reason_required=True)
        with monkeypatch.context() as patch:
            calls = _hook(patch, "bulk_release", kept=hook_kept)
            results.append(bulk.bulk_apply_ids(plan, people.rep, [a.pk for a in mine], all_or_nothing=False))
        assert [len(r) for r in calls] == ([3] if hook_kept else [])
        Role.objects.filter(pk=sales_role.pk).update(pool_reason_required=False)
        assert not Account.objects.filter(pk__in=[a.pk for a in mine], pooled_at__isnull=False).exists()
    one_by_one, in_bulk = results
    assert in_bulk["failed"] == 3 and in_bulk["changed"] == 0
    assert [e["errors"] for e in in_bulk["errors"]] == [e["errors"] for e in one_by_one["errors"]]
    assert "reason_id" in in_bulk["errors"][0]["errors"]


def test_a_claim_someone_made_meanwhile_is_refused_as_one_by_one(
    people: People, desk: Callable[[str], Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = []
    for prefix, hook_kept in (("甲", False), ("乙", True)):
        made = desk(prefix)
        pooled = made.accounts[2].pk
        plan = bulk.bulk_plan(resource=resource_at("accounts"), user=people.actor, action="claim")
        real_allowed = bulk.allowed

        def first(plan: Any, user: Any, real: Any = real_allowed, pk: Any = pooled) -> Any:
            chosen = list(real(plan, user).values_list("pk", flat=True))
            services.pool_claim(pk=pk, user=people.successor)  # quicker, after the list was read
            return Account.objects.filter(pk__in=chosen)

        with monkeypatch.context() as patch:
            patch.setattr(bulk, "allowed", first)
            calls = _hook(patch, "bulk_claim", kept=hook_kept)
            with pytest.raises(FieldErrors) as refused:
                bulk.bulk_apply_ids(plan, people.actor, [pooled], all_or_nothing=True)
        assert [list(r) for r in calls] == ([[pooled]] if hook_kept else [])
        errors.append(refused.value.errors)
    assert list(errors[0].values()) == list(errors[1].values()) != []
    assert "someone claimed it first" in str(errors[1])


def _rules(people: People, team_east: Team) -> Callable[[], None]:
    """华东 in turn to the east team (the rep and the successor), 华南 to the other rep; returns what
    sets the turn back (each way starts from the same one)."""
    east = AssignmentRule.objects.create(name="华东轮流", position=1, conditions={"regions": ["华东"]}, team=team_east)
    south = {"regions": ["华南"]}
    AssignmentRule.objects.create(name="华南归韩", position=2, conditions=south, assignee=people.other_rep)
    return lambda: AssignmentRule.objects.filter(pk=east.pk).update(last_assignee=None)


def _regions(desk: Desk) -> None:
    """The rep's a0 and a1 stay (the rep is of the east team), the others go in turn or to 华南's rep."""
    for i, region in enumerate(("华东", "华东", "华东", "华南", "华南", "华东", "", "华东")):
        Account.objects.filter(pk=desk.accounts[i].pk).update(region=region)


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["request", "job"])
def test_the_set_based_assignment_by_rules_writes_what_one_assignment_per_account_writes(
    people: People, team_east: Team, bulk_both_ways: Callable[..., BothWays], all_or_nothing: bool
) -> None:
    turn_back = _rules(people, team_east)
    ways = bulk_both_ways("assign_rules", all_or_nothing=all_or_nothing, prepare=_regions, before=turn_back)
    result_a, result_b = _placed(ways)
    assert result_a == result_b == {**result_a, "selected": 8, "changed": 4, "unchanged": 4}
    assert_same(ways.seen_a, ways.seen_b)
    # Three groups (an owner, a team and a rule each) for four accounts: fewer statements already.
    assert ways.queries_b < ways.queries_a, (ways.queries_a, ways.queries_b)
    made = ways.in_bulk
    owners = [Account.objects.get(pk=x.pk).owner_id for x in made.accounts]
    rep, other, successor = people.rep.pk, people.other_rep.pk, people.successor.pk
    # a2 (pooled) and a5 in turn to the east team; a3 and a4 to 华南's rep, into her team. The rep
    # fits the east rule (a0, a1, a7), a6 matches none.
    assert owners == [rep, rep, rep, other, other, successor, successor, rep]
    assert Account.objects.get(pk=made.accounts[3].pk).team_id == people.other_rep.team_id
    assert Contact.objects.get(pk=made.contacts[5].pk).owner_id == successor  # went along with a5
    assert Contact.objects.get(pk=made.contacts[5].pk).team_id == team_east.pk
    assert any("by the rule “华南归韩”" in entry[2] for entry in ways.seen_b["timeline"])
    assert AssignmentRule.objects.get(name="华东轮流").last_assignee_id == successor


def _query_count(
    n: int,
    action: str,
    p: People,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    **kwargs: Any,
) -> int:
    ids = []
    for i in range(n):
        account = make_account(name=f"{action}{n}公司{i}", owner_id=p.rep.pk, region="华东" if i % 2 else "华南")
        ids.append(account.pk)
        links = [{"account": account.pk, "is_primary": True}]
        make_contact(family_name=f"{action}{n}", given_name=f"人{i}", owner_id=p.rep.pk, accounts=links)
    follow_many(user=p.follower, model=Account, pks=ids, following=True)
    if action == "claim":
        release = bulk.bulk_plan(resource=resource_at("accounts"), user=p.actor, action="release", reason=WORDS)
        bulk.bulk_apply_ids(release, p.actor, ids, all_or_nothing=True)
    plan = bulk.bulk_plan(resource=resource_at("accounts"), user=p.actor, action=action, **kwargs)
    with CaptureQueriesContext(connection) as queries:
        result = bulk.bulk_apply_ids(plan, p.actor, ids, all_or_nothing=True)
    assert result["changed"] == (n if action != "assign_rules" else n // 2)
    return len(queries)


@pytest.mark.parametrize(
    ("action", "kwargs"),
    [("release", {"reason": WORDS}), ("claim", {}), ("assign_rules", {})],
)
def test_the_queries_do_not_grow_with_the_accounts(
    people: People,
    team_east: Team,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
    action: str,
    kwargs: dict[str, Any],
) -> None:
    """The same statements for 20 accounts and their people as for 60 (the rules: 华东 in turn to two
    people, 华南 kept by the rep, who is of neither)."""
    AssignmentRule.objects.create(name="华东轮流", position=1, conditions={"regions": ["华东"]}, team=team_east)
    User.objects.filter(pk=people.rep.pk).update(team=None)
    people.rep.refresh_from_db()
    few = _query_count(20, action, people, make_account, make_contact, **kwargs)
    many = _query_count(60, action, people, make_account, make_contact, **kwargs)
    assert few == many, (few, many)
