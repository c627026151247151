"""The notifications' pages: the bell of the top bar, ``/notifications/``, opening one, marking read,
and the settings (which kinds, and by email when)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from guanxi.activities.models import NotificationKind
from guanxi.activities.notifications import (
    COUNT_CAP,
    WANTED_LABELS,
    Shown,
    mark_read,
    notification_settings,
    notification_settings_set,
    notifications_of,
    notifications_page,
    shown,
    unread_count,
)
from guanxi.core.custom_fields import definitions_for
from guanxi.core.errors import FieldErrors, NotFound
from guanxi.core.models import ChangeLogEntry
from guanxi.core.pagination import DEFAULT_LIMIT
from guanxi.core.views.base import GuanxiViewMixin
from guanxi.core.views.records import change_panel
from guanxi.identity.account import account_update
from guanxi.identity.models import NotificationEmail, User

#: How many of a change's fields a notification lists; "and N more" after them.
CHANGES_SHOWN = 4


#: Each kind's sentence; the translation puts the record where its language has it (李雷 在 客户 X 写了跟进记录).
SENTENCES: dict[str, Any] = {
    NotificationKind.CHANGED: gettext_lazy("%(actor)s changed %(record)s"),
    NotificationKind.ASSIGNED: gettext_lazy("%(actor)s gave you %(record)s"),
    NotificationKind.NOTE: gettext_lazy("%(actor)s added a note to %(record)s"),
    NotificationKind.FILE: gettext_lazy("%(actor)s added a file to %(record)s"),
    NotificationKind.DELETED: gettext_lazy("%(actor)s deleted %(record)s"),
    NotificationKind.RESTORED: gettext_lazy("%(actor)s restored %(record)s"),
    NotificationKind.MERGED: gettext_lazy("%(actor)s merged %(record)s"),
    NotificationKind.DUPLICATE: gettext_lazy("%(actor)s entered your customer %(record)s again"),
}


def sentence(item: Shown) -> str:
    """The sentence "王芳 修改了 客户 星河科技", the record a link to its notification while the reader
    may see it."""
    notification = item.notification
    type_label = item.model._meta.verbose_name if item.model is not None else ""
    if item.url is not None:
        url = reverse("ui:notification-open", args=[notification.pk])
        record = format_html(
            '<span class="text-secondary">{}</span> <a href="{}" class="fw-medium notification-record">{}</a>',
            type_label,
            url,
            item.title,
        )
    else:
        record = format_html(
            '<span class="text-secondary">{}</span> <span class="fw-medium notification-record">{}</span> '
            '<span class="text-secondary small">({})</span>',
            type_label,
            item.title,
            _("gone, or out of your reach"),
        )
    template = SENTENCES.get(notification.kind, "%(actor)s: %(record)s")
    # format_html takes {} fields, and the translations are %(name)s ones: the translated sentence is
    # escaped whole, then filled with parts that format_html built, so nothing unescaped goes in.
    parts = {"actor": format_html("<strong>{}</strong>", actor_name(item)), "record": record}
    return mark_safe(conditional_escape(str(template)) % parts)  # noqa: S308 - escaped above


def plain_sentence(item: Shown) -> str:
    """The sentence as an email's text says it."""
    type_label = item.model._meta.verbose_name if item.model is not None else ""
    template = SENTENCES.get(item.notification.kind, "%(actor)s: %(record)s")
    return str(template) % {"actor": actor_name(item), "record": f"{type_label} {item.title}".strip()}


def actor_name(item: Shown) -> str:
    actor = item.notification.actor
    return str(actor) if actor is not None else _("Guanxi (automatic)")


def rows_for(items: list[Shown], user: Any = None) -> list[dict[str, Any]]:
    """What the page shows of each notification: its sentence and its changes as the record's
    history shows them (names of related records read once per type for the whole page)."""
    panels: dict[int, list[dict[str, str]]] = {}
    by_model: dict[Any, list[Shown]] = {}
    for item in items:
        if item.changes and item.model is not None:
            by_model.setdefault(item.model, []).append(item)
    for model, group in by_model.items():
        # The told and visible part of each change only.
        entries = [ChangeLogEntry(pk=item.notification.change_id, changes=item.changes) for item in group]
        labels = {d.key: d.label for d in definitions_for(model)}
        for item, panel in zip(group, change_panel(entries, set(), model, labels, user=user), strict=True):
            panels[item.notification.pk] = panel["rows"]
    rows = []
    for item in items:
        changes = panels.get(item.notification.pk, [])
        rows.append(
            {
                "notification": item.notification,
                "sentence": sentence(item),
                "text": plain_sentence(item),
                "url": item.url,
                "changes": changes[:CHANGES_SHOWN],
                "more": max(0, len(changes) - CHANGES_SHOWN),
            }
        )
    return rows


class NotificationListView(GuanxiViewMixin, View):
    """``/notifications/``: the user's notifications, newest first, all or the unread ones."""

    def get(self, request: HttpRequest) -> HttpResponse:
        unread = request.GET.get("unread") == "1"
        cursor = request.GET.get("cursor") or None
        try:
            page = notifications_page(request.user, unread=unread, cursor=cursor, limit=DEFAULT_LIMIT)
        except FieldErrors:  # a broken cursor shows the first page
            page = notifications_page(request.user, unread=unread, limit=DEFAULT_LIMIT)
        query = "unread=1&" if unread else ""
        return render(
            request,
            "activities/notification_list.html",
            {
                "rows": rows_for(shown(request.user, page.items), request.user),
                "unread": unread,
                "unread_total": unread_count(request.user),
                "count_cap": COUNT_CAP,
                "next_url": f"?{query}cursor={page.next_cursor}" if page.next_cursor else None,
            },
        )


class NotificationOpenView(GuanxiViewMixin, View):
    """``/notifications/<id>/``: mark it read and go to its record (or back to the list when the
    record is gone or out of reach)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        notification = notifications_of(request.user).filter(pk=pk).first()
        if notification is None:
            raise NotFound()
        mark_read(request.user, [pk])
        url = shown(request.user, [notification])[0].url
        if url is None:
            messages.info(request, _("That record is gone, or you may no longer see it."))
            return redirect("ui:notification-list")
        return redirect(url)


class NotificationReadView(GuanxiViewMixin, View):
    """``POST /notifications/read/``: mark all read (or the ``id``s posted), then back to the list."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        ids = request.POST.getlist("id") or None
        try:
            marked = mark_read(request.user, ids)
        except ValueError:
            raise NotFound() from None
        if getattr(request, "htmx", None):
            return render(request, "activities/bell.html", bell_context(request.user))
        text = ngettext("%(count)d notification marked read.", "%(count)d notifications marked read.", marked)
        messages.success(request, text % {"count": marked})
        return redirect("ui:notification-list")


def bell_context(user: Any) -> dict[str, Any]:
    count = unread_count(user)
    return {"unread": count, "over_cap": count > COUNT_CAP, "count_cap": COUNT_CAP}


class NotificationBellView(GuanxiViewMixin, View):
    """``/notifications/bell/``: the top bar's bell with the unread count, asked for by htmx after
    the page has loaded (and every two minutes), so no page waits for it."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            # A session that ran out: nothing to swap in. The bell keeps asking quietly instead of
            # sending the page to sign in (and away from what the user is typing) every two minutes.
            return HttpResponse(status=204)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        response = render(request, "activities/bell.html", bell_context(request.user))
        response["Cache-Control"] = "private, no-store"
        return response


class NotificationSettingsView(GuanxiViewMixin, View):
    """``/notifications/settings/``: which kinds of notification the user wants (the others are not
    written for them, in the bell or by email), and when email brings them (the account page's
    setting, through the same service)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        email = cast(User, request.user).notification_email  # the mixin signs in first
        return self._page(request, notification_settings(request.user), email)

    def post(self, request: HttpRequest) -> HttpResponse:
        wanted = set(request.POST.getlist("wanted"))
        email = request.POST.get("notification_email", "")
        try:
            with transaction.atomic():  # both or neither
                notification_settings_set(
                    user=request.user, muted=[k for k in NotificationKind.values if k not in wanted]
                )
                account_update(user=request.user, data={"notification_email": email})
        except FieldErrors as exc:
            kinds = {k: k in wanted for k in NotificationKind.values}
            return self._page(request, kinds, email, errors=exc.errors, status=400)
        messages.success(request, _("Your notification settings are saved."))
        return redirect("ui:notification-settings")

    def _page(
        self,
        request: HttpRequest,
        kinds: dict[str, bool],
        email: str,
        *,
        errors: dict[str, list[str]] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        rows = [{"kind": k, "label": WANTED_LABELS[k], "wanted": wanted} for k, wanted in kinds.items()]
        context = {"rows": rows, "email": email, "email_choices": NotificationEmail.choices, "errors": errors or {}}
        return render(request, "activities/notification_settings.html", context, status=status)


ui_urlpatterns = [
    path("notifications/", NotificationListView.as_view(), name="notification-list"),
    path("notifications/bell/", NotificationBellView.as_view(), name="notification-bell"),
    path("notifications/read/", NotificationReadView.as_view(), name="notification-read"),
    path("notifications/settings/", NotificationSettingsView.as_view(), name="notification-settings"),
    path("notifications/<int:pk>/", NotificationOpenView.as_view(), name="notification-open"),
]
