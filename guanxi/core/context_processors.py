"""Navigation for the top bar: every module's entries, shown only where the user may look."""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from guanxi.core.permissions import can

# (group label, [(label, url name, object type or None)])
NAVIGATION: list[tuple[Any, list[tuple[Any, str, str | None]]]] = [
    (_("Settings"), [
        (_("Users"), "ui:list:users", "identity.user"),
        (_("Teams"), "ui:list:teams", "identity.team"),
        (_("Roles"), "ui:list:roles", "identity.role"),
        (_("Shares"), "ui:list:shares", "identity.share"),
        (_("API tokens"), "ui:list:tokens", None),
        (_("Tags"), "ui:list:tags", "core.tag"),
        (_("Custom fields"), "ui:list:custom-fields", "core.customfielddefinition"),
        (_("Change log"), "ui:list:change-log", "core.changelogentry"),
        (_("Recycle bin"), "ui:recycle-bin", None),
    ]),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    groups = []
    for label, entries in NAVIGATION:
        items = []
        for item_label, url_name, object_type in entries:
            if object_type and not can(user, object_type, "view"):
                continue
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            items.append({"label": item_label, "url": url, "active": request.path.startswith(url)})
        if items:
            groups.append({"label": label, "items": items})
    return {"navigation": groups}
