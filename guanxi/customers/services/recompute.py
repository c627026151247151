"""Recomputing derived account data in bulk: engagement from interactions, tiers from the tier rules,
fit scores from the profiles.

Run from the background tasks in ``guanxi.customers.tasks`` (write context "job"); safe to run twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone, translation

from guanxi.core.audit import changelog_records, diff
from guanxi.core.choices import ChangeAction
from guanxi.core.imports.bulk import TableRows, update_rows
from guanxi.core.models import TimelineEntry
from guanxi.customers import classification
from guanxi.customers.choices import TimelineKind
from guanxi.customers.engagement import accounts_of, engagement_of, latest_of
from guanxi.customers.models import Account, Contact
from guanxi.customers.services.accounts import tier_change_summary
from guanxi.customers.services.common import BATCH_SIZE, classify_after_commit
from guanxi.customers.services.pool import pool_due_clear


def _id_batches(account_ids: Iterable[int] | None, size: int) -> Iterator[list[int]]:
    if account_ids is not None:
        ids = sorted({int(i) for i in account_ids})
        for start in range(0, len(ids), size):
            yield ids[start : start + size]
        return
    last = 0
    while True:
        ids = list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _write_job_changes(rows: list[tuple[Account, dict[str, Any], dict[str, Any]]], fields: list[str]) -> None:
    """Save the recomputed fields of many accounts and log each change, in bulk."""
    if not rows:
        return
    now = timezone.now()
    for account, _before, _after in rows:
        account.version += 1
        account.updated_at = now
    Account.all_objects.bulk_update([r[0] for r in rows], [*fields, "version", "updated_at"])
    changelog_records(
        actor=None,
        model=Account,
        action=ChangeAction.UPDATE,
        rows=[(account.pk, str(account), diff(before, after)) for account, before, after in rows],
    )


def account_tier_recompute(*, account_ids: Iterable[int] | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Apply the active tier rules to accounts (all live ones when ``account_ids`` is None).

    Hand-set tiers (``tier_locked``) are left alone (counted as "locked"). Each changed account gets a change-log entry
    (source from the write context: "job" in the task) and, when the tier itself moved, a timeline
    entry. Batches are locked and written one transaction at a time.
    """
    rules = classification.active_tier_rules()
    tags = classification.asks_for_tags(rule.conditions for rule in rules)
    checked = changed = locked = 0
    # Stored reasons are in the install's language, whatever request happened to trigger the job.
    with translation.override(settings.LANGUAGE_CODE):
        for ids in _id_batches(account_ids, batch_size):
            with transaction.atomic():
                accounts = list(Account.objects.select_for_update().filter(pk__in=ids))
                if tags:
                    classification.load_tags(accounts)
                rows = []
                timeline: list[TimelineEntry] = []
                for account in accounts:
                    checked += 1
                    if account.tier_locked:
                        locked += 1
                        continue
                    tier, reason = classification.tier_for(account, rules)
                    if (tier, reason) == (account.tier, account.tier_reason):
                        continue
                    before = {"tier": account.tier, "tier_reason": account.tier_reason}
                    if tier != account.tier:
                        timeline.append(
                            TimelineEntry(
                                content_type=ContentType.objects.get_for_model(Account, for_concrete_model=False),
                                object_id=account.pk,
                                kind=TimelineKind.TIER,
                                summary=tier_change_summary(account.tier, tier),
                                body=reason,
                                data={"from": account.tier, "to": tier, "by_hand": False},
                                at=timezone.now(),
                            )
                        )
                    account.tier, account.tier_reason = tier, reason
                    rows.append((account, before, {"tier": tier, "tier_reason": reason}))
                _write_job_changes(rows, ["tier", "tier_reason"])
                TimelineEntry.objects.bulk_create(timeline)
                changed += len(rows)
    return {"checked": checked, "changed": changed, "locked": locked}


def account_fit_recompute(*, account_ids: Iterable[int] | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Score accounts against every active ideal customer profile and keep the best fit.

    The change log records score and profile changes (the explanation is derived and stays out of it).
    """
    profiles = classification.active_profiles()
    tags = classification.asks_for_tags(profile.criteria for profile in profiles)
    checked = changed = 0
    with translation.override(settings.LANGUAGE_CODE):
        for ids in _id_batches(account_ids, batch_size):
            with transaction.atomic():
                accounts = list(Account.objects.select_for_update().filter(pk__in=ids))
                if tags:
                    classification.load_tags(accounts)
                rows = []
                reworded = []
                for account in accounts:
                    checked += 1
                    score, profile, explanation = classification.best_fit(account, profiles)
                    profile_id = profile.pk if profile else None
                    if (score, profile_id) == (account.fit_score, account.fit_profile_id):
                        if explanation != account.fit_explanation:
                            # Only the words changed (a profile gained a criterion that weighs the
                            # same): a plain update, no new version and no empty change-log entry.
                            account.fit_explanation = explanation
                            reworded.append(account)
                        continue
                    before = {"fit_score": account.fit_score, "fit_profile": account.fit_profile_id}
                    account.fit_score, account.fit_profile_id, account.fit_explanation = score, profile_id, explanation
                    rows.append((account, before, {"fit_score": score, "fit_profile": profile_id}))
                _write_job_changes(rows, ["fit_score", "fit_profile", "fit_explanation"])
                Account.all_objects.bulk_update(reworded, ["fit_explanation"])
                changed += len(rows) + len(reworded)
    return {"checked": checked, "changed": changed}


def account_engagement_recompute(
    *, account_ids: Iterable[int] | None = None, batch_size: int = BATCH_SIZE, now: Any = None
) -> dict[str, int]:
    """Count each account's interactions (``guanxi.customers.engagement``) and store what changed.

    Derived figures: a plain UPDATE, no new version, no change-log entry and ``updated_at`` left
    alone. A tier or fit score they move is recomputed, and logged, by the tier and fit jobs."""
    checked = changed = 0
    table = TableRows(Account, timezone.now())
    for ids in _id_batches(account_ids, batch_size):
        stored = {
            pk: (count, latest)
            for pk, count, latest in Account.all_objects.filter(pk__in=ids).values_list(
                "pk", "engagement", "last_interaction_at"
            )
        }
        tally = engagement_of(list(stored), now)
        # One UPDATE by primary key per changed row (executemany): bulk_update's CASE over a
        # thousand ids took 0.6 s a batch on SQLite.
        stale = [
            (count, table.prep("last_interaction_at", latest), pk)
            for pk, (count, latest) in tally.items()
            if (count, latest) != stored[pk]
        ]
        # A follow-up newer than the stored one starts the pool rules' count of days again.
        followed_up = [pk for pk, (_count, latest) in tally.items() if _newer(latest, stored[pk][1])]
        with transaction.atomic():
            update_rows(Account, ["engagement", "last_interaction_at"], stale)
            if followed_up:
                pool_due_clear(followed_up)
        checked += len(stored)
        changed += len(stale)
    return {"checked": checked, "changed": changed}


def _newer(latest: Any, stored: Any) -> bool:
    return latest is not None and (stored is None or latest > stored)


def engagement_refresh(account_ids: list[int]) -> None:
    """Recount these accounts now (inside the caller's transaction), after interactions or links
    moved; their tiers and fit scores follow once it commits."""
    if account_ids and account_engagement_recompute(account_ids=account_ids)["changed"]:
        classify_after_commit(account_ids)


def contact_last_interaction_refresh(contact_ids: list[int]) -> int:
    """Store each contact's latest interaction where it changed (a plain UPDATE, like the account's
    figures); returns how many changed. Only the hooks call it: the latest interaction does not age,
    so the nightly run has nothing to recount here."""
    stored = dict(Contact.all_objects.filter(pk__in=contact_ids).values_list("pk", "last_interaction_at"))
    if not stored:
        return 0
    table = TableRows(Contact, timezone.now())
    stale = [
        (table.prep("last_interaction_at", latest), pk)
        for pk, latest in latest_of(list(stored)).items()
        if latest != stored[pk]
    ]
    update_rows(Contact, ["last_interaction_at"], stale)
    return len(stale)


def engagement_after_interaction(subject: Any) -> None:
    """A follow-up was recorded on ``subject``: its accounts' engagement, and the person's latest
    interaction (``core.timeline`` hook)."""
    if isinstance(subject, Contact):
        contact_last_interaction_refresh([subject.pk])
    engagement_refresh(accounts_of(type(subject), [subject.pk]))


def accounts_classify() -> dict[str, dict[str, int]]:
    """Every account's engagement recounted, then the tier rules and profiles applied, in that order
    (rules may ask for engagement), then the pool rules (which may ask for the tier): the nightly
    ``guanxi classify`` and the demo."""
    from guanxi.customers.services.pool import pool_recycle

    return {
        "engagement": account_engagement_recompute(),
        "tiers": account_tier_recompute(),
        "fit": account_fit_recompute(),
        "pool": pool_recycle(),
    }
