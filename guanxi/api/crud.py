"""One generic CRUD router factory. A module configures a ``Resource``; this builds its routes.

Every route: authenticate (session or token), check the token's scope, fetch through
``restrict``, validate, call the service, answer JSON (or problem+json). Lists are keyset-paginated
and filtered by the resource's one ``FilterSet``.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ConfigDict, create_model

from guanxi.core import services
from guanxi.core.choices import Action
from guanxi.core.db import PkQuery, first_row, pk_query
from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied
from guanxi.core.filters import FilterSet
from guanxi.core.jsontext import dumps_bytes
from guanxi.core.masking import masked_value
from guanxi.core.models import Tag, TaggedItem
from guanxi.core.pagination import Page, page_keys, paginate, parse_limit
from guanxi.core.permissions import (
    masked_fields,
    may_reach,
    object_type_of,
    restrict_queryset,
    restricted,
    token_allows,
    unseen_references,
    withheld_fields,
)
from guanxi.core.registry import Resource

JSON = "application/json"


# --- serialisation --------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return {"id": value.pk, "display": str(value)}
    return value


def tag_names_for(model: type[models.Model], pks: Iterable[Any]) -> dict[Any, list[str]]:
    """Tags of many records in one query (no N+1 on lists), each record's by name."""
    out: dict[Any, list[str]] = {}
    for object_id, name in _tags_query(model).rows(list(pks)):
        out.setdefault(object_id, []).append(name)
    return out


def _tags_query(model: type[models.Model]) -> PkQuery:
    # By content type id, asked each time from Django's cache: a flushed and refilled table (tests)
    # gives the model a new id.
    ct = ContentType.objects.get_for_model(model, for_concrete_model=False).pk
    items = TaggedItem.objects.filter(content_type_id=ct)
    return pk_query(
        ("tags", ct),
        lambda ids: items.filter(object_id__in=ids).order_by("tag__name").values_list("object_id", "tag__name"),
    )


def serialize(
    obj: models.Model,
    resource: Resource,
    hidden: set[str],
    tags: list[str] | None = None,
    *,
    extra: dict[str, Any] | None = None,
    unseen: dict[str, set[Any]] | None = None,
    masked: set[str] | frozenset[str] = frozenset(),
) -> dict:
    """One record as JSON: the resource's fields (minus hidden ones), version, custom fields, tags and
    ``extra`` (what ``Resource.serialize_extra`` computed for this record). ``unseen``: the records
    each foreign key may point at that the reader may not see (``unseen_references``): their id
    without a name. ``masked``: fields given masked (``read_fields``)."""
    data: dict[str, Any] = {"id": obj.pk}
    for name in resource.fields:
        if name in hidden:
            continue
        field = obj._meta.get_field(name)
        if isinstance(field, models.ForeignKey) and field.many_to_one:
            pk = getattr(obj, field.attname)
            if unseen and pk in unseen.get(name, ()):
                data[name] = {"id": pk, "display": None}
                continue
            related = getattr(obj, name)
            data[name] = plain(related) if related is not None else None
        elif isinstance(field, models.FileField):
            data[name] = getattr(obj, name).name or None
        else:
            data[name] = plain(getattr(obj, name))
    if hasattr(obj, "version"):
        data["version"] = obj.version
    if resource.custom_fields and "custom_fields" not in hidden:
        data["custom_fields"] = dict(getattr(obj, "custom_fields", {}) or {})
    if resource.taggable and "tags" not in hidden:
        data["tags"] = tags or []
    for key, value in (extra or {}).items():
        if key not in hidden:
            data[key] = value
    return _masked(data, masked)


def read_fields(user: Any, model: type[models.Model]) -> tuple[set[str], set[str]]:
    """(the fields a user's JSON leaves out, those it gives masked)."""
    return withheld_fields(user, model), masked_fields(user, model)


def _masked(data: dict[str, Any], masked: set[str] | frozenset[str]) -> dict[str, Any]:
    """The record's ``masked`` fields as the reader may have them (``guanxi.core.masking``; a related
    record, a JSON object here, reads as stars)."""
    for name in masked & data.keys():
        data[name] = masked_value(data[name])
    return data


def extras_for(resource: Resource, objs: list[Any], user: Any) -> dict[Any, dict[str, Any]]:
    """``Resource.serialize_extra`` for a page of records (one call, so one query, per page)."""
    if resource.serialize_extra is None or not objs:
        return {}
    return resource.serialize_extra(objs, user)


# --- lists: rows as dicts ---------------------------------------------------------------------------
#
# A list page is read as ``.values()`` dicts, not model instances: no model ``__init__`` per row and
# per joined user or team, and only the columns the response shows. A foreign key's ``display`` is
# ``str()`` of the related record, built once per distinct record of the page from the few columns
# its ``__str__`` reads (``DISPLAY_FIELDS``), joined into the same query. The output is what
# ``serialize`` gives for the same record, key for key.

#: The columns ``__str__`` reads, per model that list records point at (``app_label.model_name``).
#: A record is rebuilt from them with only those fields loaded, then ``str()`` runs the model's own
#: ``__str__``; tests/api/test_list_rows.py checks that it reads nothing else. A resource with a
#: foreign key to a model not listed here is serialised from model instances (``serialize``).
DISPLAY_FIELDS: dict[str, tuple[str, ...]] = {
    "identity.user": ("display_name", "email"),
    "identity.team": ("name",),
    "identity.role": ("name",),
    "customers.account": ("name",),
    "customers.contact": ("display_name",),
    "customers.customerprofile": ("name",),
    "contenttypes.contenttype": ("app_label", "model"),
}

_PLAIN, _TEMPORAL, _DECIMAL, _FILE, _RELATION = range(5)

_EXTRAS_BY_PK: set[Callable[..., Any]] = set()


@dataclass(frozen=True, slots=True)
class Key:
    """A record as an ``extra_by_pk`` function sees it on a list: its primary key alone."""

    pk: Any


def extra_by_pk(func: Callable[[list[Any], Any], dict[Any, dict[str, Any]]]) -> Callable[..., Any]:
    """Mark a ``Resource.serialize_extra`` that reads nothing but ``obj.pk``: lists then hand it the
    page's records without loading them as model instances."""
    _EXTRAS_BY_PK.add(func)
    return func


@dataclass(frozen=True)
class _Column:
    name: str  # the key of the output and of the resource's field
    attname: str  # the key in ``.values()`` (``owner_id`` for ``owner``)
    kind: int
    related: type[models.Model] | None = None
    # Foreign keys: the related model's attnames (pk first, in field order) and their ``.values()`` keys.
    display_attnames: tuple[str, ...] = ()
    display_lookups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowPlan:
    pk: str
    columns: tuple[_Column, ...]
    version: bool
    custom_fields: bool


_plans: dict[tuple[Any, ...], RowPlan | None] = {}


def _relation_column(name: str, field: Any) -> _Column | None:
    related = field.related_model
    wanted = DISPLAY_FIELDS.get(related._meta.label_lower)
    # ``{"id": related.pk, ...}``: the column holds the pk only when the key targets it.
    if wanted is None or not field.many_to_one or field.target_field != related._meta.pk:
        return None
    fields = [f for f in related._meta.concrete_fields if f.primary_key or f.name in wanted]
    if len(fields) != len(wanted) + 1 or not fields[0].primary_key:
        return None
    return _Column(
        name,
        field.attname,
        _RELATION,
        related,
        tuple(f.attname for f in fields),
        tuple(f"{name}__{f.attname}" for f in fields),
    )


def row_plan(resource: Resource) -> RowPlan | None:
    """How to read the resource's fields from ``.values()``; None when ``serialize`` must do it."""
    key = (resource.model, resource.fields, resource.custom_fields, resource.serialize_extra)
    if key in _plans:
        return _plans[key]
    model = resource.model
    concrete = {f.name for f in model._meta.concrete_fields}
    columns: list[_Column | None] = []
    supported = resource.serialize_extra is None or resource.serialize_extra in _EXTRAS_BY_PK
    for name in resource.fields if supported else ():
        field: Any = model._meta.get_field(name)
        if name not in concrete:
            columns.append(None)
        elif field.is_relation:
            columns.append(_relation_column(name, field))
        elif isinstance(field, models.FileField):
            columns.append(_Column(name, field.attname, _FILE))
        elif isinstance(field, models.DateField | models.TimeField):  # DateTimeField is a DateField
            columns.append(_Column(name, field.attname, _TEMPORAL))
        elif isinstance(field, models.DecimalField):
            columns.append(_Column(name, field.attname, _DECIMAL))
        else:
            columns.append(_Column(name, field.attname, _PLAIN))
    has_version = hasattr(model, "version")
    supported = (
        supported
        and None not in columns
        and (not has_version or "version" in concrete)
        and (not resource.custom_fields or "custom_fields" in concrete)
    )
    plan = None
    if supported:
        plan = RowPlan(model._meta.pk.attname, tuple(c for c in columns if c), has_version, resource.custom_fields)
    _plans[key] = plan
    return plan


def page_rows(
    resource: Resource,
    plan: RowPlan,
    qs: models.QuerySet,
    ordering: str,
    request: HttpRequest,
    hidden: set[str],
    candidates: models.QuerySet | None = None,
) -> tuple[Page, list[dict[str, Any]]]:
    """One keyset page of ``qs``: the page (its items are the primary keys) and its rows as
    ``.values()`` dicts in page order, with the columns the user may see.

    Two queries, like ``paginate`` with joins: the page's ids from the table alone (an index on the
    sort key answers it), then those rows by id with the joined display columns (``PkQuery``).
    """
    page = page_keys(qs, ordering, request.GET.get("cursor"), parse_limit(request.GET.get("limit")), candidates)
    if not page.items:
        return page, []
    names = row_names(plan, hidden)
    loaded = {
        row[0]: dict(zip(names, row, strict=True)) for row in _rows_query(resource.model, names, qs.db).rows(page.items)
    }
    return page, [loaded[pk] for pk in page.items if pk in loaded]


def _rows_query(model: type[models.Model], names: list[str], using: str) -> PkQuery:
    """The read of a page's rows by id for these columns (compiled once per page size, see ``PkQuery``).
    No ORDER BY: the model's default ordering would sort rows that are put in page order."""
    manager = model._base_manager.using(using)
    return pk_query(
        ("rows", model, tuple(names), using),
        lambda ids: manager.filter(pk__in=ids).order_by().values_list(*names),
        using,
    )


def row_names(plan: RowPlan, hidden: set[str]) -> list[str]:
    """The ``.values()`` names of a row: the columns the user may see, with the joined display columns."""
    names = [plan.pk]
    for column in plan.columns:
        if column.name not in hidden:
            names.append(column.attname)
            names.extend(column.display_lookups[1:])  # the pk is the column itself
    if plan.version:
        names.append("version")
    if plan.custom_fields:
        names.append("custom_fields")
    return names


def serialize_rows(
    resource: Resource,
    plan: RowPlan,
    rows: list[dict[str, Any]],
    hidden: set[str],
    tags: dict[Any, list[str]],
    extra: dict[Any, dict[str, Any]],
    *,
    db: str = "default",
    unseen: dict[str, set[Any]] | None = None,
    masked: set[str] | frozenset[str] = frozenset(),
) -> list[dict]:
    """Rows read by ``page_rows`` as JSON: what ``serialize`` gives for each record, key for key."""
    columns = [c for c in plan.columns if c.name not in hidden]
    displays: dict[tuple[Any, Any], str] = {}  # (related model, pk) -> str(record), once per record
    pk = plan.pk
    taggable = resource.taggable
    items = []
    for row in rows:
        data: dict[str, Any] = {"id": row[pk]}
        for column in columns:
            value = row[column.attname]
            kind = column.kind
            if kind == _PLAIN:
                data[column.name] = value
            elif value is None:
                data[column.name] = None
            elif kind == _RELATION:
                if unseen and value in unseen.get(column.name, ()):
                    data[column.name] = {"id": value, "display": None}
                    continue
                display = displays.get((column.related, value))
                if display is None:
                    related: Any = column.related
                    values = [value, *(row[lookup] for lookup in column.display_lookups[1:])]
                    display = displays[(related, value)] = str(related.from_db(db, column.display_attnames, values))
                data[column.name] = {"id": value, "display": display}
            elif kind == _TEMPORAL:
                data[column.name] = value.isoformat()
            elif kind == _DECIMAL:
                data[column.name] = str(value)
            else:  # _FILE
                data[column.name] = value or None
        if plan.version:
            data["version"] = row["version"]
        if plan.custom_fields and "custom_fields" not in hidden:
            data["custom_fields"] = dict(row["custom_fields"] or {})
        if taggable and "tags" not in hidden:
            data["tags"] = tags.get(row[pk]) or []
        for key, value in extra.get(row[pk], {}).items():
            if key not in hidden:
                data[key] = value
        items.append(_masked(data, masked))
    return items


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(dumps_bytes(data), status=status, content_type=JSON)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def etag(obj: models.Model) -> str:
    return f'"v{getattr(obj, "version", 0)}"'


def parse_if_match(request: HttpRequest) -> int | None:
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"').removeprefix("v")
    try:
        return int(value)
    except ValueError:
        raise FieldErrors({"If-Match": ['Send the ETag you received, e.g. "v3".']}) from None


# --- input schemas --------------------------------------------------------------------------------

_TYPE_MAP: list[tuple[type[models.Field], Any]] = [
    (models.BooleanField, bool),
    (models.BigIntegerField, int),
    (models.IntegerField, int),
    (models.DecimalField, decimal.Decimal),
    (models.FloatField, float),
    (models.DateTimeField, datetime.datetime),
    (models.DateField, datetime.date),
    (models.JSONField, Any),
]


def _python_type(field: models.Field) -> Any:
    if field.is_relation:
        return int
    for django_type, python_type in _TYPE_MAP:
        if isinstance(field, django_type):
            return python_type
    return str


def input_schema(resource: Resource, *, name: str) -> type:
    """A pydantic model of the writable fields; unknown keys are refused (a typo must not pass)."""
    definitions: dict[str, Any] = {}
    for field_name in resource.write_fields:
        field: Any = resource.model._meta.get_field(field_name)
        definitions[field_name] = (_python_type(field) | None, None)
    if resource.taggable:
        definitions["tags"] = (list[str] | None, None)
    if resource.custom_fields:
        definitions["custom_fields"] = (dict[str, Any] | None, None)
    for extra_name, (extra_type, default) in resource.extra_input.items():
        definitions[extra_name] = (extra_type | None, default)
    return create_model(name, __config__=ConfigDict(extra="forbid"), **definitions)


def to_model_data(resource: Resource, payload: dict[str, Any]) -> dict[str, Any]:
    """Turn API input into model attributes; foreign keys by id, checked to exist."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in payload.items():
        if name in ("tags", "custom_fields") or name in resource.extra_input:
            continue
        field = resource.model._meta.get_field(name)
        if field.is_relation and field.many_to_one:
            if value is None:
                data[f"{name}_id"] = None
                continue
            related = field.related_model._default_manager  # type: ignore[union-attr]
            if not related.filter(pk=value).exists():
                errors[name] = [f"No {field.related_model._meta.verbose_name} with id {value}."]  # type: ignore[union-attr]
                continue
            data[f"{name}_id"] = value
        elif value is None and not field.null:
            if isinstance(field, models.CharField | models.TextField):
                data[name] = ""
            else:
                errors[name] = ["This field cannot be empty."]
        else:
            data[name] = value
    if errors:
        raise FieldErrors(errors)
    return data


# --- the router -----------------------------------------------------------------------------------


def require_token_scope(request: HttpRequest, object_type: str, action: str) -> None:
    scopes = getattr(request.user, "token_scopes", None)
    if scopes is not None and not token_allows(scopes, object_type, action):
        raise PermissionDenied(_("This API token lacks the scope %(scope)s.") % {"scope": f"{object_type}:{action}"})


def list_parameters(filterset: type[FilterSet]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"in": "query", "name": "limit", "schema": {"type": "integer", "maximum": 200}, "required": False},
        {"in": "query", "name": "cursor", "schema": {"type": "string"}, "required": False},
        {
            "in": "query",
            "name": "ordering",
            "schema": {"type": "string", "enum": [p + f for f in filterset.ordering_fields for p in ("", "-")]},
            "required": False,
        },
        {
            "in": "query",
            "name": "updated_since",
            "schema": {"type": "string", "format": "date-time"},
            "required": False,
        },
    ]
    if filterset.search_fields:
        params.append({"in": "query", "name": "search", "schema": {"type": "string"}, "required": False})
    for name, lookups in filterset.filters.items():
        # Values with a meaning of their own (owner=me, team=mine, tier=none), described in English
        # like the rest of the schema.
        with translation.override("en"):
            words = {value: str(entry[0]) for value, entry in filterset.relative_values.get(name, {}).items()}
            if name in filterset.empty_values:
                value, label = filterset.empty_values[name]
                words[value] = str(label)
        for lookup in lookups:
            param: dict[str, Any] = {
                "in": "query",
                "name": name if lookup == "exact" else f"{name}__{lookup}",
                "schema": {"type": "string"},
                "required": False,
            }
            if words and lookup in ("exact", "in"):
                param["description"] = "Also: " + "; ".join(f"{value} ({label})" for value, label in words.items())
            params.append(param)
    return params


def list_page(
    request: HttpRequest,
    resource: Resource,
    qs: models.QuerySet,
    ordering: str,
    candidates: models.QuerySet | None = None,
) -> tuple[list[dict], str | None]:
    """One keyset page of ``qs`` (already restricted and filtered) as JSON items, and the next cursor;
    ``candidates`` as ``page_keys`` takes them.

    Read as rows (``page_rows``/``serialize_rows``) when the resource allows it, else as model
    instances through ``serialize``; both give the same items.
    """
    user = request.user
    hidden, masked = read_fields(user, resource.model)
    plan = row_plan(resource)
    if plan is not None:
        page, rows = page_rows(resource, plan, qs, ordering, request, hidden, candidates)
        ids = [row[plan.pk] for row in rows]
        tags = tag_names_for(resource.model, ids) if resource.taggable and ids else {}
        extra = extras_for(resource, [Key(pk) for pk in ids], user)
        unseen = unseen_references(user, resource.model, resource.fields, rows)
        items = serialize_rows(resource, plan, rows, hidden, tags, extra, unseen=unseen, masked=masked)
        return items, page.next_cursor
    if resource.select_related:
        qs = qs.select_related(*resource.select_related)
    page = paginate(qs, ordering, request.GET.get("cursor"), parse_limit(request.GET.get("limit")), candidates)
    tags = tag_names_for(resource.model, [o.pk for o in page.items]) if resource.taggable else {}
    extra = extras_for(resource, page.items, user)
    unseen = unseen_references(user, resource.model, resource.fields, page.items)
    items = [
        serialize(o, resource, hidden, tags.get(o.pk), extra=extra.get(o.pk), unseen=unseen, masked=masked)
        for o in page.items
    ]
    return items, page.next_cursor


def list_records(request: HttpRequest, resource: Resource) -> HttpResponse:
    user = request.user
    require_token_scope(request, resource.object_type, Action.VIEW)
    if not may_reach(user, resource.model, Action.VIEW):
        raise PermissionDenied()
    # Filtered first, then restricted: the page is found with the list as it would be without the
    # restriction (``page_keys``'s candidates), never shown.
    candidates, ordering = resource.filterset(request.GET, user).apply(resource.model._default_manager.all())
    qs = restrict_queryset(candidates, user, Action.VIEW)
    items, next_cursor = list_page(request, resource, qs, ordering, candidates)
    return json_response({"items": items, "next_cursor": next_cursor})


def get_visible(request: HttpRequest, resource: Resource, pk: int) -> models.Model:
    qs = restricted(resource.model, request.user, Action.VIEW)
    if resource.select_related:
        qs = qs.select_related(*resource.select_related)
    obj = first_row(qs.filter(pk=pk))
    if obj is None:
        raise NotFound()
    return obj


def read_response(request: HttpRequest, resource: Resource, pk: int) -> HttpResponse:
    """GET of one record: read as a row (one query through ``restrict``, the display columns joined),
    like a list's rows; as a model instance through ``serialize`` when the resource needs that.
    Both give the same JSON. Answers 304 when ``If-None-Match`` names the current version."""
    plan = row_plan(resource)
    if plan is None:
        obj = get_visible(request, resource, pk)
        if request.headers.get("If-None-Match") == etag(obj):
            return HttpResponse(status=304, headers={"ETag": etag(obj)})
        return detail_response(request, resource, obj)
    user = request.user
    hidden, masked = read_fields(user, resource.model)
    row = first_row(restricted(resource.model, user, Action.VIEW).filter(pk=pk).values(*row_names(plan, hidden)))
    if row is None:
        raise NotFound()
    # The record as far as ``etag`` and the by-pk extras read it (its pk and version).
    record = resource.model(pk=row[plan.pk], **({"version": row["version"]} if plan.version else {}))
    tag = etag(record)
    if request.headers.get("If-None-Match") == tag:
        return HttpResponse(status=304, headers={"ETag": tag})
    tags = tag_names_for(resource.model, [record.pk]) if resource.taggable else {}
    extra = extras_for(resource, [record], user)
    unseen = unseen_references(user, resource.model, resource.fields, [row])
    data = serialize_rows(resource, plan, [row], hidden, tags, extra, unseen=unseen, masked=masked)[0]
    return json_response(data, headers={"ETag": tag})


def detail_response(request: HttpRequest, resource: Resource, obj: models.Model, status: int = 200) -> HttpResponse:
    tags = tag_names_for(resource.model, [obj.pk]).get(obj.pk) if resource.taggable else None
    extra = extras_for(resource, [obj], request.user).get(obj.pk)
    unseen = unseen_references(request.user, resource.model, resource.fields, [obj])
    hidden, masked = read_fields(request.user, resource.model)
    data = serialize(obj, resource, hidden, tags, extra=extra, unseen=unseen, masked=masked)
    return json_response(data, status=status, headers={"ETag": etag(obj)})


def build_router(resource: Resource) -> Router:
    """Routes for one resource: list, create, read, update (PATCH/PUT), delete."""
    router = Router(tags=[resource.path])
    # The resource's own operations first: a fixed path such as "/recompute" must be matched
    # before "/{id}" takes it for an id. Same-path operations (e.g. DELETE "/{id}") merge either way.
    if resource.routes is not None:
        resource.routes(router, resource)
    if not resource.read_only:
        _add_bulk_route(router, resource)  # "/bulk" before "/{id}" too

    def _list(request: HttpRequest) -> HttpResponse:
        return list_records(request, resource)

    router.add_api_operation(
        "",
        ["GET"],
        _list,
        summary=f"List {resource.path}",
        openapi_extra={"parameters": list_parameters(resource.filterset)},
        operation_id=f"{resource.path.replace('-', '_')}_list",
    )

    def _get(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        return read_response(request, resource, id)

    router.add_api_operation(
        "/{id}",
        ["GET"],
        _get,
        summary=f"Read one of {resource.path}",
        operation_id=f"{resource.path.replace('-', '_')}_read",
    )

    if not resource.read_only:
        _add_write_routes(router, resource)
    if getattr(resource.model, "followable", False):
        _add_follow_routes(router, resource)
    if getattr(resource.model, "revealable", False):
        _add_reveal_route(router, resource)
    return router


class RevealIn(Schema):
    """Which field to show in full (``POST /<path>/{id}/reveal``)."""

    field: str


def _add_reveal_route(router: Router, resource: Resource) -> None:
    """``POST /{id}/reveal`` with ``{"field": "phones"}``: a field the reader's role shows masked, in
    full; written to the change log, a day's number capped (``record_reveal``)."""

    def _reveal(request: HttpRequest, id: int, payload: RevealIn) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        obj = services.record_reveal(model=resource.model, pk=id, user=request.user, field=payload.field)
        value = serialize(obj, resource, set(resource.fields) - {payload.field}).get(payload.field)
        return json_response({"id": id, "field": payload.field, "value": value})

    router.add_api_operation(
        "/{id}/reveal",
        ["POST"],
        _reveal,
        summary=f"Show a masked field of one of {resource.path} in full",
        operation_id=f"{resource.path.replace('-', '_')}_reveal",
    )


def _add_follow_routes(router: Router, resource: Resource) -> None:
    """``POST /{id}/follow`` and ``DELETE /{id}/follow``: the asking user follows a record they may
    see (关注), or stops; ``followed=me`` on the list gives the records they follow."""
    from guanxi.core.follows import record_follow

    def _set(request: HttpRequest, id: int, following: bool) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.VIEW)
        now = record_follow(user=request.user, model=resource.model, pk=id, following=following)
        return json_response({"id": id, "following": now})

    def _follow(request: HttpRequest, id: int) -> HttpResponse:
        return _set(request, id, True)

    def _unfollow(request: HttpRequest, id: int) -> HttpResponse:
        return _set(request, id, False)

    name = resource.path.replace("-", "_")
    for method, view, summary in (("POST", _follow, "Follow"), ("DELETE", _unfollow, "Stop following")):
        router.add_api_operation(
            "/{id}/follow",
            [method],
            view,
            summary=f"{summary} one of {resource.path}",
            operation_id=f"{name}_{view.__name__.lstrip('_')}",
        )


def _add_bulk_route(router: Router, resource: Resource) -> None:
    """``POST /<path>/bulk``: one action on many records (by ids or a list query); 202 + job when large."""
    from ninja import Schema

    from guanxi.core.bulk import ASSIGNING, bulk_resources, bulk_start_or_run, permission_of

    if resource not in bulk_resources():
        return

    class BulkIn(Schema):
        action: str
        ids: list[int] | None = None
        query: dict[str, Any] | None = None
        data: dict[str, Any] | None = None
        owner: int | None = None
        tags: list[str] | None = None
        reason: str | None = None  # release: why the records go back to the customer pool
        reason_id: int | None = None  # release: one of the release reasons (GET /pool-reasons)

    BulkIn.__name__ = f"{resource.model.__name__}BulkIn"

    def _bulk(request: HttpRequest, payload: BulkIn) -> HttpResponse:
        from guanxi.core.api_jobs import job_json

        require_token_scope(request, resource.object_type, permission_of(payload.action))
        if payload.action in ASSIGNING:
            require_token_scope(request, resource.object_type, Action.ASSIGN)
        outcome = bulk_start_or_run(
            resource=resource,
            user=request.user,
            action=payload.action,
            ids=payload.ids,
            query=payload.query,
            data=payload.data,
            owner=payload.owner,
            tags=payload.tags,
            reason=payload.reason,
            reason_id=payload.reason_id,
        )
        if isinstance(outcome, dict):
            return json_response(outcome)
        return json_response(job_json(outcome), status=202, headers={"Location": f"/api/v1/jobs/{outcome.pk}"})

    _bulk.__annotations__["payload"] = BulkIn
    router.add_api_operation(
        "/bulk",
        ["POST"],
        _bulk,
        response={200: dict, 202: dict},
        summary=f"One action on many {resource.path}: update, owner, tag_add, tag_remove, delete"
        + (", assign_rules" if resource.assign_by_rules is not None else "")
        + (", claim, release (with a reason)" if resource.pool is not None else "")
        + (", follow, unfollow" if getattr(resource.model, "followable", False) else ""),
        operation_id=f"{resource.path.replace('-', '_')}_bulk",
    )


def _add_write_routes(router: Router, resource: Resource) -> None:
    model_name = resource.model.__name__
    CreateSchema = input_schema(resource, name=f"{model_name}Create")
    UpdateSchema = input_schema(resource, name=f"{model_name}Update")
    create_service = resource.create or services.record_create
    update_service = resource.update or services.record_update
    delete_service = resource.delete or services.record_delete

    def _create(request: HttpRequest, payload: CreateSchema) -> HttpResponse:  # type: ignore[valid-type]
        require_token_scope(request, resource.object_type, Action.ADD)
        raw = payload.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        missing = [f for f in resource.required_fields if raw.get(f) in (None, "")]
        if missing:
            raise FieldErrors({f: ["This field is required."] for f in missing})
        obj = create_service(
            model=resource.model,
            user=request.user,
            data=to_model_data(resource, raw),
            **_extras(resource, raw),
        )
        return detail_response(request, resource, get_visible_after_write(request, resource, obj), status=201)

    _create.__annotations__["payload"] = CreateSchema
    router.add_api_operation(
        "",
        ["POST"],
        _create,
        response={201: dict},
        summary=f"Create one of {resource.path}",
        operation_id=f"{resource.path.replace('-', '_')}_create",
    )

    def _update(request: HttpRequest, id: int, payload: UpdateSchema) -> HttpResponse:  # type: ignore[valid-type]
        require_token_scope(request, resource.object_type, Action.CHANGE)
        raw = payload.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        if request.method == "PUT":
            missing = [f for f in resource.required_fields if raw.get(f) in (None, "")]
            if missing:
                raise FieldErrors({f: ["This field is required."] for f in missing})
        obj = update_service(
            model=resource.model,
            pk=id,
            user=request.user,
            data=to_model_data(resource, raw),
            expected_version=parse_if_match(request),
            **_extras(resource, raw),
        )
        return detail_response(request, resource, get_visible_after_write(request, resource, obj))

    _update.__annotations__["payload"] = UpdateSchema
    router.add_api_operation(
        "/{id}",
        ["PATCH", "PUT"],
        _update,
        summary=f"Change one of {resource.path} (send If-Match)",
        operation_id=f"{resource.path.replace('-', '_')}_update",
    )

    def _delete(request: HttpRequest, id: int) -> HttpResponse:
        require_token_scope(request, resource.object_type, Action.DELETE)
        delete_service(model=resource.model, pk=id, user=request.user, expected_version=parse_if_match(request))
        return HttpResponse(status=204)

    router.add_api_operation(
        "/{id}",
        ["DELETE"],
        _delete,
        response={204: None},
        summary=f"Delete one of {resource.path} (to the recycle bin where it has one)",
        operation_id=f"{resource.path.replace('-', '_')}_delete",
    )


def _extras(resource: Resource, raw: dict[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if resource.taggable and "tags" in raw:
        extras["tags"] = raw["tags"] or []
    if resource.custom_fields and "custom_fields" in raw:
        extras["custom_fields"] = raw["custom_fields"] or {}
    for name in resource.extra_input:
        if name in raw:  # only what the client sent: a PATCH without it leaves it alone
            extras[name] = raw[name]
    return extras


def get_visible_after_write(request: HttpRequest, resource: Resource, obj: models.Model) -> models.Model:
    """Re-read through restrict; a record assigned away may no longer be visible: answer what was written."""
    qs = restricted(resource.model, request.user, Action.VIEW)
    if resource.select_related:
        qs = qs.select_related(*resource.select_related)
    return first_row(qs.filter(pk=obj.pk)) or obj


__all__ = ["build_router", "serialize", "extras_for", "json_response", "object_type_of", "Tag"]
