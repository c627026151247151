"""Keyset (cursor) pagination: deep pages cost what the first page costs.

The cursor carries the ordering and the last row's (value, id); the next page asks for rows after
that pair. Cursors are opaque to clients and checked on the way back in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F
from django.db.models.fields.tuple_lookups import (
    Tuple,
    TupleGreaterThan,
    TupleGreaterThanOrEqual,
    TupleLessThan,
    TupleLessThanOrEqual,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import BuiltinLookup, Exact, In
from django.db.models.sql.where import OR, WhereNode
from django.utils.translation import gettext as _

from guanxi.core.audit import _plain
from guanxi.core.errors import FieldErrors

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# How far down the whole list a restricted page looks by its sort index before it reads the
# user's rows another way (``page_keys``).
WALK = 1000
# At most this many index reads for the rest of such a page: one per way the user's rows reach
# them (their own, each team's, the pool, their shares; ``_branches``).
BRANCHES = 12


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def parse_limit(raw: Any, default: int = DEFAULT_LIMIT) -> int:
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise FieldErrors({"limit": [_("Use a whole number between 1 and %(max)s.") % {"max": MAX_LIMIT}]}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise FieldErrors({"limit": [_("Use a whole number between 1 and %(max)s.") % {"max": MAX_LIMIT}]})
    return limit


def _encode(ordering: str, value: Any, pk: Any) -> str:
    raw = json.dumps({"o": ordering, "v": _plain(value), "id": pk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, ordering: str) -> tuple[Any, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("o") != ordering or "id" not in data:
            raise ValueError
        return data.get("v"), int(data["id"])
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise FieldErrors(
            {"cursor": [_("This cursor is invalid or belongs to another sort order; start again without it.")]}
        ) from None


class _RowCompare(BuiltinLookup):
    """``(a, b) < (x, y)`` as a row value on every engine (Django writes the OR form on SQLite).

    Both SQLite (3.15+) and PostgreSQL turn a row-value comparison into a range on an index over
    (a, b), so a page deep in the list is found by one index seek instead of a filter on every
    earlier row.
    """

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        # Skip TupleLookupMixin.as_sql, which writes the OR form on SQLite: the plain operator.
        return BuiltinLookup.as_sql(self, compiler, connection)


class _RowLessThan(_RowCompare, TupleLessThan):
    pass


class _RowGreaterThan(_RowCompare, TupleGreaterThan):
    pass


class _RowLessThanOrEqual(_RowCompare, TupleLessThanOrEqual):
    pass


class _RowGreaterThanOrEqual(_RowCompare, TupleGreaterThanOrEqual):
    pass


def _after(qs: models.QuerySet, name: str, descending: bool, value: Any, pk: Any) -> models.QuerySet:
    """Rows after the cursor (``value``, ``pk``) in the order ``name`` [desc], id."""
    if name == "id":
        return qs.filter(pk__lt=pk) if descending else qs.filter(pk__gt=pk)
    lookup = _RowLessThan if descending else _RowGreaterThan
    return qs.filter(lookup(Tuple(F(name), F("pk")), (value, pk)))


def _up_to(qs: models.QuerySet, name: str, descending: bool, value: Any, pk: Any) -> models.QuerySet:
    """Rows up to and with (``value``, ``pk``) in the order ``name`` [desc], id: what ``_after`` leaves out."""
    if name == "id":
        return qs.filter(pk__gte=pk) if descending else qs.filter(pk__lte=pk)
    lookup = _RowGreaterThanOrEqual if descending else _RowLessThanOrEqual
    return qs.filter(lookup(Tuple(F(name), F("pk")), (value, pk)))


def _load(qs: models.QuerySet, ids: list[Any]) -> dict[Any, Any]:
    """The rows ``ids`` with ``qs``'s joins, prefetches and deferred fields, by primary key."""
    rows = qs.model._base_manager.using(qs.db).filter(pk__in=ids).order_by()
    rows.query.select_related = qs.query.select_related
    rows.query.deferred_loading = qs.query.deferred_loading
    if getattr(qs, "_prefetch_related_lookups", ()):
        rows = rows.prefetch_related(*getattr(qs, "_prefetch_related_lookups", ()))
    return {row.pk: row for row in rows}


def _nullable(qs: models.QuerySet, name: str) -> bool:
    if name == "id":
        return False
    field = qs.model._meta.get_field(name)
    # A generated column (``Contact.birthday_md``) says it through its output field.
    return bool(field.null or getattr(getattr(field, "output_field", None), "null", False))


def _indexes_empty_rows(model: type[models.Model], name: str) -> bool:
    """Whether an index on (``name``, …) holds the rows where ``name`` is empty. One that is partial
    on "``name`` IS NOT NULL" does not: contacts' last interaction keeps only the people followed up,
    so that imports pay nothing for it."""
    return any(
        index.fields
        and index.fields[0] == name
        and (index.condition is None or (f"{name}__isnull", False) not in _conditions(index.condition))
        for index in model._meta.indexes
    )


def _conditions(q: models.Q) -> list[Any]:
    """The (lookup, value) pairs of a partial index's condition, however nested."""
    out: list[Any] = []
    for child in q.children:
        out.extend(_conditions(child) if isinstance(child, models.Q) else [child])
    return out


def _sort_attr(ordering: str) -> str:
    """The attribute whose value goes in the next cursor."""
    name = ordering.lstrip("-")
    return "pk" if name == "id" else name


def _segments(qs: models.QuerySet, ordering: str, cursor: str | None) -> list[tuple[models.QuerySet, str]]:
    """``qs`` after the cursor, sorted by ``ordering`` with the id as tie-break, as the querysets to read
    in turn (one, but for a nullable field), each with the field it runs by beside the id ("id" for
    the empty rows of a nullable field: among them, the id alone sets the order).

    A nullable field sorts its empty values as the smallest (first going up, last going down) on
    both engines, which disagree by default. A row-value comparison with NULL matches nothing, so the
    empty rows are their own segment, in id order: each segment is one range of an index on
    (field, id), and a page that crosses from one to the other reads both.
    """
    descending = ordering.startswith("-")
    name = ordering.lstrip("-")
    value: Any = None
    pk: Any = None
    if cursor:
        value, pk = _decode(cursor, ordering)
        if name != "id" and value is not None:
            field = qs.model._meta.get_field(name)
            try:
                value = field.to_python(value)
            except ValidationError:
                raise FieldErrors({"cursor": [_("This cursor is invalid; start again without it.")]}) from None
    cycle = getattr(qs.model, "cyclic_orderings", {}).get(name)
    if cycle is not None:
        return _cyclic_segments(qs, name, descending, cursor, value, pk, cycle())
    if not _nullable(qs, name):
        if cursor:
            qs = _after(qs, name, descending, value, pk)
        order = [ordering] if name == "id" else [ordering, "-pk" if descending else "pk"]
        return [(qs.order_by(*order), name)]
    by_id = "-pk" if descending else "pk"
    empty = qs.filter(**{f"{name}__isnull": True})
    filled = qs.filter(**{f"{name}__isnull": False})
    among_empty = cursor is not None and value is None
    if among_empty:
        empty = empty.filter(pk__lt=pk) if descending else empty.filter(pk__gt=pk)
    elif cursor:
        filled = _after(filled, name, descending, value, pk)
    # The empty rows are sorted by the field too, though it is empty in all of them, when its index
    # holds them: PostgreSQL does not take "IS NULL" as an equality and would otherwise not read
    # that index. An index kept to the filled rows cannot serve them: then the primary key does.
    empty = empty.order_by(ordering, by_id) if _indexes_empty_rows(qs.model, name) else empty.order_by(by_id)
    segments = [(filled.order_by(ordering, by_id), name), (empty, "id")]
    if not descending:
        segments.reverse()
    if cursor and among_empty == descending:  # the cursor has left the first segment behind
        segments = segments[1:]
    return segments


def _cyclic_segments(
    qs: models.QuerySet, name: str, descending: bool, cursor: str | None, value: Any, pk: Any, pivot: Any
) -> list[tuple[models.QuerySet, str]]:
    """``_segments`` of a field sorted round a cycle from ``pivot`` (a model's ``cyclic_orderings``:
    birthdays by month and day from today's, the next one first). Going up, the rows from the pivot
    to the end, then those before it; going down, the latest before the pivot first, round to the
    pivot. Each part is one range of the field's index. Empty rows come last either way: they have
    no place in the cycle."""
    order = [f"-{name}", "-pk"] if descending else [name, "pk"]
    from_pivot = qs.filter(**{f"{name}__gte": pivot})
    before_pivot = qs.filter(**{f"{name}__lt": pivot})
    parts = [before_pivot, from_pivot] if descending else [from_pivot, before_pivot]
    segments = [(part.order_by(*order), name) for part in parts]
    if _nullable(qs, name):
        by_id = "-pk" if descending else "pk"
        empty = qs.filter(**{f"{name}__isnull": True})
        empty = empty.order_by(*order) if _indexes_empty_rows(qs.model, name) else empty.order_by(by_id)
        segments.append((empty, "id"))
    if not cursor:
        return segments
    if value is None:  # among the empty rows
        after = segments[-1][0].filter(pk__lt=pk) if descending else segments[-1][0].filter(pk__gt=pk)
        return [(after, "id")]
    first = (value < pivot) if descending else (value >= pivot)
    segments = segments if first else segments[1:]
    return [(_after(segments[0][0], name, descending, value, pk), name), *segments[1:]]


def _read(segments: list[tuple[models.QuerySet, str]], limit: int, keys: str | None = None) -> list[Any]:
    """Up to ``limit`` rows from the segments in turn; with ``keys`` (the sort attribute), (pk, its
    value) pairs instead."""
    out: list[Any] = []
    for qs, _by in segments:
        wanted = limit - len(out)
        if wanted <= 0:
            break
        out.extend(_rows(qs, keys)[:wanted])
    return out


def _rows(qs: models.QuerySet, keys: str | None) -> models.QuerySet:
    return qs.values_list("pk", keys) if keys else qs


def _read_restricted(
    qs: models.QuerySet, candidates: models.QuerySet, ordering: str, cursor: str | None, limit: int, keys: str
) -> list[Any]:
    """Up to ``limit`` (pk, ``keys``) pairs of a restricted list ``qs`` whose rows before ``restrict``
    are ``candidates``, from the cursor on.

    Sorted by an index that the user's rows are a part of, a page of them is found by walking that
    index and skipping the others: quick while they are many among the first rows (a manager's
    team), slow when they are few (a salesperson whose accounts were all last touched long ago:
    70–160 ms at 200,000 accounts). Planners guess that from how many rows there are, not from where
    they sit, so the walk is bounded here: up to the ``WALK``-th row of the whole list, found by
    one look-up in its sort index. Past that row, the rest of the page is read the way the
    restriction's own indexes find the user's rows: each way a row reaches the user (``_branches``:
    their own, each of their teams', the pool, their shares) by its own index, in order where one
    holds (owner or team, sort field, id), then merged.
    """
    descending = ordering.startswith("-")
    segments = _segments(qs, ordering, cursor)
    # The same segments from the start: their bound below replaces the cursor's (beyond it).
    whole = _segments(qs, ordering, None)[-len(segments) :]
    all_of = _segments(candidates, ordering, None)[-len(segments) :]
    walks = _segments(candidates, ordering, cursor)
    out: list[Any] = []
    for (segment, by), (from_start, _by), (unrestricted, _u), (walk, _w) in zip(
        segments, whole, all_of, walks, strict=True
    ):
        wanted = limit - len(out)
        if wanted <= 0:
            break
        key = "pk" if by == "id" else by
        edge = list(walk.values_list(key, "pk")[WALK - 1 : WALK])
        if not edge:  # the rest of the list is shorter than the walk
            out.extend(_rows(segment, keys)[:wanted])
            continue
        value, pk = edge[0]
        found = list(_rows(_up_to(segment, by, descending, value, pk), keys)[:wanted])
        if len(found) < wanted:
            past = (value, pk, wanted - len(found))
            branches = _branches(qs, candidates, by)
            if branches is None:
                rest = _past(from_start, key, descending, value, pk, by_index=False)
                found += _rows(rest, keys)[: past[2]]
            else:
                found += _merged(unrestricted, branches, key, descending, past, keys)
        out.extend(found)
    return out


def _past(qs: models.QuerySet, key: str, descending: bool, value: Any, pk: Any, *, by_index: bool) -> models.QuerySet:
    """``qs``'s rows past (``value``, ``pk``) in the order ``key`` [desc], id. Not ``by_index``: the
    sort key is written ``COALESCE(f, f)``, so that no planner walks the sort's index; the rows are
    found by the indexes of ``qs``'s other conditions, then sorted."""
    sort: Any = F(key) if by_index else Coalesce(F(key), F(key))
    lookup = _RowLessThan if descending else _RowGreaterThan
    return qs.filter(lookup(Tuple(sort, F("pk")), (value, pk))).order_by(
        sort.desc() if descending else sort.asc(), "-pk" if descending else "pk"
    )


def _branches(qs: models.QuerySet, candidates: models.QuerySet, by: str) -> list[tuple[Any, bool]] | None:
    """The condition ``restrict`` added to ``candidates`` to make ``qs``, split into the ways a row
    reaches the user (owner = me, team = each of mine, in the pool, shared), each with whether an
    index on (its column, ``by``, id) reads it in order. None: it does not split so (a text sort,
    whose order Python and the database's collation need not agree on; more than ``BRANCHES``).

    Read one by one, a manager's team's rows come in the order of the team's index, a page at most,
    where the whole condition (an OR) reads every row of the team and sorts them (a manager whose
    17,000 accounts were none among the latest 1,000 changed: 24 ms for a page of the API list)."""
    model = qs.model
    if by != "id" and isinstance(model._meta.get_field(by), models.CharField | models.TextField):
        return None
    where = qs.query.where
    added = where.children[len(candidates.query.where.children) :]
    if len(added) != 1 or where.connector != "AND" or where.negated:
        return None
    node = added[0]
    parts = node.children if isinstance(node, WhereNode) and node.connector == OR and not node.negated else [node]
    out: list[tuple[Any, bool]] = []
    for part in parts:
        ordered = _ordered(model, _column(part), by)
        if ordered and isinstance(part, In) and isinstance(part.rhs, list | tuple | set):
            out += [(Exact(part.lhs, value), True) for value in part.rhs]  # each team in order
        else:
            out.append((part, ordered and isinstance(part, Exact)))
        if len(out) > BRANCHES:
            return None
    return out


def _column(lookup: Any) -> str:
    """The field a lookup tests, when it tests a column of the list's own table ("" otherwise)."""
    target = getattr(getattr(lookup, "lhs", None), "target", None)
    return str(getattr(target, "name", "") or "")


def _ordered(model: type[models.Model], column: str, by: str) -> bool:
    """Is there an index on (``column``, ``by``, id): the rows of one value of ``column`` in order?"""
    return bool(column) and any(list(index.fields[:3]) == [column, by, "id"] for index in model._meta.indexes)


def _merged(
    unrestricted: models.QuerySet,
    branches: list[tuple[Any, bool]],
    key: str,
    descending: bool,
    past: tuple[Any, Any, int],
    keys: str,
) -> list[Any]:
    """Up to ``past[2]`` (pk, ``keys``) pairs past (``past[0]``, ``past[1]``): each branch's first
    rows, in order by its own index where it has one, merged (a row may reach the user twice)."""
    value, pk, wanted = past
    found: dict[Any, Any] = {}
    for condition, by_index in branches:
        part = unrestricted.all()
        part.query.where.add(condition, "AND")
        for row in _rows(_past(part, key, descending, value, pk, by_index=by_index), keys)[:wanted]:
            found[row[0]] = row
    # Within a segment the sort values are all there (or, sorted by id, the id itself).
    ranked = sorted(found.values(), key=lambda row: (row[1], row[0]), reverse=descending)
    return ranked[:wanted]


def _narrowed(qs: models.QuerySet, candidates: models.QuerySet | None) -> bool:
    """Did ``restrict`` narrow ``candidates`` into ``qs``? (It returns the same queryset when not.)"""
    return candidates is not None and candidates is not qs


def page_keys(
    qs: models.QuerySet,
    ordering: str,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    candidates: models.QuerySet | None = None,
) -> Page:
    """One page of ``qs`` as its primary keys only (``Page.items``), by a query on the table alone that
    an index on (field, id) answers. The caller loads the rows it needs by id.

    ``candidates``: ``qs`` before ``restrict`` narrowed it to the user's rows (the same filters), when
    it did; the page is then found as ``_read_restricted`` says. Its rows are never returned."""
    if candidates is not None and _narrowed(qs, candidates):
        keys = _read_restricted(qs, candidates, ordering, cursor, limit + 1, _sort_attr(ordering))
    else:
        keys = _read(_segments(qs, ordering, cursor), limit + 1, keys=_sort_attr(ordering))
    more = len(keys) > limit
    keys = keys[:limit]
    next_cursor = _encode(ordering, keys[-1][1], keys[-1][0]) if more and keys else None
    return Page(items=[key[0] for key in keys], next_cursor=next_cursor)


def paginate(
    qs: models.QuerySet,
    ordering: str,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    candidates: models.QuerySet | None = None,
) -> Page:
    """One page of ``qs`` sorted by ``ordering`` (one field, optional "-") with the id as tie-break.

    With joins (``select_related``) or prefetches the page's ids are chosen first (``page_keys``) and
    then loaded by id: a join cannot tempt the planner into sorting every row. So is a page of a
    restricted list with its ``candidates`` (``page_keys``).
    """
    prefetch: tuple[Any, ...] = getattr(qs, "_prefetch_related_lookups", ())
    if (qs.query.select_related or prefetch or _narrowed(qs, candidates)) and not qs.query.annotations:
        page = page_keys(qs, ordering, cursor, limit, candidates)
        loaded = _load(qs, page.items)
        return Page(items=[loaded[pk] for pk in page.items if pk in loaded], next_cursor=page.next_cursor)
    rows = _read(_segments(qs, ordering, cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(ordering, getattr(rows[-1], _sort_attr(ordering)), rows[-1].pk) if more and rows else None
    return Page(items=rows, next_cursor=next_cursor)
