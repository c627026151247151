"""Reads of the customers module that are more than a list: the customer pool's statistics (公海统计).

Counted from ``PoolMove`` (one row per account released, taken back by a pool rule, or claimed), in
one grouped read of a period, over the moves of accounts the reader may see (``visible_ref``): a
manager counts those their role reaches, an administrator the company's.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.permissions import restricted, visible_ref
from guanxi.customers.models import Account, PoolMove, PoolMoveKind, PoolReason, PoolRule
from guanxi.customers.services.common import user_names


@dataclass
class PoolFigures:
    """What went in and out of the customer pool in a period.

    ``people``: per salesperson, accounts they released, accounts the pool rules took back from them,
    and accounts they claimed. ``reasons``: releases by hand per release reason (``id`` None: said in
    words only, or a reason since deleted). ``rules``: accounts each pool rule took back (``id`` None:
    a rule since deleted, or a move from before moves were counted, read from the timeline)."""

    released: int = 0
    taken_back: int = 0
    claimed: int = 0
    people: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)


def statistics_period(first: str | None, last: str | None) -> tuple[datetime.date, datetime.date]:
    """The days a statistics page or call covers, both included: ``from`` and ``to`` as YYYY-MM-DD,
    this month up to today by default."""
    today = timezone.localdate()
    errors: dict[str, list[str]] = {}
    days = []
    for name, raw, default in (("from", first, today.replace(day=1)), ("to", last, today)):
        try:
            days.append(datetime.date.fromisoformat(raw) if raw else default)
        except ValueError:
            errors[name] = [_("Give a date as YYYY-MM-DD, e.g. %(example)s.") % {"example": today.isoformat()}]
            days.append(default)
    if not errors and days[0] > days[1]:
        errors["to"] = [_("The last day comes on or after the first.")]
    if errors:
        raise FieldErrors(errors)
    return days[0], days[1]


def day_bounds(first: datetime.date, last: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """From the start of ``first`` to the end of ``last`` in the reader's time zone."""
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
    return start, datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)


def pool_statistics(user: Any, start: datetime.datetime, end: datetime.datetime) -> PoolFigures:
    """The pool's moves from ``start`` up to (not including) ``end``, of the accounts ``user`` may see."""
    moves = PoolMove.objects.filter(at__gte=start, at__lt=end).filter(
        visible_ref("account_id", restricted(Account, user, Action.VIEW))
    )
    grouped = moves.values("kind", "user_id", "reason_id", "rule_id").annotate(count=Count("id")).order_by()
    figures = PoolFigures()
    people: dict[int, dict[str, int]] = {}
    reasons: dict[int | None, int] = {}
    rules: dict[int | None, int] = {}
    for row in grouped:
        count, kind, person = row["count"], row["kind"], row["user_id"]
        if person is not None:
            counts = people.setdefault(person, {"released": 0, "taken_back": 0, "claimed": 0})
            counts[kind] += count
        if kind == PoolMoveKind.RELEASED:
            reasons[row["reason_id"]] = reasons.get(row["reason_id"], 0) + count
            figures.released += count
        elif kind == PoolMoveKind.TAKEN_BACK:
            rules[row["rule_id"]] = rules.get(row["rule_id"], 0) + count
            figures.taken_back += count
        else:
            figures.claimed += count
    names = user_names(*people)
    figures.people = sorted(
        ({"id": pk, "name": names.get(pk, f"#{pk}"), **counts} for pk, counts in people.items()),
        key=lambda row: (-(row["released"] + row["taken_back"] + row["claimed"]), row["name"]),
    )
    labels = {r.pk: r.label for r in PoolReason.objects.filter(pk__in=[k for k in reasons if k is not None])}
    figures.reasons = _ranked(reasons, labels, _("In own words only"))
    rule_names = dict(PoolRule.objects.filter(pk__in=[k for k in rules if k is not None]).values_list("pk", "name"))
    figures.rules = _ranked(rules, rule_names, _("A pool rule"))
    return figures


def _ranked(counts: dict[int | None, int], names: dict[Any, str], unnamed: str) -> list[dict[str, Any]]:
    rows = [
        {"id": key, "label": names.get(key, unnamed) if key is not None else unnamed, "count": n}
        for key, n in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row["count"], row["label"]))
