"""``POST /export/<path>/``: the list as the user sees it now, to CSV or XLSX.

The list page's Export menu posts the list's current query (filters, search, sort; a saved view's
too) and its columns. A small list downloads at once; a large one becomes a job and the user is
taken to its page, which offers the file when it is ready.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.exports import export_response
from guanxi.core.models import Job
from guanxi.core.permissions import may_reach
from guanxi.core.registry import Resource
from guanxi.core.views.base import GuanxiViewMixin, resource_url, safe_next, ui_resource_or_404


def list_params(resource: Resource, user: Any, query: str) -> tuple[QueryDict, list[str]]:
    """A list page's query string as the list reads it: a saved view's filters and columns under what the
    address says. Returns the parameters and the shown columns (empty: the resource's defaults)."""
    from django.db.models import Q

    from guanxi.core.models import SavedView
    from guanxi.core.views.lists import ObjectListView

    get = QueryDict(query or "", mutable=True)
    view = None
    view_id = get.get("view") or ""
    if view_id.isdigit():
        view = (
            SavedView.objects.filter(pk=int(view_id), object_type=resource.object_type)
            .filter(Q(user_id=user.pk) | Q(shared=True))
            .first()
        )
    params = ObjectListView.effective_params(get, view)
    columns = [n for n in (params.get("columns") or "").split(",") if n]
    if not columns and view is not None:
        columns = [str(n) for n in view.columns]
    return params, columns or list(resource.list_columns)


def may_export(resource: Resource, user: object) -> bool:
    """Show the Export menu? (the export re-checks every row)."""
    return may_reach(user, resource.model, Action.EXPORT) and may_reach(user, resource.model, Action.VIEW)


class ExportView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str) -> HttpResponseBase:
        resource = ui_resource_or_404(path)
        if not may_export(resource, request.user):
            raise DjangoPermissionDenied()
        back = safe_next(request, resource_url(resource, "list") or "/")
        params, shown = list_params(resource, request.user, request.POST.get("query", ""))
        columns = None if request.POST.get("scope") == "all" else shown or None
        # The rows ticked on the list (the menu sends them with "rows=selected"), else the whole list.
        ids = request.POST.getlist("ids") if request.POST.get("rows") == "selected" else None
        try:
            outcome = export_response(
                user=request.user,
                resource=resource,
                fmt=request.POST.get("format", "csv"),
                params=params,
                columns=columns,
                ids=ids,
            )
        except FieldErrors as exc:
            messages.error(request, " ".join(m for ms in exc.errors.values() for m in ms) or exc.detail)
            return redirect(back)
        if isinstance(outcome, Job):
            messages.info(
                request,
                _("This list is long: it is being exported in the background. The file appears here when it is ready."),
            )
            return redirect(reverse("ui:job-detail", args=[outcome.pk]))
        return outcome
