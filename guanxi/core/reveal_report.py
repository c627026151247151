"""查看完整信息统计: who saw masked values in full (号码脱敏), per person, over the last few days.

Read from ``RevealCount`` (``record_reveal``'s allowance: a row a user a day, kept
``services.REVEAL_COUNT_DAYS`` days) in one grouped query: each person's views in the period, their
busiest day, and today's count against ``GUANXI_REVEALS_PER_DAY``. The change log keeps each view
(action ``reveal``); a row of the report links to those entries.

Who may read it is who may read the change log by role (``core.changelogentry`` "view", the menu's
test for the change log), about the people that scope reaches as people (``User.scope_filter``):
"all" everyone, "team" one's team(s), "subordinates" oneself and those who report to one, "own"
oneself. The change log itself keeps narrower scopes to one's own entries, as an entry carries a
record's values; a count names no record, so a sales manager may read their team's counts without
reading their team's changes. The change log's other way in, the history of a record one may see,
has no counterpart here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import IntegerField, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.choices import Action, ChangeAction, Scope
from guanxi.core.errors import FieldErrors, PermissionDenied
from guanxi.core.models import ChangeLogEntry, RevealCount
from guanxi.core.permissions import object_type_of, scope_for
from guanxi.core.services import REVEAL_COUNT_DAYS
from guanxi.identity.models import User

#: The periods the page offers (days back from today, today included); the API takes any from 1 to
#: ``REVEAL_COUNT_DAYS``, the days the counts are kept.
PERIODS = (1, 7, 30, 90)
DEFAULT_DAYS = 7
#: Today's count is highlighted from this share of the daily allowance on (4/5: 80%).
NEAR_ALLOWANCE = (4, 5)


@dataclass(frozen=True)
class RevealRow:
    """One person's views in full in the period."""

    user_id: int
    name: str
    team_id: int | None
    team_name: str
    total: int
    busiest_day: datetime.date
    busiest_count: int
    today: int
    allowance: int

    @property
    def near_allowance(self) -> bool:
        """Today's count has reached 80% of the day's allowance."""
        numerator, denominator = NEAR_ALLOWANCE
        return self.today * denominator >= self.allowance * numerator


@dataclass(frozen=True)
class RevealSummary:
    """The period (``first`` to ``last``, both included; ``last`` is today) and its rows, most views first."""

    days: int
    first: datetime.date
    last: datetime.date
    allowance: int
    rows: list[RevealRow] = field(default_factory=list)


def reveal_days(raw: Any) -> int:
    """The number of days a report covers, from a request: ``DEFAULT_DAYS`` when not given, else a
    whole number from 1 to ``REVEAL_COUNT_DAYS``; anything else is a field error on ``days``."""
    if raw is None or raw == "":
        return DEFAULT_DAYS
    try:
        days = int(raw)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= REVEAL_COUNT_DAYS:
        raise FieldErrors({"days": [_("Give a number of days from 1 to %(max)d.") % {"max": REVEAL_COUNT_DAYS}]})
    return days


def reveal_reach(user: Any) -> Q:
    """Whose counts ``user`` may read, as a condition on ``RevealCount``; refused (403) when their
    role gives no view of the change log (or their API token lacks ``core.changelogentry:view``)."""
    scope = scope_for(user, object_type_of(ChangeLogEntry), Action.VIEW)
    people = User.scope_filter(user, scope)
    if people is None:
        raise PermissionDenied()
    if scope == Scope.ALL:
        return Q()
    return Q(user_id__in=User.objects.filter(people).values("pk"))


def reveal_summary(user: Any, days: int = DEFAULT_DAYS, *, today: datetime.date | None = None) -> RevealSummary:
    """Each person ``user`` may read about who saw anything in full in the last ``days`` days (today
    included), most views first (then by name): in one query however many people, a person's
    busiest day read by a subquery on the (user, day) index (the latest of equal days)."""
    reach = reveal_reach(user)
    last = today or timezone.localdate()
    first = last - datetime.timedelta(days=days - 1)
    allowance = settings.GUANXI_REVEALS_PER_DAY
    in_period = Q(day__gte=first, day__lte=last)
    busiest = RevealCount.objects.filter(in_period, user_id=OuterRef("user_id")).order_by("-count", "-day")
    grouped = (
        RevealCount.objects.filter(in_period, reach)
        .values("user_id", "user__display_name", "user__email", "user__team_id", "user__team__name")
        .annotate(
            total=Sum("count"),
            busiest_count=Max("count"),
            today_count=Sum("count", filter=Q(day=last), default=0, output_field=IntegerField()),
            busiest_day=Subquery(busiest.values("day")[:1]),
        )
        .filter(total__gt=0)
        .order_by("-total", "user__display_name", "user_id")
    )
    rows = [
        RevealRow(
            user_id=row["user_id"],
            name=row["user__display_name"] or row["user__email"],  # as User.__str__
            team_id=row["user__team_id"],
            team_name=row["user__team__name"] or "",
            total=row["total"],
            busiest_day=row["busiest_day"],
            busiest_count=row["busiest_count"],
            today=row["today_count"],
            allowance=allowance,
        )
        for row in grouped
    ]
    return RevealSummary(days=days, first=first, last=last, allowance=allowance, rows=rows)


def change_log_filters(row: RevealRow, first: datetime.date) -> dict[str, str]:
    """The change-log list's filters that show the views a row counts: the person's ``reveal``
    entries from the period's first day (a date is read in the reader's time zone, as today is)."""
    return {"actor": str(row.user_id), "action": ChangeAction.REVEAL.value, "time__gte": first.isoformat()}
