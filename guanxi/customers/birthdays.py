"""Birthdays coming up (近期生日): whose birthday is in the next days, for a call or a card.

A birthday is stored with its year; "in the next 7 days" asks for its month and day in a range,
which the database keeps beside it (``Contact.birthday_md``, 12-25 -> 1225) with an index of only
the people who have one. Across the new year the days are two ranges (12-28 … 12-31, 01-01 … 01-04).
Someone born on 29 February has their birthday on the 28th in other years, as most calendars keep it.

A contact may celebrate on their lunar (农历) birthday (``Contact.birthday_lunar``): their lunar
month and day are worked out from the date of birth when it is saved (``birthday_lunar_md``, 八月十五
-> 815, indexed like the other), and a window of days asks for the lunar month-days those days fall
on. Born in a leap month (闰月), one celebrates in the month of that number; born on the 30th, on
the 29th in a year whose month has 29 days.

The contact list filters with ``birthday_within=<days>`` (0: today), the home page names the
salesperson's people whose birthday is this week, and a contact's page says when it is near.
"""

from __future__ import annotations

import calendar
import datetime
import functools
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case, Q, Value, When
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from lunar_python import Lunar, LunarMonth, Solar
from lunar_python.util import LunarUtil

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


# --- the lunar calendar (农历) ----------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def lunar_date(day: datetime.date) -> tuple[int, int, int, bool]:
    """The lunar year, month, day and whether the month is a leap one (闰月) of a solar day."""
    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    month = lunar.getMonth()  # negative in a leap month
    return lunar.getYear(), abs(month), lunar.getDay(), month < 0


def lunar_month_day(birthday: datetime.date | str) -> int:
    """A date of birth's lunar month and day, as ``Contact.birthday_lunar_md`` keeps it (八月十五 -> 815)."""
    day = datetime.date.fromisoformat(birthday) if isinstance(birthday, str) else birthday
    _year, month, day_of_month, _leap = lunar_date(day)
    return month * 100 + day_of_month


def lunar_days(today: datetime.date, days: int) -> list[int] | None:
    """The lunar month-days from ``today`` to ``days`` later, in the order they come; None for a
    whole year (every one). A leap month's days are nobody's birthday (born in one, one celebrates
    in the month of its number); the 29th of a 29-day month is also the 30th's."""
    if days >= 365:
        return None
    found: list[int] = []
    for offset in range(days + 1):
        year, month, day, leap = lunar_date(today + datetime.timedelta(days=offset))
        if leap:
            continue
        found.append(month * 100 + day)
        if day == 29 and LunarMonth.fromYm(year, month).getDayCount() == 29:
            found.append(month * 100 + 30)
    return found


def lunar_text(birthday: datetime.date) -> str:
    """The lunar birthday in words: 农历八月十五 (in English, lunar 8/15). From the cached
    conversion: a list of lunar birthdays writes one per row."""
    _year, month, day, leap = lunar_date(birthday)
    if (get_language() or "").lower().startswith("zh"):
        words = f"{'闰' if leap else ''}{LunarUtil.MONTH[month]}月{LunarUtil.DAY[day]}"
    else:
        words = f"{'leap ' if leap else ''}{month}/{day}"
    return _("lunar %(date)s") % {"date": words}


def refresh_lunar(pks: list[int]) -> None:
    """Work out again the lunar month and day of contacts a bulk write created or changed (the
    import writes columns, not through ``Contact.save``): one read, then one update per lunar
    month-day that changes (at most 384), not one per contact."""
    from guanxi.customers.models import Contact

    if not pks:
        return
    changed: dict[int | None, list[int]] = {}
    rows = Contact.all_objects.filter(pk__in=pks).values_list("pk", "birthday", "birthday_lunar", "birthday_lunar_md")
    for pk, birthday, lunar, stored in rows:
        wanted = lunar_month_day(birthday) if lunar and birthday else None
        if wanted != stored:
            changed.setdefault(wanted, []).append(pk)
    for month_day, ids in changed.items():
        Contact.all_objects.filter(pk__in=ids).update(birthday_lunar_md=month_day)


def _next_lunar(birthday: datetime.date, today: datetime.date) -> datetime.date:
    month_day = lunar_month_day(birthday)
    month, day = divmod(month_day, 100)
    this_year = lunar_date(today)[0]
    for year in (this_year - 1, this_year, this_year + 1):  # today may still be in last lunar year
        last = LunarMonth.fromYm(year, month).getDayCount()
        solar = Lunar.fromYmd(year, month, min(day, last)).getSolar()
        when = datetime.date(solar.getYear(), solar.getMonth(), solar.getDay())
        if when >= today:
            return when
    raise AssertionError("a lunar birthday comes within a year")  # pragma: no cover


# --- which days --------------------------------------------------------------------------------------


def within(today: datetime.date, days: int) -> Q:
    """The contacts whose birthday falls within ``days`` days from ``today`` (0: today): by the
    solar month and day, or for those who keep a lunar birthday, by its month and day."""
    solar = Q()
    for low, high in windows(today, days):
        solar |= Q(birthday_md__gte=low, birthday_md__lte=high)
    lunar_mds = lunar_days(today, days)
    lunar = Q(birthday_lunar_md__isnull=False) if lunar_mds is None else Q(birthday_lunar_md__in=lunar_mds)
    return (solar & Q(birthday_lunar=False)) | lunar


def next_birthday(birthday: datetime.date, today: datetime.date, *, lunar: bool = False) -> datetime.date:
    """The day of the next birthday on or after ``today`` (29 February on the 28th in other years;
    a lunar one on its day in this lunar year or the next)."""
    if lunar:
        return _next_lunar(birthday, today)
    for year in (today.year, today.year + 1):
        leap_day = (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year)
        when = datetime.date(year, 2, 28) if leap_day else birthday.replace(year=year)
        if when >= today:
            return when
    raise AssertionError("a birthday comes within a year")  # pragma: no cover


def coming(
    birthday: datetime.date | None, today: datetime.date, days: int = SOON_DAYS, *, lunar: bool = False
) -> dict[str, Any] | None:
    """When the birthday is, if within ``days``: the day, in how many days (as words), the age
    turned then and, for a lunar birthday, its lunar day in words; None otherwise."""
    if birthday is None:
        return None
    when = next_birthday(birthday, today, lunar=lunar)
    left = (when - today).days
    if left > days:
        return None
    if left == 0:
        words = _("today")
    elif left == 1:
        words = _("tomorrow")
    else:
        words = ngettext("in %(days)d day", "in %(days)d days", left) % {"days": left}
    # A lunar birthday's age counts lunar years (a January birthday may be in the last lunar year).
    age = lunar_date(when)[0] - lunar_date(birthday)[0] if lunar else when.year - birthday.year
    return {
        "date": when,
        "day": date_format(when, "MONTH_DAY_FORMAT"),
        "days": left,
        "when": words,
        "age": _("turns %(age)d") % {"age": age} if age > 0 else "",
        "lunar": lunar_text(birthday) if lunar else "",
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
    fields = ("pk", "display_name", "birthday", "birthday_lunar")
    solar = found.filter(birthday_lunar=False)
    for low, high in windows(today, SOON_DAYS):  # in the order the days come
        if len(people) < SHOWN:
            rows = solar.filter(birthday_md__gte=low, birthday_md__lte=high).order_by("birthday_md", "id")
            people += rows.only(*fields)[: SHOWN - len(people)]
    lunar_mds = lunar_days(today, SOON_DAYS) or []
    if lunar_mds:  # those who keep a lunar birthday, in the order their days come
        order = Case(*(When(birthday_lunar_md=md, then=Value(i)) for i, md in enumerate(lunar_mds)))
        people += found.filter(birthday_lunar_md__in=lunar_mds).order_by(order, "id").only(*fields)[:SHOWN]
    # Both calendars' people, in the order their days come (each within the week: the reads above).
    dated = [
        (when, person) for person in people if (when := coming(person.birthday, today, lunar=person.birthday_lunar))
    ]
    dated = sorted(dated, key=lambda pair: (pair[0]["days"], pair[1].pk))[:SHOWN]
    people = [person for _when, person in dated]
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
                "birthday": when,
            }
            for when, person in dated
        ],
    }
