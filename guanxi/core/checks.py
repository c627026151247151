"""System checks for running Guanxi in production (``GUANXI_PRODUCTION=1``).

Django's own ``check --deploy`` only warns; in production mode an unsafe setting is an error, so
``manage.py check`` (and every command that runs the checks, such as ``migrate``) fails loudly.
``guanxi serve --production`` calls :func:`production_problems` directly and refuses to start.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

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


@register(Tags.security)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Errors only in production mode: a laptop install keeps its convenient defaults."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    return production_problems()
