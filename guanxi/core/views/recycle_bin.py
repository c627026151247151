"""``/settings/recycle-bin/``: the deleted records of one type at a time, newest deletion first, to
find (by name, who deleted them, when) and bring back or remove for good, one or many.

Many go through the bulk actions ``restore`` and ``purge`` (``core.bulk``: up to ``SYNC_LIMIT`` in
the request, more as a job with progress), each record through its resource's restore service or
``services.record_purge``, so the page, the API and a bulk delete's 撤销 (``RecycleUndoView``) do
the same. The reads are ``core.recycle_bin``'s.
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from guanxi.core import services
from guanxi.core.bulk import BIN_ACTIONS, MAX_LISTED, bulk_start_or_run
from guanxi.core.errors import FieldErrors, GuanxiError
from guanxi.core.models import Job
from guanxi.core.notices import collecting
from guanxi.core.pagination import paginate
from guanxi.core.pickers import RecordPicker
from guanxi.core.recycle_bin import COUNT_CAP, bin_query, bin_resource, bin_types, binned_count, in_bin
from guanxi.core.registry import Resource
from guanxi.core.views.base import GuanxiViewMixin, safe_next

#: Rows shown per page.
PER_PAGE = 50
#: Refused records named one by one in the page's messages; the rest are counted.
NAMED_FAILURES = 10
#: The session's key for the last bulk delete that can be undone (``offer_undo``).
UNDO_KEY = "bin_undo"
#: The bin's own query parameters, which are no filters.
PAGE_PARAMS = ("type", "cursor")

__all__ = ["RecycleBinView", "RecycleBulkView", "RecyclePurgeView", "RecycleRestoreView", "RecycleUndoView"]


def _resource_or_404(path: str) -> Resource:
    resource = bin_resource(path)
    if resource is None:
        raise Http404()
    return resource


def bin_url(resource: Resource | None = None, **params: str) -> str:
    """The bin's page, on ``resource``'s tab, with filters."""
    query = QueryDict(mutable=True)
    if resource is not None:
        query["type"] = resource.path
    query.update(params)
    url = reverse("ui:recycle-bin")
    return f"{url}?{query.urlencode()}" if query else url


def _filters(request: HttpRequest) -> QueryDict:
    params = request.GET.copy()
    for name in PAGE_PARAMS:
        params.pop(name, None)
    return params


def _count_text(count: int) -> str:
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


class RecycleBinView(GuanxiViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        types = bin_types(user)
        context: dict[str, Any] = {"retention_days": settings.GUANXI_RECYCLE_BIN_DAYS, "tabs": [], "current": None}
        if not types:
            return render(request, "core/recycle_bin.html", context)
        counts = {resource.path: binned_count(resource, user) for resource in types}
        wanted = request.GET.get("type", "")
        current = next((r for r in types if r.path == wanted), None)
        if current is None:  # the first bin holding something, else the first
            current = next((r for r in types if counts[r.path]), types[0])
        params = _filters(request)
        try:
            qs, ordering = bin_query(current, user, params, strict=False)
            page = paginate(qs.select_related("deleted_by"), ordering, request.GET.get("cursor"), PER_PAGE)
        except FieldErrors as exc:
            messages.error(request, " ".join(m for ms in exc.errors.values() for m in ms) or exc.detail)
            return redirect(bin_url(current))
        filtered = any(value for value in params.values())
        next_url = None
        if page.next_cursor:
            query = request.GET.copy()
            query["type"], query["cursor"] = current.path, page.next_cursor
            next_url = f"{reverse('ui:recycle-bin')}?{query.urlencode()}"
        from guanxi.identity.models import User

        deleted_by = RecordPicker("users", User.objects.all(), words={"me": _("Me")}).render(
            "deleted_by", params.get("deleted_by", ""), {"id": "bin-deleted-by"}
        )
        matching = qs[: COUNT_CAP + 1].count() if filtered or page.next_cursor else len(page.items)
        context.update(
            tabs=[{"resource": r, "count": _count_text(counts[r.path]), "active": r is current} for r in types],
            current=current,
            rows=page.items,
            next_url=next_url,
            first_url=bin_url(current, **{k: str(v) for k, v in params.items() if v})
            if request.GET.get("cursor")
            else None,
            params=params,
            filtered=filtered,
            deleted_by_picker=deleted_by,
            mine_url=bin_url(current, deleted_by="me"),
            matching=_count_text(matching),
            many=bool(page.next_cursor),
            query=params.urlencode(),
            here=request.get_full_path(),
        )
        return render(request, "core/recycle_bin.html", context)


def report_outcome(request: HttpRequest, resource: Resource, outcome: dict[str, Any] | Job) -> HttpResponse | None:
    """Say what a bulk restore or purge did: how many, each refused record by name with its reason,
    and what the services told besides (撞单保护: whose customer a restored one is too). A job:
    its page, with the progress."""
    if isinstance(outcome, Job):
        messages.info(request, _("Many records: the action runs in the background. Its progress is shown here."))
        return redirect(reverse("ui:job-detail", args=[outcome.pk]))
    done = outcome["changed"]
    if outcome["action"] == "restore":
        text = ngettext("%(count)d record was restored.", "%(count)d records were restored.", done)
    else:
        text = ngettext("%(count)d record was removed for good.", "%(count)d records were removed for good.", done)
    if done or not outcome["failed"]:
        messages.success(request, text % {"count": done})
    for error in outcome["errors"][:NAMED_FAILURES]:
        reason = " ".join(m for ms in error["errors"].values() for m in ms)
        name = error.get("name") or f"#{error['id']}"
        if outcome["action"] == "restore":
            messages.error(request, _("“%(name)s” was not restored: %(reason)s") % {"name": name, "reason": reason})
        else:
            messages.error(request, _("“%(name)s” was not removed: %(reason)s") % {"name": name, "reason": reason})
    more = outcome["failed"] - min(len(outcome["errors"]), NAMED_FAILURES)
    if more > 0:
        messages.error(
            request,
            ngettext("%(count)d more record was refused.", "%(count)d more records were refused.", more)
            % {"count": more},
        )
    if outcome["skipped"]:
        messages.warning(
            request,
            ngettext(
                "%(count)d selected record is no longer in the recycle bin or not yours to act on; it was left out.",
                "%(count)d selected records are no longer in the recycle bin or not yours to act on; left out.",
                outcome["skipped"],
            )
            % {"count": outcome["skipped"]},
        )
    for text in outcome.get("notices", [])[:MAX_LISTED]:
        messages.warning(request, text)
    return None


class RecycleBulkView(GuanxiViewMixin, View):
    """``POST settings/recycle-bin/<path>/bulk/``: restore or purge the ticked rows, or every binned
    record matching the page's filters (``select_all=matching``, the filters in ``query``)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str) -> HttpResponse:
        resource = _resource_or_404(path)
        back = safe_next(request, bin_url(resource))
        action = request.POST.get("action", "")
        if action not in BIN_ACTIONS:
            messages.error(request, _("Pick an action: restore or purge."))
            return redirect(back)
        kwargs: dict[str, Any] = {}
        if request.POST.get("select_all") == "matching":
            query = QueryDict(request.POST.get("query", ""), mutable=True)
            for name in PAGE_PARAMS:
                query.pop(name, None)
            kwargs["query"] = query
        else:
            pks = [pk for pk in request.POST.getlist("pk") if pk.isdigit()]
            if not pks:
                messages.error(request, _("Select at least one record."))
                return redirect(back)
            kwargs["ids"] = pks
        try:
            outcome = bulk_start_or_run(resource=resource, user=request.user, action=action, strict=False, **kwargs)
        except GuanxiError as exc:
            parts = [m for ms in exc.errors.values() for m in ms]
            messages.error(request, _("Nothing was changed: %(reason)s") % {"reason": " ".join(parts) or exc.detail})
            return redirect(back)
        return report_outcome(request, resource, outcome) or redirect(back)


def offer_undo(request: HttpRequest, resource: Resource, ids: list[Any], *, since: datetime.datetime) -> None:
    """After a bulk delete to the recycle bin that began at ``since``: remember which records it
    binned (in the session, never in the page: only the user's own last deletion can be undone this
    way), for the 撤销 button that the next page's message shows (``partials/messages.html``)."""
    request.session.pop(UNDO_KEY, None)  # an older offer must not stand for this deletion
    if not ids or bin_resource(resource.path) is None:
        return
    request.session[UNDO_KEY] = {
        "token": secrets.token_urlsafe(12),
        "path": resource.path,
        "ids": [int(pk) for pk in ids],
        "since": since.isoformat(),
        "bin_url": bin_url(resource, deleted_by="me"),
    }


class RecycleUndoView(GuanxiViewMixin, View):
    """``POST settings/recycle-bin/undo/``: 撤销 the last bulk delete, by the token its message showed:
    the records it binned come back through the bulk action ``restore`` (``restrict`` again, each
    through its restore service)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        offer = request.session.get(UNDO_KEY) or {}
        back = safe_next(request, reverse("ui:recycle-bin"))
        token = request.POST.get("token", "")
        if not offer or not token or not secrets.compare_digest(str(offer.get("token", "")), token):
            messages.error(
                request, _("This deletion can no longer be undone here; find the records in the recycle bin.")
            )
            return redirect(reverse("ui:recycle-bin"))
        resource = _resource_or_404(str(offer["path"]))
        del request.session[UNDO_KEY]
        # Those of its records still in the bin as that deletion left them: one restored and binned
        # again since (by anyone) is another deletion, which this 撤销 was not offered for.
        since = datetime.datetime.fromisoformat(str(offer.get("since", "")))
        ids = list(
            in_bin(resource.model)
            .filter(pk__in=offer["ids"], deleted_by=request.user.pk, deleted_at__gte=since)
            .values_list("pk", flat=True)
        )
        try:
            outcome = bulk_start_or_run(resource=resource, user=request.user, action="restore", ids=ids)
        except GuanxiError as exc:
            parts = [m for ms in exc.errors.values() for m in ms]
            messages.error(request, _("Nothing was changed: %(reason)s") % {"reason": " ".join(parts) or exc.detail})
            return redirect(back)
        return report_outcome(request, resource, outcome) or redirect(back)


class RecycleRestoreView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str, pk: int) -> HttpResponse:
        resource = _resource_or_404(path)
        with collecting() as notices:
            obj = (resource.restore or services.record_restore)(model=resource.model, pk=pk, user=request.user)
        messages.success(request, _("Restored “%(name)s”.") % {"name": obj})
        for text in notices:
            messages.warning(request, text)
        return redirect(safe_next(request, bin_url(resource)))


class RecyclePurgeView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, path: str, pk: int) -> HttpResponse:
        resource = _resource_or_404(path)
        services.record_purge(model=resource.model, pk=pk, user=request.user)
        messages.success(request, _("The record was removed for good."))
        return redirect(safe_next(request, bin_url(resource)))
