"""The user-facing history of a record. Modules call ``timeline_add``; notes are written here too."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core import services
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.models import Note, TimelineEntry
from guanxi.core.permissions import restricted

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
    entry = _entry(subject, kind, summary, actor, data, at or timezone.now(), body=body)
    entry.save(force_insert=True)
    _heard(subject, entry)
    return entry


#: An entry of ``timeline_add_many``: (subject, kind, summary, data), and its body when it has one.
ManyEntry = tuple[models.Model, str, str, dict[str, Any]] | tuple[models.Model, str, str, dict[str, Any], str]


def timeline_add_many(*, entries: Sequence[ManyEntry], actor: Any = None, at: Any = None) -> None:
    """``timeline_add`` for many records in one insert (a bulk owner change, a bulk edit): ``entries``
    are (subject, kind, summary, data[, body]), all by ``actor``, at ``at`` (now by default). The
    hooks hear of each entry as they would of a single one, so what they derive (notifications of
    notes, files) is the same."""
    now = at or timezone.now()
    rows = [
        _entry(subject, kind, summary, actor, data, now, body=body[0] if body else "")
        for subject, kind, summary, data, *body in entries
    ]
    for (subject, *_rest), entry in zip(entries, TimelineEntry.objects.bulk_create(rows), strict=True):
        _heard(subject, entry)


def _entry(
    subject: models.Model, kind: str, summary: str, actor: Any, data: dict[str, Any] | None, at: Any, body: str = ""
) -> TimelineEntry:
    """An entry of ``subject``'s timeline, not saved yet (the content type is cached by Django)."""
    return TimelineEntry(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=False),
        object_id=subject.pk,
        kind=kind,
        summary=summary[:300],
        body=body,
        data=data or {},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        at=at,
    )


def _heard(subject: models.Model, entry: TimelineEntry) -> None:
    for hook in _ENTRY_HOOKS:
        hook(subject, entry)


def timeline_model(content_type_id: Any) -> type[models.Model] | None:
    """The registered model with a timeline behind a content type id, or None."""
    from guanxi.core.registry import registered_models

    ct = ContentType.objects.filter(pk=content_type_id).first()
    model = ct.model_class() if ct else None
    if model is None or model not in registered_models() or not getattr(model, "has_timeline", False):
        return None
    return model


def subject_for_write(user: Any, content_type_id: Any, object_id: Any) -> models.Model:
    """The record a note or attachment goes on; the user must be allowed to change it."""
    model = timeline_model(content_type_id)
    if model is None:
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


# --- reading ------------------------------------------------------------------------------------

#: Entries a page of a timeline shows at a time; 更早的动态 (older) reads the next ones.
TIMELINE_PAGE = 50

#: A record's whole history may include other records': an account's shows its contacts' notes and
#: changes (as HubSpot's company timeline does). ``{model: (record, user) -> [(model, ids)]}``: the
#: ids a query (a subquery of the entries' reads, never a list: an ``IN`` of 1,000 literal ids took
#: 2–5 ms a read to bind and plan, the subquery under 1 ms) of records the user may see. Modules
#: register theirs (customers: an account's contacts).
Gatherer = Callable[[Any, Any], list[tuple[type[models.Model], models.QuerySet]]]
_GATHERERS: dict[type[models.Model], tuple[Gatherer, Any]] = {}


def register_timeline_gatherer(model: type[models.Model], gather: Gatherer, *, label: Any) -> None:
    """``label``: the panel's switch that shows the gathered records' entries or not."""
    _GATHERERS[model] = (gather, label)


def gathered_label(model: type[models.Model]) -> str:
    """The switch's label for a record whose timeline gathers others', or "" (no switch)."""
    return str(_GATHERERS[model][1]) if model in _GATHERERS else ""


def timeline_kinds() -> list[tuple[str, str]]:
    """The kinds a timeline can be narrowed to, with their labels."""
    return [(kind, str(label)) for kind, label in _KIND_LABELS.items()]


@dataclass
class TimelinePage:
    """A page of a record's timeline, newest first, and the cursor of the next (older) page."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


# The order of a timeline is (time, source, id) going down: a note and an entry written in the
# same microsecond are told apart by their source, two of one source by id, so no page repeats or
# skips one. Notes are read from Note (their edits and deletes show), the other entries from
# TimelineEntry (whose "note" rows are the notes' first words, for the API).
_NOTE, _ENTRY = 0, 1


def _cursor(at: datetime.datetime, source: int, pk: int) -> str:
    return f"{at.isoformat()}~{source}~{pk}"


def _parse_cursor(raw: str) -> tuple[datetime.datetime, int, int]:
    try:
        at_text, source, pk = raw.split("~")
        at = parse_datetime(at_text)
        if at is None or source not in ("0", "1"):
            raise ValueError(raw)
        return at, int(source), int(pk)
    except ValueError:
        raise FieldErrors({"before": [_("This link to older entries is not valid: reload the page.")]}) from None


def _older_than(cursor: tuple[datetime.datetime, int, int] | None, source: int, at_field: str) -> Q:
    if cursor is None:
        return Q()
    at, cursor_source, pk = cursor
    if source < cursor_source:  # at the same time, this source comes after the cursor's
        return Q(**{f"{at_field}__lte": at})
    if source > cursor_source:
        return Q(**{f"{at_field}__lt": at})
    return Q(**{f"{at_field}__lt": at}) | Q(**{at_field: at, "id__lt": pk})


@dataclass
class Subjects:
    """The records whose entries a record's timeline shows: the record itself and, by type, the
    ids of those its module gathers (queries)."""

    own: tuple[int, int]  # (content type id, id)
    gathered: dict[int, tuple[type[models.Model], models.QuerySet]] = field(default_factory=dict)

    def q(self) -> Q:
        """Rows on any of them (one ``object_id IN (subquery)`` per type: the subject index)."""
        match = Q(content_type_id=self.own[0], object_id=self.own[1])
        for content_type_id, (_model, ids) in self.gathered.items():
            match |= Q(content_type_id=content_type_id, object_id__in=ids)
        return match

    def names(self, rows: list[Any], user: Any) -> dict[tuple[int, int], str]:
        """The names of the gathered records among ``rows`` (a page): one read per type."""
        wanted: dict[int, set[int]] = {}
        for row in rows:
            key = (row.content_type_id, row.object_id)
            if key != self.own and row.content_type_id in self.gathered:
                wanted.setdefault(row.content_type_id, set()).add(row.object_id)
        out: dict[tuple[int, int], str] = {}
        for content_type_id, ids in wanted.items():
            model = self.gathered[content_type_id][0]
            found = restricted(model, user, Action.VIEW).in_bulk(ids)
            out.update(((content_type_id, pk), str(obj)) for pk, obj in found.items())
        return out


def timeline_subjects(record: models.Model, user: Any, *, gathered: bool = True) -> Subjects:
    """The records whose entries ``record``'s timeline shows: itself and, when ``gathered``, those
    its module gathers."""
    own = ContentType.objects.get_for_model(record, for_concrete_model=False)
    subjects = Subjects(own=(own.pk, record.pk))
    gather = _GATHERERS[type(record)][0] if gathered and type(record) in _GATHERERS else None
    for model, ids in gather(record, user) if gather else []:
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        subjects.gathered[content_type.pk] = (model, ids)
    return subjects


def timeline_page(
    user: Any,
    record: models.Model,
    *,
    kind: str = "",
    gathered: bool = True,
    before: str = "",
    limit: int = TIMELINE_PAGE,
) -> TimelinePage:
    """A page of ``record``'s timeline as ``user`` may read it: notes and entries newest first,
    narrowed to one ``kind`` (``note`` for notes alone), older than the cursor ``before``. Entries of
    gathered records (an account's contacts) carry ``subject_name`` and ``subject``."""
    if kind and kind not in _KIND_LABELS:
        raise FieldErrors({"kind": [_("Choose one of the kinds listed.")]})
    cursor = _parse_cursor(before) if before else None
    subjects = timeline_subjects(record, user, gathered=gathered)
    match = subjects.q()
    rows: list[tuple[tuple[datetime.datetime, int, int], Any, dict[str, Any]]] = []
    if kind in ("", "note"):
        notes = (
            restricted(Note, user, Action.VIEW)
            .filter(match, _older_than(cursor, _NOTE, "created_at"))
            .select_related("owner")
            .order_by("-created_at", "-id")[: limit + 1]
        )
        rows += [
            (
                (n.created_at, _NOTE, n.pk),
                n,
                {"at": n.created_at, "kind": "note", "actor": n.owner, "summary": "", "body": n.body, "note": n},
            )
            for n in notes
        ]
    if kind != "note":
        entries = restricted(TimelineEntry, user, Action.VIEW).filter(match, _older_than(cursor, _ENTRY, "at"))
        entries = entries.filter(kind=kind) if kind else entries.exclude(kind="note")
        rows += [
            (
                (e.at, _ENTRY, e.pk),
                e,
                {
                    "at": e.at,
                    "kind": e.kind,
                    "actor": e.actor,
                    "summary": e.summary,
                    "body": e.body,
                    "note": None,
                    "data": e.data,
                },
            )
            for e in entries.select_related("actor").order_by("-at", "-id")[: limit + 1]
        ]
    rows.sort(key=lambda row: row[0], reverse=True)
    shown = rows[:limit]
    names = subjects.names([row for _key, row, _entry in shown], user)
    for _key, row, entry in shown:
        name = names.get((row.content_type_id, row.object_id), "")
        entry["subject_name"] = name
        entry["subject"] = (row.content_type_id, row.object_id) if name else None
    page = TimelinePage(entries=[entry for _key, _row, entry in shown])
    if len(rows) > limit:
        page.next_cursor = _cursor(*rows[limit - 1][0])
    return page
