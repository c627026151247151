"""The merge registry: how rows that point at a record move to the record it is merged into, and back.

A merge keeps one record (the survivor) and sends the others (the merged records) to the recycle bin;
every row that pointed at a merged record must then point at the survivor, and undo must move exactly
those rows back. Each module registers a *mover* for the rows of its models:

* rows that hang on any record generically (``content_type`` + ``object_id``: tags, notes, files,
  timeline entries, shares) are registered here by core with ``generic_mover``;
* rows with a foreign key to a record type (a contact's account links, an opportunity's account...)
  are registered by their app with ``fk_mover`` (or a hand-written ``Mover``).

A mover's ``move`` returns a JSON-ready journal of what it did (ids moved, rows it had to drop because
the survivor already had their twin, flags it changed); the merge keeps the journals, and ``undo``
gets its own journal back. Movers run inside the merge's transaction.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


@dataclass
class MergeContext:
    """What a mover needs: the record type, the survivor and the merged records (locked), the user."""

    model: type[models.Model]
    survivor: models.Model
    losers: list[models.Model]
    user: Any = None
    merge_id: int | None = None  # the app's record of this merge, when it keeps one
    #: The survivor's new column values, which it takes after the movers ran (``owner_id`` when the
    #: owner comes from a merged record): a mover whose rows follow the record's owner reads them.
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def loser_ids(self) -> list[int]:
        return [int(o.pk) for o in self.losers]

    @property
    def content_type(self) -> ContentType:
        return ContentType.objects.get_for_model(self.model, for_concrete_model=False)


Journal = Any  # JSON-ready


@dataclass(frozen=True)
class Mover:
    """Moves one kind of row from the merged records to the survivor, and back on undo.

    ``applies_to`` says for which record types it runs; ``count`` (optional) counts the rows that
    point at the given records, for the merge page and tests; ``label`` (lazy text, plural) names
    them on the merge page ("notes 3"). Only rows that belong to the record carry one (its notes,
    files, timeline, tags: whoever sees the record sees them): a count of its links, relations,
    reports or shares would tell of records, or people's choices, the reader may not see.
    """

    key: str
    move: Callable[[MergeContext], Journal]
    undo: Callable[[MergeContext, Journal], None]
    applies_to: Callable[[type[models.Model]], bool] = field(default=lambda model: True)
    count: Callable[[type[models.Model], list[int]], int] | None = None
    label: Any = ""


_movers: dict[str, Mover] = {}


def register_mover(mover: Mover) -> Mover:
    """Add (or replace, by key) a mover; modules call this from their ``AppConfig.ready``."""
    _movers[mover.key] = mover
    return mover


_core_registered = False


def _ensure_core() -> None:
    # Core's own movers are registered on first use: apps that import this module may be loaded first.
    global _core_registered
    if not _core_registered:
        _core_registered = True
        register_core_movers()


def movers_for(model: type[models.Model]) -> list[Mover]:
    """The movers that run when records of ``model`` are merged, in registration order."""
    _ensure_core()
    return [m for m in _movers.values() if m.applies_to(model)]


def attached_counts(model: type[models.Model], pk: Any) -> list[tuple[Any, int]]:
    """What hangs on one record that a merge would move, as the merge page lists it: ``(label,
    count)`` of each labelled mover with some rows (one count query a mover)."""
    out = []
    for mover in movers_for(model):
        if mover.count is not None and mover.label:
            count = mover.count(model, [pk])
            if count:
                out.append((mover.label, count))
    return out


def mover(key: str) -> Mover | None:
    return _movers.get(key)


def merge_move_all(ctx: MergeContext) -> dict[str, Journal]:
    """Run every mover for the record type; returns their journals by key (empty ones left out)."""
    journals: dict[str, Journal] = {}
    for m in movers_for(ctx.model):
        journal = m.move(ctx)
        if journal:
            journals[m.key] = journal
    return journals


def merge_undo_all(ctx: MergeContext, journals: dict[str, Journal]) -> None:
    """Give each mover its journal back, in reverse order. A journal whose mover is gone cannot be undone."""
    _ensure_core()
    missing = [key for key in journals if key not in _movers]
    if missing:
        raise LookupError(f"no mover registered for {missing}")
    for m in reversed(list(_movers.values())):
        if m.key in journals:
            m.undo(ctx, journals[m.key])


# --- rows as data (for rows a move had to drop and undo puts back) ---------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.fields.files.FieldFile):
        return value.name
    return value


def row_data(obj: models.Model) -> dict[str, Any]:
    """Every stored column of a row, JSON-ready (foreign keys by id)."""
    return {f.attname: _plain(getattr(obj, f.attname)) for f in obj._meta.concrete_fields if not f.generated}


def row_restore(model: type[models.Model], rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows saved with ``row_data`` again, with their ids."""
    objs = []
    rows_list = list(rows)
    for data in rows_list:
        obj = model()
        for f in model._meta.concrete_fields:
            if f.attname in data and not f.generated:
                setattr(obj, f.attname, f.to_python(data[f.attname]) if data[f.attname] is not None else None)
        objs.append(obj)
    if not objs:
        return
    model._base_manager.bulk_create(objs)
    # auto_now / auto_now_add stamped "now" on insert: put the saved times back.
    stamps = [
        f for f in model._meta.concrete_fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for obj, data in zip(objs, rows_list, strict=True):
        values = {f.attname: f.to_python(data[f.attname]) for f in stamps if data.get(f.attname) is not None}
        if values:
            model._base_manager.filter(pk=obj.pk).update(**values)


# --- ready-made movers -------------------------------------------------------------------------------------


#: Another key that makes two rows twins besides their unique columns, worked out per merge
#: (``() -> (row) -> key or None``): a scoped tag's scope, of which a record holds one.
TwinKey = Callable[[], Callable[[Any], Any]]


def _moving(
    ctx: MergeContext,
    model: type[models.Model],
    pointer: str,
    base: models.QuerySet,
    unique_with: tuple[str, ...],
    twin_key: TwinKey | None = None,
) -> Journal:
    """Point ``base`` rows of the merged records at the survivor; drop those whose twin is already there."""
    survivor = int(ctx.survivor.pk)
    moved: dict[str, list[int]] = {}
    dropped: list[dict[str, Any]] = []
    taken: set[Any] = set()
    key_of = twin_key() if twin_key is not None else (lambda obj: None)
    if unique_with:
        kept = base.filter(**{pointer: survivor})
        taken = set(kept.values_list(*unique_with))
        if twin_key is not None:
            taken |= {key for obj in kept if (key := key_of(obj)) is not None}
    for loser in ctx.loser_ids:
        rows = base.filter(**{pointer: loser})
        if not unique_with:
            ids = list(rows.values_list("pk", flat=True))
        else:
            ids = []
            for obj in rows:
                twin = tuple(getattr(obj, name) for name in unique_with)
                other = key_of(obj)
                if twin in taken or (other is not None and other in taken):
                    dropped.append(row_data(obj))
                    obj.delete()
                else:
                    taken.add(twin)
                    if other is not None:
                        taken.add(other)
                    ids.append(int(obj.pk))
        if ids:
            model._base_manager.filter(pk__in=ids).update(**{pointer: survivor})
            moved[str(loser)] = ids
    if not moved and not dropped:
        return None
    return {"moved": moved, "dropped": dropped}


def _unmoving(model: type[models.Model], pointer: str, journal: Journal) -> None:
    for loser, ids in (journal.get("moved") or {}).items():
        model._base_manager.filter(pk__in=ids).update(**{pointer: int(loser)})
    row_restore(model, journal.get("dropped") or [])


def generic_mover(
    model: type[models.Model],
    *,
    key: str | None = None,
    unique_with: tuple[str, ...] = (),
    applies_to: Callable[[type[models.Model]], bool] | None = None,
    twin_key: TwinKey | None = None,
    label: Any = "",
) -> Mover:
    """A mover for rows that hang on records by ``content_type`` + ``object_id``.

    ``unique_with``: the other columns of a unique constraint with (content_type, object_id); a
    merged record's row whose twin the survivor already has is dropped (and put back on undo).
    ``twin_key``: another key that makes twins (with ``unique_with``).
    """

    def base(ctx_model: type[models.Model]) -> models.QuerySet:
        ct = ContentType.objects.get_for_model(ctx_model, for_concrete_model=False)
        return model._base_manager.filter(content_type=ct)

    def move(ctx: MergeContext) -> Journal:
        return _moving(ctx, model, "object_id", base(ctx.model), unique_with, twin_key)

    def undo(ctx: MergeContext, journal: Journal) -> None:
        _unmoving(model, "object_id", journal)

    def count(ctx_model: type[models.Model], pks: list[int]) -> int:
        return base(ctx_model).filter(object_id__in=pks).count()

    return Mover(
        key=key or f"{model._meta.label_lower}",
        move=move,
        undo=undo,
        applies_to=applies_to or (lambda m: getattr(m, "has_timeline", False) or getattr(m, "shareable", False)),
        count=count,
        label=label,
    )


def fk_mover(
    model: type[models.Model],
    field_name: str,
    *,
    key: str | None = None,
    unique_with: tuple[str, ...] = (),
    exclude_merged: bool = False,
) -> Mover:
    """A mover for rows of ``model`` whose foreign key ``field_name`` points at the merged record type.

    ``exclude_merged``: leave rows that are themselves among the merged records (an account's
    children when a merged account is the survivor's child) where they are.
    """
    fk = model._meta.get_field(field_name)
    target = fk.related_model
    attname = fk.attname  # type: ignore[union-attr]

    def base(ctx: MergeContext) -> models.QuerySet:
        qs = model._base_manager.all()
        if exclude_merged:
            qs = qs.exclude(pk__in=[ctx.survivor.pk, *ctx.loser_ids])
        return qs

    def move(ctx: MergeContext) -> Journal:
        return _moving(ctx, model, attname, base(ctx), unique_with)

    def undo(ctx: MergeContext, journal: Journal) -> None:
        _unmoving(model, attname, journal)

    def count(ctx_model: type[models.Model], pks: list[int]) -> int:
        return model._base_manager.filter(**{f"{attname}__in": pks}).count()

    return Mover(
        key=key or f"{model._meta.label_lower}.{field_name}",
        move=move,
        undo=undo,
        applies_to=lambda m: m is target,
        count=count,
    )


def _tag_scope_key() -> Callable[[Any], Any]:
    """A tagged item's scope (意向 of 意向::高): the survivor's tag of a scope stays, a merged
    record's other value of it is dropped (``core.tags``). Tag names read once per tag a merge meets."""
    from guanxi.core.models import Tag
    from guanxi.core.tags import scope_of

    names: dict[int, str] = {}

    def key(item: Any) -> Any:
        if item.tag_id not in names:
            names[item.tag_id] = Tag.objects.filter(pk=item.tag_id).values_list("name", flat=True).first() or ""
        scope = scope_of(names[item.tag_id])
        return ("scope", scope) if scope is not None else None

    return key


def register_core_movers() -> None:
    """Tags, notes, files, timeline entries, shares and follows go with a merged record to the survivor."""
    from guanxi.core.models import Attachment, Follow, Note, TaggedItem, TimelineEntry
    from guanxi.identity.models import Share

    register_mover(generic_mover(TaggedItem, unique_with=("tag_id",), twin_key=_tag_scope_key, label=_("tags")))
    register_mover(generic_mover(Note, label=_("notes")))
    register_mover(generic_mover(Attachment, label=_("files")))
    register_mover(generic_mover(TimelineEntry, label=_("timeline entries")))
    register_mover(generic_mover(Share, unique_with=("user_id", "team_id", "access")))
    register_mover(
        generic_mover(
            Follow,
            unique_with=("user_id",),
            applies_to=lambda m: getattr(m, "followable", False),
        )
    )
