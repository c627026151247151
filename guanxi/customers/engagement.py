"""Engagement (互动): how much a company has been followed up lately, for tiers, profiles and lists.

An account's ``engagement`` is the number of interactions with it and with its contacts in the last
``WINDOW_DAYS`` days; ``last_interaction_at`` is the latest one, however old. A contact's
``last_interaction_at`` is the latest interaction with the person. Interactions come from
sources that modules register (``register_interaction_source``): the customer module counts notes
(跟进记录) on an account and on the contacts linked to it; the activity, email and ticket modules add
theirs. A note on a contact counts for every account the contact is linked to.

The figures are derived, like the fit score: written with a plain UPDATE (no new version, no change
log, ``updated_at`` unchanged, so lists sorted by "last updated" do not reshuffle every night).
``account_engagement_recompute`` keeps them true: at once when a note is added, deleted or
restored, when a contact with notes joins or leaves a company and when a merge moves notes; and for
every account each night (``guanxi classify``), as interactions leave the window.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Max, Q
from django.utils import timezone

#: The window of ``Account.engagement``; its label says "90 days".
WINDOW_DAYS = 90

#: (interactions since the window's start, the latest interaction) per account id.
Tally = dict[int, tuple[int, datetime.datetime | None]]


@dataclass(frozen=True)
class InteractionSource:
    """``tally(account_ids, since)``: for the accounts that have any, how many interactions since
    ``since`` and when the latest was (any time). ``latest(contact_ids)``: for the contacts that have
    any, when the latest interaction with the person was."""

    key: str
    tally: Callable[[list[int], datetime.datetime], Tally]
    latest: Callable[[list[int]], dict[int, datetime.datetime]] | None = None


_SOURCES: dict[str, InteractionSource] = {}


def register_interaction_source(source: InteractionSource) -> None:
    _SOURCES[source.key] = source


def window_start(now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) - datetime.timedelta(days=WINDOW_DAYS)


def engagement_of(account_ids: list[int], now: datetime.datetime | None = None) -> Tally:
    """Every source's tally added up: (count, latest) for each of ``account_ids``."""
    since = window_start(now)
    total: Tally = dict.fromkeys(account_ids, (0, None))
    for source in _SOURCES.values():
        for pk, (count, latest) in source.tally(account_ids, since).items():
            _add(total, pk, count, latest)
    return total


def latest_of(contact_ids: list[int]) -> dict[int, datetime.datetime | None]:
    """The latest interaction with each of ``contact_ids`` over every source (None: never)."""
    out: dict[int, datetime.datetime | None] = dict.fromkeys(contact_ids)
    for source in _SOURCES.values():
        if source.latest is None:
            continue
        for pk, at in source.latest(contact_ids).items():
            before = out.get(pk)
            out[pk] = at if before is None or at > before else before
    return out


def _add(tally: Tally, pk: int, count: int, latest: datetime.datetime | None) -> None:
    before_count, before_latest = tally.get(pk, (0, None))
    newest = max((t for t in (before_latest, latest) if t is not None), default=None)
    tally[pk] = (before_count + count, newest)


def _note_tally(account_ids: list[int], since: datetime.datetime) -> Tally:
    """Notes on the accounts, and on the contacts linked to them (one query each, grouped)."""
    from guanxi.core.models import Note
    from guanxi.customers.models import Account, AccountContact, Contact

    def grouped(notes: Any) -> Tally:
        rows = notes.values("object_id").annotate(
            n=Count("id", filter=Q(created_at__gte=since)), last=Max("created_at")
        )
        return {row["object_id"]: (row["n"], row["last"]) for row in rows.order_by()}

    account_type = ContentType.objects.get_for_model(Account, for_concrete_model=False)
    contact_type = ContentType.objects.get_for_model(Contact, for_concrete_model=False)
    out = grouped(Note.objects.filter(content_type=account_type, object_id__in=account_ids))
    links = AccountContact.objects.filter(account_id__in=account_ids)
    by_contact = grouped(Note.objects.filter(content_type=contact_type, object_id__in=links.values("contact_id")))
    if by_contact:
        companies: dict[int, list[int]] = defaultdict(list)
        for contact_id, account_id in links.filter(contact_id__in=list(by_contact)).values_list(
            "contact_id", "account_id"
        ):
            companies[contact_id].append(account_id)
        for contact_id, (count, latest) in by_contact.items():
            for account_id in companies[contact_id]:
                _add(out, account_id, count, latest)
    return out


def _note_latest(contact_ids: list[int]) -> dict[int, datetime.datetime]:
    """The newest note on each of the contacts (one grouped query)."""
    from guanxi.core.models import Note
    from guanxi.customers.models import Contact

    contact_type = ContentType.objects.get_for_model(Contact, for_concrete_model=False)
    rows = Note.objects.filter(content_type=contact_type, object_id__in=contact_ids).values("object_id")
    return {row["object_id"]: row["last"] for row in rows.annotate(last=Max("created_at")).order_by()}


register_interaction_source(InteractionSource("notes", _note_tally, _note_latest))


def accounts_of(model: type, pks: list[int]) -> list[int]:
    """The accounts whose engagement interactions on these records count for: the accounts
    themselves, or every account the contacts are linked to."""
    from guanxi.customers.models import Account, AccountContact, Contact

    if issubclass(model, Account):
        return sorted(set(pks))
    if issubclass(model, Contact):
        links = AccountContact.objects.filter(contact_id__in=pks)
        return sorted(set(links.values_list("account_id", flat=True)))
    return []
