"""The notification routes in the platform's walks: API permission matrix rows, change-log
exemptions and UI matrix rows (the UI matrix adds ``UI_MATRIX`` from here to its own table).

Notifications are personal: each principal reads and marks their own; an administrator too sees
only theirs, and another's answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.api.world import World

if TYPE_CHECKING:  # pragma: no cover
    from tests.api.test_permission_matrix import Check
    from tests.ui_matrix.test_ui_permission_matrix import UiCheck

NOTIFICATIONS = "/api/v1/notifications"
RECIPIENTS = {"n_owner": "owner", "n_other": "other", "n_admin": "admin"}
VIEW: dict[str, Any] = {
    "owner": {"n_owner"},
    "colleague": set(),
    "other": {"n_other"},
    "manager": set(),
    "norole": set(),
    "admin": {"n_admin"},  # an administrator's are theirs alone as well
    "admin_token": {"n_admin"},
}


def notifications_world(w: World) -> World:
    """One unread notification each for owner, other and admin, of a gadget (once per world)."""
    if "notification" in w.objs:
        return w
    from django.utils import timezone

    from guanxi.activities.models import Notification

    gadget = w.obj("gadget", "g_owner")
    for key, who in RECIPIENTS.items():
        notification = Notification.objects.create(
            recipient=w.p.users[who],
            kind="assigned",
            content_type_id=w.gadget_ct,
            object_id=gadget.pk,
            object_repr=str(gadget),
            created_at=timezone.now(),
        )
        w.add("notification", key, notification)
    return w


def _denied(who: str) -> int | None:
    return {"anonymous": 401, "token_noscope": 403}.get(who)


# --- API matrix ----------------------------------------------------------------------------------------------


def _list(c: Check) -> None:
    notifications_world(c.w)
    c.list(NOTIFICATIONS, "notification", VIEW)


def _count(c: Check) -> None:
    notifications_world(c.w)
    expected = _denied(c.who) or 200
    response = c.request("unread count", "GET", f"{NOTIFICATIONS}/unread-count", expected)
    if response.status_code == 200 and response.json() != {"unread": len(VIEW[c.who])}:
        c.errors.append(f"unread count: {response.json()}, expected {len(VIEW[c.who])}")


def _read(c: Check) -> None:
    """Marking every notification read marks the principal's own only."""
    w = notifications_world(c.w)
    ids = [w.pk("notification", key) for key in RECIPIENTS]
    response = c.request("mark read", "POST", f"{NOTIFICATIONS}/read", _denied(c.who) or 200, {"ids": ids})
    if response.status_code != 200:
        return
    read = {key for key, n in w.objs["notification"].items() if type(n).objects.get(pk=n.pk).read_at is not None}
    if read != VIEW[c.who]:
        c.errors.append(f"mark read: marked {sorted(read)}, expected {sorted(VIEW[c.who])}")


def _settings(c: Check) -> None:
    """Each principal reads their own settings (everything wanted in a new world)."""
    response = c.request("settings", "GET", f"{NOTIFICATIONS}/settings", _denied(c.who) or 200)
    if response.status_code == 200 and not all(row["wanted"] for row in response.json()["kinds"]):
        c.errors.append(f"settings: {response.json()}")


def _settings_set(c: Check) -> None:
    """Each principal sets their own; nobody else's changes."""
    from guanxi.activities.models import NotificationMute

    response = c.request("settings set", "PUT", f"{NOTIFICATIONS}/settings", _denied(c.who) or 200, {"muted": ["file"]})
    if response.status_code != 200:
        return
    muted = set(NotificationMute.objects.values_list("user_id", flat=True))
    expected = {c.w.p.user(c.who).pk}
    if muted != expected:
        c.errors.append(f"settings set: muted for users {sorted(muted)}, expected {sorted(expected)}")


MATRIX: dict[tuple[str, str], Callable[[Check], None]] = {
    ("GET", NOTIFICATIONS): _list,
    ("GET", NOTIFICATIONS + "/unread-count"): _count,
    ("POST", NOTIFICATIONS + "/read"): _read,
    ("GET", NOTIFICATIONS + "/settings"): _settings,
    ("PUT", NOTIFICATIONS + "/settings"): _settings_set,
}

CHANGELOG_EXEMPT: dict[tuple[str, str], str] = {
    ("POST", NOTIFICATIONS + "/read"): "changes no record: it marks the caller's own notifications read "
    "(personal, like a follow); see tests/activities/test_notifications.py",
    ("PUT", NOTIFICATIONS + "/settings"): "changes no record: the kinds the caller does not want (personal, "
    "like a follow; an email mode given is the account's, logged by account_update); see "
    "tests/activities/test_notification_settings.py",
}


# --- UI matrix rows --------------------------------------------------------------------------------------------


def _ui_url(name: str, *args: Any) -> str:
    from django.urls import reverse

    return reverse(f"ui:{name}", args=args)


def _ui_list(c: UiCheck) -> None:
    notifications_world(c.w)
    c.list(_ui_url("notification-list"), "notification", VIEW)


def _ui_open(c: UiCheck) -> None:
    """Opening one's own marks it read and goes on (to its record, or back to the list)."""
    w = notifications_world(c.w)
    c.each(
        "notification",
        "GET",
        lambda k: _ui_url("notification-open", w.pk("notification", k)),
        None,
        VIEW,
        302,
        writes=lambda _key, expected: expected == 302 and c.who != "anonymous",
    )


def _ui_bell(c: UiCheck) -> None:
    """The bell counts one's own; a session that ran out gets nothing to swap in (204), no redirect."""
    notifications_world(c.w)
    response = c.request("bell", "GET", _ui_url("notification-bell"), 204 if c.who == "anonymous" else 200)
    own = len(VIEW.get(c.who, ()))
    shown = b'id="notification-count">1<' in response.content
    if response.status_code == 200 and shown != bool(own):
        c.errors.append(f"bell: count shown {shown}, expected {bool(own)}")


def _ui_read(c: UiCheck) -> None:
    notifications_world(c.w)
    c.request("mark all read", "POST", _ui_url("notification-read"), 302)


def _ui_settings(c: UiCheck) -> None:
    """Anyone signed in reads and saves their own settings."""
    url = _ui_url("notification-settings")
    c.request("settings", "GET", url, 302 if c.who == "anonymous" else 200)
    c.request("settings save", "POST", url, 302, {"wanted": ["changed"], "notification_email": "off"})


UI_MATRIX: dict[str, Callable[[UiCheck], None]] = {
    "notification-list": _ui_list,
    "notification-open": _ui_open,
    "notification-bell": _ui_bell,
    "notification-read": _ui_read,
    "notification-settings": _ui_settings,
}
