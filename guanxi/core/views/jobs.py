"""``/jobs/``: the user's background jobs (imports, exports, bulk actions), one page per job.

A job's page shows its progress bar and polls itself with htmx until the job has finished, then its
counters, errors and the download link. Any kind of job uses this page: known result counters get a
translated label, others show under their own key. Jobs are personal: another user's job is 404.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django.views import View

from guanxi.core.api_jobs import job_file_name, job_file_response, visible_jobs
from guanxi.core.choices import JobStatus
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.jobs import job_result_lines
from guanxi.core.models import Job
from guanxi.core.pagination import DEFAULT_LIMIT, paginate
from guanxi.core.registry import resources
from guanxi.core.views.base import GuanxiViewMixin

STATUS_ID = "job-status"
#: Labels of the result counters handlers report (others show their key).
RESULT_LABELS: dict[str, Any] = {
    "rows": _("Rows"),
    "created": _("Created"),
    "updated": _("Updated"),
    "skipped": _("Skipped"),
    "failed": _("Failed"),
    "selected": _("Selected"),
    "changed": _("Changed"),
    "unchanged": _("Unchanged"),
    "duplicates": _("Duplicates"),
    "deleted": _("Deleted"),
}
KIND_LABELS: dict[str, Any] = {
    "export": _("Export"),
    "import": _("Import"),
    "bulk": _("Bulk action"),
    "handover": _("Handover"),
    "recompute": _("Recompute"),
}
#: Result keys that are shown elsewhere on the page or are for programs, not people.
RESULT_HIDDEN = {"skipped_ids", "errors", "action", "format"}


def kind_label(job: Job) -> str:
    return str(KIND_LABELS.get(job.kind, job.kind))


def object_type_label(job: Job) -> str:
    for resource in resources():
        if resource.object_type == job.object_type:
            return str(resource.label_plural)
    return job.object_type


def result_rows(job: Job) -> list[tuple[str, Any]]:
    """The result's counters and plain values, labelled for people; then what its kind says of the
    nested parts (``job_handler(describe=)``)."""
    rows: list[tuple[str, Any]] = []
    for key, value in (job.result or {}).items():
        if key in RESULT_HIDDEN or isinstance(value, dict | list):
            continue
        rows.append((str(RESULT_LABELS.get(key, key.replace("_", " ").capitalize())), value))
    return rows + job_result_lines(job)


def result_errors(job: Job) -> list[str]:
    """Per-record errors a handler listed (``[{"id", "errors": {field: [msg]}}]`` or plain texts)."""
    out: list[str] = []
    for item in (job.result or {}).get("errors", []) or []:
        if isinstance(item, dict):
            parts = [
                f"{field}: {msg}" if field else str(msg)
                for field, msgs in (item.get("errors") or {}).items()
                for msg in (msgs if isinstance(msgs, list) else [msgs])
            ]
            prefix = f"#{item['id']}: " if item.get("id") is not None else ""
            out.append(prefix + "; ".join(parts))
        else:
            out.append(str(item))
    return out[:100]


def job_context(job: Job) -> dict[str, Any]:
    finished = job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
    return {
        "job": job,
        "kind_label": kind_label(job),
        "object_label": object_type_label(job),
        "status_label": JobStatus(job.status).label if job.status in JobStatus.values else job.status,
        "status_colour": JobStatus.colour(job.status),
        "finished": finished,
        "result_rows": result_rows(job),
        "result_errors": result_errors(job),
        "file_name": job_file_name(job),
        "status_id": STATUS_ID,
    }


class JobListView(GuanxiViewMixin, View):
    """``/jobs/``: your jobs, newest first, one keyset page at a time."""

    def get(self, request: HttpRequest) -> HttpResponse:
        qs = visible_jobs(request.user).select_related("user")
        kind = request.GET.get("kind") or ""
        if kind:
            qs = qs.filter(kind=kind)
        try:
            page = paginate(qs, "-id", request.GET.get("cursor") or None, DEFAULT_LIMIT)
        except FieldErrors:  # a broken cursor shows the first page
            page = paginate(qs, "-id", None, DEFAULT_LIMIT)
        rows = [{**job_context(job), "job": job} for job in page.items]
        next_url = f"?cursor={page.next_cursor}" + (f"&kind={kind}" if kind else "") if page.next_cursor else None
        return render(
            request,
            "core/job_list.html",
            {"rows": rows, "next_url": next_url, "kind": kind, "kinds": list(KIND_LABELS.items())},
        )


class JobDetailView(GuanxiViewMixin, View):
    """``/jobs/<pk>/``: progress (polled while running), counters, errors, download."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = visible_jobs(request.user).filter(pk=pk).first()
        if job is None:
            raise Http404()
        if job.kind == "import":
            # An import has its own page (mapping, start, error file): one page per import, not two.
            return redirect("ui:imports-detail", pk=job.pk)
        context = job_context(job)
        htmx = getattr(request, "htmx", None)
        if htmx and htmx.target == STATUS_ID:
            response = render(request, "core/job_status.html", context)
        else:
            response = render(request, "core/job_detail.html", context)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        response["Cache-Control"] = "private, no-store"
        return response


class JobFileView(GuanxiViewMixin, View):
    """``/jobs/<pk>/file/``: the job's result file, for the user who started it."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        job = visible_jobs(request.user).filter(pk=pk).first()
        if job is None:
            raise Http404()
        try:
            return job_file_response(job)
        except NotFound:
            raise Http404() from None
