"""The home page's "my accounts" card: the accounts a salesperson owns (a manager: theirs and their
reports'; someone who owns none: their team's), by tier, and those waiting for a follow-up (seed
004: classify, then follow up), those the pool rules take back soon without one, and how many wait
in the customer pool. One grouped query and one count (and the few names, when some wait), cached
with the home page's counts for a minute."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core.choices import Action
from guanxi.core.permissions import can, hidden_fields, restricted
from guanxi.core.registry import Resource, resource_at
from guanxi.core.views.base import resource_url
from guanxi.customers.choices import Tier
from guanxi.customers.filters import NO_TIER, AccountFilterSet
from guanxi.customers.models import Account
from guanxi.customers.services.pool import days_to_due
from guanxi.identity.selectors import user_report_ids, user_team_ids

#: An account not followed up for this many days is waiting for one.
STALE_DAYS = 30
#: How many of those the card names, longest waiting first.
LONGEST_SHOWN = 5
#: The list behind "going back to the pool soon".
DUE_COLUMNS = ("name", "lifecycle_stage", "tier", "pool_due_at", "last_interaction_at", "owner")


def my_accounts(user: Any) -> dict[str, Any] | None:
    """The card's figures and the list links behind each (the same filters, so the numbers agree)."""
    hidden = hidden_fields(user, Account)
    if not can(user, Account, Action.VIEW) or "owner" in hidden:
        return None  # whose accounts they are is the card's point
    # From the start of the day STALE_DAYS ago in the reader's time zone, as the list's date filter reads it.
    today = timezone.localdate()
    since = today - datetime.timedelta(days=STALE_DAYS)
    cut = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))

    def scoped(scope: dict[str, str]) -> Any:
        # Through the list's own filters, so that the card's figures and its links agree.
        return AccountFilterSet(scope, user).filter(restricted(Account, user, Action.VIEW))

    def by_tier(scope: dict[str, str]) -> dict[str, dict[str, int]]:
        rows = (
            scoped(scope)
            .values("tier")
            .annotate(
                total=Count("id"),
                stale=Count("id", filter=Q(last_interaction_at__lte=cut)),
                never=Count("id", filter=Q(last_interaction_at__isnull=True)),
                due=Count("id", filter=Q(pool_due_at__isnull=False)),
            )
            .order_by()
        )
        return {row["tier"]: row for row in rows}

    # A salesperson's own accounts; someone people report to, theirs and their reports' together
    # (whom to nudge about a follow-up); someone who owns none and has no reports, their team's.
    scopes = [
        ({"owner": "reports"}, _("My and my reports' accounts"))
        if user_report_ids(user)
        else ({"owner": "me"}, _("My accounts"))
    ]
    if "team" not in hidden and user_team_ids(user):
        scopes.append(({"team": "mine"}, _("My team's accounts")))
    (scope, title), tiers = scopes[0], {}
    for candidate, label in scopes:  # the first with any account, else the first (an empty card)
        found = by_tier(candidate)
        if found:
            scope, title, tiers = candidate, label, found
            break
    accounts = resource_at("accounts")
    list_url = resource_url(accounts, "list")

    def link(**params: Any) -> str:
        return f"{list_url}?{urlencode({**scope, **params})}"

    def first_few(condition: Q, field: str, when: Callable[[datetime.datetime], str]) -> list[dict[str, str]]:
        """The few accounts of a line by name, first by ``field``, with when (the list has the rest)."""
        rows = scoped(scope).filter(condition).order_by(field, "id").values_list("pk", "name", field)
        return [
            {"name": name, "url": resource_url(accounts, "detail", pk) or "", "ago": when(at)}
            for pk, name, at in rows[:LONGEST_SHOWN]
        ]

    stale = sum(row["stale"] for row in tiers.values())
    # Going back to the pool soon unless followed up (the pool rules' warning days), soonest first.
    due = 0 if "pool_due_at" in hidden else sum(row["due"] for row in tiers.values())
    going = {
        "key": "due",
        "label": _("Going back to the customer pool soon"),
        "count": due,
        # With the date among the columns: when each goes back is what the list is for.
        "url": link(pool_due_at__isnull="false", ordering="pool_due_at", columns=",".join(DUE_COLUMNS)),
        "accounts": first_few(Q(pool_due_at__isnull=False), "pool_due_at", _in_days) if due else [],
    }

    # (stored tier, label, colour, filter value): every tier, and 未分级 only when some accounts are.
    kinds = [(tier.value, str(tier.label), Tier.colour(tier.value), tier.value) for tier in Tier]
    if "" in tiers:
        kinds.append(("", _("No tier"), "secondary", NO_TIER))
    chips = [
        {"label": label, "colour": colour, "count": tiers.get(stored, {}).get("total", 0), "url": link(tier=value)}
        for stored, label, colour, value in kinds
    ]

    return {
        "title": title,
        "pool": _pool(user, accounts, list_url),
        "total": sum(row["total"] for row in tiers.values()),
        "url": link(),
        "tiers": chips,
        "waiting": [
            *([going] if due else []),
            {
                "key": "stale",
                "label": _("Not followed up for %(days)s days or more") % {"days": STALE_DAYS},
                "count": stale,
                "url": link(last_interaction_at__lte=since.isoformat(), ordering="last_interaction_at"),
                # Whom to call first: those waiting longest.
                "accounts": first_few(
                    Q(last_interaction_at__lte=cut),
                    "last_interaction_at",
                    lambda at: _("%(days)s days ago") % {"days": (today - timezone.localdate(at)).days},
                )
                if stale
                else [],
            },
            {
                "key": "never",
                "label": _("Never followed up"),
                "count": sum(row["never"] for row in tiers.values()),
                "url": link(last_interaction_at__isnull="true"),
            },
        ],
    }


def _in_days(due: datetime.datetime) -> str:
    days = days_to_due(due)
    if days <= 0:
        return _("tonight")
    return ngettext("in %(days)d day", "in %(days)d days", days) % {"days": days}


def _pool(user: Any, accounts: Resource, list_url: str | None) -> dict[str, Any] | None:
    """How many accounts wait in the customer pool (公海) for someone to claim them, for those who may
    claim: a salesperson with room for more, or a new one with none yet, goes there next."""
    pool = accounts.pool
    if pool is None or not can(user, Account, Action.CHANGE):
        return None
    count = restricted(Account, user, Action.VIEW).filter(Account.open_rows).count()
    return {"count": count, "url": f"{list_url}?{urlencode(pool.query())}"} if count else None
