"""Handing over a colleague's records (离职交接 / 客户转移): everything a user owns goes to one active
colleague, or, where a resource has a pool (the customer pool, 公海), back to the pool with a reason.

A module says which of its records a handover moves with ``register_handover(path, position=)`` in
its ``AppConfig.ready`` (customers: accounts, then contacts); nothing here names a resource. Each
resource's records move through the bulk machinery (``core.bulk``: the "owner" or "release" action),
so every record goes through its own service (change log, timeline, notifications, the people going
with their company) and is re-checked through ``restrict``: what the acting user may not change and
assign is skipped and counted, never half-written. Up to ``bulk.SYNC_LIMIT`` records in all run in
the request, all or nothing; more run as one ``handover`` job, resource after resource, chunk by
chunk, with the progress the jobs pages show. The handover itself is written to the departing
user's change log (from whom, to whom, how many), and the user may be deactivated at the end
through the identity service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
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

#: Resource path -> position: lower goes first. Companies go before their people, so that the people
#: their owner held go with them (``account_update``), to the pool too (``pool_release``).
_handed_over: dict[str, int] = {}
#: Resource path -> ``along(user, source)``: those of the source's records of that resource (one with no
#: pool) that go to the pool with another's when those go there (a company's people, with it).
_pooled_along: dict[str, Callable[[Any, Any], models.QuerySet]] = {}
#: The counters of a bulk result, summed over the resources of a handover.
COUNTERS = ("selected", "changed", "unchanged", "skipped", "failed")


def register_handover(
    path: str, *, position: int, pooled_along: Callable[[Any, Any], models.QuerySet] | None = None
) -> None:
    """Let a handover move the records of the resource at ``path`` (one with owners and bulk actions).

    ``pooled_along(user, source)``: the records of this resource, of those ``user`` may see, that go to
    the pool along with the records of a resource that has one, when a handover sends those there; a
    colleague is asked for only when others are left over."""
    _handed_over[path] = position
    if pooled_along is not None:
        _pooled_along[path] = pooled_along


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
    """One resource of a handover: its bulk plan (owner or release) and how many records it starts with."""

    resource: Resource
    plan: bulk.BulkPlan
    count: int

    @property
    def action(self) -> str:
        return self.plan.action


@dataclass
class Prepared:
    """A checked handover: the steps to run, whom to, and whether to deactivate the user afterwards."""

    source: User
    recipient: User | None
    steps: list[Step]
    to_pool: bool
    reason: str
    reason_id: Any
    deactivate: bool

    @property
    def total(self) -> int:
        return sum(step.count for step in self.steps)

    def params(self) -> dict[str, Any]:
        """What a job needs to check and run the handover again."""
        return {
            "user": self.source.pk,
            "recipient": self.recipient.pk if self.recipient else None,
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
    to_pool: bool = False,
    reason: str = "",
    reason_id: Any = None,
    deactivate: bool = False,
) -> Prepared:
    """Check a handover before any record is touched: the user's right, the recipient, the pool's
    reason, and each resource's bulk plan. Errors name the field and say what to do."""
    if not may_hand_over(user):
        raise PermissionDenied(_("You may not assign records to other people."))
    target = _recipient(recipient, source)
    if deactivate and source.is_active:
        _check_deactivate(user, source)
    counts = handover_counts(user=user, source=source)
    if to_pool and not any(resource.pool is not None for resource, _count in counts):
        raise FieldErrors({"to_pool": [_("These records have no pool: choose a colleague to take them over.")]})
    # Records without a pool need a person, but those that go along with pooled ones (a company's people).
    left = {r.path: n for r, n in left_to_a_person(user=user, source=source, counts=counts, to_pool=to_pool)}
    to_person = [resource for resource, _count in counts if left[resource.path]]
    if to_person and target is None:
        names = ", ".join(str(resource.label_plural) for resource in to_person)
        if to_pool:
            text = _("Choose who takes over the records that cannot go to the pool (%(records)s).")
        else:
            text = _("Choose who takes over the records (%(records)s).")
        raise FieldErrors({"recipient": [text % {"records": names}]})
    steps = []
    for resource, count in counts:
        if not count or (target is None and not left[resource.path] and resource.pool is None):
            continue  # nothing of it, or all of it goes to the pool along with another's records
        action = "release" if to_pool and resource.pool is not None else "owner"
        plan = bulk.bulk_plan(
            resource=resource,
            user=user,
            action=action,
            owner=target.pk if target is not None else None,
            reason=reason,
            reason_id=reason_id,
        )
        try:
            bulk.check_may_bulk(user, plan)
        except PermissionDenied:
            raise PermissionDenied(
                _("Your role may not hand over %(records)s: that takes changing them and giving them to someone else.")
                % {"records": resource.label_plural}
            ) from None
        steps.append(Step(resource=resource, plan=plan, count=count))
    return Prepared(
        source=source,
        recipient=target,
        steps=steps,
        to_pool=to_pool,
        reason=str(reason or "").strip(),
        reason_id=reason_id if reason_id not in (None, "") else None,
        deactivate=deactivate,
    )


def handover(
    *,
    pk: Any,
    user: Any,
    recipient: Any = None,
    to_pool: bool = False,
    reason: str = "",
    reason_id: Any = None,
    deactivate: bool = False,
) -> dict[str, Any] | Job:
    """Hand over every record the user ``pk`` owns (of those ``user`` may see) to ``recipient``, or,
    with ``to_pool``, the records of resources with a pool back to it (saying why: ``reason`` /
    ``reason_id``); then, with ``deactivate``, deactivate them. Returns the result (counts per
    resource), or the ``handover`` job that does it when there are more than ``bulk.SYNC_LIMIT``."""
    source = handover_source(user, pk)
    prepared = handover_prepare(
        user=user,
        source=source,
        recipient=recipient,
        to_pool=to_pool,
        reason=reason,
        reason_id=reason_id,
        deactivate=deactivate,
    )
    if prepared.total > bulk.SYNC_LIMIT:
        return job_start(kind="handover", user=user, object_type="identity.user", params=prepared.params())
    parts: dict[str, dict[str, Any]] = {}
    with transaction.atomic():
        for step in prepared.steps:
            # Read now, not when counted: the people of a company handed over just before went with it.
            ids = list(owned_by(step.resource, user, source).order_by("pk").values_list("pk", flat=True))
            if not ids:
                parts[step.resource.path] = {"action": step.action, **_zero()}
                continue
            outcome = bulk.bulk_start_or_run(
                resource=step.resource,
                user=user,
                action=step.action,
                ids=ids,
                owner=prepared.recipient.pk if prepared.recipient else None,
                reason=prepared.reason,
                reason_id=prepared.reason_id,
            )
            if isinstance(outcome, Job):  # more than counted came in meanwhile: the bulk job takes them
                parts[step.resource.path] = {"action": step.action, **_zero(), "job": outcome.pk}
            else:
                parts[step.resource.path] = outcome
        return _close(user, prepared, parts)


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTERS, 0), "skipped_ids": [], "errors": []}


def _said(exc: GuanxiError) -> str:
    """What a refusal says, in one line (its fields' messages, else its detail)."""
    return " ".join(message for messages in exc.errors.values() for message in messages) or exc.detail


def _result(prepared: Prepared, parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    totals = {key: sum(int(part.get(key, 0)) for part in parts.values()) for key in COUNTERS}
    errors = [error for part in parts.values() for error in part.get("errors", [])][: bulk.MAX_LISTED]
    return {
        **totals,
        "errors": errors,
        "resources": parts,
        "handover": {**prepared.params(), "deactivated": False},
    }


def _close(
    user: Any, prepared: Prepared, parts: dict[str, dict[str, Any]], *, keep_going: bool = False
) -> dict[str, Any]:
    """The handover's entry in the departing user's change log (from whom: the entry's record; to
    whom; how many), then their deactivation if asked. ``keep_going`` (a job, whose records have
    moved already): a refused deactivation is listed among the errors instead of undoing the rest."""
    from guanxi.identity.services import user_deactivate

    result = _result(prepared, parts)
    if result["selected"]:
        record = {
            "recipient": prepared.recipient.pk if prepared.recipient else None,
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


@job_handler("handover")
def handover_job(run: JobRun) -> dict[str, Any]:
    """A large handover: each resource in turn through ``bulk.bulk_chunks``; the checkpoint names the
    resources done, the one under way and its last record id, and whether the end (change log,
    deactivation) has committed."""
    job = run.job
    params = job.params or {}
    state = dict(job.checkpoint or {})
    if state.get("closed"):
        return dict(job.result or {})
    user = job.user
    try:  # checked again: the recipient may have left, or the user's rights changed, since it was queued
        source = handover_source(user, params.get("user"))
        prepared = handover_prepare(
            user=user,
            source=source,
            recipient=params.get("recipient"),
            to_pool=bool(params.get("to_pool")),
            reason=str(params.get("reason") or ""),
            reason_id=params.get("reason_id"),
            deactivate=bool(params.get("deactivate")),
        )
    except GuanxiError as exc:
        raise GuanxiError(_said(exc)) from None  # the job's page shows what was refused, not "bad request"
    parts: dict[str, dict[str, Any]] = dict((job.result or {}).get("resources") or {})
    done: list[str] = list(state.get("done") or [])
    if job.total is None:
        run.progress(job.processed, prepared.total)
    for step in prepared.steps:
        path = step.resource.path
        if path in done:
            continue

        def saved(last: Any, so_far: dict[str, Any], path: str = path) -> None:
            parts[path] = so_far
            partial = _result(prepared, parts)
            totals = {key: partial[key] for key in COUNTERS}
            checkpoint = {"done": done, "type": path, "last": last}
            run.checkpoint(checkpoint, processed=totals["selected"], **totals, resources=parts)

        after = state.get("last", 0) if state.get("type") == path else 0
        start = parts.get(path) or {"action": step.action, **_zero()}
        parts[path] = bulk.bulk_chunks(
            step.plan, user, owned_by(step.resource, user, source), result=start, last=after, saved=saved
        )
        done.append(path)
    with transaction.atomic():
        result = _close(user, prepared, parts, keep_going=True)
        run.checkpoint({"done": done, "closed": True}, processed=result["selected"])
    return result
