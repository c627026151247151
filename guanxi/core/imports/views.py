"""The import wizard: upload -> mapping and preview -> progress -> result with the error file.

Pages call the same services as the API. The progress block refreshes itself with htmx while the
job runs (no inline script: CSP).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core.choices import Action, JobStatus
from guanxi.core.errors import FieldErrors, GuanxiError
from guanxi.core.imports import services
from guanxi.core.imports.mapping import check_mapping
from guanxi.core.imports.specs import ImportSpec, import_spec
from guanxi.core.imports.template import template_response
from guanxi.core.models import Job
from guanxi.core.pagination import paginate, parse_limit
from guanxi.core.permissions import can, restricted
from guanxi.core.registry import resource_for
from guanxi.core.views.base import GuanxiViewMixin, resource_url


def _spec(type_name: str, user: Any) -> ImportSpec:
    spec = import_spec(type_name)
    if spec is None:
        raise Http404()
    if not can(user, spec.model, Action.IMPORT):
        raise PermissionDenied()
    return spec


def _job(request: HttpRequest, pk: int) -> Job:
    job = restricted(Job, request.user, Action.VIEW).filter(kind="import", pk=pk).select_related("user").first()
    if job is None:
        raise Http404()
    return job


def _list_url(spec: ImportSpec | None) -> str | None:
    resource = resource_for(spec.model) if spec else None
    return resource_url(resource, "list") if resource else None


def _errors_text(exc: GuanxiError) -> list[str]:
    return [message for messages in exc.errors.values() for message in messages] or [exc.detail]


class ImportNewView(GuanxiViewMixin, View):
    """Step 1: choose the file (and the type, when it was not chosen on a list page)."""

    def get(self, request: HttpRequest, type_name: str) -> HttpResponse:
        spec = _spec(type_name, request.user)
        return self.page(request, spec)

    def post(self, request: HttpRequest, type_name: str) -> HttpResponse:
        spec = _spec(type_name, request.user)
        try:
            job = services.import_create(
                user=request.user,
                upload=request.FILES.get("file"),
                type_name=spec.type,
                duplicate_policy=request.POST.get("duplicate_policy") or "skip",
            )
        except FieldErrors as exc:
            return self.page(request, spec, errors=_errors_text(exc), status=400)
        return redirect("ui:imports-detail", pk=job.pk)

    def page(
        self, request: HttpRequest, spec: ImportSpec, errors: list[str] | None = None, status: int = 200
    ) -> HttpResponse:
        context = {
            "spec": spec,
            "list_url": _list_url(spec),
            "errors": errors or [],
            "fields": spec.mappable(),
            "policies": policy_choices(),
        }
        return render(request, "core/import_new.html", context, status=status)


def policy_choices() -> list[tuple[str, str, str]]:
    return [
        ("skip", _("Skip"), _("Rows that match an existing record are left out.")),
        ("update", _("Update"), _("Rows that match an existing record fill in and change its fields.")),
        (
            "create",
            _("Create anyway"),
            _("Every row becomes a new record (a row with a record ID or a known external ID still updates it)."),
        ),
    ]


class ImportDetailView(GuanxiViewMixin, View):
    """Step 2 (a pending import): map the columns, check the preview, pick the duplicate policy, start.
    Steps 3 and 4 (started): progress, then the counts and the error file."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = _job(request, pk)
        htmx = getattr(request, "htmx", None)
        if htmx and request.GET.get("part") == "progress":
            return render(request, "core/import_progress.html", self.progress_context(job))
        return self.page(request, job)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = _job(request, pk)
        if job.user_id != request.user.pk:
            raise PermissionDenied()
        spec = _spec(job.params.get("type", ""), request.user)
        headers = job.params.get("headers", [])
        mapping = {header: request.POST.get(f"map_{index}", "") for index, header in enumerate(headers)}
        policy = request.POST.get("duplicate_policy") or job.params.get("duplicate_policy", "skip")
        blank = "clear" if request.POST.get("blank_cells") == "clear" else "keep"
        if request.POST.get("action") == "preview":
            try:
                columns = check_mapping(spec, headers, mapping)
            except FieldErrors as exc:
                errors = _errors_text(exc)
                return self.page(
                    request, job, mapping=mapping, policy=policy, blank_cells=blank, errors=errors, status=400
                )
            return self.page(request, job, mapping=mapping, policy=policy, blank_cells=blank, columns=columns)
        try:
            services.import_start(
                job=job, user=request.user, mapping=mapping, duplicate_policy=policy, blank_cells=blank
            )
        except FieldErrors as exc:
            return self.page(
                request, job, mapping=mapping, policy=policy, blank_cells=blank, errors=_errors_text(exc), status=400
            )
        return redirect("ui:imports-detail", pk=job.pk)

    def progress_context(self, job: Job) -> dict[str, Any]:
        spec = import_spec(job.params.get("type", ""))
        running = job.status in (JobStatus.PENDING, JobStatus.RUNNING)
        return {
            "job": job,
            "spec": spec,
            "result": services.import_result(job),
            "running": running,
            "list_url": _list_url(spec),
            "errors_url": reverse("ui:imports-errors", args=[job.pk]) if job.output_file else None,
            "progress_url": reverse("ui:imports-detail", args=[job.pk]) + "?part=progress",
        }

    def page(
        self,
        request: HttpRequest,
        job: Job,
        *,
        mapping: dict[str, str] | None = None,
        policy: str | None = None,
        blank_cells: str | None = None,
        columns: dict[str, int] | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        spec = import_spec(job.params.get("type", ""))
        if spec is None:
            raise Http404()
        started = bool(job.params.get("started")) or job.status != JobStatus.PENDING
        context: dict[str, Any] = {"job": job, "spec": spec, "started": started, **self.progress_context(job)}
        if not started:
            mapping = mapping if mapping is not None else job.params.get("mapping", {})
            headers = job.params.get("headers", [])
            preview = job
            if columns is not None:
                preview = Job(pk=job.pk, params={**job.params, "mapping": mapping}, input_file=job.input_file)
            rows = services.import_preview(preview)
            bad_columns = {error["column"] for row in rows for error in row["errors"]}
            fields = spec.mappable()
            context.update(
                {
                    "columns": [
                        {
                            "index": index,
                            "header": header,
                            "target": mapping.get(header, ""),
                            "sample": [row["values"].get(mapping.get(header, ""), "") for row in rows[:3]],
                            "has_errors": header in bad_columns,
                        }
                        for index, header in enumerate(headers)
                    ],
                    "fields": fields,
                    "preview": rows,
                    "preview_fields": [f for f in fields if f.name in set(mapping.values())],
                    "policy": policy or job.params.get("duplicate_policy", "skip"),
                    "policies": policy_choices(),
                    "blank_cells": blank_cells or job.params.get("blank_cells", "keep"),
                    "form_errors": errors or [],
                }
            )
        return render(request, "core/import_detail.html", context, status=status)


class ImportErrorsView(GuanxiViewMixin, View):
    """The error file: bad rows with row number, column, value, reason and the original cells."""

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        job = _job(request, pk)
        if not job.output_file:
            raise Http404()
        response = FileResponse(job.output_file.open("rb"), as_attachment=True, filename=f"import-{job.pk}-errors.csv")
        response["Content-Type"] = "text/csv; charset=utf-8"
        return response


class ImportTemplateView(GuanxiViewMixin, View):
    """The Excel template of a record type, in the user's language."""

    def get(self, request: HttpRequest, type_name: str) -> FileResponse:
        spec = _spec(type_name, request.user)
        name, content = services.import_template_file(user=request.user, type_name=spec.type)
        return template_response(name, content)


class ImportListView(GuanxiViewMixin, View):
    """The user's imports, newest first."""

    def get(self, request: HttpRequest) -> HttpResponse:
        qs = restricted(Job, request.user, Action.VIEW).filter(kind="import", user_id=request.user.pk)
        page = paginate(qs, "-id", request.GET.get("cursor"), parse_limit(request.GET.get("limit")))
        items = [(job, import_spec(job.params.get("type", "")), services.import_result(job)) for job in page.items]
        next_url = f"?cursor={page.next_cursor}" if page.next_cursor else None
        return render(request, "core/import_list.html", {"items": items, "next_url": next_url})


ui_import_patterns = [
    path("imports/", ImportListView.as_view(), name="imports-list"),
    path("imports/new/<slug:type_name>/", ImportNewView.as_view(), name="imports-new"),
    path("imports/template/<slug:type_name>/", ImportTemplateView.as_view(), name="imports-template"),
    path("imports/<int:pk>/", ImportDetailView.as_view(), name="imports-detail"),
    path("imports/<int:pk>/errors/", ImportErrorsView.as_view(), name="imports-errors"),
]
