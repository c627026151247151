"""Notification settings (通知设置): a kind a user turns off is not written for them (so neither in
the bell nor by email), the others still are; the page and the API save the kinds and the email
mode together or not at all, and name what is wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.contenttypes.models import ContentType

from guanxi.activities.models import Notification, NotificationMute
from guanxi.activities.notifications import notification_settings
from guanxi.core.follows import record_follow
from guanxi.core.timeline import note_create
from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.identity.models import User
from tests.customers.conftest import Api
from tests.factories import client_for

pytestmark = pytest.mark.django_db(transaction=True)  # notifications are written after the commit


def kinds_told(user: User) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("id").values_list("kind", flat=True))


def test_a_kind_turned_off_is_not_told_and_the_others_are(
    admin: User, rep: User, make_user: Callable[..., User], make_account: Callable[..., Account]
) -> None:
    account = make_account(name="星河科技", by=rep)  # the rep owns it: told as a follower is
    record_follow(user=admin, model=Account, pk=account.pk, following=True)
    boss = make_user(superuser=True, name="王总")
    NotificationMute.objects.create(user=rep, kind="note")
    note_create(
        user=boss,
        data={
            "content_type_id": ContentType.objects.get_for_model(Account).pk,
            "object_id": account.pk,
            "body": "报价",
        },
    )
    services.account_update(pk=account.pk, user=boss, data={"industry": "manufacturing"})
    assert kinds_told(rep) == ["changed"]
    assert kinds_told(admin) == ["note", "changed"]


def test_the_settings_page_saves_kinds_and_email_together(rep: User) -> None:
    client = client_for(rep)
    page = client.get("/notifications/settings/").content.decode()
    assert page.count('type="checkbox" name="wanted"') == 8 and page.count(" checked") == 8
    assert '<option value="daily" selected>' in page
    wanted = ["changed", "assigned", "note", "deleted", "restored", "merged", "duplicate"]  # files off
    response = client.post("/notifications/settings/", {"wanted": wanted, "notification_email": "off"})
    assert response.status_code == 302
    assert notification_settings(rep)["file"] is False and sum(notification_settings(rep).values()) == 7
    rep.refresh_from_db()
    assert rep.notification_email == "off"
    page = client.get("/notifications/settings/").content.decode()
    assert 'value="file" id="wanted-file">' in page and '<option value="off" selected>' in page
    # A mode that does not exist: nothing of the post is kept, and the page says why.
    response = client.post("/notifications/settings/", {"wanted": ["changed"], "notification_email": "hourly"})
    assert response.status_code == 400 and "Use one of" in response.content.decode()
    assert sum(notification_settings(rep).values()) == 7
    rep.refresh_from_db()
    assert rep.notification_email == "off"


def test_the_api_reads_and_sets_them(rep: User, admin: User) -> None:
    api = Api(rep)
    body = api.get("notifications/settings").json_body
    assert [row["kind"] for row in body["kinds"]] == [
        "changed",
        "assigned",
        "note",
        "file",
        "deleted",
        "restored",
        "merged",
        "duplicate",
    ]
    assert all(row["wanted"] for row in body["kinds"]) and body["email"] == "daily"
    body = api._call("put", "notifications/settings", {"muted": ["file", "merged"], "email": "instant"}).json_body
    assert {row["kind"] for row in body["kinds"] if not row["wanted"]} == {"file", "merged"}
    assert body["email"] == "instant"
    # Wrong input changes nothing and names the field.
    for payload, field in (({"muted": ["gossip"]}, "muted"), ({"muted": [], "email": "hourly"}, "email")):
        response = api._call("put", "notifications/settings", payload)
        assert response.status_code == 400 and field in str(response.json_body), response.json_body
    assert {k for k, wanted in notification_settings(rep).items() if not wanted} == {"file", "merged"}
    # One's own: an administrator's settings are theirs.
    assert all(row["wanted"] for row in Api(admin).get("notifications/settings").json_body["kinds"])


def test_the_list_page_links_to_the_settings(rep: User) -> None:
    page = client_for(rep).get("/notifications/").content.decode()
    assert 'href="/notifications/settings/"' in page
