"""``/api/v1/jobs`` (a user's background jobs: progress, result, files) and ``/api/v1/exports``.

A job is seen by the user who started it (and superusers): ``Job.scope_filter`` says so, and every
read here starts from ``restricted(Job, user)``. Another user's job answers 404, its file too.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema

from guanxi.api.crud import json_response, require_token_scope
from guanxi.core.choices import Action, JobStatus
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.models import Job
from guanxi.core.pagination import paginate, parse_limit
from guanxi.core.permissions import restricted

JOB_TYPE = "core.job"
router = Router(tags=["jobs"])
exports_router = Router(tags=["exports"])


def job_file_name(job: Job) -> str:
    return (job.output_file.name or "").rsplit("/", 1)[-1] if job.output_file else ""


def _reverse(name: str, pk: int) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


def job_json(job: Job) -> dict[str, Any]:
    """A job as the API shows it: status, progress, counters, error and where its files are."""
    prefix = "/api/v1/exports" if job.kind == "export" else "/api/v1/jobs"
    return {
        "id": job.pk,
        "kind": job.kind,
        "object_type": job.object_type,
        "status": job.status,
        "status_label": str(JobStatus(job.status).label) if job.status in JobStatus.values else job.status,
        "percent": job.percent,
        "processed": job.processed,
        "total": job.total,
        "result": job.result or {},
        "error": job.error,
        "file_name": job_file_name(job) or None,
        "file_url": f"{prefix}/{job.pk}/file" if job.output_file else None,
        "page_url": _reverse("ui:job-detail", job.pk),
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def visible_jobs(user: Any) -> Any:
    return restricted(Job, user, Action.VIEW)


def job_or_404(user: Any, pk: int, kind: str | None = None) -> Job:
    qs = visible_jobs(user).filter(pk=pk)
    if kind is not None:
        qs = qs.filter(kind=kind)
    job = qs.first()
    if job is None:
        raise NotFound()
    return job


def job_file_response(job: Job) -> FileResponse:
    """The job's result file, as a download; 404 while there is none."""
    if not job.output_file:
        raise NotFound(_("This job has no file (yet)."))
    try:
        handle = job.output_file.open("rb")
    except FileNotFoundError:
        raise NotFound(_("The file is no longer there.")) from None
    response = FileResponse(handle, as_attachment=True, filename=job_file_name(job))
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- /jobs ------------------------------------------------------------------------------------------------


@router.get("/jobs", summary="Your background jobs (imports, exports, bulk actions), newest first")
def jobs_list(
    request: HttpRequest,
    kind: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> HttpResponse:
    require_token_scope(request, JOB_TYPE, Action.VIEW)
    qs = visible_jobs(request.user)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        if status not in JobStatus.values:
            raise FieldErrors({"status": [_("Use one of: %(values)s.") % {"values": ", ".join(JobStatus.values)}]})
        qs = qs.filter(status=status)
    page = paginate(qs, "-id", cursor, parse_limit(limit))
    return json_response({"items": [job_json(j) for j in page.items], "next_cursor": page.next_cursor})


@router.get("/jobs/{id}", summary="One job: status, percent, counters, error, file")
def jobs_read(request: HttpRequest, id: int) -> HttpResponse:
    require_token_scope(request, JOB_TYPE, Action.VIEW)
    return json_response(job_json(job_or_404(request.user, id)))


@router.get("/jobs/{id}/file", summary="Download a job's result file (export, error rows)")
def jobs_file(request: HttpRequest, id: int) -> FileResponse:
    require_token_scope(request, JOB_TYPE, Action.VIEW)
    return job_file_response(job_or_404(request.user, id))


# --- /exports ---------------------------------------------------------------------------------------------


class ExportIn(Schema):
    type: str
    format: str = "csv"
    query: dict[str, Any] = {}
    columns: list[str] | None = None
    #: Only these records of the list (chosen one by one; at most ``SELECTED_LIMIT``). Ids the user
    #: may not export are left out, as are those the query's filters leave out.
    ids: list[int] | None = None


@exports_router.post(
    "/exports",
    response={202: dict},
    summary="Export a filtered list (or its records given by ids) to CSV or XLSX, contacts also to vCard (a job)",
)
def exports_create(request: HttpRequest, payload: ExportIn) -> HttpResponse:
    from guanxi.core.exports import export_start, resource_for_export

    resource = resource_for_export(payload.type)
    require_token_scope(request, resource.object_type, Action.EXPORT)
    job = export_start(
        user=request.user,
        resource=resource,
        fmt=payload.format,
        query=payload.query,
        columns=payload.columns,
        ids=payload.ids,
        strict=True,
    )
    return json_response(job_json(job), status=202, headers={"Location": f"/api/v1/exports/{job.pk}"})


@exports_router.get("/exports/{id}", summary="An export job: progress and, when finished, its file")
def exports_read(request: HttpRequest, id: int) -> HttpResponse:
    require_token_scope(request, JOB_TYPE, Action.VIEW)
    return json_response(job_json(job_or_404(request.user, id, kind="export")))


@exports_router.get("/exports/{id}/file", summary="Download an export's file")
def exports_file(request: HttpRequest, id: int) -> FileResponse:
    require_token_scope(request, JOB_TYPE, Action.VIEW)
    return job_file_response(job_or_404(request.user, id, kind="export"))
