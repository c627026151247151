"""``/api/v1/notifications``: the caller's notifications (通知), their unread count, marking them read."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema

from guanxi.activities.models import NotificationKind
from guanxi.activities.notifications import (
    WANTED_LABELS,
    Shown,
    mark_read,
    notification_settings,
    notification_settings_set,
    notifications_page,
    shown,
    unread_count,
)
from guanxi.api.crud import json_response, require_token_scope
from guanxi.core.choices import Action
from guanxi.core.errors import FieldErrors
from guanxi.core.pagination import parse_limit
from guanxi.identity.account import account_update

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


def settings_json(user: Any) -> dict[str, Any]:
    return {
        "kinds": [
            {"kind": kind, "label": str(WANTED_LABELS[kind]), "wanted": wanted}
            for kind, wanted in notification_settings(user).items()
        ],
        "email": user.notification_email,
    }


@router.get(
    "/notifications/settings",
    summary="Which kinds of notification the caller wants, and when email brings them",
)
def notifications_settings(request: HttpRequest) -> HttpResponse:
    require_token_scope(request, NOTIFICATION_TYPE, Action.VIEW)
    return json_response(settings_json(request.user))


class SettingsIn(Schema):
    #: The kinds not wanted (none of them is written for the caller); the others are wanted.
    muted: list[str]
    #: When email brings the rest: "instant", "daily" or "off"; left out, it stays as it is.
    email: str | None = None


@router.put(
    "/notifications/settings",
    summary="Choose the kinds of notification the caller does not want",
    description="`muted`: the kinds (`changed`, `assigned`, `note`, `file`, `deleted`, `restored`, "
    "`merged`, `duplicate`) the caller does not want, in the bell or by email; every other kind is wanted. "
    "`email`: when email brings the rest (`instant`, `daily`, `off`; the account page's setting). "
    "An unknown kind or mode is a 400 naming `muted` or `email`, and changes nothing.",
)
def notifications_settings_set(request: HttpRequest, payload: SettingsIn) -> HttpResponse:
    require_token_scope(request, NOTIFICATION_TYPE, Action.CHANGE)
    user: Any = request.user
    with transaction.atomic():  # both or neither
        notification_settings_set(user=user, muted=payload.muted)
        if payload.email is not None:
            try:
                user = account_update(user=user, data={"notification_email": payload.email})
            except FieldErrors as exc:
                raise FieldErrors({"email": exc.errors.get("notification_email", [])}) from None
    return json_response(settings_json(user))
