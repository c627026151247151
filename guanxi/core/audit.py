"""The change log: services call ``changelog_record`` explicitly on every write path."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.fields.files import FieldFile

from guanxi.core import context
from guanxi.core.choices import ChangeAction
from guanxi.core.models import ChangeLogEntry

# Bookkeeping fields that change on every write; the diff would be noise.
NOISE_FIELDS = {"updated_at", "version", "last_login"}
SECRET_FIELDS = {"password", "key_hash"}

#: Called with the model and the change-log rows just written for its records, inside the writer's
#: transaction: modules react to what changed (activities: notify the people who follow a record).
_CHANGE_HOOKS: list[Callable[[type[models.Model], list[ChangeLogEntry]], None]] = []


def on_change(hook: Callable[[type[models.Model], list[ChangeLogEntry]], None]) -> None:
    if hook not in _CHANGE_HOOKS:
        _CHANGE_HOOKS.append(hook)


def _written(model: type[models.Model], entries: list[ChangeLogEntry]) -> None:
    if entries:
        for hook in _CHANGE_HOOKS:
            hook(model, entries)


MASK = "••••••"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The record's stored values, JSON-ready; foreign keys by id, secrets masked. A model's
    ``unlogged_fields`` are left out: figures it derives and keeps up to date itself, whose every
    change would otherwise read as an edit in the change log; so are columns the database generates
    from others (a birthday's month and day)."""
    data: dict[str, Any] = {}
    skip = NOISE_FIELDS.union(getattr(obj, "unlogged_fields", ()))
    for field in obj._meta.concrete_fields:
        if field.name in skip or field.generated:
            continue
        value = getattr(obj, field.attname)
        data[field.name] = MASK if field.name in SECRET_FIELDS and value else _plain(value)
    tags = getattr(obj, "_tag_names", None)
    if tags is not None:
        data["tags"] = sorted(tags)
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for each field whose value differs; custom fields by key."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key == "custom_fields" and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            for cf in sorted(set(old or {}) | set(new or {})):
                if (old or {}).get(cf) != (new or {}).get(cf):
                    changes[f"cf.{cf}"] = [(old or {}).get(cf), (new or {}).get(cf)]
        elif old != new:
            changes[key] = [old, new]
    return changes


def changelog_record(
    *,
    actor: Any,
    obj: models.Model,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> ChangeLogEntry | None:
    """Write one change-log row. An update that changed nothing writes nothing."""
    changes = diff(before or {}, after or {})
    if action == ChangeAction.UPDATE and not changes:
        return None
    entry = _entry(actor, obj, action, changes)
    _written(type(obj), [entry])
    return entry


def reveal_record(*, actor: Any, obj: models.Model, fields: list[str]) -> ChangeLogEntry:
    """A change-log row saying ``actor`` saw ``fields`` of ``obj`` in full, which their role shows
    masked (``guanxi.core.masking``): the fields, never their values. Nothing changed, so nobody
    following the record is told."""
    return _entry(actor, obj, ChangeAction.REVEAL, {name: [None, None] for name in fields})


def _entry(actor: Any, obj: models.Model, action: str, changes: dict[str, Any]) -> ChangeLogEntry:
    ctx = context.current()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return ChangeLogEntry.objects.create(
        actor=actor if is_user else None,
        actor_repr=str(actor) if is_user else "",
        source=ctx.source,
        request_id=ctx.request_id,
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        changes=changes,
    )


def changelog_records(
    *, actor: Any, model: type[models.Model], action: str, rows: list[tuple[Any, str, dict[str, list[Any]]]]
) -> None:
    """Many change-log rows in one insert, for a bulk write that changed the same few fields of
    many records: ``rows`` are (pk, what the record is called, changes as ``diff`` gives them)."""
    ctx = context.current()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    entries = ChangeLogEntry.objects.bulk_create(
        [
            ChangeLogEntry(
                actor=actor if is_user else None,
                actor_repr=str(actor) if is_user else "",
                source=ctx.source,
                request_id=ctx.request_id,
                action=action,
                content_type=content_type,
                object_id=pk,
                object_repr=str(name)[:200],
                changes=changes,
            )
            for pk, name, changes in rows
            if changes
        ]
    )
    _written(model, entries)


def visible_changes(entries: list[ChangeLogEntry], user: Any) -> dict[int, dict[str, Any]]:
    """Each entry's field diff without the fields the user's role hides on the changed record's type.

    The history of a record must not reveal what its current view hides (e.g. a hidden price).
    """
    from guanxi.core.permissions import hidden_fields

    hidden_by_type: dict[int, set[str]] = {}
    out: dict[int, dict[str, Any]] = {}
    for entry in entries:
        if entry.content_type_id not in hidden_by_type:
            model = ContentType.objects.get_for_id(entry.content_type_id).model_class()
            hidden_by_type[entry.content_type_id] = hidden_fields(user, model) if model else set()
        hidden = hidden_by_type[entry.content_type_id]
        out[entry.pk] = {
            name: pair
            for name, pair in (entry.changes or {}).items()
            if name.split(".", 1)[0] not in hidden and not (name.startswith("cf.") and "custom_fields" in hidden)
        }
    return out
