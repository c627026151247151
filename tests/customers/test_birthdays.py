"""Birthdays coming up (近期生日): the month and day the database keeps beside each birthday, the
contact list's ``birthday_within`` filter, the home card and the contact page's reminder."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from freezegun import freeze_time

from guanxi.core.models import ChangeLogEntry
from guanxi.core.views.home import home_cache_key
from guanxi.customers import birthdays, services
from guanxi.customers.models import Contact
from guanxi.identity.models import FieldRule, User
from tests.customers.conftest import Api
from tests.customers.test_import import csv_bytes, job_client, read_errors, upload
from tests.factories import client_for

pytestmark = pytest.mark.django_db

D = datetime.date


def born(days_from_today: int, *, years_ago: int = 30) -> datetime.date:
    """A birthday ``days_from_today`` days ahead in the calendar, ``years_ago`` years back."""
    day = timezone.localdate() + datetime.timedelta(days=days_from_today)
    if (day.month, day.day) == (2, 29):
        day -= datetime.timedelta(days=1)  # a year ``years_ago`` back may have no 29 February
    return day.replace(year=day.year - years_ago)


# --- the calendar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "days", "expected"),
    [
        (D(2026, 12, 6), 7, [(1206, 1213)]),
        (D(2026, 12, 6), 0, [(1206, 1206)]),
        (D(2026, 12, 28), 7, [(1228, 1231), (101, 104)]),  # across the new year, in the order they come
        (D(2026, 12, 31), 1, [(1231, 1231), (101, 101)]),
        (D(2027, 2, 27), 1, [(227, 229)]),  # no 29 February in 2027: born on it, celebrated on the 28th
        (D(2027, 2, 28), 0, [(228, 229)]),
        (D(2028, 2, 28), 0, [(228, 228)]),  # 2028 has one
        (D(2027, 3, 1), 0, [(301, 301)]),
        (D(2026, 6, 1), 365, [(101, 1231)]),
    ],
)
def test_windows_are_the_days_in_the_order_they_come(
    today: datetime.date, days: int, expected: list[tuple[int, int]]
) -> None:
    assert birthdays.windows(today, days) == expected


def test_when_and_how_old() -> None:
    today = D(2026, 12, 6)
    with translation.override("zh-hans"):
        soon = birthdays.coming(D(1986, 12, 6), today)
        assert soon is not None and (soon["days"], soon["when"], soon["age"]) == (0, "今天", "满 40 岁")
        tomorrow = birthdays.coming(D(1990, 12, 7), today)
        assert tomorrow is not None and tomorrow["when"] == "明天"
        in_three = birthdays.coming(D(1990, 12, 9), today)
        assert in_three is not None and in_three["when"] == "3 天后" and in_three["day"] == "12月9日"
    with translation.override("en"):
        early = birthdays.coming(D(1999, 1, 2), D(2026, 12, 28))  # next year's
        assert early is not None and early["date"] == D(2027, 1, 2) and early["when"] == "in 5 days"
        assert early["age"] == "turns 28"
    assert birthdays.coming(D(1990, 12, 14), today) is None  # eight days on
    assert birthdays.coming(D(1990, 12, 5), today) is None  # yesterday: next year
    assert birthdays.coming(None, today) is None
    leap = birthdays.coming(D(1996, 2, 29), D(2027, 2, 28))
    assert leap is not None and leap["days"] == 0
    assert birthdays.next_birthday(D(1996, 2, 29), D(2028, 2, 28)) == D(2028, 2, 29)


# --- the stored month and day ---------------------------------------------------------------------


def test_the_database_keeps_month_and_day_with_the_birthday(admin: User, make_contact: Callable[..., Contact]) -> None:
    person = make_contact(birthday=D(1988, 12, 25))
    assert Contact.objects.get(pk=person.pk).birthday_md == 1225
    services.contact_update(user=admin, pk=person.pk, data={"birthday": D(1988, 1, 5)})
    assert Contact.objects.get(pk=person.pk).birthday_md == 105
    services.contact_update(user=admin, pk=person.pk, data={"birthday": None})
    assert Contact.objects.get(pk=person.pk).birthday_md is None
    # Derived by the database: the change log records the birthday, not its month and day.
    logged = ChangeLogEntry.objects.filter(object_id=person.pk, content_type__model="contact")
    assert logged.count() == 3
    for entry in logged:
        assert "birthday_md" not in entry.changes and "birthday" in entry.changes


def test_an_import_writes_the_birthday_the_index_reads(admin: User, django_capture_on_commit_callbacks: object) -> None:
    client = job_client(admin, django_capture_on_commit_callbacks)
    rows = [["姓名", "手机", "生日"], ["王伟", "13900000001", "1990-05-20"], ["李娜", "13900000002", ""]]
    job = upload(client, csv_bytes(rows), start="true").json()
    assert client.get(f"/api/v1/imports/{job['id']}").json()["result"]["created"] == 2
    assert dict(Contact.objects.values_list("display_name", "birthday_md")) == {"王伟": 520, "李娜": None}


def test_a_merge_and_its_undo_carry_the_month_and_day(admin: User, make_contact: Callable[..., Contact]) -> None:
    keep = make_contact(given_name="伟", family_name="王", birthday=D(1980, 3, 3))
    gone = make_contact(given_name="伟", family_name="王", birthday=D(1980, 8, 8))
    merge = services.contact_merge(survivor=keep.pk, others=[gone.pk], user=admin, fields={"birthday": gone.pk})
    assert Contact.objects.get(pk=keep.pk).birthday_md == 808
    services.merge_undo(merge_id=merge.pk, user=admin)
    assert Contact.objects.get(pk=keep.pk).birthday_md == 303
    assert Contact.objects.get(pk=gone.pk).birthday_md == 808


# --- the filter -------------------------------------------------------------------------------------


def test_birthday_within_lists_the_days_ahead(
    rep: User, other_rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    today = make_contact(by=rep, given_name="今天", birthday=born(0))
    in_three = make_contact(by=rep, given_name="三天", birthday=born(3, years_ago=41))
    in_ten = make_contact(by=rep, given_name="十天", birthday=born(10))
    make_contact(by=rep, given_name="昨天", birthday=born(-1))
    make_contact(by=rep, given_name="没有")
    make_contact(by=other_rep, given_name="别人的", birthday=born(0))  # not the rep's to see
    api = api_for(rep)

    def listed(days: int) -> set[int]:
        response = api.get(f"contacts?birthday_within={days}&ordering=birthday_md")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json_body["items"]}

    assert listed(0) == {today.pk}
    assert listed(7) == {today.pk, in_three.pk}
    assert listed(30) == {today.pk, in_three.pk, in_ten.pk}
    assert len(listed(366)) == 4  # everyone with a birthday the rep may see


@pytest.mark.parametrize("value", ["abc", "-1", "367", ""])
def test_birthday_within_refuses_what_is_not_a_number_of_days(admin_api: Api, value: str) -> None:
    response = admin_api.get(f"contacts?birthday_within={value}")
    assert response.status_code == 400
    assert [e["field"] for e in response.json_body["errors"]] == ["birthday_within"], response.json_body


def test_a_hidden_birthday_cannot_be_filtered_or_shown(
    rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    person = make_contact(by=rep, birthday=born(1))
    FieldRule.objects.create(role=rep.role, object_type="customers.contact", field="birthday", access="hidden")
    assert api_for(rep).get("contacts?birthday_within=7").status_code == 400
    client = client_for(rep)
    assert 'name="birthday_within"' not in client.get("/customers/contacts/").content.decode()
    assert 'id="birthday-soon"' not in client.get(f"/customers/contacts/{person.pk}/").content.decode()
    assert birthdays.upcoming(User.objects.get(pk=rep.pk)) is None  # a fresh read of its field rules
    # The rule on the birthday covers the lunar choice (Contact.field_rules_cover): not shown, not written.
    body = api_for(rep).get(f"contacts/{person.pk}").json_body
    assert "birthday" not in body and "birthday_lunar" not in body
    api_for(rep).patch(f"contacts/{person.pk}", {"birthday_lunar": True})
    assert Contact.objects.get(pk=person.pk).birthday_lunar is False


@freeze_time("2026-12-29 02:00:00")  # 10:00 in Shanghai
def test_across_the_new_year(rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]) -> None:
    new_year = make_contact(by=rep, given_name="元旦", birthday=D(1990, 1, 1))
    tomorrow = make_contact(by=rep, given_name="明天", birthday=D(1990, 12, 30))
    make_contact(by=rep, given_name="一月十号", birthday=D(1990, 1, 10))
    make_contact(by=rep, given_name="昨天", birthday=D(1990, 12, 28))
    items = api_for(rep).get("contacts?birthday_within=7").json_body["items"]
    assert {row["id"] for row in items} == {new_year.pk, tomorrow.pk}
    panel = birthdays.upcoming(rep)
    assert panel is not None and panel["total"] == 2
    # The card goes by the days as they come: 30 December, then 1 January.
    assert [p["name"] for p in panel["people"]] == [tomorrow.display_name, new_year.display_name]
    assert [p["birthday"]["days"] for p in panel["people"]] == [1, 3]


@freeze_time("2026-12-29 02:00:00")  # 10:00 in Shanghai
@pytest.mark.parametrize("who", ["admin", "rep"])
def test_sorted_by_birthday_the_next_one_comes_first(
    who: str, admin: User, rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    """By birthday, a list starts at today's date and goes round the year (29 December: the 29th,
    the 31st, then January...), the people without one last; going down, the other way round. A page
    at a time (two rows each) reads the same order, for a salesperson's restricted list too."""
    days = [(12, 29), (12, 31), (1, 1), (1, 1), (6, 15), (12, 28)]
    people = [make_contact(by=rep, given_name=f"{m}月{d}日", birthday=D(1990, m, d)) for m, d in days]
    nobody = make_contact(by=rep, given_name="没有生日")
    api = api_for(admin if who == "admin" else rep)

    def ids(ordering: str, limit: int) -> list[int]:
        out, cursor = [], ""
        while True:
            body = api.get(f"contacts?ordering={ordering}&limit={limit}{cursor}").json_body
            out += [row["id"] for row in body["items"]]
            if not body.get("next_cursor"):
                return out
            cursor = f"&cursor={body['next_cursor']}"

    up = [people[0].pk, people[1].pk, people[2].pk, people[3].pk, people[4].pk, people[5].pk, nobody.pk]
    down = [people[5].pk, people[4].pk, people[3].pk, people[2].pk, people[1].pk, people[0].pk, nobody.pk]
    assert ids("birthday_md", 50) == up
    assert ids("birthday_md", 2) == up
    assert ids("-birthday_md", 50) == down
    assert ids("-birthday_md", 2) == down
    # The list behind the home card (this week's): 29 December, 31 December, 1 January.
    week = api.get("contacts?birthday_within=7&ordering=birthday_md").json_body["items"]
    assert [row["id"] for row in week] == up[:4]


def test_the_contact_list_offers_the_filter(admin: User, make_contact: Callable[..., Contact]) -> None:
    soon = make_contact(given_name="快了", birthday=born(2))
    later = make_contact(given_name="还早", birthday=born(40))
    client = client_for(admin)
    with translation.override("zh-hans"):
        page = client.get("/customers/contacts/", {"birthday_within": "7"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = page.content.decode()
    assert 'name="birthday_within"' in html
    assert f"/customers/contacts/{soon.pk}/" in html and f"/customers/contacts/{later.pk}/" not in html
    assert client.get("/customers/contacts/", {"birthday_within": "x"}).status_code == 200  # named, not a crash


# --- the home card and the contact page --------------------------------------------------------------


def home(user: User) -> str:
    cache.delete(home_cache_key(user))
    with translation.override("zh-hans"):
        cache.delete(home_cache_key(user))
    User.objects.filter(pk=user.pk).update(language="zh-hans")
    response = client_for(user).get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_home_card_names_the_week_s_birthdays_soonest_first(
    rep: User, other_rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    assert 'id="home-birthdays"' not in home(rep)  # none this week: no card
    people = [
        make_contact(by=rep, given_name=f"客{days}", birthday=born(days)) for days in (6, 0, 3, 1, 5, 2, 4, 6, 0, 3)
    ]
    make_contact(by=rep, given_name="下周", birthday=born(8))
    make_contact(by=other_rep, given_name="别人", birthday=born(0))
    with CaptureQueriesContext(connection) as queries:
        panel = birthdays.upcoming(rep)
    assert panel is not None and panel["total"] == 10
    days = [p["birthday"]["days"] for p in panel["people"]]
    assert len(days) == birthdays.SHOWN and days == sorted(days) and days[0] == 0
    # A count, one read of the index (two across the new year), one of the lunar birthdays' index
    # and the names' companies.
    assert len(queries) <= 7, [q["sql"] for q in queries]
    html = home(rep)
    card = html.split('id="home-birthdays"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "未来 7 天过生日" in card and "今天" in card and "客0" in card and "别人" not in card
    # The link lists exactly the ten.
    url = panel["url"].split("?", 1)[1]
    listed = api_for(rep).get(f"contacts?{url}").json_body["items"]
    assert {row["id"] for row in listed} == {p.pk for p in people}


def test_the_contact_page_says_the_birthday_is_near(admin: User, make_contact: Callable[..., Contact]) -> None:
    near = make_contact(given_name="近", birthday=born(2, years_ago=50))
    far = make_contact(given_name="远", birthday=born(20))
    client = client_for(admin)
    User.objects.filter(pk=admin.pk).update(language="zh-hans")
    html = client.get(f"/customers/contacts/{near.pk}/").content.decode()
    assert 'id="birthday-soon"' in html and "2 天后生日" in html and "满 50 岁" in html
    assert 'id="birthday-soon"' not in client.get(f"/customers/contacts/{far.pk}/").content.decode()


# --- lunar birthdays (农历生日) ----------------------------------------------------------------------


def solar_of_lunar(year: int, month: int, day: int) -> datetime.date:
    from lunar_python import Lunar

    solar = Lunar.fromYmd(year, month, day).getSolar()
    return D(solar.getYear(), solar.getMonth(), solar.getDay())


def test_the_lunar_month_and_day_of_a_date_of_birth() -> None:
    assert birthdays.lunar_month_day(D(1990, 10, 3)) == 815  # 八月十五, 中秋
    assert birthdays.lunar_month_day(D(2020, 6, 1)) == 410  # 闰四月初十: celebrated in 四月
    assert birthdays.lunar_month_day(D(2026, 2, 17)) == 101  # 正月初一
    with translation.override("zh-hans"):
        assert birthdays.lunar_text(D(1990, 10, 3)) == "农历八月十五"
        assert birthdays.lunar_text(D(2026, 2, 17)) == "农历正月初一"
    with translation.override("en"):
        assert birthdays.lunar_text(D(2020, 6, 1)) == "lunar leap 4/10"


def test_lunar_days_of_a_window() -> None:
    mid_autumn = solar_of_lunar(2026, 8, 15)
    assert birthdays.lunar_days(mid_autumn, 0) == [815]
    assert birthdays.lunar_days(mid_autumn, 2) == [815, 816, 817]
    # 2026's 八月 has 29 days: its 29th is the day of those born on a 30th too.
    assert birthdays.lunar_days(solar_of_lunar(2026, 8, 29), 0) == [829, 830]
    # 2025 had a leap 六月 (闰六月): its days are nobody's birthday.
    assert birthdays.lunar_days(D(2025, 8, 1), 0) == []
    assert birthdays.lunar_days(D(2026, 6, 1), 365) is None  # the whole year: everyone


def test_the_next_lunar_birthday_and_the_age_in_lunar_years() -> None:
    born = D(1990, 10, 3)  # 八月十五
    assert birthdays.next_birthday(born, D(2026, 9, 20), lunar=True) == solar_of_lunar(2026, 8, 15) == D(2026, 9, 25)
    assert birthdays.next_birthday(born, D(2026, 12, 6), lunar=True) == solar_of_lunar(2027, 8, 15)
    # Born on the 30th of a month, celebrated on the 29th in a year whose month has 29 days.
    born_30th = solar_of_lunar(1990, 7, 30)
    assert birthdays.lunar_month_day(born_30th) == 730
    assert birthdays.next_birthday(born_30th, D(2026, 9, 1), lunar=True) == solar_of_lunar(2026, 7, 29)
    # A January birthday can be in the last lunar year: 腊月 of 1989 is January 1990.
    winter = D(1990, 1, 20)
    assert birthdays.lunar_date(winter)[:3] == (1989, 12, 24)
    with translation.override("zh-hans"):
        when = birthdays.coming(winter, D(2027, 1, 30), lunar=True)
        assert when is not None and when["date"] == solar_of_lunar(2026, 12, 24)
        assert when["age"] == "满 37 岁" and when["lunar"] == "农历腊月廿四"


def test_the_database_keeps_the_lunar_month_and_day(admin: User, make_contact: Callable[..., Contact]) -> None:
    person = make_contact(birthday=D(1990, 10, 3), birthday_lunar=True)
    assert Contact.objects.get(pk=person.pk).birthday_lunar_md == 815
    services.contact_update(user=admin, pk=person.pk, data={"birthday": D(1990, 10, 4)})
    assert Contact.objects.get(pk=person.pk).birthday_lunar_md == 816
    services.contact_update(user=admin, pk=person.pk, data={"birthday_lunar": False})
    assert Contact.objects.get(pk=person.pk).birthday_lunar_md is None
    solar = make_contact(birthday=D(1990, 10, 3))
    assert Contact.objects.get(pk=solar.pk).birthday_lunar_md is None
    # Derived: the change log records the birthday and the choice, not the lunar month and day.
    logged = ChangeLogEntry.objects.filter(object_id=person.pk, content_type__model="contact")
    assert all("birthday_lunar_md" not in entry.changes for entry in logged)
    assert any("birthday_lunar" in entry.changes for entry in logged)


def test_birthday_within_finds_lunar_birthdays_by_their_lunar_day(
    rep: User, make_contact: Callable[..., Contact], api_for: Callable[[User], Api]
) -> None:
    with freeze_time("2026-09-23 09:00:00+08:00"):  # two days before 中秋 (2026-09-25)
        lunar = make_contact(by=rep, given_name="中秋", birthday=D(1990, 10, 3), birthday_lunar=True)
        # Born on 25 September: a solar birthday in the window, but this one keeps the lunar day (八月初七).
        lunar_elsewhere = make_contact(by=rep, given_name="农历别日", birthday=D(1990, 9, 25), birthday_lunar=True)
        solar = make_contact(by=rep, given_name="公历", birthday=D(1985, 9, 25))

        def listed(days: int) -> set[int]:
            response = api_for(rep).get(f"contacts?birthday_within={days}")
            assert response.status_code == 200, response.content
            return {row["id"] for row in response.json_body["items"]}

        assert listed(0) == set()
        assert listed(2) == {lunar.pk, solar.pk}
        assert lunar_elsewhere.pk in listed(366)
        panel = birthdays.upcoming(rep)
        assert panel is not None and panel["total"] == 2
        assert sorted((p["name"], p["birthday"]["days"]) for p in panel["people"]) == [("张中秋", 2), ("张公历", 2)]


def test_the_contact_page_and_the_home_card_name_the_lunar_day(
    admin: User, make_contact: Callable[..., Contact]
) -> None:
    cache.clear()
    with freeze_time("2026-09-24 09:00:00+08:00"):
        near = make_contact(given_name="中秋", birthday=D(1990, 10, 3), birthday_lunar=True)
        far = make_contact(given_name="春节", birthday=D(1991, 2, 15), birthday_lunar=True)  # 正月初一
        User.objects.filter(pk=admin.pk).update(language="zh-hans")
        client = client_for(admin)
        html = client.get(f"/customers/contacts/{near.pk}/").content.decode()
        badge = html.split('id="birthday-soon"', 1)[1].split("</div>", 1)[0]
        assert "明天生日" in badge and "农历八月十五" in badge and "满 36 岁" in badge
        html = client.get(f"/customers/contacts/{far.pk}/").content.decode()
        assert 'id="birthday-soon"' not in html
        assert re.search(r'data-field="birthday">.*?gx-break">1991-02-15 · 农历正月初一<', html, re.S)
        listed = client.get("/customers/contacts/?columns=display_name,birthday").content.decode()
        assert "1991-02-15 · 农历正月初一" in listed and "1990-10-03 · 农历八月十五" in listed
        card = client.get("/").content.decode().split('id="home-birthdays"', 1)[1].split("</div>\n</div>", 1)[0]
        assert "中秋" in card and "农历八月十五" in card and "春节" not in card
        # The form offers the choice beside the birthday.
        form = client.get(f"/customers/contacts/{far.pk}/edit/").content.decode()
        box = re.search(r'<input[^>]*name="birthday_lunar"[^>]*>', form)
        assert box is not None and "checked" in box.group()


def test_an_import_reads_the_lunar_choice_and_reports_a_bad_one(
    admin: User, django_capture_on_commit_callbacks: object
) -> None:
    client = job_client(admin, django_capture_on_commit_callbacks)
    rows = [
        ["姓名", "手机", "生日", "农历生日"],
        ["王中秋", "13900000001", "1990-10-03", "是"],
        ["李公历", "13900000002", "1990-10-03", "否"],
        ["赵不明", "13900000003", "1990-10-03", "也许"],
    ]
    job = upload(client, csv_bytes(rows), start="true").json()
    result = client.get(f"/api/v1/imports/{job['id']}").json()["result"]
    assert result["created"] == 2, result
    stored = {
        name: (lunar, md)
        for name, lunar, md in Contact.objects.values_list("display_name", "birthday_lunar", "birthday_lunar_md")
    }
    assert stored == {"王中秋": (True, 815), "李公历": (False, None)}
    # The bad row, by its line and column.
    errors = read_errors(client, job["id"])
    assert [(row[0], row[1]) for row in errors[1:]] == [("4", "农历生日")], errors
    # A second file updates by phone: a new birthday moves the lunar month and day with it.
    rows = [["姓名", "手机", "生日"], ["王中秋", "13900000001", "1990-10-04"]]
    job = upload(client, csv_bytes(rows), start="true", duplicate_policy="update").json()
    assert client.get(f"/api/v1/imports/{job['id']}").json()["result"]["updated"] == 1
    assert Contact.objects.get(display_name="王中秋").birthday_lunar_md == 816


def test_a_merge_carries_the_lunar_choice_with_the_birthday(admin: User, make_contact: Callable[..., Contact]) -> None:
    keep = make_contact(given_name="伟", family_name="王", birthday=D(1980, 3, 3))
    gone = make_contact(given_name="伟", family_name="王", birthday=D(1990, 10, 3), birthday_lunar=True)
    merge = services.contact_merge(survivor=keep.pk, others=[gone.pk], user=admin, fields={"birthday": gone.pk})
    survivor = Contact.objects.get(pk=keep.pk)
    assert (survivor.birthday, survivor.birthday_lunar, survivor.birthday_lunar_md) == (D(1990, 10, 3), True, 815)
    services.merge_undo(merge_id=merge.pk, user=admin)
    survivor = Contact.objects.get(pk=keep.pk)
    assert (survivor.birthday, survivor.birthday_lunar, survivor.birthday_lunar_md) == (D(1980, 3, 3), False, None)
