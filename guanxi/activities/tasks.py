"""Background jobs of activities: notification emails sent at once (``mail``)."""

from __future__ import annotations

from django_tasks import task


@task()
def notification_email_task(user_ids: list[int]) -> int:
    """Email these users (those who asked for it at once) their new notifications."""
    from guanxi.activities.mail import send_notification_emails
    from guanxi.identity.models import NotificationEmail

    return send_notification_emails(NotificationEmail.INSTANT, user_ids)
