"""Handing over a colleague's records (离职交接 / 客户转移): everything a user owns goes to one active
colleague or is shared out among several, or, where a resource has a pool (the customer pool, 公海),
back to the pool with a reason.

A module says which of its records a handover moves with ``register_handover(path, position=)`` in
its ``AppConfig.ready`` (customers: accounts, then contacts); nothing here names a resource. Each
resource's records move through the bulk machinery (``core.bulk``: the "owner" or "release" action),
so every record goes through its own service (change log, timeline, notifications, the people going
with their company) and is re-checked through ``restrict``: what the acting user may not change and
assign is skipped and counted, never half-written. Up to ``bulk.SYNC_LIMIT`` records in all run in
the request, all or nothing; more run as one ``handover`` job, resource after resource, chunk by
chunk, with the progress the jobs pages show.

Several recipients (a departing salesperson's 300 customers split among the team): the records of
each resource are dealt in id order, round robin, one to each colleague in the order they were
named, the turn running on from one resource to the next (``_deal``), so that each gets as many as
the others, give or take one. Records that go with another's (``Follows``: a person with their
primary company) go to whoever holds or takes that record: the companies' owners take their people
along (``account_update``), and a person left over whose company a recipient holds goes to them; the
rest (people at no company of the recipients) are dealt like the others. The job keeps the turn in
its checkpoint, so a resumed job deals on as it would have. ``handover_split`` tells beforehand how
many of each kind each colleague will get (the page's preview, the API's ``preview``); the result
and the change-log entry written to the departing user's log (from whom: the entry's record; to
whom; how many of each kind to each) say how many each got. The user may be deactivated at the end
through the identity service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from guanxi.core import bulk
from guanxi.core.audit import changelog_record
from guanxi.core.choices import Action, ChangeAction, Scope
from guanxi.core.errors import FieldErrors, GuanxiError, NotFound, PermissionDenied
from guanxi.core.jobs import JobRun, job_handler, job_start
from guanxi.core.models import Job
from guanxi.core.permissions import may_reach, restricted, scope_for
from guanxi.core.registry import Resource
from guanxi.identity.models import User


@dataclass(frozen=True)
class Follows:
    """How the records of a resource go with those of another, their leader (a person with their
    primary company): ``leaders(pks)`` gives, for those of the records that have one, (the leader's
    id, its owner's id now), in one query; ``going_with(user, source, leader_pks)`` counts the records
    ``source`` holds that go along (the leader's service moves them) when those leaders change hands."""

    leader: str
    leaders: Callable[[list[Any]], dict[Any, tuple[Any, Any]]]
    going_with: Callable[[Any, Any, list[Any]], int]


#: Resource path -> position: lower goes first. Companies go before their people, so that the people
#: their owner held go with them (``account_update``), to the pool too (``pool_release``).
_handed_over: dict[str, int] = {}
#: Resource path -> ``along(user, source)``: those of the source's records of that resource (one with no
#: pool) that go to the pool with another's when those go there (a company's people, with it).
_pooled_along: dict[str, Callable[[Any, Any], models.QuerySet]] = {}
#: Resource path -> how its records go with another resource's (``Follows``).
_follows: dict[str, Follows] = {}
#: The counters of a bulk result, summed over the resources of a handover.
COUNTERS = ("selected", "changed", "unchanged", "skipped", "failed")
#: Most colleagues one handover shares records among: each costs a check and a bulk pass per resource.
MAX_RECIPIENTS = 50
#: A record that goes to the pool with its leader (``handover_split``), not to a colleague.
POOL = "pool"
#: Record ids one query names at most.
READ_AT_ONCE = 1000


def register_handover(
    path: str,
    *,
    position: int,
    pooled_along: Callable[[Any, Any], models.QuerySet] | None = None,
    follows: Follows | None = None,
) -> None:
    """Let a handover move the records of the resource at ``path`` (one with owners and bulk actions).

    ``pooled_along(user, source)``: the records of this resource, of those ``user`` may see, that go to
    the pool along with the records of a resource that has one, when a handover sends those there; a
    colleague is asked for only when others are left over. ``follows``: how they go with the records
    of another resource, handed over before them, when several colleagues share the records."""
    _handed_over[path] = position
    if pooled_along is not None:
        _pooled_along[path] = pooled_along
    if follows is not None:
        _follows[path] = follows


def handover_resources() -> list[Resource]:
    """The resources a handover moves, in the order it moves them."""
    by_path = {resource.path: resource for resource in bulk.bulk_resources()}
    ordered = sorted(_handed_over.items(), key=lambda item: (item[1], item[0]))
    return [by_path[path] for path, _position in ordered if path in by_path]


def owned_by(resource: Resource, user: Any, source: Any) -> models.QuerySet:
    """The records of ``resource`` that ``source`` owns and ``user`` may see."""
    return restricted(resource.model, user, Action.VIEW).filter(owner_id=source.pk)


def handover_counts(*, user: Any, source: Any) -> list[tuple[Resource, int]]:
    """How many records of each resource ``source`` owns, of those ``user`` may see: one count each."""
    return [(resource, owned_by(resource, user, source).count()) for resource in handover_resources()]


def left_to_a_person(
    *, user: Any, source: Any, counts: list[tuple[Resource, int]], to_pool: bool
) -> list[tuple[Resource, int]]:
    """Of ``counts`` (``handover_counts``), how many records of each resource need a colleague: all of
    them, but with ``to_pool`` none of a resource with a pool, nor the records that go along with those
    (``pooled_along``). A count query a resource that has such records."""
    if not to_pool:
        return counts
    left = []
    for resource, count in counts:
        along = _pooled_along.get(resource.path)
        if resource.pool is not None:
            count = 0
        elif count and along is not None:
            count = max(count - along(user, source).count(), 0)
        left.append((resource, count))
    return left


def may_hand_over(user: Any) -> bool:
    """Could the user hand over anything: may they change and assign records of some resource?"""
    return any(
        may_reach(user, resource.model, Action.CHANGE) and may_reach(user, resource.model, Action.ASSIGN)
        for resource in handover_resources()
    )


def handover_source(user: Any, pk: Any) -> User:
    """The user whose records are handed over, if ``user`` may see them (else 404)."""
    source = restricted(User, user, Action.VIEW).filter(pk=pk).first()
    if source is None:
        raise NotFound()
    return source


@dataclass
class Step:
    """One resource of a handover: its bulk plans (one "owner" plan per recipient, in their order, or
    one "release") and how many records it starts with."""

    resource: Resource
    plans: list[bulk.BulkPlan]
    count: int

    @property
    def plan(self) -> bulk.BulkPlan:
        return self.plans[0]

    @property
    def action(self) -> str:
        return self.plan.action


@dataclass
class Prepared:
    """A checked handover: the steps to run, whom to, and whether to deactivate the user afterwards."""

    source: User
    recipients: list[User]
    steps: list[Step]
    to_pool: bool
    reason: str
    reason_id: Any
    deactivate: bool

    @property
    def recipient(self) -> User | None:
        """The one colleague, when there is exactly one (what a handover named before there could be several)."""
        return self.recipients[0] if len(self.recipients) == 1 else None

    @property
    def total(self) -> int:
        return sum(step.count for step in self.steps)

    def params(self) -> dict[str, Any]:
        """What a job needs to check and run the handover again."""
        return {
            "user": self.source.pk,
            "recipient": self.recipient.pk if self.recipient else None,
            "recipients": [person.pk for person in self.recipients],
            "to_pool": self.to_pool,
            "reason": self.reason,
            "reason_id": self.reason_id,
            "deactivate": self.deactivate,
        }


def _recipient(value: Any, source: User) -> User | None:
    if value in (None, ""):
        return None
    if isinstance(value, User):
        value = value.pk
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise FieldErrors({"recipient": [_("Choose the colleague who takes over the records.")]}) from None
    recipient = User.objects.filter(pk=pk, is_active=True).first()
    if recipient is None:
        text = _("No active user with id %(id)s: choose a colleague who can still sign in.")
        raise FieldErrors({"recipient": [text % {"id": pk}]})
    if recipient.pk == source.pk:
        raise FieldErrors({"recipient": [_("Choose someone else: these records are this person's already.")]})
    return recipient


def _recipient_ids(values: Iterable[Any]) -> list[int]:
    """The ids of a list of colleagues, in its order; errors (field ``recipients``) name what is wrong."""
    if isinstance(values, str | bytes | int):
        values = [values]
    pks: list[int] = []
    for value in values:
        try:
            pk = int(getattr(value, "pk", value))
        except (TypeError, ValueError):
            raise FieldErrors({"recipients": [_("Choose the colleagues who take over the records.")]}) from None
        if pk in pks:
            text = _("User %(id)s is named twice: name each colleague once.")
            raise FieldErrors({"recipients": [text % {"id": pk}]})
        pks.append(pk)
    if len(pks) > MAX_RECIPIENTS:
        text = _("Name at most %(count)s colleagues.")
        raise FieldErrors({"recipients": [text % {"count": MAX_RECIPIENTS}]})
    return pks


def _recipients(recipient: Any, recipients: Iterable[Any] | None, source: User) -> tuple[list[User], str]:
    """The colleagues who take over, in the order named, and the field that named them (``recipients``,
    or ``recipient`` as before there could be several): errors name that field."""
    if recipients is None:
        one = _recipient(recipient, source)
        return ([one] if one is not None else []), "recipient"
    if recipient not in (None, ""):
        raise FieldErrors({"recipients": [_("Give either recipient or recipients, not both.")]})
    pks = _recipient_ids(recipients)
    found = User.objects.filter(pk__in=pks, is_active=True).in_bulk() if pks else {}
    for pk in pks:  # one query for all; the first that cannot take over is named
        if pk not in found:
            text = _("No active user with id %(id)s: choose a colleague who can still sign in.")
            raise FieldErrors({"recipients": [text % {"id": pk}]})
        if pk == source.pk:
            raise FieldErrors({"recipients": [_("Choose someone else: these records are this person's already.")]})
    return [found[pk] for pk in pks], "recipients"


def _check_deactivate(user: Any, source: User) -> None:
    """Refuse now what ``user_deactivate`` would refuse at the end, before any record moves."""
    if source.pk == user.pk:
        raise FieldErrors({"deactivate": [_("You cannot deactivate yourself.")]})
    manages = scope_for(user, "identity.user", Action.CHANGE) == Scope.ALL
    if not manages or scope_for(user, "identity.user", Action.DELETE) == Scope.NONE:
        raise FieldErrors({"deactivate": [_("Only someone who manages all users can deactivate a user.")]})


def handover_prepare(
    *,
    user: Any,
    source: User,
    recipient: Any = None,
    recipients: Iterable[Any] | None = None,
    to_pool: bool = False,
    reason: str = "",
    reason_id: Any = None,
    deactivate: bool = False,
) -> Prepared:
    """Check a handover before any record is touched: the user's right, the recipients, the pool's
    reason, and each resource's bulk plans. Errors name the field and say what to do."""
    if not may_hand_over(user):
        raise PermissionDenied(_("You may not assign records to other people."))
    targets, field = _recipients(recipient, recipients, source)
    if deactivate and source.is_active:
        _check_deactivate(user, source)
    counts = handover_counts(user=user, source=source)
    if to_pool and not any(resource.pool is not None for resource, _count in counts):
        raise FieldErrors({"to_pool": [_("These records have no pool: choose a colleague to take them over.")]})
    # Records without a pool need a person, but those that go along with pooled ones (a company's people).
    left = {r.path: n for r, n in left_to_a_person(user=user, source=source, counts=counts, to_pool=to_pool)}
    to_person = [resource for resource, _count in counts if left[resource.path]]
    if to_person and not targets:
        names = ", ".join(str(resource.label_plural) for resource in to_person)
        if to_pool:
            text = _("Choose who takes over the records that cannot go to the pool (%(records)s).")
        else:
            text = _("Choose who takes over the records (%(records)s).")
        raise FieldErrors({field: [text % {"records": names}]})
    steps = []
    for resource, count in counts:
        if not count or (not targets and not left[resource.path] and resource.pool is None):
            continue  # nothing of it, or all of it goes to the pool along with another's records
        steps.append(_step(user, resource, count, targets, to_pool=to_pool, reason=reason, reason_id=reason_id))
    return Prepared(
        source=source,
        recipients=targets,
        steps=steps,
        to_pool=to_pool,
        reason=str(reason or "").strip(),
        reason_id=reason_id if reason_id not in (None, "") else None,
        deactivate=deactivate,
    )


def _step(
    user: Any, resource: Resource, count: int, targets: list[User], *, to_pool: bool, reason: str, reason_id: Any
) -> Step:
    """The bulk plans of one resource, checked: a release, or a change of owner to each colleague."""
    release = to_pool and resource.pool is not None
    owners: list[Any] = [None] if release or not targets else [person.pk for person in targets]
    plans = [
        bulk.bulk_plan(
            resource=resource,
            user=user,
            action="release" if release else "owner",
            owner=owner,
            reason=reason,
            reason_id=reason_id,
        )
        for owner in owners
    ]
    try:
        bulk.check_may_bulk(user, plans[0])  # the same rights whoever the owner: checked once
    except PermissionDenied:
        raise PermissionDenied(
            _("Your role may not hand over %(records)s: that takes changing them and giving them to someone else.")
            % {"records": resource.label_plural}
        ) from None
    return Step(resource=resource, plans=plans, count=count)


def handover(
    *,
    pk: Any,
    user: Any,
    recipient: Any = None,
    recipients: Iterable[Any] | None = None,
    to_pool: bool = False,
    reason: str = "",
    reason_id: Any = None,
    deactivate: bool = False,
    preview: bool = False,
) -> dict[str, Any] | Job:
    """Hand over every record the user ``pk`` owns (of those ``user`` may see) to ``recipient``, or
    shared out evenly among ``recipients`` (a list of user ids; ``recipient`` is the one of before),
    or, with ``to_pool``, the records of resources with a pool back to it (saying why: ``reason`` /
    ``reason_id``); then, with ``deactivate``, deactivate them. Returns the result (counts per
    resource and per recipient), or the ``handover`` job that does it when there are more than
    ``bulk.SYNC_LIMIT``. With ``preview``, checks it all the same and returns how the records would
    be shared out (``total`` and ``handover_split``), moving nothing."""
    source = handover_source(user, pk)
    prepared = handover_prepare(
        user=user,
        source=source,
        recipient=recipient,
        recipients=recipients,
        to_pool=to_pool,
        reason=reason,
        reason_id=reason_id,
        deactivate=deactivate,
    )
    if preview:
        return {"total": prepared.total, **handover_split(user=user, prepared=prepared)}
    if prepared.total > bulk.SYNC_LIMIT:
        return job_start(kind="handover", user=user, object_type="identity.user", params=prepared.params())
    parts: dict[str, dict[str, Any]] = {}
    dealer = Dealer(prepared, user)
    with transaction.atomic():
        for step in prepared.steps:
            # Read now, not when counted: the people of a company handed over just before went with it.
            ids = list(owned_by(step.resource, user, source).order_by("pk").values_list("pk", flat=True))
            parts[step.resource.path] = dealer.apply(step, ids, all_or_nothing=True)
        return _close(user, prepared, parts, got=dealer.got)


class Dealer:
    """Gives each chunk of a resource's records to the recipients (``Prepared.recipients``): a record
    that goes with a leader to whoever holds that leader now, the others round robin. ``turn``: how
    many have been dealt so far, of every resource (a job keeps it in its checkpoint)."""

    def __init__(self, prepared: Prepared, user: Any, turn: int = 0):
        self.prepared = prepared
        self.user = user
        self.turn = turn
        #: Recipient id -> resource path -> how many went to them, with those that went along.
        self.got: dict[str, dict[str, int]] = {str(person.pk): {} for person in prepared.recipients}

    def apply(self, step: Step, ids: list[Any], *, all_or_nothing: bool) -> dict[str, Any]:
        """Do the step to ``ids`` (of the records ``source`` owns, in id order); the bulk result, with
        ``recipients``: how many each colleague got of them."""
        if not ids:
            return {"action": step.action, **_zero()}
        if step.action != "owner":
            return {
                "action": step.action,
                **bulk.bulk_apply_ids(step.plan, self.user, ids, all_or_nothing=all_or_nothing),
            }
        # Dealt among the records the user may change and assign: skipped ones take no one's turn.
        permitted = set(bulk.allowed(step.plan, self.user).filter(pk__in=ids).values_list("pk", flat=True))
        skipped = [pk for pk in ids if pk not in permitted]
        result = {**_zero(), "selected": len(skipped), "skipped": len(skipped), "skipped_ids": skipped}
        dealt = [pk for pk in ids if pk in permitted]
        recipients = [person.pk for person in self.prepared.recipients]
        shares, self.turn = _deal(dealt, recipients, self.turn, _led(step.resource.path, dealt, recipients))
        mine: dict[str, int] = {}
        for plan, recipient in zip(step.plans, recipients, strict=True):
            share = shares[recipient]
            if not share:
                continue
            along = self._going_along(step, share)
            part = bulk.bulk_apply_ids(plan, self.user, share, all_or_nothing=all_or_nothing)
            result = bulk.merge_results(result, part)
            mine[str(recipient)] = part["changed"]
            self._add(recipient, step.resource.path, part["changed"])
            for path, count in along.items():
                self._add(recipient, path, count)
        result["skipped_ids"] = result["skipped_ids"][: bulk.MAX_LISTED]
        return {"action": step.action, **result, "recipients": mine}

    def _going_along(self, step: Step, share: list[Any]) -> dict[str, int]:
        """How many records of each following resource go along with these leaders (counted before
        they move: afterwards the leader's new owner may have held some already)."""
        return {
            path: follows.going_with(self.user, self.prepared.source, share)
            for path, follows in _follows.items()
            if follows.leader == step.resource.path and path in _handed_over
        }

    def _add(self, recipient: Any, path: str, count: int) -> None:
        if count:
            got = self.got.setdefault(str(recipient), {})
            got[path] = got.get(path, 0) + count


def _led(path: str, ids: list[Any], recipients: list[Any], planned: dict[Any, Any] | None = None) -> dict[Any, Any]:
    """Of ``ids`` (records of the resource at ``path``), those that go with a leader, and whom to: the
    recipient the handover gives the leader to (``planned``: leader id -> recipient or ``POOL``, when
    only telling beforehand) or the one who holds it now. One query, for resources with ``Follows``."""
    follows = _follows.get(path)
    if follows is None or not ids:
        return {}
    planned = planned or {}
    led = {}
    for start in range(0, len(ids), READ_AT_ONCE):  # a preview reads them all: SQLite caps a query's parameters
        for pk, (leader, owner) in follows.leaders(ids[start : start + READ_AT_ONCE]).items():
            to = planned.get(leader, owner)
            if to == POOL or to in recipients:
                led[pk] = to
    return led


def _deal(ids: list[Any], recipients: list[Any], turn: int, led: dict[Any, Any]) -> tuple[dict[Any, list[Any]], int]:
    """Share ``ids`` (in id order) among ``recipients``: a record in ``led`` goes with its leader, the
    others one to each in turn, from ``turn``. Returns each recipient's share (``POOL``'s too, when
    some go to the pool with their leader) and the turn after."""
    shares: dict[Any, list[Any]] = {recipient: [] for recipient in recipients}
    for pk in ids:
        to = led.get(pk)
        if to is None:
            to = recipients[turn % len(recipients)]
            turn += 1
        shares.setdefault(to, []).append(pk)
    return shares, turn


def handover_split(*, user: Any, prepared: Prepared) -> dict[str, Any]:
    """How the records would be shared out, without moving any: for each recipient (by id) how many
    of each resource they would get, people going with their company included; how many go to the
    pool; how many the user may not hand over (skipped). Dealt exactly as ``Dealer`` deals them."""
    recipients = [person.pk for person in prepared.recipients]
    got: dict[Any, dict[str, int]] = {pk: {} for pk in recipients}
    pooled: dict[str, int] = {}
    skipped: dict[str, int] = {}
    planned: dict[str, dict[Any, Any]] = {}  # resource path -> record id -> recipient or POOL
    turn = 0
    for step in prepared.steps:
        path = step.resource.path
        ids = list(owned_by(step.resource, user, prepared.source).order_by("pk").values_list("pk", flat=True))
        # Read by owner, not by a list of every id (thousands of parameters).
        mine = bulk.allowed(step.plan, user).filter(owner_id=prepared.source.pk)
        permitted = set(mine.values_list("pk", flat=True)) & set(ids)
        skipped[path] = len(ids) - len(permitted)
        dealt = [pk for pk in ids if pk in permitted]
        if step.action == "release":
            planned[path] = dict.fromkeys(dealt, POOL)
            pooled[path] = len(dealt)
            continue
        follows = _follows.get(path)
        leaders = planned.get(follows.leader, {}) if follows is not None else {}
        shares, turn = _deal(dealt, recipients, turn, _led(path, dealt, recipients, leaders))
        planned[path] = {pk: to for to, share in shares.items() for pk in share}
        for to, share in shares.items():
            if to == POOL:
                pooled[path] = pooled.get(path, 0) + len(share)
            elif share:
                got[to][path] = len(share)
    return {
        "recipients": {str(pk): got[pk] for pk in recipients},
        "pool": {path: count for path, count in pooled.items() if count},
        "skipped": sum(skipped.values()),
    }


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTERS, 0), "skipped_ids": [], "errors": []}


def _said(exc: GuanxiError) -> str:
    """What a refusal says, in one line (its fields' messages, else its detail)."""
    return " ".join(message for messages in exc.errors.values() for message in messages) or exc.detail


def _result(prepared: Prepared, parts: dict[str, dict[str, Any]], got: dict[str, dict[str, int]]) -> dict[str, Any]:
    totals = {key: sum(int(part.get(key, 0)) for part in parts.values()) for key in COUNTERS}
    errors = [error for part in parts.values() for error in part.get("errors", [])][: bulk.MAX_LISTED]
    return {
        **totals,
        "errors": errors,
        "resources": parts,
        "recipients": got,
        "handover": {**prepared.params(), "deactivated": False},
    }


def _close(
    user: Any,
    prepared: Prepared,
    parts: dict[str, dict[str, Any]],
    *,
    got: dict[str, dict[str, int]],
    keep_going: bool = False,
) -> dict[str, Any]:
    """The handover's entry in the departing user's change log (from whom: the entry's record; to
    whom; how many of each kind to each), then their deactivation if asked. ``got``: the recipients'
    counts (``Dealer.got``). ``keep_going`` (a job, whose records have moved already): a refused
    deactivation is listed among the errors instead of undoing the rest."""
    from guanxi.identity.services import user_deactivate

    result = _result(prepared, parts, got)
    if result["selected"]:
        record = {
            "recipient": prepared.recipient.pk if prepared.recipient else None,
            "recipients": got,
            "pool": [path for path, part in parts.items() if part.get("action") == "release"],
            "moved": {path: int(part.get("changed", 0)) for path, part in parts.items()},
            "skipped": result["skipped"],
            "failed": result["failed"],
        }
        changelog_record(
            actor=user,
            obj=prepared.source,
            action=ChangeAction.UPDATE,
            before={"handover": None},
            after={"handover": record},
        )
    if not (prepared.deactivate and prepared.source.is_active):
        return result
    try:
        with transaction.atomic():
            user_deactivate(pk=prepared.source.pk, user=user)
    except GuanxiError as exc:
        if not keep_going:
            raise
        result["errors"] = [*result["errors"], _said(exc)]
    else:
        result["handover"]["deactivated"] = True
    return result


def recipient_names(ids: Iterable[Any]) -> dict[str, str]:
    """Colleagues' names by id (as text: a result's keys), in one query."""
    pks = [int(pk) for pk in ids]
    return {str(person.pk): str(person) for person in User.objects.filter(pk__in=pks)} if pks else {}


def handover_in_words(result: dict[str, Any]) -> list[tuple[str, str]]:
    """A handover job's page: how many of each kind each colleague took over (when several shared
    them), people going with their company included: ("张伟", "客户 3 · 联系人 5")."""
    from guanxi.core.registry import resource_at

    got = result.get("recipients") or {}
    if len(got) < 2:
        return []
    names = recipient_names(got)
    lines = []
    for pk, kinds in got.items():
        counts = [f"{capfirst(resource_at(path).label_plural)} {count}" for path, count in kinds.items() if count]
        lines.append((names.get(pk, f"#{pk}"), " · ".join(counts) or "0"))
    return lines


@job_handler("handover", describe=handover_in_words)
def handover_job(run: JobRun) -> dict[str, Any]:
    """A large handover: each resource in turn through ``bulk.bulk_chunks``; the checkpoint names the
    resources done, the one under way and its last record id, the turn of the deal and how many each
    colleague has got, and whether the end (change log, deactivation) has committed."""
    job = run.job
    params = job.params or {}
    state = dict(job.checkpoint or {})
    if state.get("closed"):
        return dict(job.result or {})
    user = job.user
    try:  # checked again: a recipient may have left, or the user's rights changed, since it was queued
        source = handover_source(user, params.get("user"))
        prepared = handover_prepare(
            user=user,
            source=source,
            # A job queued before there could be several names its one colleague only.
            recipient=None if "recipients" in params else params.get("recipient"),
            recipients=params.get("recipients"),
            to_pool=bool(params.get("to_pool")),
            reason=str(params.get("reason") or ""),
            reason_id=params.get("reason_id"),
            deactivate=bool(params.get("deactivate")),
        )
    except GuanxiError as exc:
        raise GuanxiError(_said(exc)) from None  # the job's page shows what was refused, not "bad request"
    parts: dict[str, dict[str, Any]] = dict((job.result or {}).get("resources") or {})
    done: list[str] = list(state.get("done") or [])
    dealer = Dealer(prepared, user, turn=int(state.get("turn") or 0))
    dealer.got.update((job.result or {}).get("recipients") or {})
    if job.total is None:
        run.progress(job.processed, prepared.total)
    for step in prepared.steps:
        path = step.resource.path
        if path in done:
            continue
        start = parts.get(path) or {"action": step.action, **_zero()}
        mine: dict[str, int] = dict(start.get("recipients") or {})

        def apply(ids: list[Any], step: Step = step, mine: dict[str, int] = mine) -> dict[str, Any]:
            part = dealer.apply(step, ids, all_or_nothing=False)
            for recipient, count in (part.get("recipients") or {}).items():
                mine[recipient] = mine.get(recipient, 0) + count
            return part

        def saved(last: Any, so_far: dict[str, Any], path: str = path, mine: dict[str, int] = mine) -> None:
            parts[path] = {**so_far, "recipients": dict(mine)} if mine else so_far
            partial = _result(prepared, parts, dealer.got)
            totals = {key: partial[key] for key in COUNTERS}
            checkpoint = {"done": done, "type": path, "last": last, "turn": dealer.turn}
            run.checkpoint(checkpoint, processed=totals["selected"], **totals, resources=parts, recipients=dealer.got)

        after = state.get("last", 0) if state.get("type") == path else 0
        so_far = bulk.bulk_chunks(
            step.plan,
            user,
            owned_by(step.resource, user, source),
            result={key: value for key, value in start.items() if key != "recipients"},
            last=after,
            saved=saved,
            apply=apply,
        )
        parts[path] = {**so_far, "recipients": dict(mine)} if mine else so_far
        done.append(path)
    with transaction.atomic():
        result = _close(user, prepared, parts, got=dealer.got, keep_going=True)
        run.checkpoint({"done": done, "closed": True}, processed=result["selected"])
    return result
