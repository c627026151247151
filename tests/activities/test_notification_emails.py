"""Notifications by email, through a real SMTP server process: at once after the change commits,
in a daily summary, or never; in the reader's language; each notification once; what the reader may
not see stays out; a mail server that is away loses nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from email.message import Message
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from guanxi.activities.models import Notification
from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.identity.models import FieldRule, User
from tests.activities.conftest import SmtpServer, _free_port

# Notifications are written once a change commits: these tests commit (and the tables are emptied
# after each).
pytestmark = pytest.mark.django_db(transaction=True)


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def subject_of(message: Message) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(message["Subject"])))


def wants(user: User, mode: str, language: str = "zh-hans") -> User:
    User.objects.filter(pk=user.pk).update(notification_email=mode, language=language)
    user.refresh_from_db()
    return user


def test_at_once_after_the_change_commits_in_the_readers_language(
    smtp: SmtpServer,
    admin: User,
    rep: User,
    make_account: Callable[..., Account],
) -> None:
    wants(rep, "instant")
    account = make_account(name="星河科技", by=rep)
    services.account_update(pk=account.pk, user=admin, data={"industry": "manufacturing"})
    [message] = smtp.messages()
    assert message["To"] == rep.email
    assert subject_of(message) == "关系：1 条新通知"
    body = body_of(message)
    notification = Notification.objects.get(recipient=rep)
    assert "管理员 修改了 客户 星河科技" in body
    assert "行业: — → 制造业" in body
    assert f"https://crm.example.com/notifications/{notification.pk}/" in body
    assert notification.emailed_at is not None
    # The next change sends the next one only.
    services.account_update(pk=account.pk, user=admin, data={"lifecycle_stage": "customer"})
    assert len(smtp.messages()) == 2
    assert "行业" not in body_of(smtp.messages()[1])


def test_a_daily_summary_lists_what_is_unread_once(
    smtp: SmtpServer,
    admin: User,
    rep: User,
    make_account: Callable[..., Account],
) -> None:
    wants(rep, "daily", language="en")
    for n in range(3):
        make_account(name=f"Given {n}", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    assert smtp.messages() == []  # not at once
    Notification.objects.filter(recipient=rep, object_repr="Given 0").update(read_at="2026-12-01T00:00:00Z")
    call_command("notification_digest", stdout=StringIO())
    [message] = smtp.messages()
    assert subject_of(message) == "Guanxi: 2 new notifications"
    body = body_of(message)
    assert "管理员 gave you account Given 2" in body and "Given 1" in body
    assert "Given 0" not in body  # read already
    call_command("notification_digest", stdout=StringIO())
    assert len(smtp.messages()) == 1  # nothing new: nothing sent


def test_never_means_never(
    smtp: SmtpServer,
    admin: User,
    rep: User,
    make_account: Callable[..., Account],
) -> None:
    wants(rep, "off")
    make_account(name="不发邮件", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    call_command("notification_digest", stdout=StringIO())
    assert smtp.messages() == []
    assert Notification.objects.get(recipient=rep).emailed_at is None


def test_fields_the_reader_may_not_see_stay_out_of_the_email(
    smtp: SmtpServer,
    admin: User,
    rep: User,
    make_account: Callable[..., Account],
) -> None:
    FieldRule.objects.create(role=rep.role, object_type="customers.account", field="annual_revenue", access="hidden")
    wants(rep, "instant")
    account = make_account(name="保密营收", by=rep)
    services.account_update(
        pk=account.pk, user=admin, data={"annual_revenue": Decimal("88000000"), "industry": "finance"}
    )
    body = body_of(smtp.messages()[0])
    assert "行业" in body and "8800" not in body and "年营业额" not in body


def test_a_mail_server_that_is_away_loses_nothing(
    smtp: SmtpServer, settings: Any, admin: User, rep: User, make_account: Callable[..., Account]
) -> None:
    wants(rep, "daily")
    make_account(name="稍后再发", owner_id=rep.pk, team_id=rep.team_id, by=admin)
    settings.EMAIL_PORT = _free_port()  # nobody answers there
    call_command("notification_digest", stdout=StringIO())
    assert Notification.objects.get(recipient=rep).emailed_at is None
    settings.EMAIL_PORT = smtp.port
    call_command("notification_digest", stdout=StringIO())
    assert "稍后再发" in body_of(smtp.messages()[0])
    assert Notification.objects.get(recipient=rep).emailed_at is not None


def test_the_account_page_sets_it(rep: User) -> None:
    from tests.factories import client_for

    client = client_for(rep)
    assert 'name="notification_email"' in client.get("/account/").content.decode()
    data = {"display_name": rep.display_name, "time_zone": "Asia/Shanghai", "language": "en"}
    response = client.post("/account/", {**data, "notification_email": "instant"})
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.notification_email == "instant"
    response = client.post("/account/", {**data, "notification_email": "hourly"})
    assert response.status_code == 400 and rep.notification_email == "instant"
