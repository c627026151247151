"""The 关注 button of a record's page (``guanxi.core.follows``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from guanxi.core.follows import record_follow
from guanxi.core.registry import Resource
from guanxi.core.views.base import GuanxiViewMixin, resource_url, ui_resource_or_404

BUTTON = "generic/partials/follow_button.html"


def follow_context(resource: Resource, pk: int, following: bool) -> dict[str, object]:
    return {"following": following, "url": reverse("ui:follow", args=[resource.path, pk])}


class FollowView(GuanxiViewMixin, View):
    """``POST /follow/<path>/<id>/`` with ``following=1`` (or ``0``): follow a record the user may
    see, or stop. htmx gets the button back in its new state; a plain form goes back to the page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str, pk: int) -> HttpResponse:
        resource = ui_resource_or_404(path)
        following = record_follow(
            user=request.user, model=resource.model, pk=pk, following=request.POST.get("following") == "1"
        )
        if getattr(request, "htmx", None):
            return render(request, BUTTON, {"follow": follow_context(resource, pk, following)})
        return redirect(resource_url(resource, "detail", pk) or "home")
