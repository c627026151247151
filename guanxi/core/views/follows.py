"""The 关注 button of a record's page and the star on a list's rows (``guanxi.core.follows``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core.choices import Action
from guanxi.core.follows import followed_among, record_follow
from guanxi.core.permissions import restricted
from guanxi.core.registry import Resource
from guanxi.core.views.base import GuanxiViewMixin, resource_url, reverse_pk, ui_resource_or_404
from guanxi.core.views.display import escaped

BUTTON = "generic/partials/follow_button.html"


def follow_context(resource: Resource, pk: int, following: bool) -> dict[str, object]:
    return {"following": following, "url": reverse("ui:follow", args=[resource.path, pk])}


def star_html(url: str, following: bool, name: Any) -> SafeString:
    """The star after a record's name on its list: one tap follows it, the next stops (htmx swaps
    the star for its new state). Written with f-strings, not ``format_html``: a list has one a row."""
    label = escaped((_("Stop following %(name)s") if following else _("Follow %(name)s")) % {"name": name})
    posted = "0" if following else "1"  # the next tap's
    pressed = "true" if following else "false"
    star = "★" if following else "☆"
    return mark_safe(  # noqa: S308 - the URL and the label are escaped
        '<button type="button" class="btn btn-icon btn-ghost-warning btn-sm gx-star" '
        f'hx-post="{escaped(url)}" hx-vals=\'{{"following": "{posted}", "style": "star"}}\' hx-swap="outerHTML" '
        f'aria-pressed="{pressed}" aria-label="{label}" title="{label}">{star}</button>'
    )


def follow_stars(resource: Resource, user: Any, rows: list[dict[str, Any]]) -> Callable[[dict[str, Any]], str] | None:
    """The star of each row of a followable list, from one read of which rows the user follows."""
    if not getattr(resource.model, "followable", False):
        return None
    followed = followed_among(user, resource.model, [row["pk"] for row in rows])
    return lambda row: star_html(
        reverse_pk("ui:follow", row["pk"], resource.path) or "", row["pk"] in followed, row["obj"]
    )


class FollowView(GuanxiViewMixin, View):
    """``POST /follow/<path>/<id>/`` with ``following=1`` (or ``0``): follow a record the user may
    see, or stop. htmx gets the button back in its new state (the list's star with ``style=star``);
    a plain form goes back to the page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str, pk: int) -> HttpResponse:
        resource = ui_resource_or_404(path)
        following = record_follow(
            user=request.user, model=resource.model, pk=pk, following=request.POST.get("following") == "1"
        )
        if getattr(request, "htmx", None):
            if request.POST.get("style") == "star":
                name = restricted(resource.model, request.user, Action.VIEW).filter(pk=pk).first() or ""
                return HttpResponse(star_html(reverse("ui:follow", args=[path, pk]), following, name))
            return render(request, BUTTON, {"follow": follow_context(resource, pk, following)})
        return redirect(resource_url(resource, "detail", pk) or "home")
