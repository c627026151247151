"""Core API routes that are not plain CRUD: recycle bin, attachments upload/download, object types, and
who saw masked values in full (查看完整信息统计)."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile

from guanxi.api.crud import json_response, require_token_scope, serialize
from guanxi.core import services
from guanxi.core.attachments import attachment_add, attachment_delete
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.models import Attachment
from guanxi.core.pagination import paginate, parse_limit
from guanxi.core.permissions import hidden_fields, unseen_references
from guanxi.core.recycle_bin import bin_query, bin_resource_of_type
from guanxi.core.registry import Resource, resource_for, resources
from guanxi.core.reveal_report import DEFAULT_DAYS, reveal_days, reveal_reach, reveal_summary

router = Router(tags=["core"])


def _soft_delete_resource(object_type: str) -> Resource:
    resource = bin_resource_of_type(object_type)
    if resource is None:
        raise FieldErrors({"object_type": [_("This type has no recycle bin.")]})
    return resource


@router.get("/object-types", summary="Record types, with the content_type ids that notes, shares and files use")
def object_types(request: HttpRequest) -> HttpResponse:
    items = []
    for resource in resources():
        ct = ContentType.objects.get_for_model(resource.model, for_concrete_model=False)
        items.append(
            {"content_type": ct.pk, "object_type": resource.object_type, "path": resource.path, "label": resource.label}
        )
    return json_response({"items": items, "next_cursor": None})


_BIN_LIST = (
    "Records in the recycle bin of one type (object_type=app.model) that you may restore or purge, newest "
    "deletion first, by cursor pages. Filters: ``search`` (part of the name), ``deleted_by`` (a user id, "
    "``me``; ``deleted_by__in``), ``deleted_at__gte`` / ``deleted_at__lt`` (a time or a date), "
    "``deleted_on`` (a day, site time zone); ``ordering``: ``-deleted_at`` (default), ``deleted_at``, ``-id``, ``id``."
)


def _bin_list(request: HttpRequest, object_type: str, cursor: str | None, limit: int | None) -> HttpResponse:
    resource = _soft_delete_resource(object_type)
    require_token_scope(request, resource.object_type, Action.DELETE)
    params = request.GET.copy()
    for name in ("object_type", "cursor", "limit"):
        params.pop(name, None)
    qs, ordering = bin_query(resource, request.user, params)
    if resource.select_related:
        qs = qs.select_related(*resource.select_related)
    page = paginate(qs, ordering, cursor, parse_limit(limit))
    hidden = hidden_fields(request.user, resource.model)
    # Whoever may restore a record may still not see its 上级客户 or 直属上级: named as elsewhere.
    unseen = unseen_references(request.user, resource.model, resource.fields, page.items)
    items = [
        {
            **serialize(o, resource, hidden, unseen=unseen),
            "deleted_at": o.deleted_at.isoformat(),
            "deleted_by": o.deleted_by_id,
        }
        for o in page.items
    ]
    return json_response({"items": items, "next_cursor": page.next_cursor})


@router.get("/recycle-bin", summary="Records in the recycle bin of one type", description=_BIN_LIST)
def recycle_bin(request: HttpRequest, object_type: str, cursor: str | None = None, limit: int | None = None):
    return _bin_list(request, object_type, cursor, limit)


@router.get(
    "/recycle-bin/{object_type}",
    summary="Records in the recycle bin of one type",
    description=_BIN_LIST,
    operation_id="recycle_bin_of_type",
)
def recycle_bin_of_type(request: HttpRequest, object_type: str, cursor: str | None = None, limit: int | None = None):
    return _bin_list(request, object_type, cursor, limit)


class BinBulkIn(Schema):
    action: str
    ids: list[int] | None = None
    query: dict[str, Any] | None = None


@router.post(
    "/recycle-bin/{object_type}/bulk",
    response={200: dict, 202: dict},
    summary="Restore or purge many records of the recycle bin (by ids or a query of its filters)",
    description=(
        "``action``: ``restore`` or ``purge``; ``ids``, or ``query`` (the filters of ``GET /recycle-bin``). "
        "Up to 500 records run now (200: counts; a record refused, e.g. by 撞单保护 or a unique name taken "
        "meanwhile, is listed in ``errors`` with its ``name`` and reasons, and the others go on; ``notices``: "
        "what restoring told besides, such as whose customer a restored one is too); more run as a job (202)."
    ),
)
def recycle_bulk(request: HttpRequest, object_type: str, payload: BinBulkIn):
    from guanxi.core.api_jobs import job_json
    from guanxi.core.bulk import BIN_ACTIONS, bulk_start_or_run

    resource = _soft_delete_resource(object_type)
    require_token_scope(request, resource.object_type, Action.DELETE)
    if payload.action not in BIN_ACTIONS:
        raise FieldErrors({"action": [_("Use one of: %(actions)s.") % {"actions": ", ".join(BIN_ACTIONS)}]})
    outcome = bulk_start_or_run(
        resource=resource, user=request.user, action=payload.action, ids=payload.ids, query=payload.query
    )
    if isinstance(outcome, dict):
        return json_response(outcome)
    return json_response(job_json(outcome), status=202, headers={"Location": f"/api/v1/jobs/{outcome.pk}"})


@router.post("/recycle-bin/{object_type}/{id}/restore", summary="Restore a record from the recycle bin")
def recycle_restore(request: HttpRequest, object_type: str, id: int):
    resource = _soft_delete_resource(object_type)
    require_token_scope(request, resource.object_type, Action.DELETE)
    obj = (resource.restore or services.record_restore)(model=resource.model, pk=id, user=request.user)
    return json_response(serialize(obj, resource, hidden_fields(request.user, resource.model)))


@router.delete("/recycle-bin/{object_type}/{id}", summary="Purge a record from the recycle bin for good")
def recycle_purge(request: HttpRequest, object_type: str, id: int):
    resource = _soft_delete_resource(object_type)
    require_token_scope(request, resource.object_type, Action.DELETE)
    services.record_purge(model=resource.model, pk=id, user=request.user)
    return HttpResponse(status=204)


@router.get(
    "/reveals/summary",
    operation_id="reveals_summary",
    summary="Who saw masked values in full (查看完整信息统计), per person, over the last days",
    description=(
        "For each person who showed a masked phone number or email in full in the last ``days`` days "
        "(today included; 1 to 90, 7 by default): ``total`` views, ``busiest_day`` (the latest of equal "
        "days) and its ``busiest_count``, ``today``'s count and the daily ``allowance``; most views first. "
        "For whoever may read the change log (``core.changelogentry:view``): with the scope all, everyone; "
        "with team or subordinates, those people and oneself; else only oneself. "
        "Each view is in ``GET /change-log?actor=<id>&action=reveal``."
    ),
)
def reveals_summary(request: HttpRequest, days: str = str(DEFAULT_DAYS)) -> HttpResponse:
    # ``days`` as text: ``reveal_days`` names the field and the range in the reader's language.
    require_token_scope(request, "core.changelogentry", Action.VIEW)
    reveal_reach(request.user)
    summary = reveal_summary(request.user, reveal_days(days))
    items = [
        {
            "id": row.user_id,
            "name": row.name,
            "team": None if row.team_id is None else {"id": row.team_id, "display": row.team_name},
            "total": row.total,
            "busiest_day": row.busiest_day.isoformat(),
            "busiest_count": row.busiest_count,
            "today": row.today,
            "allowance": row.allowance,
        }
        for row in summary.rows
    ]
    return json_response(
        {
            "days": summary.days,
            "from": summary.first.isoformat(),
            "to": summary.last.isoformat(),
            "allowance": summary.allowance,
            "items": items,
        }
    )


def attachment_routes(router: Router, resource: Resource) -> None:
    """Uploads and downloads, added to the attachments resource router."""

    @router.post("", summary="Upload a file to a record (multipart: content_type, object_id, file)")
    def attachment_upload(
        request: HttpRequest, content_type: int = Form(...), object_id: int = Form(...), file: UploadedFile = File(...)
    ):
        require_token_scope(request, "core.attachment", Action.ADD)
        attachment = attachment_add(user=request.user, content_type_id=content_type, object_id=object_id, upload=file)
        return json_response(serialize(attachment, resource, set()), status=201)

    @router.get("/{id}/download", summary="Download an attachment")
    def attachment_download(request: HttpRequest, id: int):
        require_token_scope(request, "core.attachment", Action.VIEW)
        attachment = Attachment.objects.restrict(request.user, Action.VIEW).filter(pk=id).first()
        if attachment is None:
            raise NotFound()
        response = FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)
        response["Content-Type"] = attachment.mime_type
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @router.delete("/{id}", summary="Remove an attachment")
    def attachment_remove(request: HttpRequest, id: int):
        require_token_scope(request, "core.attachment", Action.DELETE)
        attachment_delete(user=request.user, pk=id)
        return HttpResponse(status=204)


__all__ = ["router", "resource_for", "attachment_routes"]
