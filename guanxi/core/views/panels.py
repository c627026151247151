"""Posts from a record's detail panels: add a note, upload or remove a file.

Each goes through the core service (which checks the user may change the record) and returns to
the record's page with a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View

from guanxi.core.attachments import attachment_add, attachment_delete
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.models import Attachment
from guanxi.core.timeline import note_create
from guanxi.core.views.base import GuanxiViewMixin, record_url_by_type, safe_next


def _back(request: HttpRequest, content_type_id: int, object_id: int) -> str:
    ct = ContentType.objects.filter(pk=content_type_id).first()
    if ct is None:
        raise Http404()
    return safe_next(request, record_url_by_type(ct, object_id) or "/")


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
