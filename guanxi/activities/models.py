"""Notifications (通知): what a user is told about the records they follow or were given."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import ChangeLogEntry, PermissionScopeMixin


class NotificationKind(models.TextChoices):
    CHANGED = "changed", _("changed")
    ASSIGNED = "assigned", _("assigned to you")
    NOTE = "note", _("added a note")
    FILE = "file", _("added a file")
    DELETED = "deleted", _("deleted")
    RESTORED = "restored", _("restored")
    MERGED = "merged", _("merged")
    #: A colleague entered one's customer again (撞单保护, ``guanxi.customers.guard``).
    DUPLICATE = "duplicate", _("entered again by a colleague")


class Notification(PermissionScopeMixin, models.Model):
    """One thing a user is told about one record (``guanxi.activities.notifications``).

    Personal: only its recipient reads it. What the record's page would show is re-read when the
    notification is shown (``change`` through the fields the reader may see now); ``object_repr``
    is the record's name when it happened, shown when the record is gone or out of the reader's reach.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=NotificationKind.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    object_repr = models.CharField(_("record"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    change = models.ForeignKey(ChangeLogEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    #: When it went out by email (at once or in the daily summary); read or emailed, it is not sent again.
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            # A user's notifications newest first (the page, the API's keyset pages).
            models.Index(fields=("recipient", "-id"), name="notification_inbox_idx"),
            # The bell's count on every page: only the unread rows are in it.
            models.Index(fields=("recipient",), condition=Q(read_at__isnull=True), name="notification_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.object_repr}"

    @classmethod
    def scope_filter(cls, user: object, scope: str) -> Q | None:
        # Personal, like a job: a role grants nothing here, being the recipient does.
        return Q(recipient_id=getattr(user, "pk", None))


class NotificationMute(models.Model):
    """A kind of notification a user does not want (通知设置): none of that kind is written for
    them, in the bell or by email. Personal, like a follow: never in the change log. No row: told."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=NotificationKind.choices)

    class Meta:
        verbose_name = _("muted notification kind")
        verbose_name_plural = _("muted notification kinds")
        constraints = [models.UniqueConstraint(fields=("user", "kind"), name="notification_mute_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind}"
