"""``/api/v1/notifications``: the caller's notifications (通知), their unread count, marking them read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema

from guanxi.activities.models import NotificationKind
from guanxi.activities.notifications import Shown, mark_read, notifications_page, shown, unread_count
from guanxi.api.crud import json_response, require_token_scope
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.pagination import parse_limit

NOTIFICATION_TYPE = "activities.notification"
router = Router(tags=["notifications"])


def notification_json(item: Shown) -> dict[str, Any]:
    notification = item.notification
    actor = notification.actor
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "kind_label": str(NotificationKind(notification.kind).label),
        "actor": {"id": actor.pk, "name": str(actor)} if actor is not None else None,
        "record": {"type": item.type_key, "id": notification.object_id, "name": item.title, "url": item.url},
        "changes": item.changes,
        "summary": notification.summary,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


@router.get(
    "/notifications",
    summary="The caller's notifications, newest first",
    description=(
        "What others did to the records the caller follows (changes of the fields followers are told of, "
        "notes, files, deletion) and the records given to the caller. `unread=true`: only the unread ones. "
        "`changes` holds the told fields the caller may see (`{field: [before, after]}`); `record.url` is "
        "null when the caller may no longer see the record. Keyset pages: `cursor` from `next_cursor`."
    ),
)
def notifications_list(
    request: HttpRequest, unread: bool = False, cursor: str | None = None, limit: int | None = None
) -> HttpResponse:
    require_token_scope(request, NOTIFICATION_TYPE, Action.VIEW)
    page = notifications_page(request.user, unread=unread, cursor=cursor, limit=parse_limit(limit))
    items = [notification_json(item) for item in shown(request.user, page.items)]
    return json_response({"items": items, "next_cursor": page.next_cursor})


@router.get("/notifications/unread-count", summary="How many notifications the caller has not read")
def notifications_unread_count(request: HttpRequest) -> HttpResponse:
    require_token_scope(request, NOTIFICATION_TYPE, Action.VIEW)
    return json_response({"unread": unread_count(request.user)})


class ReadIn(Schema):
    #: These notifications; leave out for all of the caller's.
    ids: list[int] | None = None


@router.post(
    "/notifications/read",
    summary="Mark notifications read",
    description="`ids`: the caller's notifications to mark read; leave it out to mark all of them. "
    "Returns how many were unread.",
)
def notifications_read(request: HttpRequest, payload: ReadIn) -> HttpResponse:
    require_token_scope(request, NOTIFICATION_TYPE, Action.CHANGE)
    if payload.ids is not None and not payload.ids:
        raise FieldErrors({"ids": [_("List the notifications to mark read, or leave ids out to mark all.")]})
    return json_response({"marked": mark_read(request.user, payload.ids)})
