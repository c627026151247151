"""System checks for running Guanxi in production (``GUANXI_PRODUCTION=1``).

Django's own ``check --deploy`` only warns; in production mode an unsafe setting is an error, so
``manage.py check`` (and every command that runs the checks, such as ``migrate``) fails loudly.
``guanxi serve --production`` calls :func:`production_problems` directly and refuses to start.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

# The same thresholds as Django's security.W009: a key an attacker cannot guess.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5

HINT_SECRET = (
    "Set SECRET_KEY to a long random value, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, and keep it secret."
)


def _secret_key_problem() -> str | None:
    from guanxi.settings import DEFAULT_SECRET_KEY

    key = str(getattr(settings, "SECRET_KEY", "") or "")
    if not key or key == DEFAULT_SECRET_KEY:
        return "SECRET_KEY is the built-in development key."
    if key.startswith("django-insecure-"):
        return "SECRET_KEY is a Django development key (django-insecure-...)."
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"SECRET_KEY is too short or too simple: use at least {SECRET_KEY_MIN_LENGTH} characters "
            f"with at least {SECRET_KEY_MIN_UNIQUE_CHARACTERS} different ones."
        )
    return None


def production_problems() -> list[Error]:
    """What makes the current settings unsafe for production; empty when they are fine."""
    problems: list[Error] = []
    if settings.DEBUG:
        problems.append(
            Error(
                "DEBUG is on in production mode: error pages would show code, settings and data.",
                hint="Unset GUANXI_DEBUG (production mode turns DEBUG off by default).",
                id="guanxi.E001",
            )
        )
    secret_problem = _secret_key_problem()
    if secret_problem:
        problems.append(Error(secret_problem, hint=HINT_SECRET, id="guanxi.E002"))
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(
            Error(
                "ALLOWED_HOSTS contains '*': any Host header is accepted (password-reset links can be forged).",
                hint="Set GUANXI_ALLOWED_HOSTS to the host names of the site, e.g. crm.example.com.",
                id="guanxi.E003",
            )
        )
    return problems


def site_url_problems() -> list[CheckMessage]:
    """The address that emails link to (``GUANXI_SITE_URL``): a broken one sends people nowhere."""
    url = settings.GUANXI_SITE_URL
    if not url:
        return [
            Warning(
                "GUANXI_SITE_URL is not set and no allowed host names the site: the links in emails "
                "(notifications) lead nowhere.",
                hint="Set GUANXI_SITE_URL to the address people open, e.g. https://crm.example.com.",
                id="guanxi.W001",
            )
        ]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return [
            Error(
                f"GUANXI_SITE_URL is not a web address: {url!r}.",
                hint="Give the address people open, e.g. https://crm.example.com (a path is allowed).",
                id="guanxi.E004",
            )
        ]
    return []


@register(Tags.security)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Errors only in production mode: a laptop install keeps its convenient defaults."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    return [*production_problems(), *site_url_problems()]
