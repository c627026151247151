"""Birthdays coming up (近期生日): whose birthday is in the next days, for a call or a card.

A birthday is stored with its year; "in the next 7 days" asks for its month and day in a range,
which the database keeps beside it (``Contact.birthday_md``, 12-25 -> 1225) with an index of only
the people who have one. Across the new year the days are two ranges (12-28 … 12-31, 01-01 … 01-04).
Someone born on 29 February has their birthday on the 28th in other years, as most calendars keep it.

The contact list filters with ``birthday_within=<days>`` (0: today), the home page names the
salesperson's people whose birthday is this week, and a contact's page says when it is near.
"""

from __future__ import annotations

import calendar
import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guanxi.core.choices import Action
from guanxi.core.permissions import can, hidden_fields, restricted

#: The home card's and the contact page's "soon".
SOON_DAYS = 7
#: The widest window the filter takes: a whole year, leap day included.
MAX_DAYS = 366
#: How many people the home card names (the list behind it has the rest).
SHOWN = 8
#: The contact list the card links to: whose birthday, when, how to reach them.
LIST_COLUMNS = ("display_name", "company", "birthday", "phones", "owner")


def filter_options() -> list[tuple[str, str]]:
    """The contact list's choices for ``birthday_within``."""
    return [("0", _("Today"))] + [
        (str(days), ngettext("Within %(days)d day", "Within %(days)d days", days) % {"days": days})
        for days in (SOON_DAYS, 30)
    ]


def month_day(day: datetime.date) -> int:
    """12-25 -> 1225, as ``Contact.birthday_md`` stores it."""
    return day.month * 100 + day.day


def windows(today: datetime.date, days: int) -> list[tuple[int, int]]:
    """The month-day ranges from ``today`` to ``days`` later, in the order the days come: one, or
    two across the new year. In a year without 29 February a range that holds the 28th holds the
    29th too: those born on it celebrate on the 28th."""
    if days >= 365:
        return [(101, 1231)]
    end = today + datetime.timedelta(days=days)
    if end.year == today.year:
        spans = [(today, end)]
    else:
        spans = [(today, datetime.date(today.year, 12, 31)), (datetime.date(end.year, 1, 1), end)]
    ranges = []
    for first, last in spans:
        low, high = month_day(first), month_day(last)
        if high == 228 and not calendar.isleap(last.year):
            high = 229
        ranges.append((low, high))
    return ranges


def within(today: datetime.date, days: int) -> Q:
    """The contacts whose birthday falls within ``days`` days from ``today`` (0: today)."""
    match = Q()
    for low, high in windows(today, days):
        match |= Q(birthday_md__gte=low, birthday_md__lte=high)
    return match


def next_birthday(birthday: datetime.date, today: datetime.date) -> datetime.date:
    """The day of the next birthday on or after ``today`` (29 February on the 28th in other years)."""
    for year in (today.year, today.year + 1):
        leap_day = (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year)
        when = datetime.date(year, 2, 28) if leap_day else birthday.replace(year=year)
        if when >= today:
            return when
    raise AssertionError("a birthday comes within a year")  # pragma: no cover


def coming(birthday: datetime.date | None, today: datetime.date, days: int = SOON_DAYS) -> dict[str, Any] | None:
    """When the birthday is, if within ``days``: the day, in how many days (as words) and the age
    turned then; None otherwise."""
    if birthday is None:
        return None
    when = next_birthday(birthday, today)
    left = (when - today).days
    if left > days:
        return None
    if left == 0:
        words = _("today")
    elif left == 1:
        words = _("tomorrow")
    else:
        words = ngettext("in %(days)d day", "in %(days)d days", left) % {"days": left}
    age = when.year - birthday.year
    return {
        "date": when,
        "day": date_format(when, "MONTH_DAY_FORMAT"),
        "days": left,
        "when": words,
        "age": _("turns %(age)d") % {"age": age} if age > 0 else "",
    }


def upcoming(user: Any) -> dict[str, Any] | None:
    """The home card: the salesperson's people (a manager's: and their reports') whose birthday is
    within the week, soonest first, with the list of all of them. None when there are none, or the
    user may not see contacts, their owners or their birthdays. A count and at most two short reads
    of the birthday index (two across the new year), and one for the names' companies."""
    from guanxi.core.registry import resource_at
    from guanxi.core.views.base import resource_url
    from guanxi.customers.api import contact_companies
    from guanxi.customers.filters import ContactFilterSet
    from guanxi.customers.models import Contact
    from guanxi.identity.selectors import user_report_ids

    hidden = hidden_fields(user, Contact)
    if not can(user, Contact, Action.VIEW) or {"birthday", "owner"} & hidden:
        return None
    scope = {"owner": "reports"} if user_report_ids(user) else {"owner": "me"}
    params = {**scope, "birthday_within": str(SOON_DAYS)}
    found = ContactFilterSet(params, user).filter(restricted(Contact, user, Action.VIEW))
    total = found.count()
    if not total:
        return None
    today = timezone.localdate()
    people: list[Contact] = []
    for low, high in windows(today, SOON_DAYS):  # in the order the days come
        if len(people) < SHOWN:
            rows = found.filter(birthday_md__gte=low, birthday_md__lte=high).order_by("birthday_md", "id")
            people += rows.only("pk", "display_name", "birthday")[: SHOWN - len(people)]
    companies = contact_companies(people, user)
    contacts = resource_at("contacts")
    list_url = resource_url(contacts, "list")
    query = {**params, "ordering": "birthday_md", "columns": ",".join(LIST_COLUMNS)}
    return {
        "total": total,
        "days": SOON_DAYS,
        "url": f"{list_url}?{urlencode(query)}",
        "people": [
            {
                "name": person.display_name,
                "url": resource_url(contacts, "detail", person.pk) or "",
                "company": companies.get(person.pk, ("", ""))[0],
                "birthday": coming(person.birthday, today),
            }
            for person in people
        ],
    }
