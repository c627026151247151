"""Navigation for the top bar: every module's menu, shown only where the user may look.

``NAVIGATION`` is the one place that orders the menus. Each resource registered with a ``nav_group``
and ``ui=True`` appears in its group by itself (after the entries listed here); list a resource's
path here only to put it in a particular place, and add ``Link`` entries for pages that are not a
resource's list (boards, calendars, dashboards...). Groups with nothing the user may open are hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from guanxi.core.choices import Action
from guanxi.core.permissions import can


@dataclass(frozen=True)
class Link:
    """A menu entry that is not a resource list: a label, a URL name and the permission it needs."""

    label: Any
    url_name: str
    object_type: str | None = None  # shown when the user may view this type; None: to everyone
    action: str = Action.VIEW


@dataclass(frozen=True)
class Group:
    key: str  # the resources' nav_group, and the URL area (/sales/..., /settings/...)
    label: Any
    entries: list[str | Link] = field(default_factory=list)  # resource paths or Links, in menu order


NAVIGATION: list[Group] = [
    Group(
        "customers",
        _("Customers"),  # 客户
        [
            "accounts",
            "contacts",
            Link(_("Account breakdown"), "ui:accounts-breakdown", "customers.account"),  # 客户分布
            Link(_("Contact breakdown"), "ui:contacts-breakdown", "customers.contact"),  # 联系人分布
            Link(_("Duplicates"), "ui:duplicates-list", "customers.contact"),  # 重复客户
            Link(_("Pool statistics"), "ui:pool-statistics", "customers.account"),  # 公海统计
        ],
    ),
    Group("sales", _("Sales")),  # 销售
    Group("activities", _("Activities")),  # 活动
    Group("marketing", _("Marketing")),  # 市场
    Group("service", _("Service")),  # 服务
    Group("analytics", _("Analytics")),  # 分析
    Group("automation", _("Automation")),  # 自动化
    Group(
        "settings",
        _("Settings"),
        [
            "users",
            "teams",
            "roles",
            "shares",
            "tokens",
            "tags",
            "custom-fields",
            "change-log",
            # 查看完整信息统计: whoever may read the change log (core.reveal_report.reveal_reach)
            Link(_("Views in full"), "ui:reveal-report", "core.changelogentry"),
            Link(_("Recycle bin"), "ui:recycle-bin"),
        ],
    ),
]


def _resource_item(path: str, user: Any) -> dict[str, Any] | None:
    from guanxi.core.registry import resource_at

    try:
        resource = resource_at(path)
    except KeyError:
        return None
    if not resource.ui:
        return None
    # Everyone manages their own API tokens; other lists need the view permission.
    if path != "tokens" and not can(user, resource.model, Action.VIEW):
        return None
    try:
        url = reverse(f"ui:{path}-list")
    except NoReverseMatch:
        return None
    return {"label": capfirst(resource.label_plural), "url": url}


def _link_item(link: Link, user: Any) -> dict[str, Any] | None:
    if link.object_type and not can(user, link.object_type, link.action):
        return None
    try:
        url = reverse(link.url_name)
    except NoReverseMatch:
        return None
    return {"label": link.label, "url": url}


def menu(user: Any, current_path: str = "") -> list[dict[str, Any]]:
    """The groups and entries this user may open, with the one for ``current_path`` marked active."""
    from guanxi.core.registry import resources

    groups = []
    for group in NAVIGATION:
        entries: list[str | Link] = list(group.entries)
        listed = {e for e in entries if isinstance(e, str)}
        entries += [r.path for r in resources() if r.nav_group == group.key and r.ui and r.path not in listed]
        items = []
        for entry in entries:
            item = _link_item(entry, user) if isinstance(entry, Link) else _resource_item(entry, user)
            if item is not None:
                item["active"] = bool(current_path) and current_path.startswith(item["url"])
                items.append(item)
        if items:
            groups.append(
                {"key": group.key, "label": group.label, "items": items, "active": any(i["active"] for i in items)}
            )
    return groups


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    return {"navigation": menu(user, request.path)}
