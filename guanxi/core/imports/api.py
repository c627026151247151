"""``/api/v1/imports``: upload a file, map and preview it, start the job, follow it, fetch the error file."""

from __future__ import annotations

import json
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Router
from ninja.files import UploadedFile

from guanxi.api.crud import json_response, require_token_scope
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors, NotFound, PermissionDenied
from guanxi.core.imports import services
from guanxi.core.imports.template import template_response
from guanxi.core.models import Job
from guanxi.core.pagination import paginate, parse_limit
from guanxi.core.permissions import object_type_of, restricted, token_allows

router = Router(tags=["imports"])


def _token_scope(request: HttpRequest, type_name: Any) -> None:
    spec = services.spec_or_error(type_name)
    require_token_scope(request, f"{spec.model._meta.app_label}.{spec.model._meta.model_name}", Action.IMPORT)


def own_import(request: HttpRequest, id: int) -> Job:
    """One of the user's imports (another user's answers 404: imports are personal)."""
    job = restricted(Job, request.user, Action.VIEW).filter(kind="import", pk=id).select_related("user").first()
    if job is None:
        raise NotFound()
    _token_scope(request, job.params.get("type"))
    return job


def _bool(value: str | None, name: str) -> bool:
    text = (value or "false").strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise FieldErrors({name: ['Send "true" or "false".']})


@router.post(
    "/imports",
    response={201: dict},
    operation_id="imports_create",
    summary=(
        "Upload a CSV, XLSX or vCard (.vcf, contacts only) file to import (multipart: file, type, duplicate_policy, "
        "blank_cells, mapping, start)"
    ),
)
def imports_create(
    request: HttpRequest,
    file: UploadedFile = File(...),  # noqa: B008 - Ninja's way to declare a multipart file
    type: str = Form("contacts"),  # noqa: A002 - the contract's name
    duplicate_policy: str = Form("skip"),
    blank_cells: str = Form("keep"),
    mapping: str | None = Form(None),
    start: str | None = Form(None),
) -> HttpResponse:
    _token_scope(request, type)
    job = services.import_create(
        user=request.user,
        upload=file,
        type_name=type,
        duplicate_policy=duplicate_policy,
        blank_cells=blank_cells,
        mapping=mapping,
        start=_bool(start, "start"),
    )
    job.refresh_from_db()
    return json_response(services.import_as_json(job), status=201)


@router.post(
    "/imports/{id}/start",
    response={202: dict},
    operation_id="imports_start",
    summary="Start (or resume) an import; JSON {mapping?, duplicate_policy?, blank_cells?}",
)
def imports_start(request: HttpRequest, id: int) -> HttpResponse:
    job = own_import(request, id)
    if job.user_id != request.user.pk:
        raise PermissionDenied(_("Only the person who uploaded the file may start this import."))
    body: Any = {}
    if request.body:
        try:
            body = json.loads(request.body)
        except ValueError:
            raise FieldErrors({"body": ["Send a JSON object."]}) from None
    if not isinstance(body, dict):
        raise FieldErrors({"body": ["Send a JSON object."]})
    unknown = set(body) - {"mapping", "duplicate_policy", "blank_cells"}
    if unknown:
        raise FieldErrors({name: ["Unknown field."] for name in sorted(unknown)})
    job = services.import_start(
        job=job,
        user=request.user,
        mapping=body.get("mapping"),
        duplicate_policy=body.get("duplicate_policy"),
        blank_cells=body.get("blank_cells"),
    )
    job.refresh_from_db()
    return json_response(services.import_as_json(job, preview=False), status=202)


@router.get(
    "/imports/fields",
    operation_id="imports_fields",
    summary="What the columns of a file can feed (mapping targets, custom fields included) and what to type",
)
def imports_fields(request: HttpRequest, type: str = "contacts") -> HttpResponse:  # noqa: A002 - the contract's name
    _token_scope(request, type)
    return json_response({"type": type, "fields": services.import_fields(user=request.user, type_name=type)})


@router.get(
    "/imports/template",
    operation_id="imports_template",
    summary="An Excel template to fill in: the columns in the user's language, and a sheet on how to fill them",
)
def imports_template(request: HttpRequest, type: str = "contacts") -> FileResponse:  # noqa: A002 - the contract's name
    _token_scope(request, type)
    name, content = services.import_template_file(user=request.user, type_name=type)
    return template_response(name, content)


@router.get("/imports/{id}", operation_id="imports_read", summary="An import: mapping, preview, progress, result")
def imports_read(request: HttpRequest, id: int) -> HttpResponse:
    return json_response(services.import_as_json(own_import(request, id)))


@router.get("/imports", operation_id="imports_list", summary="Your imports, newest first (keyset pages)")
def imports_list(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> HttpResponse:
    scopes = getattr(request.user, "token_scopes", None)
    if scopes is not None and not any(
        token_allows(scopes, object_type_of(spec.model), Action.IMPORT) for spec in services.import_specs()
    ):
        raise PermissionDenied(_("This API token lacks an import scope."))
    qs = restricted(Job, request.user, Action.VIEW).filter(kind="import", user_id=request.user.pk)
    page = paginate(qs, "-id", cursor, parse_limit(limit))
    return json_response(
        {"items": [services.import_as_json(job, preview=False) for job in page.items], "next_cursor": page.next_cursor}
    )


@router.get("/imports/{id}/errors", operation_id="imports_errors", summary="The error file of an import (CSV)")
def imports_errors(request: HttpRequest, id: int) -> FileResponse:
    job = own_import(request, id)
    if not job.output_file:
        raise NotFound()
    name = f"import-{job.pk}-errors.csv"
    response = FileResponse(job.output_file.open("rb"), as_attachment=True, filename=name)
    response["Content-Type"] = "text/csv; charset=utf-8"
    response["X-Content-Type-Options"] = "nosniff"
    return response
