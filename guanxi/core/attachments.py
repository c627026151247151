"""Files on records, with size and type limits from settings."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from guanxi.core.audit import changelog_record, snapshot
from guanxi.core.choices import Action, ChangeAction
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.models import Attachment
from guanxi.core.timeline import subject_for_write, timeline_add


def _check_file(upload: UploadedFile) -> tuple[str, str]:
    name = Path(upload.name or "file").name[:200]
    suffix = Path(name).suffix.lower()
    allowed = [s.lower() for s in settings.GUANXI_ATTACHMENT_TYPES]
    if suffix not in allowed:
        raise FieldErrors(
            {
                "file": [
                    _("Files of type %(suffix)s are not allowed. Allowed: %(allowed)s.")
                    % {"suffix": suffix or "(none)", "allowed": " ".join(allowed)}
                ]
            }
        )
    if upload.size is None or upload.size > settings.GUANXI_ATTACHMENT_MAX_BYTES:
        raise FieldErrors(
            {
                "file": [
                    _("The file is larger than %(mb)s MB.")
                    % {"mb": settings.GUANXI_ATTACHMENT_MAX_BYTES // (1024 * 1024)}
                ]
            }
        )
    if upload.size == 0:
        raise FieldErrors({"file": [_("The file is empty.")]})
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, mime


@transaction.atomic
def attachment_add(*, user: Any, content_type_id: Any, object_id: Any, upload: UploadedFile) -> Attachment:
    """Attach a file to a record the user may change."""
    name, mime = _check_file(upload)
    subject = subject_for_write(user, content_type_id, object_id)
    attachment = Attachment(
        content_type_id=content_type_id,
        object_id=subject.pk,
        name=name,
        size=upload.size or 0,
        mime_type=mime,
        created_by_id=user.pk,
    )
    attachment.file.save(name, upload, save=False)
    try:
        attachment.save()
    except Exception:
        attachment.file.delete(save=False)  # no orphan file when the row is not written
        raise
    changelog_record(actor=user, obj=attachment, action=ChangeAction.CREATE, after=snapshot(attachment))
    timeline_add(subject=subject, kind="attachment", summary=name, actor=user, data={"attachment_id": attachment.pk})
    return attachment


@transaction.atomic
def attachment_delete(*, user: Any, pk: Any) -> None:
    attachment = Attachment.objects.restrict(user, Action.DELETE).filter(pk=pk).first()
    if attachment is None:
        raise NotFound()
    changelog_record(actor=user, obj=attachment, action=ChangeAction.PURGE, before=snapshot(attachment))
    stored = attachment.file
    attachment.delete()
    transaction.on_commit(lambda: stored.delete(save=False))
