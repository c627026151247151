"""Notifications (通知): a user hears of what others do to the records they follow (关注) and of the
records given to them: the bell of the top bar, ``/notifications/`` and ``/api/v1/notifications``.

They are written from the hooks of the change log and the timeline (``changes_written``,
``timeline_entry_added``) once the change has committed, in a transaction of their own:

* a change of a followed record that touches one of its model's ``notify_fields`` or a custom field,
  which the follower may see: "王芳 修改了 上海阿克米贸易：等级 B → A"; a record's owner hears of it
  as if they followed their own records;
* a record given to the user (its owner set to them by someone else, when it is created too), and
  one taken from them (told as a change, while they may still see the record);
* a note or a file added to a followed record; a followed record deleted, restored or merged.

Nobody is told of what they did themselves, nor of a record they may not see: each recipient's reach
is checked when it is told (one query per recipient for a whole batch), and again when it is shown.
A change made by a background job (the nightly tiers, the pool) has no actor and is told as the
system's. Notifications older than ``GUANXI_NOTIFICATION_DAYS`` (90) go with the daily purge.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.activities.models import Notification, NotificationKind, NotificationMute
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.db import after_commit
from guanxi.core.errors import FieldErrors
from guanxi.core.models import ChangeLogEntry, Follow, TimelineEntry
from guanxi.core.pagination import Page, paginate
from guanxi.core.permissions import hidden_fields, restrict_queryset, restricted
from guanxi.core.registry import resource_for
from guanxi.identity.models import NotificationEmail

if TYPE_CHECKING:
    from guanxi.customers.guard import HolderNote

#: Ids per query when reading the followers of many records at once (a nightly batch).
CHUNK = 2000
#: What the bell counts up to; it shows "99+" past it.
COUNT_CAP = 99
#: Timeline entry kinds that notify a record's followers, and as what (``merged``: the customers'
#: merge, on the surviving record and on each merged one, with what it was merged with).
TIMELINE_KINDS = {"note": NotificationKind.NOTE, "attachment": NotificationKind.FILE, "merged": NotificationKind.MERGED}


def notify_fields(model: type[models.Model]) -> frozenset[str]:
    """The fields whose change a follower of ``model``'s records is told of (a model's
    ``notify_fields``); custom fields always. Derived figures (a fit score, an engagement count)
    stay out: they change by themselves, and a follower would hear of little else."""
    return frozenset(getattr(model, "notify_fields", ()))


def watched_changes(model: type[models.Model], changes: dict[str, Any], hidden: Iterable[str] = ()) -> dict[str, Any]:
    """The part of a change-log entry's ``changes`` a notification tells, without ``hidden`` fields."""
    fields, hidden = notify_fields(model), set(hidden)
    out = {}
    for name, pair in (changes or {}).items():
        custom = name.startswith("cf.")
        if not (custom or name in fields):
            continue
        if (custom and "custom_fields" in hidden) or name.split(".", 1)[0] in hidden:
            continue
        out[name] = pair
    return out


@dataclass
class _Event:
    """One thing that happened to one record, and who is to be told of it."""

    kind: str
    object_id: int
    object_repr: str
    actor_id: int | None
    at: datetime.datetime
    change: ChangeLogEntry | None = None
    summary: str = ""
    #: Also tell this record's followers (not only ``direct``).
    followers: bool = True
    #: Recipient id -> kind, told whether or not they follow the record (an owner's change).
    direct: dict[int, str] = field(default_factory=dict)


def _owner_pair(changes: dict[str, Any]) -> tuple[Any, Any]:
    pair = changes.get("owner")
    if isinstance(pair, list) and len(pair) == 2:
        return pair[0], pair[1]
    return None, None


def _events_of(model: type[models.Model], entries: list[ChangeLogEntry]) -> list[_Event]:
    events = []
    for entry in entries:
        changes = entry.changes or {}
        direct: dict[int, str] = {}
        if entry.action == ChangeAction.CREATE:
            _before, owner = _owner_pair(changes)
            if not isinstance(owner, int):
                continue
            kind, followers, direct[owner] = NotificationKind.ASSIGNED, False, NotificationKind.ASSIGNED
        elif entry.action == ChangeAction.UPDATE:
            if not watched_changes(model, changes):
                continue
            before, after = _owner_pair(changes)
            if isinstance(before, int):
                direct[before] = NotificationKind.CHANGED
            if isinstance(after, int):
                direct[after] = NotificationKind.ASSIGNED
            kind, followers = NotificationKind.CHANGED, True
        elif entry.action in (ChangeAction.DELETE, ChangeAction.RESTORE):
            kind = NotificationKind.DELETED if entry.action == ChangeAction.DELETE else NotificationKind.RESTORED
            followers = True
        else:
            continue
        told = entry if entry.action in (ChangeAction.CREATE, ChangeAction.UPDATE) else None
        events.append(
            _Event(
                kind=kind,
                object_id=entry.object_id,
                object_repr=entry.object_repr,
                actor_id=entry.actor_id,
                at=entry.time or timezone.now(),
                change=told,
                followers=followers,
                direct=direct,
            )
        )
    return events


def changes_written(model: type[models.Model], entries: list[ChangeLogEntry]) -> None:
    """The change log's hook: notify of these changes of ``model``'s records (followable ones)."""
    if getattr(model, "followable", False):
        _after_commit(model, _events_of(model, entries))


def timeline_entry_added(subject: models.Model, entry: TimelineEntry) -> None:
    """The timeline's hook: a note or a file on a followed record notifies its followers."""
    kind = TIMELINE_KINDS.get(entry.kind)
    if kind is None or not getattr(type(subject), "followable", False):
        return
    event = _Event(
        kind=kind,
        object_id=subject.pk,
        object_repr=str(subject)[:200],
        actor_id=entry.actor_id,
        at=entry.at,
        summary=entry.summary[:300],
    )
    _after_commit(type(subject), [event])


def _after_commit(model: type[models.Model], events: list[_Event]) -> None:
    """Tell of these events once the change has committed, in a transaction of their own: the
    writing transaction is as short as it was (its locks held no longer), and a change rolled back
    tells nobody. A failure here is logged and loses the change nothing (``robust``)."""
    if events:
        after_commit(("notify", model), events, lambda gathered: _notify_committed(model, gathered))


def _notify_committed(model: type[models.Model], events: list[_Event]) -> None:
    with transaction.atomic():
        _notify(model, events)


def _followers(model: type[models.Model], object_ids: list[int]) -> dict[int, set[int]]:
    """Record id -> the users who follow it, its owner among them: the owner hears of what others
    do to their record as if they followed it (as Odoo subscribes a record's salesperson). One
    query a chunk, the follows and the owners in a union."""
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    owned = any(f.name == "owner" for f in model._meta.concrete_fields)
    manager: Any = getattr(model, "all_objects", model._default_manager)
    out: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(object_ids), CHUNK):
        chunk = object_ids[start : start + CHUNK]
        rows = Follow.objects.filter(content_type=content_type, object_id__in=chunk).values_list("user_id", "object_id")
        if owned:
            owners = manager.filter(pk__in=chunk, owner_id__isnull=False).order_by().values_list("owner_id", "pk")
            rows = rows.union(owners, all=True)
        for user_id, object_id in rows:
            out[object_id].add(user_id)
    return out


def _notify(model: type[models.Model], events: list[_Event]) -> None:
    """Write the notifications of these events: per recipient, only for the records they may see
    and (for a change) only when a field they may see is among those told."""
    if not events:
        return
    wanted = sorted({e.object_id for e in events if e.followers})
    followers = _followers(model, wanted) if wanted else {}
    # recipient -> [(event, kind)]
    plan: dict[int, list[tuple[_Event, str]]] = defaultdict(list)
    for event in events:
        kinds: dict[int, str] = {}
        if event.followers:
            kinds.update((user_id, event.kind) for user_id in followers.get(event.object_id, ()))
        kinds.update(event.direct)
        for user_id, kind in kinds.items():
            if user_id != event.actor_id:
                plan[user_id].append((event, kind))
    # The kinds each recipient does not want (通知设置): one read for all of them.
    muted: dict[int, set[str]] = defaultdict(set)
    for user_id, kind in NotificationMute.objects.filter(user_id__in=list(plan)).values_list("user_id", "kind"):
        muted[user_id].add(kind)
    told_to = {
        user_id: kept
        for user_id, items in plan.items()
        if (kept := [(event, kind) for event, kind in items if kind not in muted[user_id]])
    }
    if not told_to:
        return
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    manager: Any = getattr(model, "all_objects", model._default_manager)  # a deleted record is in the bin
    rows = []
    users = list(get_user_model().objects.filter(pk__in=list(told_to), is_active=True))
    for user in users:
        items = told_to[user.pk]
        ids = list({event.object_id for event, _kind in items})
        visible = set(
            restrict_queryset(manager.all(), user, Action.VIEW).filter(pk__in=ids).values_list("pk", flat=True)
        )
        hidden = hidden_fields(user, model)
        for event, kind in items:
            if event.object_id not in visible:
                continue
            told = event.change is None or watched_changes(model, event.change.changes, hidden)
            if kind == NotificationKind.CHANGED and not told:
                continue
            rows.append(
                Notification(
                    recipient_id=user.pk,
                    kind=kind,
                    content_type=content_type,
                    object_id=event.object_id,
                    object_repr=event.object_repr[:200],
                    actor_id=event.actor_id,
                    change=event.change,
                    summary=event.summary,
                    created_at=event.at,
                )
            )
    Notification.objects.bulk_create(rows)
    recipients = {row.recipient_id for row in rows}
    instant = NotificationEmail.INSTANT
    email_soon([user.pk for user in users if user.pk in recipients and user.notification_email == instant])


def holders_told(notes: list[HolderNote]) -> None:
    """撞单保护's hook (``guard.on_attempt``): tell each record's holder that a colleague entered it
    again (refused, or saved anyway), through ``_notify`` (mutes, who may see the record, emails).
    Written at once, on the caller's connection: the guard calls this after a refused write has
    rolled back, or after a saved one has committed. At most one a day for one colleague and one
    record (``once_a_day``): typing and saving again is not news. The words are the holder's
    language's, as each note has one reader."""
    notes = [n for n in notes if n.recipient_id != n.actor_id]
    languages = dict(
        get_user_model().objects.filter(pk__in={n.recipient_id for n in notes}).values_list("pk", "language")
    )
    told_today = _told_today(notes) if notes else set()
    by_model: dict[type[models.Model], list[_Event]] = defaultdict(list)
    for note in notes:
        content_type = ContentType.objects.get_for_model(note.model, for_concrete_model=False)
        key = (note.recipient_id, note.actor_id, content_type.pk, note.object_id)
        if note.once_a_day and key in told_today:
            continue
        told_today.add(key)
        with translation.override(languages.get(note.recipient_id) or settings.LANGUAGE_CODE):
            summary = note.summary()
        by_model[note.model].append(
            _Event(
                kind=NotificationKind.DUPLICATE,
                object_id=note.object_id,
                object_repr=note.object_repr[:200],
                actor_id=note.actor_id,
                at=timezone.now(),
                summary=summary[:300],
                followers=False,
                direct={note.recipient_id: NotificationKind.DUPLICATE},
            )
        )
    for model, events in by_model.items():
        _notify(model, events)


def _told_today(notes: list[HolderNote]) -> set[tuple[int, int | None, int, int]]:
    """(recipient, actor, type, record) of the 撞单 notifications written since midnight (the
    install's time zone), for these notes: one query."""
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = Notification.objects.filter(
        kind=NotificationKind.DUPLICATE,
        recipient_id__in={n.recipient_id for n in notes},
        object_id__in={n.object_id for n in notes},
        created_at__gte=midnight,
    ).values_list("recipient_id", "actor_id", "content_type_id", "object_id")
    return set(rows)


def email_soon(user_ids: list[int]) -> None:
    """Queue the emails of those who want theirs at once, after the change has committed (a change
    rolled back mails nobody). Each task mails what is unread and not mailed yet, so the first of a
    transaction's tasks sends one email with all it told someone; the others find nothing left."""
    if not user_ids:
        return
    from guanxi.activities.tasks import notification_email_task

    transaction.on_commit(lambda: notification_email_task.enqueue(user_ids=sorted(user_ids)), robust=True)


# --- reading ------------------------------------------------------------------------------------------


def notifications_of(user: Any) -> models.QuerySet:
    """The user's own notifications (``restrict``: a notification is its recipient's alone)."""
    return restricted(Notification, user, Action.VIEW)


def unread_count(user: Any) -> int:
    """How many the user has not read, counted up to ``COUNT_CAP + 1`` (the bell shows "99+")."""
    unread = notifications_of(user).filter(read_at__isnull=True).order_by()
    return unread[: COUNT_CAP + 1].count()


def notifications_page(user: Any, *, unread: bool = False, cursor: str | None = None, limit: int = 20) -> Page:
    """A page of the user's notifications, newest first (keyset on the id)."""
    qs = notifications_of(user).select_related("actor", "change")
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return paginate(qs, "-id", cursor, limit)


@dataclass
class Shown:
    """A notification as it is shown now: the record's current name and page when the reader may
    still see it, else the name it had; the told changes the reader may see."""

    notification: Notification
    model: type[models.Model] | None
    record: models.Model | None
    changes: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.record) if self.record is not None else self.notification.object_repr

    @property
    def url(self) -> str | None:
        """The record's page, while the reader may see it."""
        from guanxi.core.views.base import record_url

        return record_url(self.record)

    @property
    def type_key(self) -> str | None:
        """The record's type as the API names it (its path: ``accounts``)."""
        resource = resource_for(self.model) if self.model is not None else None
        return resource.path if resource is not None else None


def shown(user: Any, notifications: list[Notification]) -> list[Shown]:
    """Re-read the records of these notifications through ``restrict``: one query per record type."""
    by_type: dict[int, list[Notification]] = defaultdict(list)
    for notification in notifications:
        by_type[notification.content_type_id].append(notification)
    records: dict[tuple[int, int], models.Model] = {}
    models_of: dict[int, type[models.Model] | None] = {}
    hidden_of: dict[int, set[str]] = {}
    for content_type_id, items in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        models_of[content_type_id] = model
        if model is None:
            continue
        hidden_of[content_type_id] = hidden_fields(user, model)
        for obj in restricted(model, user, Action.VIEW).filter(pk__in={n.object_id for n in items}):
            records[(content_type_id, obj.pk)] = obj
    out = []
    for notification in notifications:
        model = models_of.get(notification.content_type_id)
        record = records.get((notification.content_type_id, notification.object_id))
        change = notification.change
        # A record given at its creation lists no fields: all of them would be "changed".
        if record is None or model is None or change is None or change.action != ChangeAction.UPDATE:
            changes = {}
        else:
            changes = watched_changes(model, change.changes, hidden_of.get(notification.content_type_id, ()))
        out.append(Shown(notification=notification, model=model, record=record, changes=changes))
    return out


def mark_read(user: Any, ids: Iterable[Any] | None = None) -> int:
    """Mark the user's notifications read: these ``ids`` (others' are left alone), or all. Returns
    how many were unread."""
    unread = notifications_of(user).filter(read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=[int(i) for i in ids])
    return unread.update(read_at=timezone.now())


#: What a user chooses to hear of, kind by kind (通知设置).
WANTED_LABELS: dict[str, Any] = {
    NotificationKind.CHANGED: gettext_lazy("Someone changes a record I follow or own"),
    NotificationKind.ASSIGNED: gettext_lazy("Someone gives me a record"),
    NotificationKind.NOTE: gettext_lazy("Someone writes a note on a record I follow or own"),
    NotificationKind.FILE: gettext_lazy("Someone adds a file to a record I follow or own"),
    NotificationKind.DELETED: gettext_lazy("Someone deletes a record I follow or own"),
    NotificationKind.RESTORED: gettext_lazy("Someone restores a record I follow or own"),
    NotificationKind.MERGED: gettext_lazy("Someone merges a record I follow or own"),
    NotificationKind.DUPLICATE: gettext_lazy("A colleague enters a customer of mine again (撞单保护)"),
}


def notification_settings(user: Any) -> dict[str, bool]:
    """Each kind of notification and whether the user wants it (通知设置), in the kinds' order."""
    muted = set(NotificationMute.objects.filter(user_id=user.pk).values_list("kind", flat=True))
    return {kind: kind not in muted for kind in NotificationKind.values}


@transaction.atomic
def notification_settings_set(*, user: Any, muted: Iterable[str]) -> dict[str, bool]:
    """The kinds the user does not want from now on (the others they do); an unknown kind refuses
    the whole change, naming it. What was written before stays."""
    muted = list(dict.fromkeys(muted))
    unknown = [kind for kind in muted if kind not in NotificationKind.values]
    if unknown:
        raise FieldErrors(
            {
                "muted": [
                    _("Unknown kind %(kinds)s; use any of: %(known)s.")
                    % {"kinds": ", ".join(unknown), "known": ", ".join(NotificationKind.values)}
                ]
            }
        )
    NotificationMute.objects.filter(user_id=user.pk).exclude(kind__in=muted).delete()
    have = set(NotificationMute.objects.filter(user_id=user.pk).values_list("kind", flat=True))
    NotificationMute.objects.bulk_create(NotificationMute(user_id=user.pk, kind=k) for k in muted if k not in have)
    return notification_settings(user)


def notifications_purge_old(days: int | None = None) -> int:
    """Delete notifications older than ``days`` (``GUANXI_NOTIFICATION_DAYS``), read or not."""
    days = settings.GUANXI_NOTIFICATION_DAYS if days is None else days
    cutoff = timezone.now() - datetime.timedelta(days=days)
    return Notification.objects.filter(created_at__lt=cutoff).delete()[0]
