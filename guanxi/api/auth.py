"""API authentication: the browser session (with CSRF) or a scoped bearer token."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from guanxi.core.db import first_row
from guanxi.identity.models import ApiToken, hash_token


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <key>``; the user gets the token's scopes as a ceiling."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        prefix = token[: ApiToken.PREFIX_LENGTH]
        row = first_row(ApiToken.objects.select_related("user").filter(prefix=prefix))
        if row is None or not row.is_usable or not row.user.is_active:
            return None
        # Constant-time comparison of the stored hash.
        import hmac

        if not hmac.compare_digest(row.key_hash, hash_token(token)):
            return None
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        user = row.user
        # The token's scopes travel on the user object so restrict() can cap what it allows.
        user.token_scopes = list(row.scopes)
        user.api_token_id = row.pk
        request.user = user
        return user


class CsrfSessionAuth(SessionAuth):
    """Session auth for the UI's own calls; CSRF is checked on unsafe methods."""

    def _get_key(self, request: HttpRequest) -> str | None:
        # No signed-in session, nothing to protect: the caller gets 401 (sign in / send a token),
        # not a misleading CSRF 403 (e.g. an API client whose bearer token expired).
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


auth = [TokenAuth(), CsrfSessionAuth(csrf=True)]
