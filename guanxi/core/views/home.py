"""The home page (a small dashboard) and the language switch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from guanxi.core.choices import Action
from guanxi.core.errors import GuanxiError
from guanxi.core.models import ChangeLogEntry
from guanxi.core.permissions import can, restricted
from guanxi.core.views.base import GuanxiViewMixin, record_url_by_type, resource_url, ui_resources

logger = logging.getLogger(__name__)
RECENT_CHANGES = 10


@dataclass(frozen=True)
class HomePanel:
    """A card a module puts on the home page (``register_home_panel`` in its ``AppConfig.ready``).
    ``context(user)`` gives what the template shows that user as ``panel``, or None for no card. It
    runs at most once a minute per user and language (cached with the counts), so it may count;
    unless ``cached`` is False."""

    key: str
    template: str
    context: Callable[[Any], dict[str, Any] | None]
    #: False for a card cheap enough to read on every visit, and that should show a change at once
    #: (a birthday just typed in).
    cached: bool = True
    #: Where the card goes, smallest first (modules register in any order).
    position: int = 50


_panels: dict[str, HomePanel] = {}


def register_home_panel(panel: HomePanel) -> None:
    _panels[panel.key] = panel


def greeting(now: Any, name: str) -> str:
    """The page's title by the hour where the user is: a salesperson opens it at 7 and at 23. Chinese
    greets the early morning (早上好), noon (中午好) and the small hours (夜深了) apart, so those are
    words of their own, and puts a full-width comma before the name."""
    hour = timezone.localtime(now).hour
    if hour < 5:
        words = _("Working late")
    elif hour < 9:
        words = pgettext("greeting, 5:00 to 9:00", "Good morning")
    elif hour < 12:
        words = _("Good morning")
    elif hour < 14:
        words = pgettext("greeting, 12:00 to 14:00", "Good afternoon")
    elif hour < 18:
        words = _("Good afternoon")
    else:
        words = _("Good evening")
    return _("%(greeting)s, %(name)s") % {"greeting": words, "name": name}


HOME_COUNTS_SECONDS = 60


def home_cache_key(user: Any) -> str:
    return f"guanxi:home:{user.pk}:{get_language()}"


class HomeView(GuanxiViewMixin, View):
    """Greeting, the modules' panels, how many records of each kind the user can see, and the latest
    changes they may see."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        counts: list[dict[str, Any]] = []
        # Counting every record type on each visit would scan large tables on the most-opened page;
        # the numbers are a greeting, so a minute-old figure per user is fine. The panels' texts are
        # in the reader's language, hence the language in the key.
        key = home_cache_key(user)
        stored: dict[str, Any] = cache.get(key) or {}
        cached: dict[str, int] = stored.get("counts", {})
        fresh: dict[str, int] = {}
        openable = [r for r in ui_resources() if not r.read_only and can(user, r.model, Action.VIEW)]
        # The records a user works on (customers...), not the settings' dictionaries (users, teams,
        # tags: on a phone they pushed the salesperson's own figures below the fold); those only for
        # someone whose role opens nothing else.
        business = [r for r in openable if r.nav_group != "settings"]
        for resource in business or openable:
            count = cached.get(resource.path)
            if count is None:
                count = restricted(resource.model, user, Action.VIEW).count()
            fresh[resource.path] = count
            counts.append({"resource": resource, "count": count, "url": resource_url(resource, "list")})
        cached_panels: dict[str, Any] = stored.get("panels", {})
        in_order = sorted(_panels.values(), key=lambda panel: panel.position)
        fresh_panels = {
            panel.key: cached_panels[panel.key] if panel.key in cached_panels else panel.context(user)
            for panel in in_order
            if panel.cached
        }
        if fresh != cached or fresh_panels != cached_panels:
            cache.set(key, {"counts": fresh, "panels": fresh_panels}, HOME_COUNTS_SECONDS)
        panels = []
        for panel in in_order:
            data = fresh_panels[panel.key] if panel.cached else panel.context(user)
            if data is not None:
                panels.append({"template": panel.template, **data})
        changes = [
            {"entry": entry, "url": record_url_by_type(entry.content_type, entry.object_id)}
            for entry in ChangeLogEntry.objects.restrict(user, Action.VIEW)
            .select_related("content_type", "actor")
            .order_by("-id")[:RECENT_CHANGES]
        ]
        return render(
            request,
            "home.html",
            {
                "greeting": greeting(timezone.now(), getattr(user, "display_name", "") or getattr(user, "email", "")),
                "counts": counts,
                "panels": panels,
                "changes": changes,
            },
        )


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (cookie + redirect), and the signed-in user's saved preference too."""
    language = request.POST.get("language", "")
    user = request.user
    if (
        user.is_authenticated
        and language in dict(settings.LANGUAGES)
        and getattr(user, "language", language) != language
    ):
        # The self-service path: anyone may set their own language, whatever their role says about
        # managing users (identity.services.user_update needs "change users").
        from guanxi.identity.account import account_update

        try:
            account_update(user=user, data={"language": language})
        except GuanxiError as exc:
            # The cookie still switches the language; only the saved preference could not change.
            logger.info("language preference of user %s not saved: %s", user.pk, exc.detail)
    return django_set_language(request)
