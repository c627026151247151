"""A record's detail panels: its timeline's pages, and the posts that add a note, upload or remove
a file.

Each post goes through the core service (which checks the user may change the record) and returns
to the record's page with a message.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core.attachments import attachment_add, attachment_delete
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.models import Attachment
from guanxi.core.timeline import gathered_label, note_create, timeline_kinds, timeline_model, timeline_page
from guanxi.core.views.base import GuanxiViewMixin, may, record_url_by_type, safe_next, visible_or_404


def _back(request: HttpRequest, content_type_id: int, object_id: int) -> str:
    ct = ContentType.objects.filter(pk=content_type_id).first()
    if ct is None:
        raise Http404()
    return safe_next(request, record_url_by_type(ct, object_id) or "/")


def timeline_context(
    user: Any,
    record: models.Model,
    content_type: ContentType,
    *,
    kind: str = "",
    gathered: bool = True,
    before: str = "",
) -> dict[str, Any]:
    """What the timeline panel (and each of its older pages) shows: the entries, each gathered
    one's record and link, the kinds to narrow it to, and the link to the next page."""
    page = timeline_page(user, record, kind=kind, gathered=gathered, before=before)
    for entry in page.entries:
        if entry["subject"]:  # content types are cached: no query
            content_type_id, object_id = entry["subject"]
            entry["subject_url"] = record_url_by_type(ContentType.objects.get_for_id(content_type_id), object_id)
    url = reverse("ui:timeline", args=[content_type.pk, record.pk])
    params = {"kind": kind, "gathered": "1" if gathered else "0"}
    return {
        "timeline": page.entries,
        "timeline_url": url,
        "timeline_kind": kind,
        "timeline_kinds": timeline_kinds(),
        "timeline_gathers": gathered_label(type(record)),
        "timeline_gathered": gathered,
        "timeline_next": f"{url}?{urlencode({**params, 'before': page.next_cursor})}" if page.next_cursor else None,
    }


class TimelineView(GuanxiViewMixin, View):
    """``GET records/<type>/<id>/timeline/``: the timeline's entries narrowed to a kind, with or
    without the records it gathers, from a cursor on (htmx swaps them into the panel)."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, content_type_id: int, object_id: int) -> HttpResponse:
        model = timeline_model(content_type_id)
        if model is None:
            raise Http404()
        record = visible_or_404(model, request.user, object_id)
        content_type = ContentType.objects.get_for_id(content_type_id)
        try:
            context = timeline_context(
                request.user,
                record,
                content_type,
                kind=request.GET.get("kind", ""),
                gathered=request.GET.get("gathered", "1") != "0",
                before=request.GET.get("before", ""),
            )
        except FieldErrors as exc:
            # htmx swaps only a 2xx answer: the panel shows the message, a plain request gets a 400.
            status = 200 if getattr(request, "htmx", None) else 400
            older = bool(request.GET.get("before"))
            context = {"errors": exc.errors, "older": older}
            return render(request, "generic/panels/timeline_error.html", context, status=status)
        context["older"] = bool(request.GET.get("before"))
        context["can_change"] = may(request.user, record, Action.CHANGE)  # a merge's undo button
        return render(request, "generic/panels/timeline_entries.html", context)


def _field_errors(request: HttpRequest, exc: FieldErrors) -> None:
    for messages_ in exc.errors.values():
        for message in messages_:
            messages.error(request, message)


class NoteAddView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, content_type_id: int, object_id: int) -> HttpResponse:
        back = _back(request, content_type_id, object_id)
        try:
            note_create(
                user=request.user,
                data={"content_type_id": content_type_id, "object_id": object_id, "body": request.POST.get("body", "")},
            )
        except FieldErrors as exc:
            _field_errors(request, exc)
        else:
            messages.success(request, _("Note added."))
        return redirect(back)


class AttachmentAddView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, content_type_id: int, object_id: int) -> HttpResponse:
        back = _back(request, content_type_id, object_id)
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Choose a file to upload."))
            return redirect(back)
        try:
            attachment = attachment_add(
                user=request.user, content_type_id=content_type_id, object_id=object_id, upload=upload
            )
        except FieldErrors as exc:
            _field_errors(request, exc)
        else:
            messages.success(request, _("Uploaded “%(name)s”.") % {"name": attachment.name})
        return redirect(back)


class AttachmentDeleteView(GuanxiViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        attachment = Attachment.objects.restrict(request.user, Action.VIEW).filter(pk=pk).first()
        if attachment is None:
            raise Http404()
        back = safe_next(request, record_url_by_type(attachment.content_type, attachment.object_id) or "/")
        attachment_delete(user=request.user, pk=pk)
        messages.success(request, _("Removed “%(name)s”.") % {"name": attachment.name})
        return redirect(back)
