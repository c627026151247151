"""``/settings/recycle-bin/``: deleted records of every soft-delete resource, to restore or purge."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core import services
from guanxi.core.choices import Action
from guanxi.core.permissions import can
from guanxi.core.registry import Resource, resources
from guanxi.core.views.base import GuanxiViewMixin

#: Rows shown per record type; the API pages through the rest.
PER_TYPE = 50


def bin_resources() -> list[Resource]:
    """Resources with a recycle bin (soft delete through the generic services)."""
    return [r for r in resources() if r.soft_delete and not r.read_only and hasattr(r.model, "all_objects")]


def bin_resource(path: str) -> Resource:
    for resource in bin_resources():
        if resource.path == path:
            return resource
    raise Http404()


class RecycleBinView(GuanxiViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        sections: list[dict[str, Any]] = []
        for resource in bin_resources():
            if not can(request.user, resource.model, Action.DELETE) and not getattr(
                resource.model, "follows_parent", False
            ):
                continue
            rows = list(
                resource.model.all_objects.filter(deleted_at__isnull=False)  # type: ignore[attr-defined]
                .restrict(request.user, Action.DELETE)
                .select_related("deleted_by")
                .order_by("-deleted_at", "-id")[:PER_TYPE]
            )
            if rows:
                sections.append({"resource": resource, "rows": rows})
        return render(
            request,
            "core/recycle_bin.html",
            {"sections": sections, "retention_days": settings.GUANXI_RECYCLE_BIN_DAYS},
        )


class RecycleRestoreView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str, pk: int) -> HttpResponse:
        resource = bin_resource(path)
        obj = (resource.restore or services.record_restore)(model=resource.model, pk=pk, user=request.user)
        messages.success(request, _("Restored “%(name)s”.") % {"name": obj})
        return redirect(reverse("ui:recycle-bin"))


class RecyclePurgeView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str, pk: int) -> HttpResponse:
        resource = bin_resource(path)
        services.record_purge(model=resource.model, pk=pk, user=request.user)
        messages.success(request, _("The record was removed for good."))
        return redirect(reverse("ui:recycle-bin"))
