"""Generic write services for records: create, update, delete to the recycle bin, restore, purge.

Module services (``team_create``, ``account_merge``...) build on these. Each runs in one
transaction, re-checks the user's permission on the row it writes inside that transaction, and
writes the change log explicitly.
"""

from __future__ import annotations

import copy
import functools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import changelog_record, changelog_records, diff, reveal_record, snapshot
from guanxi.core.choices import Action, ChangeAction, Scope
from guanxi.core.custom_fields import clean_custom_fields, custom_fields_cleaner
from guanxi.core.db import service_atomic
from guanxi.core.errors import FieldErrors, GuanxiError, NotFound, PermissionDenied, PreconditionFailed
from guanxi.core.models import Attachment, Note, OwnedMixin, RevealCount, Tag, TaggedItem, TimelineEntry
from guanxi.core.permissions import frozen_fields, masked_fields, object_type_of, restricted, scope_for
from guanxi.core.search import search_reindex, search_remove
from guanxi.core.tags import check_scoped, normalize, tags_after

M = TypeVar("M", bound=models.Model)


def _check_frozen(user: Any, model: type[models.Model], data: dict[str, Any], *, adding: bool = False) -> None:
    frozen = frozen_fields(user, model, adding=adding) & set(data)
    if frozen:
        raise FieldErrors({f: [_("You may not change this field.")] for f in sorted(frozen)})


def _check_tags(
    user: Any, model: type[models.Model], before: list[str], tags: Iterable[str] | None, *, adding: bool = False
) -> None:
    """A role's field rule on "tags" (read-only or hidden, as the role form offers it) as on a column:
    the tags may be sent unchanged (a form sends them all), not changed."""
    if (
        tags is not None
        and "tags" in frozen_fields(user, model, adding=adding)
        and set(tags_checked(tags)) != set(before)
    ):
        raise FieldErrors({"tags": [_("You may not change this field.")]})


def _check_custom(
    user: Any, model: type[models.Model], before: dict[str, Any], after: dict[str, Any], *, adding: bool = False
) -> None:
    """The same of a rule on "custom_fields" (all of a record's custom fields): their values, cleaned,
    may come back as they were, not changed."""
    if after != before and "custom_fields" in frozen_fields(user, model, adding=adding):
        raise FieldErrors({"custom_fields": [_("You may not change this field.")]})


def _validate(obj: models.Model, changed: set[str] | None = None) -> None:
    """Django's ``full_clean``: of a new record everything; of a changed one (``changed``: the field
    names whose value changed) those fields, and every constraint over one of them with all its
    fields. The rest was met when the record was saved, and the database keeps it so. Django checks
    each check constraint with a query of its own, 2–3 ms: a bulk hand-over of 200 accounts spent
    two fifths of its time checking revenues and external ids that had not changed."""
    exclude: list[str] = []
    if changed is not None:
        checked = _checked_fields(type(obj), changed)
        exclude = [f.name for f in obj._meta.concrete_fields if f.name not in checked]
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise FieldErrors(exc.message_dict) from None


def _checked_fields(model: type[models.Model], changed: set[str]) -> set[str]:
    """The fields ``_validate`` checks of a change: those changed, and all of each constraint over one."""
    checked = set(changed)
    for fields in _constraint_fields(model):
        if fields & changed:
            checked |= fields
    return checked


@functools.cache
def _constraint_fields(model: type[models.Model]) -> list[set[str]]:
    """The fields each constraint of ``model`` reads (its fields, and those its condition names)."""
    out = []
    for constraint in model._meta.constraints:
        fields = set(getattr(constraint, "fields", ()) or ())
        condition = getattr(constraint, "condition", None)
        if isinstance(condition, models.Q):
            fields |= _q_fields(condition)
        out.append(fields)
    for together in model._meta.unique_together:
        out.append(set(together))
    return out


def _q_fields(q: models.Q) -> set[str]:
    """The model fields a condition names, on either side of its lookups (``F("a")`` too)."""
    names: set[str] = set()
    for child in q.children:
        if isinstance(child, models.Q):
            names |= _q_fields(child)
            continue
        if not isinstance(child, tuple):
            continue
        lookup, value = child
        names.add(lookup.split("__", 1)[0])
        if isinstance(value, models.F):
            names.add(str(getattr(value, "name", "")).split("__", 1)[0])
    return names


def tags_remember(obj: models.Model) -> list[str]:
    """Load the record's tag names onto it, so ``snapshot`` (and so the change log) includes them;
    returns them."""
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    names = list(
        Tag.objects.filter(items__content_type=ct, items__object_id=obj.pk)
        .order_by("name")
        .values_list("name", flat=True)
    )
    obj._tag_names = names  # type: ignore[attr-defined]
    return names


def tags_checked(names: Iterable[str]) -> list[str]:
    """A record's tag names as it keeps them: normalised, each once, sorted. Refuses a name too long,
    and two tags of one scope (意向::高, 意向::中: ``core.tags``)."""
    names = sorted({normalize(n) for n in names if n and n.strip()})
    too_long = [n for n in names if len(n) > 60]
    if too_long:
        raise FieldErrors({"tags": [_("A tag has at most 60 characters.")]})
    check_scoped(names)
    return names


def tags_named(names: Iterable[str]) -> list[Tag]:
    """The tags of these names; unknown names are created (the vocabulary is shared)."""
    return [Tag.objects.get_or_create(name=name)[0] for name in names]


def tags_set(obj: models.Model, names: Iterable[str]) -> None:
    """Replace the record's tags (``tags_checked``; unknown names are created)."""
    names = tags_checked(names)
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    tags = tags_named(names)
    TaggedItem.objects.filter(content_type=ct, object_id=obj.pk).exclude(tag__in=tags).delete()
    existing = set(TaggedItem.objects.filter(content_type=ct, object_id=obj.pk).values_list("tag_id", flat=True))
    TaggedItem.objects.bulk_create(
        [TaggedItem(tag=t, content_type=ct, object_id=obj.pk) for t in tags if t.pk not in existing]
    )
    obj._tag_names = names  # type: ignore[attr-defined]


def _default_ownership(obj: models.Model, user: Any) -> None:
    if not isinstance(obj, OwnedMixin):
        return
    if obj.owner_id is None:
        obj.owner_id = user.pk
    if obj.team_id is None:
        obj.team_id = getattr(user, "team_id", None)


def _ownership_changed(model: type[models.Model], data: dict[str, Any], before: dict[str, Any]) -> bool:
    if not issubclass(model, OwnedMixin):
        return False
    for name in ("owner", "team", "owner_id", "team_id"):
        if name in data:
            before_value = before.get(name.removesuffix("_id"))
            new = data[name]
            new_id = new.pk if isinstance(new, models.Model) else new
            if new_id != before_value:
                return True
    return False


def _assign_allowed(user: Any, model: type[models.Model]) -> bool:
    return scope_for(user, object_type_of(model), Action.ASSIGN) != Scope.NONE


def record_lock(model: type[M], pk: Any, user: Any, action: str, *, deleted: bool = False) -> M:
    """Fetch the row for writing, through restrict, inside the caller's transaction.

    Not visible at all -> 404 (never leak existence); visible but not ``action`` -> 403.
    """
    manager = model.all_objects if hasattr(model, "all_objects") else model._default_manager  # type: ignore[attr-defined]
    base: Any = manager.all()
    if hasattr(model, "deleted_at"):
        base = base.filter(deleted_at__isnull=not deleted)
    obj = base.restrict(user, action).select_for_update().filter(pk=pk).first()
    if obj is None:
        if action != Action.VIEW and base.restrict(user, Action.VIEW).filter(pk=pk).exists():
            raise PermissionDenied()
        raise NotFound()
    return obj


#: The records a bulk write refused, and why (``record_lock_many``, the ``Resource.bulk_*`` hooks).
Refused = dict[Any, GuanxiError]


def record_lock_many(model: type[M], pks: list[Any], user: Any, action: str) -> tuple[list[M], Refused]:
    """``record_lock`` for many records in one query (a set-based bulk write): the live rows the user
    may ``action``, locked, in id order; and what ``record_lock`` answers of each of the others (403
    for one the user still sees, else 404), asked in one more query only when some are missing."""
    found = list(restricted(model, user, action).select_for_update().filter(pk__in=pks).order_by("pk"))
    have = {obj.pk for obj in found}
    missing = [pk for pk in pks if pk not in have]
    seen = set()
    if missing and action != Action.VIEW:
        seen = set(restricted(model, user, Action.VIEW).filter(pk__in=missing).values_list("pk", flat=True))
    return found, {pk: PermissionDenied() if pk in seen else NotFound() for pk in missing}


def check_version(obj: models.Model, expected_version: int | None) -> None:
    if expected_version is not None and getattr(obj, "version", None) != expected_version:
        raise PreconditionFailed()


def _bump(obj: models.Model) -> None:
    if hasattr(obj, "version"):
        obj.version = (obj.version or 0) + 1


@transaction.atomic
def record_create(
    *,
    model: type[M],
    user: Any,
    data: dict[str, Any],
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    by_rule: bool = False,
) -> M:
    """Create a record owned by ``user`` (unless the data assigns it), audited as "create".

    ``by_rule``: the owner in ``data`` comes from an assignment rule an administrator set, not from
    the user, so the user needs no "assign" permission for it (and may not see the record after)."""
    if scope_for(user, object_type_of(model), Action.ADD) == Scope.NONE:
        raise PermissionDenied()
    _check_frozen(user, model, data, adding=True)
    assigned = _ownership_changed(model, data, {"owner": user.pk, "team": getattr(user, "team_id", None)})
    if assigned and not by_rule and not _assign_allowed(user, model):
        raise FieldErrors({"owner": [_("You may not assign records to other people or teams.")]})
    obj = model(**data)
    if hasattr(obj, "created_by_id"):
        obj.created_by_id = user.pk
    _default_ownership(obj, user)
    if hasattr(obj, "custom_fields"):
        obj.custom_fields = clean_custom_fields(model, custom_fields)
        if custom_fields is not None:
            _check_custom(user, model, {}, obj.custom_fields, adding=True)
    _validate(obj)
    _check_tags(user, model, [], tags, adding=True)
    obj.save()
    if tags is not None:
        tags_set(obj, tags)
    elif hasattr(obj, "custom_fields"):
        obj._tag_names = []  # type: ignore[attr-defined]
    if not assigned and not restricted(model, user, Action.ADD).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("You may not create a record outside your scope."))
    changelog_record(actor=user, obj=obj, action=ChangeAction.CREATE, after=snapshot(obj))
    search_reindex(model, [obj.pk])
    return obj


def record_update(
    *,
    model: type[M],
    pk: Any,
    user: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    derived: dict[str, Any] | None = None,
    locked: M | None = None,
) -> M:
    """Change fields of a record the user may change; 412 when ``expected_version`` is stale.

    ``locked``: the row as the caller's ``record_lock`` (same user, "change") returned it in this
    transaction, so it is not read and locked twice (a module's service checks it first).

    ``derived``: values the service keeps itself along with the change (when the owner changed, say),
    written and logged with ``data`` but not the user's input, so the role's read-only and hidden
    fields do not refuse them: hiding "owner since" must not stop a hand-over."""
    with service_atomic():
        _check_frozen(user, model, data)
        obj = locked if locked is not None else record_lock(model, pk, user, Action.CHANGE)
        check_version(obj, expected_version)
        if tags is not None:
            # In the change log's before and after (unchanged tags would not show), and for the tags' rule.
            _check_tags(user, model, tags_remember(obj), tags)
        before = snapshot(obj)
        assigned = _ownership_changed(model, data, before)
        if assigned and not restricted(model, user, Action.ASSIGN).filter(pk=obj.pk).exists():
            raise FieldErrors({"owner": [_("You may not assign this record to other people or teams.")]})
        stored = {f.name: getattr(obj, f.attname) for f in model._meta.concrete_fields}
        for name, value in {**data, **(derived or {})}.items():
            setattr(obj, name, value)
        if custom_fields is not None:
            stored_custom = getattr(obj, "custom_fields", None) or {}
            cleaned = clean_custom_fields(model, custom_fields, stored_custom)
            _check_custom(user, model, stored_custom, cleaned)
            obj.custom_fields = cleaned  # type: ignore[attr-defined]
        _validate(
            obj, changed={f.name for f in model._meta.concrete_fields if getattr(obj, f.attname) != stored[f.name]}
        )
        _bump(obj)
        obj.save()
        if tags is not None:
            tags_set(obj, tags)
        if not assigned and not restricted(model, user, Action.CHANGE).filter(pk=obj.pk).exists():
            raise PermissionDenied(_("This change would move the record outside what you may change."))
        after = snapshot(obj)
        changelog_record(actor=user, obj=obj, action=ChangeAction.UPDATE, before=before, after=after)
        search_reindex(model, [obj.pk], changed={k for k in after if before.get(k) != after[k]})
        return obj


def record_bulk_check(*, model: type[M], user: Any, data: dict[str, Any], sample: M, changed: set[str]) -> None:
    """What ``record_update`` would refuse of a change that is the same for every record (a bulk
    write's, ``records_checked``), asked once for all: fields the user may not
    write (``data``'s keys), and the new values' own checks (``_validate`` of the ``changed`` fields
    on ``sample``, one of the records with the change applied in memory)."""
    _check_frozen(user, model, data)
    _validate(sample, changed=changed)


def records_checked(
    model: type[M],
    user: Any,
    pks: list[Any],
    *,
    data: dict[str, Any],
    changed: set[str],
    apply: Callable[[M], None] = lambda record: None,
) -> tuple[list[M], Refused]:
    """The records locked (``record_lock_many``) and what ``record_update`` would refuse of a change that
    is the same for every record (``record_bulk_check``), asked once on one of them with the change
    applied (``apply``): the records to write, and those refused (all of them, when the check refuses)."""
    records, refused = record_lock_many(model, pks, user, Action.CHANGE)
    if not records:
        return [], refused
    sample = copy.copy(records[0])
    apply(sample)
    try:
        record_bulk_check(model=model, user=user, data=data, sample=sample, changed=changed)
    except GuanxiError as exc:
        return [], refused | dict.fromkeys((r.pk for r in records), exc)
    return records, refused


#: Fields whose change may take a record out of what the user may change, or needs "assign": a
#: bulk edit of them goes through ``record_update`` record by record, which checks both.
OWNERSHIP_FIELDS = frozenset({"owner", "owner_id", "team", "team_id"})


def record_update_bulk(
    *,
    model: type[M],
    user: Any,
    records: list[M],
    data: dict[Any, dict[str, Any]],
    custom_fields: dict[str, Any] | None = None,
) -> tuple[list[tuple[M, M]], Refused]:
    """``record_update(data=..., custom_fields=...)`` of many records in a few statements, whatever
    their number, for the bulk edit's ``Resource.bulk_update`` hooks. ``records``: locked already
    (``record_lock_many``); ``data[pk]``: each one's model attributes as its module's service
    prepared them (mostly alike; some derive a value from the record, a region from its province).
    Returns each record written, as it was and as it is now, and those refused, unwritten.

    What that call refuses, record by record and in its order: a field the user's role makes
    read-only or hidden among those prepared (``_check_frozen``), the custom fields' values merged
    over the record's (``clean_custom_fields``) and their rule (``_check_custom``), and the changed
    values' own checks (``_validate``, asked once of one record of each distinct change: they read
    the values only). What it writes: the fields, version + 1 and ``updated_at`` (one UPDATE; a
    value that differs between records by a CASE), a change-log row per record whose values
    changed (``changelog_records``: its hooks tell the followers and the owner) and every record's
    search document, as ``record_update`` rewrites each. Its check that the record stays within
    what the user may change is not needed: only an owner or a team moves a record out
    (``OWNERSHIP_FIELDS``, refused here: the single path checks them, with "assign"). Nor are the
    records checked against each other: a field under a unique constraint (an external id) is the
    single path's, where the second record to take a value finds the first."""
    if any(OWNERSHIP_FIELDS & set(changes) for changes in data.values()):
        raise ValueError("record_update_bulk does not change owners or teams")
    clean = custom_fields_cleaner(model, custom_fields) if custom_fields is not None else None
    concrete = model._meta.concrete_fields
    attnames = {f.name: f.attname for f in concrete}
    refused: Refused = {}
    edits: list[tuple[M, M, set[str]]] = []
    checked: dict[Any, GuanxiError | None] = {}  # a distinct change -> what its check said
    for record in records:
        changes = data[record.pk]
        obj = copy.copy(record)
        try:
            _check_frozen(user, model, changes)
            for name, value in changes.items():
                setattr(obj, name, value)
            if clean is not None:
                stored_custom = getattr(record, "custom_fields", None) or {}
                cleaned = clean(stored_custom)
                _check_custom(user, model, stored_custom, cleaned)
                obj.custom_fields = cleaned  # type: ignore[attr-defined]
            changed = {f.name for f in concrete if getattr(obj, f.attname) != getattr(record, f.attname)}
            # What the check reads: the values it checks (the custom fields were cleaned above).
            read = sorted(_checked_fields(model, changed) - {"custom_fields"})
            key = (frozenset(changed), tuple(repr(getattr(obj, attnames[n])) for n in read))
            if key not in checked:
                checked[key] = _refusal(obj, changed)
            error = checked[key]
            if error is not None:
                raise error
        except GuanxiError as exc:
            refused[record.pk] = exc
            continue
        edits.append((record, obj, changed))
    if not edits:
        return [], refused
    now = timezone.now()
    written = [obj.pk for _record, obj, _changed in edits]
    columns = {*(name for _r, obj, _c in edits for name in data[obj.pk]), *(["custom_fields"] if clean else [])}
    values = {name: value for name in sorted(columns) if (value := _column(model, name, edits)) is not None}
    manager: Any = getattr(model, "all_objects", model._default_manager)
    manager.filter(pk__in=written).update(**values, version=F("version") + 1, updated_at=now)
    rows, reindex = [], defaultdict(list)
    for record, obj, _changed in edits:
        _bump(obj)
        obj.updated_at = now  # type: ignore[attr-defined]
        before, after = snapshot(record), snapshot(obj)
        rows.append((obj.pk, str(obj), diff(before, after)))
        reindex[frozenset(k for k in after if before.get(k) != after[k])].append(obj.pk)
    changelog_records(actor=user, model=model, action=ChangeAction.UPDATE, rows=rows)
    for fields, pks in reindex.items():
        search_reindex(model, pks, changed=fields)
    return [(record, obj) for record, obj, _changed in edits], refused


def _refusal(obj: models.Model, changed: set[str]) -> GuanxiError | None:
    """What ``_validate`` says of a change, kept to say of each record that makes the same one."""
    try:
        _validate(obj, changed=changed)
    except GuanxiError as exc:
        return exc
    return None


def _column(model: type[models.Model], name: str, edits: list[tuple[Any, Any, set[str]]]) -> Any:
    """What one UPDATE sets a column to: the records' one new value, or a CASE by value when they
    differ or some keep theirs; None when none changes it (a value prepared as it was)."""
    field: Any = model._meta.get_field(name)
    by_value: dict[str, tuple[Any, list[Any]]] = {}
    for record, obj, _changed in edits:
        value = getattr(obj, field.attname)
        if value != getattr(record, field.attname):
            # Alike values in one group (two spellings of one, 1.0 and 1.00, make two: no harm).
            by_value.setdefault(repr(value), (value, []))[1].append(obj.pk)
    if not by_value:
        return None
    if len(by_value) == 1 and len(next(iter(by_value.values()))[1]) == len(edits):
        return Value(next(iter(by_value.values()))[0], output_field=field)
    whens = [When(pk__in=pks, then=Value(value, output_field=field)) for value, pks in by_value.values()]
    return Case(*whens, default=F(field.attname), output_field=field)


def record_tags_bulk(
    *, model: type[M], user: Any, pks: list[Any], tags: list[str], adding: bool
) -> tuple[list[tuple[M, list[str], list[str]]], Refused]:
    """``record_update(data={}, tags=...)`` of many records in a few statements, whatever their
    number: each record's tags with ``tags`` added or taken off (``core.tags.tags_after``), for the
    bulk actions' ``Resource.bulk_tags`` hooks. Returns each record written with its tags before
    and after, and the records refused.

    What that call writes, and so this: the tag rows (a new name joins the vocabulary), version + 1
    and ``updated_at``, and a change-log row of the tags before and after, whose hooks notify the
    followers. Not the search index: no document holds tags, so ``record_update``'s reindex writes
    each one as it was. What it refuses, record by record: a record gone or out of reach, a role's
    read-only or hidden "tags" (``records_checked``), and two tags of one scope after it
    (``tags_checked``: a record that held two already)."""
    # "tags" as the field written: a role's rule on it refuses here as in ``record_update``.
    records, refused = records_checked(model, user, pks, data={"tags": tags}, changed=set())
    if not records:
        return [], refused
    ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
    held: dict[Any, dict[str, int]] = {record.pk: {} for record in records}  # record -> tag name -> tag id
    items = TaggedItem.objects.filter(content_type=ct, object_id__in=list(held))
    for object_id, tag_id, name in items.values_list("object_id", "tag_id", "tag__name"):
        held[object_id][name] = tag_id
    written = []
    for record in records:
        before = sorted(held[record.pk])
        try:
            written.append((record, before, tags_checked(tags_after(before, tags, adding=adding))))
        except FieldErrors as exc:
            refused[record.pk] = exc
    if not written:
        return written, refused
    ids = {name: tag_id for names in held.values() for name, tag_id in names.items()}
    ids |= {tag.name: tag.pk for tag in tags_named(sorted({n for _r, _b, after in written for n in after} - set(ids)))}
    # One DELETE for the tags that come off (few: those named, or the other values of their scopes).
    gone: dict[int, list[Any]] = defaultdict(list)
    for record, before, after in written:
        for name in set(before) - set(after):
            gone[ids[name]].append(record.pk)
    if gone:
        which = functools.reduce(operator.or_, (Q(tag_id=tag, object_id__in=objs) for tag, objs in gone.items()))
        TaggedItem.objects.filter(which, content_type=ct).delete()
    TaggedItem.objects.bulk_create(
        [
            TaggedItem(tag_id=ids[name], content_type=ct, object_id=record.pk)
            for record, before, after in written
            for name in sorted(set(after) - set(before))
        ]
    )
    manager: Any = getattr(model, "all_objects", model._default_manager)
    manager.filter(pk__in=[record.pk for record, _b, _a in written]).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    logged = [(record.pk, str(record), diff({"tags": before}, {"tags": after})) for record, before, after in written]
    changelog_records(actor=user, model=model, action=ChangeAction.UPDATE, rows=logged)
    return written, refused


@transaction.atomic
def record_delete(*, model: type[M], pk: Any, user: Any, expected_version: int | None = None) -> M:
    """Move a record to the recycle bin (or delete it, for models without one), audited."""
    obj = record_lock(model, pk, user, Action.DELETE)
    check_version(obj, expected_version)
    before = snapshot(obj)
    if hasattr(obj, "deleted_at"):
        obj.deleted_at = timezone.now()
        obj.deleted_by_id = user.pk  # type: ignore[attr-defined]
        _bump(obj)
        obj.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
        changelog_record(actor=user, obj=obj, action=ChangeAction.DELETE, before=before, after=snapshot(obj))
    else:
        changelog_record(actor=user, obj=obj, action=ChangeAction.PURGE, before=before)
        _remove_dependents(obj)
        obj.delete()
    search_remove(model, [pk])
    return obj


def record_restore(*, model: type[M], pk: Any, user: Any, locked: M | None = None) -> M:
    """Bring a record back from the recycle bin. ``locked``: the row a module's service locked already
    (``record_lock(..., deleted=True)``), to check something of it first."""
    with service_atomic():  # no savepoint of its own in a bulk restore (``core.db.one_unit``)
        obj = locked if locked is not None else record_lock(model, pk, user, Action.DELETE, deleted=True)
        before = snapshot(obj)
        obj.deleted_at = None  # type: ignore[attr-defined]
        obj.deleted_by = None  # type: ignore[attr-defined]
        # A live record may have taken its unique name meanwhile: 400, not an IntegrityError. Only
        # the constraints over the bin's fields (unique among live records): the rest held when the
        # record was saved and stayed so in the bin (a bulk restore of 500 read its owner, team and
        # each check constraint again, 9 queries of 28 a record).
        _validate(obj, changed={"deleted_at", "deleted_by"})
        _bump(obj)
        obj.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
        changelog_record(actor=user, obj=obj, action=ChangeAction.RESTORE, before=before, after=snapshot(obj))
        search_reindex(model, [obj.pk])
    return obj


def record_reveal(*, model: type[M], pk: Any, user: Any, field: str) -> M:
    """The record whose ``field`` the user sees masked, to be shown in full (``guanxi.core.masking``):
    written to the change log, and at most ``GUANXI_REVEALS_PER_DAY`` a day for each user. Two
    requests at the same moment are counted one after the other (the day's row is locked)."""
    from django.conf import settings

    obj = restricted(model, user).filter(pk=pk).first() if getattr(model, "revealable", False) else None
    if obj is None:
        raise NotFound()
    masked = masked_fields(user, model)
    if field not in masked:
        raise FieldErrors(
            {"field": [_("Name a field you see masked: %(fields)s.") % {"fields": ", ".join(sorted(masked)) or "-"}]}
        )
    limit = settings.GUANXI_REVEALS_PER_DAY
    with service_atomic():
        day, _created = RevealCount.objects.select_for_update().get_or_create(user_id=user.pk, day=timezone.localdate())
        if day.count >= limit:
            raise PermissionDenied(
                _(
                    "You have seen %(limit)d masked values in full today, as many as a day allows. "
                    "Ask an administrator if you need more."
                )
                % {"limit": limit}
            )
        RevealCount.objects.filter(pk=day.pk).update(count=F("count") + 1)
        reveal_record(actor=user, obj=obj, fields=[field])
    return obj


#: Days a user's count of values seen in full (``RevealCount``) is kept: the allowance reads today's.
REVEAL_COUNT_DAYS = 90


def reveal_counts_purge_old(*, days: int = REVEAL_COUNT_DAYS, today: Any = None) -> int:
    """Delete the daily counts of ``record_reveal`` older than ``days`` (the daily purge runs it);
    the change log keeps each view. Returns how many rows went."""
    from datetime import timedelta

    cutoff = (today or timezone.localdate()) - timedelta(days=days)
    return RevealCount.objects.filter(day__lt=cutoff).delete()[0]


def _remove_dependents(obj: models.Model) -> None:
    """Rows that point at the record generically have no FK cascade; remove them explicitly."""
    from guanxi.identity.models import Share

    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    dependents: tuple[Any, ...] = (TaggedItem, Attachment, TimelineEntry, Note, Share)
    for dependent in dependents:
        manager = getattr(dependent, "all_objects", dependent._default_manager)
        rows = manager.filter(content_type=ct, object_id=obj.pk)
        if dependent is Attachment:
            for attachment in rows:
                attachment.file.delete(save=False)
        rows.delete()


def record_purge(*, model: type[M], pk: Any, user: Any) -> None:
    """Remove a record from the recycle bin for good; the change log keeps its last values."""
    with service_atomic():  # no savepoint of its own in a bulk purge (``core.db.one_unit``)
        obj = record_lock(model, pk, user, Action.DELETE, deleted=True)
        changelog_record(actor=user, obj=obj, action=ChangeAction.PURGE, before=snapshot(obj))
        _remove_dependents(obj)
        obj.delete()
        search_remove(model, [pk])


def recycle_bin_purge_expired(*, days: int | None = None, now: Any = None) -> dict[str, int]:
    """Purge records that have been in the recycle bin longer than ``days`` (default from settings).

    Runs as the system (a scheduled job), one record per transaction so a failure keeps the rest;
    each purge is in the change log with the record's last values.
    """
    from datetime import timedelta

    from django.conf import settings

    from guanxi.core.registry import resources

    days = settings.GUANXI_RECYCLE_BIN_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    purged: dict[str, int] = {}
    for resource in resources():
        model = resource.model
        if not resource.soft_delete or resource.read_only:
            continue
        manager: Any = getattr(model, "all_objects", model._default_manager)
        for pk in manager.filter(deleted_at__lt=cutoff).values_list("pk", flat=True).iterator():
            with transaction.atomic():
                obj = manager.select_for_update().filter(pk=pk, deleted_at__lt=cutoff).first()
                if obj is None:
                    continue  # restored meanwhile
                changelog_record(actor=None, obj=obj, action=ChangeAction.PURGE, before=snapshot(obj))
                _remove_dependents(obj)
                obj.delete()
            purged[resource.object_type] = purged.get(resource.object_type, 0) + 1
    return purged
