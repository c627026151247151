import time
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


class UserPreferencesMiddleware:
    """Show times in the user's time zone; a signed-in user's saved language wins over the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
            if user.language and not request.COOKIES.get("django_language"):
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
        else:
            timezone.deactivate()
        return self.get_response(request)


#: Seconds between two renewals of a signed-in session's expiry (see ``SessionRenewalMiddleware``).
SESSION_RENEW_SECONDS = 300
_RENEWED = "_guanxi_renewed"


class SessionRenewalMiddleware:
    """Push a signed-in session's expiry forward at most every ``SESSION_RENEW_SECONDS``.

    A session ends after ``SESSION_COOKIE_AGE`` of inactivity, to within those few minutes. Saving
    it on every request instead (``SESSION_SAVE_EVERY_REQUEST``) made every page view a database
    write, and on SQLite a write waits for the one write lock: behind an import's batch, a second or
    more for a page that only reads.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            if now - int(request.session.get(_RENEWED, 0)) >= SESSION_RENEW_SECONDS:
                request.session[_RENEWED] = now  # modified: saved with a new expiry and cookie
        return self.get_response(request)


def renewed_at_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Signing in saves a new session with a full expiry: the first page after it need not renew it
    (connected to ``user_logged_in`` in ``IdentityConfig.ready``)."""
    if request is not None and hasattr(request, "session"):
        request.session[_RENEWED] = int(time.time())
