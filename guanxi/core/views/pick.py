"""``GET /pick/<path>/?q=``: the few records a record picker offers as the user types (an htmx
partial; see ``guanxi.core.pickers``). Only records ``restrict(user, "view")`` lets through."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from guanxi.core.errors import FieldErrors
from guanxi.core.pickers import pick_options, picker_resource
from guanxi.core.registry import resource_at
from guanxi.core.views.base import GuanxiViewMixin


class PickView(GuanxiViewMixin, View):
    def get(self, request: HttpRequest, path: str) -> HttpResponse:
        try:
            resource = picker_resource(resource_at(path).model)
        except KeyError:
            resource = None
        if resource is None:
            raise Http404()
        q = (request.GET.get("q") or "").strip()
        errors: list[str] = []
        try:
            options = pick_options(resource, request.user, q)
        except FieldErrors as exc:
            options, errors = [], [m for messages in exc.errors.values() for m in messages]
        response = render(request, "widgets/picker_options.html", {"options": options, "q": q, "errors": errors})
        response["Cache-Control"] = "no-store"
        return response
