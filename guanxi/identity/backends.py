from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from guanxi.identity.models import User


class EmailBackend(ModelBackend):
    """Sign in with email (case-insensitive) and password."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        email = (username or kwargs.get("email") or "").strip().lower()
        if not email or password is None:
            return None
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing hint that the email is unknown
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
