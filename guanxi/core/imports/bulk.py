"""The engine-neutral side of the bulk write path: row templates, change-log rows, tags, owners.

Imports write what the services would write (records, change log, tags), but many rows per
statement: ``bulk_sqlite`` (executemany) or ``bulk_postgres`` (COPY) does the writing. Everything
here runs inside the batch's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

from guanxi.core import context
from guanxi.core.choices import Action, ChangeAction, Scope
from guanxi.core.jsontext import dumps
from guanxi.core.models import ChangeLogEntry, Tag, TaggedItem
from guanxi.core.permissions import object_type_of, scope_for

#: Seconds per stage of the last import run in this process (the runner's stages, and the bulk
#: inserts by table inside them); bench/_import_probe.py prints them.
last_timing: dict[str, float] = {}


def timed(stage: str, since: float) -> None:
    last_timing[stage] = last_timing.get(stage, 0.0) + time.perf_counter() - since


def engine() -> ModuleType:
    """The bulk module of the current database."""
    if connection.vendor == "postgresql":
        from guanxi.core.imports import bulk_postgres

        return bulk_postgres
    from guanxi.core.imports import bulk_sqlite

    return bulk_sqlite


class TableRows:
    """Rows of one model for the bulk path: every concrete column, defaults worked out once.

    ``row(values)`` takes database-ready values by attribute name (``owner_id``); the rest get
    the field's default as the ORM would have saved it.
    """

    def __init__(self, model: type[models.Model], now: Any, *, with_pk: bool = True):
        self.model = model
        self.table = model._meta.db_table
        self.now = now
        # A generated column (``Contact.birthday_md``) is the database's to write.
        fields = [f for f in model._meta.concrete_fields if (with_pk or not f.primary_key) and not f.generated]
        self.fields = {f.attname: f for f in fields}
        self.columns = [f.column for f in fields]
        self.attnames = [f.attname for f in fields]
        self.defaults: dict[str, Any] = {}
        for f in fields:
            if f.primary_key:
                value: Any = None
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = now
            elif f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            else:
                value = "" if isinstance(f, models.CharField | models.TextField) else None
            self.defaults[f.attname] = self.prep(f.attname, value)
        self.now_db = self.prep("created_at", now) if "created_at" in self.fields else now

    def prep(self, attname: str, value: Any) -> Any:
        """A Python value as the database takes it (dates, JSON, decimals, booleans)."""
        if value is None or isinstance(value, str):
            return value
        field = self.fields[attname]
        if isinstance(field, models.JSONField):
            return dumps(value)
        return field.get_db_prep_save(value, connection)

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        defaults = self.defaults
        return tuple(values[a] if a in values else defaults[a] for a in self.attnames)

    def template(self) -> list[Any]:
        """A row of defaults to copy and fill by position (``index``): the fast path for big batches."""
        return [self.defaults[a] for a in self.attnames]

    def index(self, attname: str) -> int:
        return self.attnames.index(attname)

    def insert(self, rows: Sequence[Sequence[Any]]) -> None:
        started = time.perf_counter()
        engine().insert(self.table, self.columns, rows)
        timed(f"  insert {self.table}", started)


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    return engine().allocate_ids(model._meta.db_table, count) if count else []


def update_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    engine().update(model._meta.db_table, columns, rows)


class ChangeLogRows:
    """Change-log rows for records written in bulk: one per created or updated record, source "import"."""

    def __init__(self, actor: Any, now: Any):
        self.rows = TableRows(ChangeLogEntry, now, with_pk=False)
        ctx = context.current()
        self.base = {
            "time": self.rows.prep("time", now),
            "actor_id": actor.pk if actor is not None else None,
            "actor_repr": str(actor)[:200] if actor is not None else "",
            "source": ctx.source,
            "request_id": ctx.request_id,
        }
        self.pending: list[Any] = []
        self.content_types: dict[type[models.Model], int] = {}  # asked once, not per row
        self._template = self.rows.row(self.base)
        names = self.rows.attnames
        self._i = [names.index(n) for n in ("action", "content_type_id", "object_id", "object_repr", "changes")]

    def add(self, model: type[models.Model], object_id: int, object_repr: str, action: str, changes: Any) -> None:
        """``changes`` is ``{field: [before, after]}`` or its JSON text (prepared off the main process)."""
        row = list(self._template)
        i_action, i_ct, i_object, i_repr, i_changes = self._i
        row[i_action] = action
        ct = self.content_types.get(model)
        if ct is None:
            ct = self.content_types[model] = content_type_id(model)
        row[i_ct] = ct
        row[i_object] = object_id
        row[i_repr] = (object_repr or "")[:200]
        row[i_changes] = changes if isinstance(changes, str) else dumps(changes)
        self.pending.append(row)

    def flush(self) -> None:
        self.rows.insert(self.pending)
        self.pending = []


def select_pairs(sql: str, params: list[Any], keys: list[str]) -> list[tuple[Any, Any]]:
    """Run ``sql`` (with one ``{keys}`` placeholder for the IN list) and return its (key, id) rows.
    Lookups of thousands of keys per batch, without building an ORM query for each."""
    placeholders = ", ".join(["%s"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(sql.format(keys=placeholders), [*params, *keys])
        return cursor.fetchall()


def create_changes(values: dict[str, Any]) -> dict[str, list[Any]]:
    """The change-log diff of a new record: every field that has a value, from nothing."""
    return {name: [None, value] for name, value in values.items() if value not in (None, "", [], {})}


def content_type_id(model: type[models.Model]) -> int:
    # Django's own content-type cache: it is cleared when the table is flushed and refilled, which a
    # module-level copy was not (a stale id broke the change-log foreign key after a flush).
    return ContentType.objects.get_for_model(model, for_concrete_model=False).pk


class TagWriter:
    """Tags by name (created when new, like ``tags_set``) and their links, in bulk."""

    def __init__(self, user: Any):
        self.user = user
        self.ids: dict[str, int] = {}

    def tag_ids(self, names: Iterable[str]) -> dict[str, int]:
        wanted = {n for n in names if n not in self.ids}
        if wanted:
            found = dict(Tag.objects.filter(name__in=wanted).values_list("name", "pk"))
            missing = wanted - set(found)
            if missing:
                Tag.objects.bulk_create(
                    [Tag(name=name, created_by_id=self.user.pk) for name in sorted(missing)], ignore_conflicts=True
                )
                found.update(Tag.objects.filter(name__in=missing).values_list("name", "pk"))
            self.ids.update(found)
        return self.ids

    def names_on(self, model: type[models.Model], object_ids: list[int]) -> dict[int, set[str]]:
        """The names of the tags the records have now (the records an update's rows give tags)."""
        out: dict[int, set[str]] = {}
        ct = content_type_id(model)
        for start in range(0, len(object_ids), 2000):
            chunk = object_ids[start : start + 2000]
            items = TaggedItem.objects.filter(content_type_id=ct, object_id__in=chunk)
            for object_id, name in items.values_list("object_id", "tag__name"):
                out.setdefault(object_id, set()).add(name)
        return out

    def link(self, model: type[models.Model], tags_by_object: dict[int, list[str]], *, existing: bool) -> None:
        """Put the tags on the records; ``existing`` records may have some already (kept, not doubled)."""
        if not tags_by_object:
            return
        ids = self.tag_ids({name for names in tags_by_object.values() for name in names})
        ct = content_type_id(model)
        have: set[tuple[int, int]] = set()
        if existing:
            have = set(
                TaggedItem.objects.filter(content_type_id=ct, object_id__in=list(tags_by_object)).values_list(
                    "object_id", "tag_id"
                )
            )
        rows = [
            (ids[name], ct, object_id)
            for object_id, names in tags_by_object.items()
            for name in dict.fromkeys(names)
            if (object_id, ids[name]) not in have
        ]
        engine().insert(TaggedItem._meta.db_table, ("tag_id", "content_type_id", "object_id"), rows)

    def unlink(self, model: type[models.Model], tags_by_object: dict[int, list[str]]) -> None:
        """Take the tags off the records (a scoped tag the file replaced): one delete per tag."""
        objects_by_tag: dict[str, list[int]] = {}
        for object_id, names in tags_by_object.items():
            for name in names:
                objects_by_tag.setdefault(name, []).append(object_id)
        ct = content_type_id(model)
        ids = self.tag_ids(objects_by_tag)
        for name, object_ids in objects_by_tag.items():
            TaggedItem.objects.filter(tag_id=ids[name], content_type_id=ct, object_id__in=object_ids).delete()


class Owners:
    """The "owner" column: a user by email (or name), which needs the assign permission for anyone else."""

    def __init__(self, user: Any, model: type[models.Model]):
        from guanxi.identity.models import User

        self.user = user
        self.may_assign = scope_for(user, object_type_of(model), Action.ASSIGN) != Scope.NONE
        self._users = User.objects
        self.cache: dict[str, tuple[int, int | None] | None] = {}

    def resolve(self, keys: Iterable[str]) -> None:
        wanted = {k for k in keys if k and k not in self.cache}
        if not wanted:
            return
        rows = self._users.filter(is_active=True).filter(models.Q(email__in=wanted) | models.Q(display_name__in=wanted))
        found: dict[str, tuple[int, int | None]] = {}
        for pk, email, name, team_id in rows.values_list("pk", "email", "display_name", "team_id"):
            found[email.lower()] = (pk, team_id)
            found.setdefault(name, (pk, team_id))
        for key in wanted:
            self.cache[key] = found.get(key) or found.get(key.lower())

    def get(self, key: str) -> tuple[int, int | None] | None:
        return self.cache.get(key)


def may_add(user: Any, model: type[models.Model]) -> bool:
    return scope_for(user, object_type_of(model), Action.ADD) != Scope.NONE


__all__ = ["ChangeAction", "TableRows", "ChangeLogRows", "TagWriter", "Owners", "allocate_ids", "update_rows"]
