"""查看完整信息统计: who saw masked values in full, per person, read from ``RevealCount``: the counts
of a period, the busiest day, today against the allowance, the link to those views in the change log,
and who may read it (whoever may read the change log, about the people the scope their role gives reaches)."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guanxi.core.choices import ChangeAction
from guanxi.core.models import ChangeLogEntry, RevealCount
from guanxi.core.reveal_report import change_log_filters, reveal_summary
from guanxi.core.services import record_reveal
from guanxi.customers import services as customer_services
from guanxi.customers.models import Contact
from tests.conftest import session_api, token_api
from tests.factories import (
    AdminFactory,
    RoleFactory,
    TeamFactory,
    UserFactory,
    client_for,
    field_rule,
    grant,
    make_token,
)

pytestmark = pytest.mark.django_db

PAGE = "/settings/reveals/"
API = "reveals/summary"
ROW = re.compile(r'<tr data-pk="(\d+)"')


def _days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def seen(user: Any, by_day: dict[int, int]) -> None:
    """``user`` saw ``count`` values in full ``days_ago`` days ago, for each item of ``by_day``."""
    RevealCount.objects.bulk_create(
        [RevealCount(user=user, day=_days_ago(ago), count=count) for ago, count in by_day.items()]
    )


@pytest.fixture
def admin() -> Any:
    return AdminFactory(email="boss@example.com", display_name="Boss")


@pytest.fixture
def people(rep_role: Any) -> dict[str, Any]:
    """Alice (team East), Bob (no team) and Carol, reps who see their own records only; Dave saw nothing."""
    east = TeamFactory(name="East")
    made = {
        name.lower(): UserFactory(email=f"{name.lower()}@example.com", display_name=name, role=rep_role, team=team)
        for name, team in (("Alice", east), ("Bob", None), ("Carol", None), ("Dave", None))
    }
    seen(made["alice"], {0: 3, 2: 10, 10: 50, 40: 7})
    seen(made["bob"], {0: 1, 5: 4, 6: 4})  # two busiest days: the later one is named
    seen(made["carol"], {60: 9})
    seen(made["dave"], {1: 0})  # a day's row with nothing counted (a refusal at an allowance of 0)
    return made


def _rows(summary: Any) -> list[tuple[str, int]]:
    return [(row.name, row.total) for row in summary.rows]


def test_each_persons_views_in_the_period_most_first(admin: Any, people: dict[str, Any]) -> None:
    assert _rows(reveal_summary(admin, 1)) == [("Alice", 3), ("Bob", 1)]
    week = reveal_summary(admin, 7)
    assert _rows(week) == [("Alice", 13), ("Bob", 9)]
    assert (week.first, week.last, week.days) == (_days_ago(6), timezone.localdate(), 7)
    assert _rows(reveal_summary(admin, 30)) == [("Alice", 63), ("Bob", 9)]
    # Most views first, equal counts by name; one more view puts Carol before Bob.
    assert _rows(reveal_summary(admin, 90)) == [("Alice", 70), ("Bob", 9), ("Carol", 9)]
    seen(people["carol"], {0: 1})
    assert _rows(reveal_summary(admin, 90)) == [("Alice", 70), ("Carol", 10), ("Bob", 9)]


def test_the_busiest_day_today_and_the_team(admin: Any, people: dict[str, Any]) -> None:
    alice, bob = reveal_summary(admin, 7).rows
    assert (alice.busiest_day, alice.busiest_count, alice.today) == (_days_ago(2), 10, 3)
    assert (alice.team_id, alice.team_name) == (people["alice"].team_id, "East")
    assert (bob.busiest_day, bob.busiest_count, bob.today, bob.team_id, bob.team_name) == (_days_ago(5), 4, 1, None, "")
    alice = reveal_summary(admin, 30).rows[0]
    assert (alice.busiest_day, alice.busiest_count) == (_days_ago(10), 50)
    carol = reveal_summary(admin, 90).rows[-1]
    assert (carol.name, carol.busiest_day, carol.today) == ("Carol", _days_ago(60), 0)


def test_today_against_the_allowance_highlighted_from_four_fifths(
    admin: Any, people: dict[str, Any], settings: Any
) -> None:
    settings.GUANXI_REVEALS_PER_DAY = 10
    RevealCount.objects.filter(user=people["alice"], day=timezone.localdate()).update(count=8)
    RevealCount.objects.filter(user=people["bob"], day=timezone.localdate()).update(count=7)
    alice, bob = reveal_summary(admin, 1).rows
    assert (alice.today, alice.allowance, alice.near_allowance) == (8, 10, True)
    assert (bob.today, bob.allowance, bob.near_allowance) == (7, 10, False)
    page = client_for(admin).get(PAGE, {"days": 1}).content.decode()
    cells = dict(re.findall(r'<tr data-pk="(\d+)">(.*?)</tr>', page, re.S))
    assert "data-near-allowance" in cells[str(people["alice"].pk)] and "8 / 10" in cells[str(people["alice"].pk)]
    assert "data-near-allowance" not in cells[str(people["bob"].pk)] and "7 / 10" in cells[str(people["bob"].pk)]


def test_the_page_lists_the_people_of_the_period_chosen(admin: Any, people: dict[str, Any]) -> None:
    client = client_for(admin)
    page = client.get(PAGE).content.decode()
    assert ROW.findall(page) == [str(people["alice"].pk), str(people["bob"].pk)]  # the last 7 days
    assert 'data-days="7" aria-current="page"' in page
    assert 'data-total="13"' in page and f'data-busiest="{_days_ago(2).isoformat()}"' in page
    assert f'href="{PAGE}"' in page  # in the settings menu
    assert 'class="table card-table table-vcenter gx-list-table"' in page  # cards on a phone
    ninety = client.get(PAGE, {"days": 90}).content.decode()
    assert ROW.findall(ninety) == [str(people[n].pk) for n in ("alice", "bob", "carol")]
    bad = client.get(PAGE, {"days": "forever"})
    assert bad.status_code == 200
    html = bad.content.decode()
    assert 'id="period-errors"' in html and ROW.findall(html) == ROW.findall(page)  # the default period
    RevealCount.objects.all().delete()
    assert 'id="reveal-empty"' in client.get(PAGE).content.decode()


@pytest.fixture
def masked_contacts(rep_role: Any, people: dict[str, Any]) -> list[Contact]:
    """Two contacts of Alice's whose phones her role sees masked."""
    field_rule(rep_role, "customers.contact", "phones", "masked")
    return [
        customer_services.contact_create(
            user=people["alice"], data={"family_name": name, "given_name": "三"}, phones=[{"value": phone}]
        )
        for name, phone in (("张", "13800138000"), ("李", "13900139000"))
    ]


def test_a_total_opens_exactly_those_views_in_the_change_log(
    admin: Any, people: dict[str, Any], masked_contacts: list[Contact]
) -> None:
    RevealCount.objects.all().delete()
    alice, bob = people["alice"], people["bob"]
    for contact in (*masked_contacts, masked_contacts[0]):
        record_reveal(model=Contact, pk=contact.pk, user=alice, field="phones")
    # Not views in full of Alice's this week: her other changes, an older view, and someone else's view.
    contact_type = ContentType.objects.get_for_model(Contact)
    entry = {"source": "ui", "action": ChangeAction.REVEAL, "content_type": contact_type, "object_repr": "张三"}
    old = ChangeLogEntry.objects.create(actor=alice, object_id=masked_contacts[0].pk, **entry)
    ChangeLogEntry.objects.filter(pk=old.pk).update(time=timezone.now() - datetime.timedelta(days=20))
    ChangeLogEntry.objects.create(actor=bob, object_id=masked_contacts[1].pk, **entry)
    assert ChangeLogEntry.objects.filter(actor=alice).exclude(action=ChangeAction.REVEAL).exists()  # the creations
    views = set(
        ChangeLogEntry.objects.filter(actor=alice, action=ChangeAction.REVEAL)
        .exclude(pk=old.pk)
        .values_list("pk", flat=True)
    )
    assert len(views) == 3

    (row,) = reveal_summary(admin, 7).rows
    assert (row.user_id, row.total) == (alice.pk, 3)
    assert change_log_filters(row, _days_ago(6)) == {
        "actor": str(alice.pk),
        "action": "reveal",
        "time__gte": _days_ago(6).isoformat(),
    }
    client = client_for(admin)
    page = client.get(PAGE).content.decode()
    (link,) = re.findall(r'<a href="([^"]+)" data-total="3"', page)
    link = link.replace("&amp;", "&")
    assert link.startswith(reverse("ui:change-log-list") + "?")
    listing = client.get(link)
    assert listing.status_code == 200
    assert {int(pk) for pk in ROW.findall(listing.content.decode())} == views
    # The same filters in the API (one filter definition for both).
    query = link.partition("?")[2]
    items = session_api(admin).get(f"change-log?{query}").json()["items"]
    assert {item["id"] for item in items} == views


def test_who_may_read_it(admin: Any, people: dict[str, Any], rep_role: Any) -> None:
    """Whoever may read the change log: everyone's counts with the scope all, else those of the people
    the scope reaches (in no team, one's own); a rep
    whose role gives no change log gets 403 from the page and the API, and no menu entry."""
    rep = people["alice"]
    rep_client = client_for(rep)
    assert rep_client.get(PAGE).status_code == 403
    assert session_api(rep).get(API).status_code == 403
    assert PAGE not in rep_client.get("/").content.decode()

    auditor_role = RoleFactory(name="Auditor")
    grant(auditor_role, "core.changelogentry", "view", "team")  # in no team: their own counts only
    auditor = UserFactory(email="auditor@example.com", display_name="Auditor", role=auditor_role)
    assert reveal_summary(auditor, 90).rows == []
    seen(auditor, {0: 2})
    page = client_for(auditor).get(PAGE).content.decode()
    assert ROW.findall(page) == [str(auditor.pk)] and f'href="{PAGE}"' in page
    assert [item["id"] for item in session_api(auditor).get(API).json()["items"]] == [auditor.pk]

    grant(auditor_role, "core.changelogentry", "view", "all")
    auditor = type(auditor).objects.get(pk=auditor.pk)  # the role's rules are read once per user object
    assert [row.name for row in reveal_summary(auditor, 7).rows] == ["Alice", "Bob", "Auditor"]

    assert client_for(admin).get(PAGE).status_code == 200
    anonymous = Client()
    assert anonymous.get(PAGE)["Location"].startswith(reverse("login"))
    assert anonymous.get(f"/api/v1/{API}").status_code == 401


def test_a_team_or_subordinates_scope_reads_those_peoples_counts(people: dict[str, Any], rep_role: Any) -> None:
    """A count names no record, so a sales manager whose role reads the change log for their team
    reads their team's counts (the change log itself still shows them only their own entries), and
    with the scope "subordinates" those whose role reports to theirs."""
    east = people["alice"].team
    lead_role = RoleFactory(name="Team lead")
    grant(lead_role, "core.changelogentry", "view", "team")
    lead = UserFactory(email="lead@example.com", display_name="Lead", role=lead_role, team=east)
    seen(lead, {0: 1})
    UserFactory(email="eve@example.com", display_name="Eve", role=rep_role, team=TeamFactory(name="West"))
    assert _rows(reveal_summary(lead, 7)) == [("Alice", 13), ("Lead", 1)]
    assert [item["id"] for item in session_api(lead).get(API).json()["items"]] == [people["alice"].pk, lead.pk]
    assert ChangeLogEntry.scope_filter(lead, "team") == Q(actor_id=lead.pk)  # the change log: one's own only

    head_role = RoleFactory(name="Head of sales")
    grant(head_role, "core.changelogentry", "view", "subordinates")
    rep_role.parent = head_role
    rep_role.save()
    head = UserFactory(email="head@example.com", display_name="Head", role=head_role)
    # Alice and Bob report to the head by role (Carol's views are older than the week, Dave saw nothing).
    assert _rows(reveal_summary(head, 7)) == [("Alice", 13), ("Bob", 9)]
    assert _rows(reveal_summary(head, 90)) == [("Alice", 70), ("Bob", 9), ("Carol", 9)]


def test_api_tokens_need_the_change_log_scope(admin: Any, people: dict[str, Any]) -> None:
    _token, narrow = make_token(admin, ["customers.contact:view"])
    refused = token_api(narrow).get(API)
    assert refused.status_code == 403 and "core.changelogentry:view" in refused.json()["detail"]
    _token, key = make_token(admin, ["core.changelogentry:view"])
    assert token_api(key).get(API).status_code == 200


def test_the_api_gives_the_rows_of_the_page(admin: Any, people: dict[str, Any], settings: Any) -> None:
    settings.GUANXI_REVEALS_PER_DAY = 50
    api = session_api(admin)
    body = api.get(API).json()
    assert (body["days"], body["from"], body["to"], body["allowance"]) == (
        7,
        _days_ago(6).isoformat(),
        timezone.localdate().isoformat(),
        50,
    )
    assert body["items"][0] == {
        "id": people["alice"].pk,
        "name": "Alice",
        "team": {"id": people["alice"].team_id, "display": "East"},
        "total": 13,
        "busiest_day": _days_ago(2).isoformat(),
        "busiest_count": 10,
        "today": 3,
        "allowance": 50,
    }
    assert body["items"][1]["team"] is None
    month = api.get(API, {"days": 30}).json()
    assert [(item["name"], item["total"]) for item in month["items"]] == [("Alice", 63), ("Bob", 9)]
    for bad in ("0", "91", "-7", "abc", "7.5"):
        response = api.get(API, {"days": bad})
        assert response.status_code == 400, bad
        assert response["Content-Type"].startswith("application/problem+json")
        assert [error["field"] for error in response.json()["errors"]] == ["days"], bad
        # In the reader's language, naming the range, whatever was typed.
        assert "1 to 90" in response.json()["errors"][0]["detail"], bad
    admin.language = "zh-hans"
    admin.save()
    chinese = session_api(admin).get(API, {"days": "abc"}).json()
    assert chinese["errors"][0]["detail"] == "请填写 1 到 90 之间的天数。"


def test_one_query_however_many_people(admin: Any, rep_role: Any, people: dict[str, Any]) -> None:
    with CaptureQueriesContext(connection) as few:
        assert len(reveal_summary(admin, 90).rows) == 3
    assert len(few) == 1  # counts, busiest day, names and teams: one grouped read
    client = client_for(admin)
    client.get(PAGE)  # the session and the menu's first reads
    with CaptureQueriesContext(connection) as page_few:
        client.get(PAGE)
    team = TeamFactory(name="West")
    for n in range(15):
        seen(UserFactory(display_name=f"Rep {n}", role=rep_role, team=team), {0: n + 1, 3: 2})
    with CaptureQueriesContext(connection) as more:
        assert len(reveal_summary(admin, 90).rows) == 18
    assert len(more) == 1
    with CaptureQueriesContext(connection) as page_more:
        html = client.get(PAGE).content.decode()
    assert len(ROW.findall(html)) == 17  # Carol's views are older than a week
    assert len(page_more) == len(page_few)
