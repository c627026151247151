"""Notifications by email (``User.notification_email``): at once, once the change's transaction has
committed (``notifications.email_soon`` queues ``tasks.notification_email_task``), or once a day in a
summary (``guanxi notification_digest``).

One email per person and run, in their language and time zone, with their unread notifications not
emailed yet (the newest ``LISTED``, and how many more), each with its changes and a link; one read
or emailed is not sent again. A record they may no longer see goes without its changes or link, as
on the page. A send that fails leaves them unmarked: the next run sends them.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import strip_tags

from guanxi.activities.models import Notification
from guanxi.activities.notifications import notifications_of, shown
from guanxi.activities.views import rows_for
from guanxi.identity.models import NotificationEmail, User

logger = logging.getLogger(__name__)

#: Notifications one email lists; the rest are counted, with the link to the page.
LISTED = 30


def site_url(path: str) -> str:
    return f"{settings.GUANXI_SITE_URL}{path}"


def _plain(value: Any) -> str:
    """A value on one line of the email's text (a description's lines joined)."""
    return " ".join(strip_tags(str(value)).split()) if value not in (None, "") else "—"


def _message(user: User, pending: list[Notification], more: int) -> EmailMessage:
    rows = []
    for row in rows_for(shown(user, pending), user):
        link = site_url(reverse("ui:notification-open", args=[row["notification"].pk])) if row["url"] else ""
        changes = [f"{c['field']}: {_plain(c['before'])} → {_plain(c['after'])}" for c in row["changes"]]
        summary = _plain(row["notification"].summary) if row["notification"].summary else ""
        rows.append({"text": row["text"], "changes": changes, "summary": summary, "link": link})
    context = {
        "user": user,
        "rows": rows,
        "more": more,
        "count": len(pending) + more,
        "list_url": site_url(reverse("ui:notification-list")),
        "account_url": site_url(reverse("account")),
    }
    subject = render_to_string("activities/email/notifications_subject.txt", context).strip()
    body = render_to_string("activities/email/notifications.txt", context)
    return EmailMessage(subject=" ".join(subject.split()), body=body, to=[user.email])


def send_notification_emails(mode: str, user_ids: list[int] | None = None) -> int:
    """Email each active user whose setting is ``mode`` (of ``user_ids``, or all) their unread
    notifications not emailed yet. Returns how many emails went out."""
    users = User.objects.filter(is_active=True, notification_email=mode).exclude(email="")
    if user_ids is not None:
        users = users.filter(pk__in=user_ids)
    sent = 0
    for user in users:
        waiting = notifications_of(user).filter(read_at__isnull=True, emailed_at__isnull=True)
        pending = list(waiting.select_related("actor", "change").order_by("-id")[: LISTED + 1])
        if not pending:
            continue
        newest = pending[0].pk
        more = waiting.count() - LISTED if len(pending) > LISTED else 0
        with translation.override(user.language), timezone.override(user.time_zone):
            message = _message(user, pending[:LISTED], more)
        try:
            message.send()
        except (smtplib.SMTPException, OSError):
            # The mail server refused or is away: these stay unmarked for the next run; others go on.
            logger.warning("notification email to user %s failed", user.pk, exc_info=True)
            continue
        # Those listed and those counted: the next email starts after them.
        waiting.filter(pk__lte=newest).update(emailed_at=timezone.now())
        sent += 1
    return sent


def send_daily_summaries() -> int:
    return send_notification_emails(NotificationEmail.DAILY)
