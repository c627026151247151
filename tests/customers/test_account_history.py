"""An account's whole history (客户动态): its timeline gathers its contacts' notes and entries, pages
older entries by a cursor that neither repeats nor skips one, narrows to a kind, and shows nothing of a
contact the reader may not see; the page, its fragments and the API read it the same way."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guanxi.core.errors import FieldErrors
from guanxi.core.models import Note, TimelineEntry
from guanxi.core.timeline import note_create, timeline_page
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import User
from tests.factories import client_for, note

pytestmark = pytest.mark.django_db


def timeline_url(record: Any, **params: str) -> str:
    content_type = ContentType.objects.get_for_model(record)
    url = reverse("ui:timeline", args=[content_type.pk, record.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def entry(record: Any, *, at: datetime.datetime, summary: str, kind: str = "updated") -> TimelineEntry:
    return TimelineEntry.objects.create(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk, kind=kind, summary=summary, at=at
    )


def note_at(record: Any, *, owner: User, at: datetime.datetime, body: str) -> Note:
    made = note(record, owner=owner, body=body)
    Note.objects.filter(pk=made.pk).update(created_at=at)
    return made


@pytest.fixture
def company(
    make_account: Callable[..., Account], make_contact: Callable[..., Contact], rep: User, admin: User
) -> Account:
    account = make_account(by=rep, name="苏州园林设计院")
    contact = make_contact(by=rep, family_name="沈", given_name="复", accounts=[{"account": account.pk}])
    contact_type = ContentType.objects.get_for_model(Contact).pk
    said = "沈总说下周三来厂里看样品"
    note_create(user=admin, data={"content_type_id": contact_type, "object_id": contact.pk, "body": said})
    return account


def test_an_accounts_page_shows_its_contacts_notes_under_their_names(company: Account, rep: User) -> None:
    contact = Contact.objects.get(display_name="沈复")
    page = client_for(rep).get(reverse("ui:accounts-detail", args=[company.pk])).content.decode()

    assert "沈总说下周三来厂里看样品" in page
    link = reverse("ui:contacts-detail", args=[contact.pk])
    assert re.search(rf'class="timeline-subject"><a href="{link}">沈复</a>', page)
    # The contact's own page shows it as its own entry, under no other name.
    own = client_for(rep).get(link).content.decode()
    assert "沈总说下周三来厂里看样品" in own and 'class="timeline-subject"' not in own


def test_the_accounts_own_timeline_alone(company: Account, rep: User) -> None:
    fragment = client_for(rep).get(timeline_url(company, gathered="0")).content.decode()
    assert "沈总说下周三来厂里看样品" not in fragment
    assert 'id="timeline-entries"' in fragment
    # The switch on: the contact's note is back.
    assert "沈总说下周三来厂里看样品" in client_for(rep).get(timeline_url(company, gathered="1")).content.decode()


def test_a_contact_the_reader_may_not_see_tells_nothing(
    make_account: Callable[..., Account], make_contact: Callable[..., Contact], rep: User, other_rep: User, admin: User
) -> None:
    account = make_account(by=rep, name="杭州丝绸之路贸易公司")
    # Someone else's contact at the rep's account: the rep may not open it, so not read its notes.
    theirs = make_contact(
        by=admin, owner=other_rep, family_name="林", given_name="黛玉", accounts=[{"account": account.pk}]
    )
    note(theirs, owner=other_rep, body="只有韩梅梅能看的备注")

    assert "只有韩梅梅能看的备注" not in client_for(rep).get(timeline_url(account)).content.decode()
    account_page = client_for(rep).get(reverse("ui:accounts-detail", args=[account.pk])).content.decode()
    assert "只有韩梅梅能看的备注" not in account_page
    page = timeline_page(admin, account)
    assert any(e["body"] == "只有韩梅梅能看的备注" and e["subject_name"] == "林黛玉" for e in page.entries)
    # Nor the account's own timeline through its link, for one who may not see the account.
    assert client_for(other_rep).get(timeline_url(account)).status_code == 404


def test_older_pages_neither_repeat_nor_skip_an_entry(make_account: Callable[..., Account], admin: User) -> None:
    account = make_account(name="宁波港口物流")
    Note.objects.all().delete()
    TimelineEntry.objects.all().delete()
    start = timezone.now() - datetime.timedelta(days=1)
    made = []
    for i in range(37):
        # Groups of notes and entries written in the same microsecond: the cursor tells them apart.
        at = start + datetime.timedelta(seconds=i // 3)
        if i % 2:
            made.append(note_at(account, owner=admin, at=at, body=f"备注 {i}").body)
        else:
            made.append(entry(account, at=at, summary=f"动态 {i}").summary)

    seen: list[str] = []
    before = ""
    pages = 0
    while True:
        page = timeline_page(admin, account, before=before, limit=5)
        seen += [e["body"] if e["kind"] == "note" else e["summary"] for e in page.entries]
        pages += 1
        if page.next_cursor is None:
            break
        before = page.next_cursor
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen)) == 37
    assert pages == 8  # 7 full pages and 2 on the last
    times = [e["at"] for e in timeline_page(admin, account, limit=50).entries]
    assert times == sorted(times, reverse=True)


def test_the_older_button_reads_the_next_page(make_account: Callable[..., Account], admin: User) -> None:
    account = make_account(name="厦门鼓浪屿茶叶")
    start = timezone.now() - datetime.timedelta(hours=2)
    for i in range(60):
        note_at(account, owner=admin, at=start + datetime.timedelta(minutes=i), body=f"第{i}次回访")
    client = client_for(admin)
    page = client.get(reverse("ui:accounts-detail", args=[account.pk])).content.decode()
    assert "第59次回访" in page and "第5次回访" not in page
    older = re.search(r'id="timeline-older">\s*<a class="btn btn-sm" href="([^"]+)"', page)
    assert older, "the page offers the older entries"
    fragment = client.get(older.group(1).replace("&amp;", "&")).content.decode()
    assert "第5次回访" in fragment and "第59次回访" not in fragment
    assert 'id="timeline-entries"' not in fragment  # appended where the button was
    assert 'id="timeline-older"' not in fragment  # nothing older still


def test_narrowed_to_a_kind(company: Account, rep: User) -> None:
    client = client_for(rep)
    notes = client.get(timeline_url(company, kind="note")).content.decode()
    assert "沈总说下周三来厂里看样品" in notes
    assert 'data-kind="note"' in notes and re.search(r'data-kind="(?!note)', notes) is None
    linked = client.get(timeline_url(company, kind="contact_linked")).content.decode()
    assert "沈总说下周三来厂里看样品" not in linked
    assert 'data-kind="contact_linked"' in linked


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "gossip"}, "Choose one of the kinds listed."),
        ({"before": "yesterday"}, "This link to older entries is not valid"),
        ({"before": "2026-01-01T00:00:00+00:00~7~1"}, "This link to older entries is not valid"),
    ],
)
def test_a_wrong_kind_or_cursor_is_told(company: Account, rep: User, params: dict[str, str], message: str) -> None:
    response = client_for(rep).get(timeline_url(company, **params))
    assert response.status_code == 400
    assert message in response.content.decode()
    # htmx swaps only a 2xx answer: the panel gets the message where its entries (or older button) were.
    shown = client_for(rep).get(timeline_url(company, **params), HTTP_HX_REQUEST="true")
    where = 'id="timeline-older"' if "before" in params else 'id="timeline-entries"'
    assert shown.status_code == 200 and message in shown.content.decode() and where in shown.content.decode()
    with pytest.raises(FieldErrors):
        timeline_page(rep, company, **params)


def test_a_deleted_note_leaves_the_timeline(company: Account, rep: User) -> None:
    Note.objects.filter(body="沈总说下周三来厂里看样品").update(deleted_at=timezone.now())
    assert "沈总说下周三来厂里看样品" not in client_for(rep).get(timeline_url(company)).content.decode()


def test_the_account_page_reads_the_history_in_the_same_queries_however_many_contacts(
    make_account: Callable[..., Account], make_contact: Callable[..., Contact], rep: User
) -> None:
    account = make_account(by=rep, name="青岛啤酒花园")
    client = client_for(rep)

    def queries() -> int:
        client.get(reverse("ui:accounts-detail", args=[account.pk]))  # warm the caches
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("ui:accounts-detail", args=[account.pk])).status_code == 200
        return len(captured)

    make_contact(by=rep, family_name="王", given_name="一", accounts=[{"account": account.pk}])
    few = queries()
    for i in range(12):
        contact = make_contact(by=rep, family_name="王", given_name=f"二{i}", accounts=[{"account": account.pk}])
        note(contact, owner=rep, body=f"备注{i}")
    assert queries() == few


def test_the_api_reads_an_accounts_whole_timeline(
    company: Account, rep: User, other_rep: User, api_for: Callable[[User], Any]
) -> None:
    body = api_for(rep).get(f"timeline?record=accounts:{company.pk}&kind=note").json_body
    assert [row["body"] for row in body["items"]] == ["沈总说下周三来厂里看样品"]
    own = api_for(rep).get(f"timeline?record=accounts:{company.pk}").json_body["items"]
    contact_type = ContentType.objects.get_for_model(Contact).pk
    assert contact_type in {row["content_type"]["id"] for row in own}, own

    hidden = api_for(other_rep).get(f"timeline?record=accounts:{company.pk}")
    assert hidden.status_code == 400 and "record" in str(hidden.json_body)
    wrong = api_for(rep).get("timeline?record=gadgets")
    assert wrong.status_code == 400 and "type:id" in str(wrong.json_body)


def test_a_group_heads_timeline_shows_its_subsidiaries(
    make_account: Callable[..., Account], rep: User, other_rep: User, admin: User
) -> None:
    head = make_account(by=rep, name="上海城投集团")
    mine = make_account(by=rep, name="上海城投水务", parent_id=head.pk)
    theirs = make_account(by=admin, name="上海城投环境", parent_id=head.pk, owner=other_rep)
    note(mine, owner=rep, body="水务公司下月招标")
    note(theirs, owner=other_rep, body="环境公司的内部备注")
    page = client_for(rep).get(reverse("ui:accounts-detail", args=[head.pk])).content.decode()
    assert "水务公司下月招标" in page and "环境公司的内部备注" not in page  # only what the rep may see
    link = reverse("ui:accounts-detail", args=[mine.pk])
    assert re.search(rf'class="timeline-subject"><a href="{link}">上海城投水务</a>', page)
    assert "With its contacts and subsidiaries" in page
    # The subsidiary's page shows it as its own; the head's without the switch does not.
    assert "水务公司下月招标" not in client_for(rep).get(timeline_url(head, gathered="0")).content.decode()
    assert any(e["body"] == "环境公司的内部备注" for e in timeline_page(admin, head).entries)
