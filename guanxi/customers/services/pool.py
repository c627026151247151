"""The customer pool (公海): accounts without an owner, which any salesperson may claim.

An owner releases an account to the pool with a reason (退回公海); the pool rules take back, every
night, the accounts nobody followed up for a while (``pool_recycle``); a salesperson claims one
(领取), while their role's limit of prospects allows (and not what they let go within their role's
days before claiming back). Everyone who may see accounts sees the pool
(``Account.open_rows``); changing a pooled account takes claiming it first.

The contacts the owner held at the company go to the pool with it and come back with the claim, so
a pooled company's people (their phones, their emails) are for whoever claims it, not for everyone.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core import services as core_services
from guanxi.core.audit import changelog_record, changelog_records, diff, snapshot
from guanxi.core.choices import Action, ChangeAction, Scope
from guanxi.core.errors import Conflict, FieldErrors, NotFound, PermissionDenied
from guanxi.core.imports.bulk import TableRows, update_rows
from guanxi.core.permissions import object_type_of, restricted, scope_for
from guanxi.core.search import search_reindex
from guanxi.core.timeline import timeline_add
from guanxi.customers import classification
from guanxi.customers.choices import LifecycleStage, TimelineKind
from guanxi.customers.models import (
    Account,
    AccountContact,
    Contact,
    PoolMove,
    PoolMoveKind,
    PoolReason,
    PoolRule,
)
from guanxi.customers.services.common import user_names

REASON_MAX = 300
#: Accounts a recycling run locks and releases in one transaction.
RECYCLE_BATCH = 500


def pool_release(
    *, pk: Any, user: Any, reason: str = "", reason_id: Any = None, expected_version: int | None = None
) -> Account:
    """Put an account the user may change back in the pool (退回公海), saying why: one of the release
    reasons (``reason_id``, 退回原因), words of one's own (``reason``), or both."""
    text, chosen = release_reason(user, reason, reason_id)
    with transaction.atomic():
        account = core_services.record_lock(Account, pk, user, Action.CHANGE)
        core_services.check_version(account, expected_version)
        if account.pooled_at is not None:
            raise Conflict(_("This account is in the pool already."))
        _to_pool(account, actor=user, reason=text, now=timezone.now(), reason_id=chosen)
    return account


def release_reason(user: Any, reason: str, reason_id: Any) -> tuple[str, int | None]:
    """Why an account goes back, checked: the text the pool shows ("联系不上：联系人已离职") and the
    chosen reason's id. Bulk releases check it once, before any record is touched."""
    reason = (reason or "").strip()
    chosen = None
    if reason_id not in (None, ""):
        try:
            chosen = release_reasons(user).filter(pk=int(reason_id)).first()
        except (TypeError, ValueError):
            chosen = None
        if chosen is None:
            raise FieldErrors(
                {"reason_id": [_("This release reason is not offered (any more): choose one from the list.")]}
            )
    if chosen is None and reason_required(user):
        raise FieldErrors(
            {"reason_id": [_("Your role releases accounts with a reason from the list: choose one; words may follow.")]}
        )
    if chosen is None and not reason:
        raise FieldErrors({"reason": [_("Say why the account goes back to the pool; whoever claims it reads this.")]})
    # The pool shows the chosen reason, then the words: both fit in the account's 300 characters.
    prefix = f"{chosen.label}：" if chosen is not None else ""
    if len(prefix) + len(reason) > REASON_MAX:
        limit = REASON_MAX - len(prefix)
        raise FieldErrors({"reason": [_("Keep the reason to %(max)s characters.") % {"max": limit}]})
    if chosen is None:
        return reason, None
    return (prefix + reason if reason else chosen.label), chosen.pk


def reason_required(user: Any) -> bool:
    """Must this user name a listed reason to release an account? Their role says so (an
    administrator's switch per role), and only while some reason is offered to them."""
    return role_requires_reason(user) and release_reasons(user).exists()


def role_requires_reason(user: Any) -> bool:
    """The role's switch alone, for a caller that already holds the reasons offered."""
    from guanxi.identity.models import Role

    if user.is_superuser or not user.role_id:
        return False
    return Role.objects.filter(pk=user.role_id, pool_reason_required=True).exists()


def release_reasons(user: Any) -> Any:
    """The release reasons offered to ``user`` (the active ones their role may read), in order."""
    return PoolReason.objects.restrict(user, Action.VIEW).filter(is_active=True).order_by("position", "id")


def release_reason_choices(user: Any) -> list[tuple[Any, str]]:
    """The release reasons as a form's options: (id, label in the reader's language)."""
    return [(reason.pk, reason.label) for reason in release_reasons(user)]


def pool_claim(*, pk: Any, user: Any) -> Account:
    """Take an account from the pool (领取): it becomes the user's, in the user's team.

    Two people claiming the same account: the first gets it, the second is told someone was quicker.
    """
    if scope_for(user, object_type_of(Account), Action.CHANGE) == Scope.NONE:
        raise PermissionDenied(_("Your role may not work on accounts, so it may not claim them."))
    with transaction.atomic():
        account = Account.objects.restrict(user, Action.VIEW).select_for_update().filter(pk=pk).first()
        if account is None:
            if _claimed_lately(pk):
                # It was in the pool, for everyone to see, until a moment ago: say so, not "not found".
                raise Conflict(_("This account is no longer in the pool: someone claimed it first."))
            raise NotFound()
        if account.pooled_at is None:
            if account.owner_id == user.pk:
                raise Conflict(_("This account is yours already."))
            if _claimed_lately(pk):
                raise Conflict(_("This account is no longer in the pool: someone claimed it first."))
            raise Conflict(_("This account is not in the customer pool: its owner may release it there."))
        limit, wait_days = role_limits(user)
        _check_reclaim(account, user, wait_days)
        _check_limit(user, limit)
        before = snapshot(account)
        now = timezone.now()
        account.owner_id, account.team_id = user.pk, getattr(user, "team_id", None)
        account.pooled_at, account.pool_reason, account.owner_since = None, "", now
        _save(account, before, actor=user)
        moved = _contacts_along(account, from_owner=None, actor=user)
        summary = _("Claimed from the customer pool by %(user)s") % {"user": user}
        if moved:
            summary += " " + with_contacts(moved)
        timeline_add(subject=account, kind=TimelineKind.POOL, summary=summary, actor=user, data={"to": user.pk}, at=now)
        PoolMove.objects.create(account=account, at=now, kind=PoolMoveKind.CLAIMED, user_id=user.pk)
    return account


#: How long a claimed account is still answered as "claimed by someone else" (not "not found") to
#: those who no longer see it: about as long as a pool list stays open in someone's browser.
CLAIMED_LATELY = datetime.timedelta(days=1)


def pool_moves(account_pk: Any) -> Any:
    """An account's moves to and from the pool (``PoolMove``: released or taken back, with whose it
    was; claimed, with who claimed it), by the account's own index."""
    return PoolMove.objects.filter(account_id=account_pk)


def _claimed_lately(pk: Any) -> bool:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return False
    lately = timezone.now() - CLAIMED_LATELY
    return pool_moves(pk).filter(kind=PoolMoveKind.CLAIMED, at__gte=lately).exists()


def role_limits(user: Any) -> tuple[int | None, int | None]:
    """The user's role's pool settings, in one read: how many prospects one may hold and still claim,
    and how many days one waits to claim back an account one let go (None: no limit, no wait)."""
    from guanxi.identity.models import Role

    if user.is_superuser or not user.role_id:
        return None, None
    found = Role.objects.filter(pk=user.role_id).values_list("pool_claim_limit", "pool_reclaim_days").first()
    return found or (None, None)


def _check_reclaim(account: Account, user: Any, days: int | None) -> None:
    """Whoever let an account go waits their role's days before claiming it back: otherwise a release
    and a claim at once would restart a pool rule's count of days without a follow-up."""
    if not days:
        return
    let_go = pool_moves(account.pk).filter(kind__in=(PoolMoveKind.RELEASED, PoolMoveKind.TAKEN_BACK), user_id=user.pk)
    refusal = reclaim_refusal(let_go.order_by("-at").values_list("at", flat=True).first(), days)
    if refusal is not None:
        raise refusal


def reclaim_refusal(last: datetime.datetime | None, days: int) -> Conflict | None:
    """The refusal of a claim back within ``days`` of ``last``, when the claimer let the account go
    (None: they may claim it); a bulk claim asks it of each account."""
    if last is None or last <= timezone.now() - datetime.timedelta(days=days):
        return None
    again = timezone.localtime(last + datetime.timedelta(days=days))
    return Conflict(
        _("This account left you on %(left)s; you may claim it again from %(again)s. Colleagues may claim it now.")
        % {"left": timezone.localtime(last).strftime("%Y-%m-%d"), "again": again.strftime("%Y-%m-%d %H:%M")}
    )


def prospects_held(user: Any) -> int:
    return Account.objects.filter(owner_id=user.pk, lifecycle_stage=LifecycleStage.PROSPECT).count()


def _check_limit(user: Any, limit: int | None) -> None:
    if limit is None:
        return
    # One claim of the user's at a time: two at once would both read a count under the limit.
    get_user_model()._default_manager.select_for_update().filter(pk=user.pk).exists()
    held = prospects_held(user)
    if held >= limit:
        raise limit_refusal(held, limit)


def limit_refusal(held: int, limit: int) -> Conflict:
    """The refusal of a claim by someone who holds ``held`` prospects, at or past their role's ``limit``."""
    return Conflict(
        _(
            "You own %(held)d prospects and your role may claim only below %(limit)d. "
            "Win some, or release those you will not follow up, then claim again."
        )
        % {"held": held, "limit": limit}
    )


def pool_recycle(*, now: datetime.datetime | None = None, batch_size: int = RECYCLE_BATCH) -> dict[str, int]:
    """Put back in the pool every owned account whose first matching pool rule says it waited too
    long for a follow-up (the nightly job: ``guanxi classify`` runs it), and date those whose rule's
    warning days have begun (``Account.pool_due_at``). Returns how many went back, per rule."""
    now = now or timezone.now()
    rules = list(PoolRule.objects.filter(is_active=True).order_by("position", "id"))
    released: dict[str, int] = {rule.name: 0 for rule in rules}
    warned_before = set(Account.all_objects.filter(pool_due_at__isnull=False).values_list("pk", flat=True))
    warned: set[int] = set()
    if rules:
        tiers = classification.active_tier_rules() if any(r.conditions.get("tiers") for r in rules) else []
        wants_tags = classification.asks_for_tags(r.conditions for r in rules)
        # The earliest any rule looks at an account: its days without a follow-up, less its warning.
        cutoff = now - datetime.timedelta(days=min(r.idle_days - _warning(r) for r in rules))
        table = TableRows(Account, now)
        for ids in _idle_batches(cutoff, batch_size):
            with transaction.atomic():
                # Locked and read again: a claim or a follow-up since the scan wins.
                accounts = list(_idle(Account.objects.select_for_update(), cutoff).filter(pk__in=ids).order_by("pk"))
                if wants_tags:
                    classification.load_tags(accounts)
                due_dates = []
                for account in accounts:
                    rule = _first_rule(account, rules, tiers)
                    if rule is None:
                        continue
                    due = account.idle_since + datetime.timedelta(days=rule.idle_days)
                    if due <= now:
                        reason = _("No follow-up for %(days)d days (pool rule “%(rule)s”)") % {
                            "days": rule.idle_days,
                            "rule": rule.name,
                        }
                        _to_pool(account, actor=None, reason=reason, now=now, rule=rule.pk)
                        released[rule.name] += 1
                    elif due - datetime.timedelta(days=_warning(rule)) <= now:
                        warned.add(account.pk)
                        if account.pool_due_at != due:
                            due_dates.append((due, account.pk))
                # A plain UPDATE by primary key (executemany), like the engagement figures.
                update_rows(Account, ["pool_due_at"], [(table.prep("pool_due_at", due), pk) for due, pk in due_dates])
    # Dated before and not now: followed up meanwhile, a rule changed, or gone back to the pool.
    pool_due_clear(warned_before - warned)
    return released


def _warning(rule: PoolRule) -> int:
    """A rule's warning days, at most one fewer than its days without a follow-up (a rule changed
    since its warning was checked warns from its first day, not before)."""
    return min(rule.warn_days, rule.idle_days - 1)


def days_to_due(due: datetime.datetime) -> int:
    """Whole days, in the reader's time zone, until the pool rules take an account back (0: tonight)."""
    return (timezone.localdate(due) - timezone.localdate()).days


def pool_due_clear(account_ids: Any) -> None:
    """Forget when the pool rules would take these accounts back: they were followed up, or have a
    new owner, so the count of days starts again (the next nightly run dates them anew)."""
    ids = list(account_ids)
    for start in range(0, len(ids), RECYCLE_BATCH):
        Account.all_objects.filter(pk__in=ids[start : start + RECYCLE_BATCH], pool_due_at__isnull=False).update(
            pool_due_at=None
        )


def _idle(qs: Any, cutoff: datetime.datetime) -> Any:
    """Owned accounts not followed up since ``cutoff``: counted from the last follow-up, or from
    when the owner got the account if that is later (the creation when neither is known)."""
    idle_since = Greatest(Coalesce("last_interaction_at", "created_at"), Coalesce("owner_since", "created_at"))
    return (
        qs.filter(owner__isnull=False, pooled_at__isnull=True)
        .annotate(idle_since=idle_since)
        .filter(idle_since__lt=cutoff)
    )


def _idle_batches(cutoff: datetime.datetime, size: int) -> Iterator[list[int]]:
    last = 0
    while True:
        after = _idle(Account.objects.filter(pk__gt=last), cutoff).order_by("pk")
        ids = list(after.values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _first_rule(account: Account, rules: list[PoolRule], tier_rules: list[Any]) -> PoolRule | None:
    seen: Any = account
    if tier_rules and not account.tier and not account.tier_locked:
        # As the assignment rules do: an account not yet classified is judged by the tier it would get.
        seen = _WithTier(account, classification.tier_for(account, tier_rules)[0])
    for rule in rules:
        if all(result.matched for result in classification.evaluate(rule.conditions or {}, seen)):
            return rule
    return None


class _WithTier:
    def __init__(self, account: Account, tier: str):
        self._account, self.tier = account, tier

    def __getattr__(self, name: str) -> Any:
        return getattr(self._account, name)


def _to_pool(
    account: Account, *, actor: Any, reason: str, now: datetime.datetime, reason_id: int | None = None, rule: Any = None
) -> None:
    from django.contrib.contenttypes.models import ContentType

    from guanxi.identity.models import Share

    # The previous owner's shares go: a pooled account is changed by whoever claims it, who then
    # decides whom to share it with (a share to change it would otherwise skip the claim).
    Share.objects.filter(
        content_type=ContentType.objects.get_for_model(Account, for_concrete_model=False), object_id=account.pk
    ).delete()
    before = snapshot(account)
    previous = account.owner_id
    account.owner_id, account.team_id = None, None
    account.pooled_at, account.pool_reason, account.owner_since, account.pool_due_at = now, reason, None, None
    _save(account, before, actor=actor)
    moved = _contacts_along(account, from_owner=previous, actor=actor) if previous is not None else 0
    names = user_names(previous)
    summary = _("Back in the customer pool from %(owner)s") % {"owner": names[previous]}
    if moved:
        summary += " " + with_contacts(moved)
    timeline_add(
        subject=account,
        kind=TimelineKind.POOL,
        summary=summary,
        body=reason,
        actor=actor,
        data={"from": previous, "reason": reason},
        at=now,
    )
    kind = PoolMoveKind.RELEASED if actor is not None else PoolMoveKind.TAKEN_BACK
    PoolMove.objects.create(account=account, at=now, kind=kind, user_id=previous, reason_id=reason_id, rule_id=rule)


def with_contacts(count: int) -> str:
    return ngettext("(with %(count)d contact)", "(with %(count)d contacts)", count) % {"count": count}


def _save(account: Account, before: dict[str, Any], *, actor: Any) -> None:
    account.version += 1
    account.save(
        update_fields=[
            "owner",
            "team",
            "pooled_at",
            "pool_reason",
            "owner_since",
            "pool_due_at",
            "version",
            "updated_at",
        ]
    )
    changelog_record(actor=actor, obj=account, action=ChangeAction.UPDATE, before=before, after=snapshot(account))
    search_reindex(Account, [account.pk], changed={"owner", "team"})


def contacts_along_to_pool(user: Any, source: Any) -> QuerySet:
    """The contacts ``source`` owns (of those ``user`` may see) that would go to the pool with their
    primary company if every company ``source`` owns went there (``_contacts_along``): a handover of a
    departing salesperson's accounts to the pool asks a colleague for the rest only."""
    companies = restricted(Account, user, Action.VIEW).filter(owner_id=source.pk)
    primary_there = AccountContact.objects.filter(contact=OuterRef("pk"), is_primary=True, account__in=companies)
    return restricted(Contact, user, Action.VIEW).filter(Exists(primary_there), owner_id=source.pk)


def _contacts_along(account: Account, *, from_owner: Any, actor: Any) -> int:
    """Move the contacts whose primary account this is and whom ``from_owner`` held (None: the
    pool) to the account's owner now. People at two companies whose primary one is elsewhere stay.

    In bulk (one update, one insert of change-log rows, one reindex): a company of a thousand
    people moves in a few queries, and the nightly rules move many companies."""
    held = Q(owner__isnull=True) if from_owner is None else Q(owner_id=from_owner)
    moving = list(
        Contact.objects.filter(held, account_links__account=account, account_links__is_primary=True)
        .order_by("pk")
        .values_list("pk", "display_name", "team_id")
    )
    if not moving:
        return 0
    ids = [pk for pk, _name, _team in moving]
    Contact.objects.filter(pk__in=ids).update(
        owner_id=account.owner_id, team_id=account.team_id, version=F("version") + 1, updated_at=timezone.now()
    )
    changelog_records(
        actor=actor,
        model=Contact,
        action=ChangeAction.UPDATE,
        rows=[
            (pk, name, diff({"owner": from_owner, "team": team}, {"owner": account.owner_id, "team": account.team_id}))
            for pk, name, team in moving
        ],
    )
    search_reindex(Contact, ids, changed={"owner", "team"})
    return len(ids)
