"""One generic CRUD router factory. A module configures a ``Resource``; this builds its routes.

Every route: authenticate (session or token), check the token's scope, fetch through
``restrict``, validate, call the service, answer JSON (or problem+json). Lists are keyset-paginated
and filtered by the resource's one ``FilterSet``.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router
from pydantic import ConfigDict, create_model

from guanxi.core import services
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied
from guanxi.core.filters import FilterSet
from guanxi.core.models import Tag, TaggedItem
from guanxi.core.pagination import paginate, parse_limit
from guanxi.core.permissions import hidden_fields, may_reach, object_type_of, restricted, token_allows
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
    """Tags of many records in one query (no N+1 on lists)."""
    ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
    out: dict[Any, list[str]] = {}
    rows = TaggedItem.objects.filter(content_type=ct, object_id__in=list(pks)).values_list("object_id", "tag__name")
    for object_id, name in rows.order_by("tag__name"):
        out.setdefault(object_id, []).append(name)
    return out


def serialize(
    obj: models.Model,
    resource: Resource,
    hidden: set[str],
    tags: list[str] | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> dict:
    """One record as JSON: the resource's fields (minus hidden ones), version, custom fields, tags and
    ``extra`` (what ``Resource.serialize_extra`` computed for this record)."""
    data: dict[str, Any] = {"id": obj.pk}
    for name in resource.fields:
        if name in hidden:
            continue
        field = obj._meta.get_field(name)
        if field.is_relation and field.many_to_one:
            related = getattr(obj, name)
            data[name] = plain(related) if related is not None else None
        elif isinstance(field, models.FileField):
            data[name] = getattr(obj, name).name or None
        else:
            data[name] = plain(getattr(obj, name))
    if hasattr(obj, "version"):
        data["version"] = obj.version
    if resource.custom_fields:
        data["custom_fields"] = dict(getattr(obj, "custom_fields", {}) or {})
    if resource.taggable:
        data["tags"] = tags or []
    for key, value in (extra or {}).items():
        if key not in hidden:
            data[key] = value
    return data


def extras_for(resource: Resource, objs: list[models.Model], user: Any) -> dict[Any, dict[str, Any]]:
    """``Resource.serialize_extra`` for a page of records (one call, so one query, per page)."""
    if resource.serialize_extra is None or not objs:
        return {}
    return resource.serialize_extra(objs, user)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(data, ensure_ascii=False, default=str), status=status, content_type=JSON)
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
        for lookup in lookups:
            params.append(
                {
                    "in": "query",
                    "name": name if lookup == "exact" else f"{name}__{lookup}",
                    "schema": {"type": "string"},
                    "required": False,
                }
            )
    return params


def list_records(request: HttpRequest, resource: Resource) -> HttpResponse:
    user = request.user
    require_token_scope(request, resource.object_type, Action.VIEW)
    if not may_reach(user, resource.model, Action.VIEW):
        raise PermissionDenied()
    qs = restricted(resource.model, user, Action.VIEW)
    filterset = resource.filterset(request.GET, user)
    if resource.select_related:
        qs = qs.select_related(*resource.select_related)
    qs, ordering = filterset.apply(qs)
    page = paginate(qs, ordering, request.GET.get("cursor"), parse_limit(request.GET.get("limit")))
    hidden = hidden_fields(user, resource.model)
    tags = tag_names_for(resource.model, [o.pk for o in page.items]) if resource.taggable else {}
    extra = extras_for(resource, page.items, user)
    items = [serialize(o, resource, hidden, tags.get(o.pk), extra=extra.get(o.pk)) for o in page.items]
    return json_response({"items": items, "next_cursor": page.next_cursor})


def get_visible(request: HttpRequest, resource: Resource, pk: int) -> models.Model:
    qs = restricted(resource.model, request.user, Action.VIEW)
    if resource.select_related:
        qs = qs.select_related(*resource.select_related)
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def detail_response(request: HttpRequest, resource: Resource, obj: models.Model, status: int = 200) -> HttpResponse:
    tags = tag_names_for(resource.model, [obj.pk]).get(obj.pk) if resource.taggable else None
    extra = extras_for(resource, [obj], request.user).get(obj.pk)
    data = serialize(obj, resource, hidden_fields(request.user, resource.model), tags, extra=extra)
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
        obj = get_visible(request, resource, id)
        if request.headers.get("If-None-Match") == etag(obj):
            return HttpResponse(status=304, headers={"ETag": etag(obj)})
        return detail_response(request, resource, obj)

    router.add_api_operation(
        "/{id}",
        ["GET"],
        _get,
        summary=f"Read one of {resource.path}",
        operation_id=f"{resource.path.replace('-', '_')}_read",
    )

    if not resource.read_only:
        _add_write_routes(router, resource)
    return router


def _add_bulk_route(router: Router, resource: Resource) -> None:
    """``POST /<path>/bulk``: one action on many records (by ids or a list query); 202 + job when large."""
    from ninja import Schema

    from guanxi.core.bulk import bulk_resources, bulk_start_or_run, permission_of

    if resource not in bulk_resources():
        return

    class BulkIn(Schema):
        action: str
        ids: list[int] | None = None
        query: dict[str, Any] | None = None
        data: dict[str, Any] | None = None
        owner: int | None = None
        tags: list[str] | None = None

    BulkIn.__name__ = f"{resource.model.__name__}BulkIn"

    def _bulk(request: HttpRequest, payload: BulkIn) -> HttpResponse:
        from guanxi.core.api_jobs import job_json

        require_token_scope(request, resource.object_type, permission_of(payload.action))
        if payload.action == "owner":
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
        summary=f"One action on many {resource.path}: update, owner, tag_add, tag_remove, delete",
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
    return qs.filter(pk=obj.pk).first() or obj


__all__ = ["build_router", "serialize", "extras_for", "json_response", "object_type_of", "Tag"]
