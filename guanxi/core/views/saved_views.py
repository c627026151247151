"""Save a list's filters, sort and columns under a name (optionally shared), and delete saved views.

A saved view is a personal display preference, not a CRM record: it is not audited and has no
recycle bin, so it is written here rather than through the record services.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core.models import SavedView
from guanxi.core.registry import resources
from guanxi.core.views.base import GuanxiViewMixin, resource_url, ui_resource_or_404

#: Parameters that describe a position in the list, not the view itself.
NOT_SAVED = {"cursor", "view", "columns", "csrfmiddlewaretoken"}


class SavedViewSaveView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str) -> HttpResponse:
        resource = ui_resource_or_404(path)
        list_url = resource_url(resource, "list") or "/"
        name = (request.POST.get("name") or "").strip()[:100]
        if not name:
            messages.error(request, _("Give the view a name."))
            return redirect(f"{list_url}?{request.POST.get('query', '')}")
        query = QueryDict(request.POST.get("query", ""), mutable=True)
        for key in NOT_SAVED:
            query.pop(key, None)
        columns = [c for c in (request.POST.get("columns") or "").split(",") if c][:50]
        view, _created = SavedView.objects.update_or_create(
            user_id=request.user.pk,  # type: ignore[misc]  # signed in: never None
            object_type=resource.object_type,
            name=name,
            defaults={
                "query": query.urlencode()[:2000],
                "columns": columns,
                "shared": request.POST.get("shared") == "on",
            },
        )
        messages.success(request, _("Saved the view “%(name)s”.") % {"name": view.name})
        return redirect(f"{list_url}?view={view.pk}")


class SavedViewDeleteView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        view = SavedView.objects.filter(pk=pk).first()
        if view is None or (view.user_id != request.user.pk and not request.user.is_superuser):
            raise Http404()
        resource = next((r for r in resources() if r.object_type == view.object_type and r.ui), None)
        view.delete()
        messages.success(request, _("Deleted the view “%(name)s”.") % {"name": view.name})
        return redirect((resource_url(resource, "list") if resource else None) or "home")
