"""The user-facing history of a record. Modules call ``timeline_add``; notes are written here too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core import services
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.models import Note, TimelineEntry

#: Called with the record after a note (a follow-up) on it is added, deleted or restored, inside the
#: same transaction: modules keep what they derive from interactions up to date (customers: an
#: account's engagement).
_INTERACTION_HOOKS: list[Callable[[models.Model], None]] = []


#: The badge of each ``TimelineEntry.kind``; modules add theirs (``register_timeline_kinds``).
_KIND_LABELS: dict[str, Any] = {"note": gettext_lazy("Note"), "attachment": gettext_lazy("File")}


def register_timeline_kinds(labels: dict[str, Any]) -> None:
    """``{kind: label}`` for the timeline's badges, e.g. a TextChoices' ``dict(Kind.choices)``."""
    _KIND_LABELS.update(labels)


def timeline_kind_label(kind: str) -> str:
    """The badge of a timeline entry: its registered label, or the kind itself when none is."""
    return str(_KIND_LABELS.get(kind, kind))


def on_interaction(hook: Callable[[models.Model], None]) -> None:
    if hook not in _INTERACTION_HOOKS:
        _INTERACTION_HOOKS.append(hook)


#: Called with the record and the entry just added to its timeline, inside the same transaction
#: (activities: a note or a file on a followed record notifies its followers).
_ENTRY_HOOKS: list[Callable[[models.Model, TimelineEntry], None]] = []


def on_timeline_entry(hook: Callable[[models.Model, TimelineEntry], None]) -> None:
    if hook not in _ENTRY_HOOKS:
        _ENTRY_HOOKS.append(hook)


def timeline_add(
    *,
    subject: models.Model,
    kind: str,
    summary: str,
    actor: Any = None,
    body: str = "",
    data: dict[str, Any] | None = None,
    at: Any = None,
) -> TimelineEntry:
    """Append an entry to ``subject``'s timeline (called by services inside their transaction)."""
    entry = TimelineEntry.objects.create(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=False),
        object_id=subject.pk,
        kind=kind,
        summary=summary[:300],
        body=body,
        data=data or {},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        at=at or timezone.now(),
    )
    for hook in _ENTRY_HOOKS:
        hook(subject, entry)
    return entry


def subject_for_write(user: Any, content_type_id: Any, object_id: Any) -> models.Model:
    """The record a note or attachment goes on; the user must be allowed to change it."""
    from guanxi.core.registry import registered_models

    ct = ContentType.objects.filter(pk=content_type_id).first()
    model = ct.model_class() if ct else None
    if model is None or model not in registered_models() or not getattr(model, "has_timeline", False):
        raise FieldErrors({"content_type": [_("Notes and files cannot be added to this type of record.")]})
    return services.record_lock(model, object_id, user, Action.CHANGE)


@transaction.atomic
def note_create(*, model: type[Note] = Note, user: Any, data: dict[str, Any], **_ignored: Any) -> Note:
    """Add a note to a record the user may change; it shows on the record's timeline."""
    body = (data.get("body") or "").strip()
    if not body:
        raise FieldErrors({"body": [_("Write something in the note.")]})
    subject = subject_for_write(user, data.get("content_type_id"), data.get("object_id"))
    note = services.record_create(
        model=Note,
        user=user,
        data={"content_type_id": data["content_type_id"], "object_id": subject.pk, "body": body},
    )
    timeline_add(subject=subject, kind="note", summary=body[:120], body=body, actor=user, data={"note_id": note.pk})
    _interactions_changed(subject)
    return note


def _interactions_changed(subject: models.Model) -> None:
    for hook in _INTERACTION_HOOKS:
        hook(subject)


def note_update(
    *,
    model: type[Note] = Note,
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    **_ignored: Any,
) -> Note:
    current = Note.objects.filter(pk=pk).values("content_type_id", "object_id").first() or {}
    moved = [f for f in ("content_type_id", "object_id") if f in data and data[f] != current.get(f)]
    if moved:
        raise FieldErrors({"object_id": [_("A note cannot move to another record.")]})
    data = {k: v for k, v in data.items() if k not in ("content_type_id", "object_id")}
    return services.record_update(model=Note, pk=pk, user=user, data=data, expected_version=expected_version)


@transaction.atomic
def note_delete(
    *, model: type[Note] = Note, pk: Any, user: Any, expected_version: int | None = None, **_ignored: Any
) -> Note:
    """Move a note to the recycle bin; what its record derives from follow-ups is recounted."""
    note = services.record_delete(model=Note, pk=pk, user=user, expected_version=expected_version)
    _interactions_changed_on(note)
    return note


@transaction.atomic
def note_restore(*, model: type[Note] = Note, pk: Any, user: Any, **_ignored: Any) -> Note:
    """Bring a note back from the recycle bin; it counts as a follow-up again."""
    note = services.record_restore(model=Note, pk=pk, user=user)
    _interactions_changed_on(note)
    return note


def _interactions_changed_on(note: Note) -> None:
    subject_model = ContentType.objects.get_for_id(note.content_type_id).model_class()
    if subject_model is not None:
        _interactions_changed(subject_model(pk=note.object_id))
