"""Sign-in throttling with the Django cache: per email and per client IP.

After ``GUANXI_LOGIN_MAX_FAILURES`` failures for one email, or from one client IP, within
``GUANXI_LOGIN_LOCKOUT_SECONDS``, further attempts (passwords and two-factor codes alike) are
refused until the lock runs out. A full sign-in clears the email's counter; the IP counter is
left alone, or one known account would let an attacker reset it at will.

Counting uses ``cache.incr`` so concurrent attempts cannot slip past the limit on Redis. The lock
stores the moment it ends and is compared with ``_now()`` (not only left to cache expiry), which
lets the message name the time to retry and lets tests move the clock instead of sleeping.

Emails are hashed in cache keys: the cache may be shared and keys show up in monitoring tools.
With the default local-memory cache each server process counts on its own; use Redis
(``REDIS_URL``) when running several processes.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

security_log = logging.getLogger("guanxi.security")

KEY_PREFIX = "guanxi:throttle"


def _now() -> float:
    """The clock the locks are judged by; tests move it forward instead of sleeping."""
    return time.time()


@dataclass(frozen=True)
class Lockout:
    """Why and until when attempts are refused."""

    until: float  # unix time

    @property
    def retry_at(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.until, tz=datetime.UTC)

    @property
    def seconds_left(self) -> int:
        return max(1, int(self.until - _now() + 0.999))

    def message(self) -> str:
        """A sentence telling the person when to try again, in their time zone and language."""
        from django.utils.formats import time_format
        from django.utils.translation import gettext as _
        from django.utils.translation import ngettext

        minutes = (self.seconds_left + 59) // 60
        local = timezone.localtime(self.retry_at)
        return (
            ngettext(
                "Too many failed attempts. Try again in %(minutes)d minute (after %(time)s).",
                "Too many failed attempts. Try again in %(minutes)d minutes (after %(time)s).",
                minutes,
            )
            % {"minutes": minutes, "time": time_format(local, "H:i")}
            + " "
            + _("If you forgot your password, reset it by email.")
        )


def _max_failures(kind: str) -> int:
    if kind == "ip":
        # A whole office behind one NAT address shares this counter; deployments can raise it.
        return int(settings.GUANXI_LOGIN_MAX_FAILURES_PER_IP)
    return int(settings.GUANXI_LOGIN_MAX_FAILURES)


def _window() -> int:
    return int(settings.GUANXI_LOGIN_LOCKOUT_SECONDS)


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _ident(kind: str, value: str) -> str:
    if kind == "email":
        value = hashlib.sha256(normalize_email(value).encode()).hexdigest()[:32]
    return f"{kind}:{value}"


def _count_key(scope: str, ident: str) -> str:
    return f"{KEY_PREFIX}:{scope}:n:{ident}"


def _lock_key(scope: str, ident: str) -> str:
    return f"{KEY_PREFIX}:{scope}:lock:{ident}"


def _idents(email: str | None, ip: str | None) -> list[tuple[str, str]]:
    found = []
    if email and normalize_email(email):
        found.append(("email", _ident("email", email)))
    if ip:
        found.append(("ip", _ident("ip", ip)))
    return found


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind reverse proxies set ``GUANXI_PROXY_HOPS`` to how many there are,
    so the address is read from X-Forwarded-For (the entry the nearest trusted proxy appended);
    otherwise every visitor would share the proxy's address and one person could lock out everyone."""
    hops = int(getattr(settings, "GUANXI_PROXY_HOPS", 0) or 0)
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def check(*, email: str | None, ip: str | None, scope: str = "login") -> Lockout | None:
    """The active lock for this email or IP (the one ending last), or None if attempts are allowed."""
    keys = [_lock_key(scope, ident) for _kind, ident in _idents(email, ip)]
    if not keys:
        return None
    now = _now()
    ends = [until for until in cache.get_many(keys).values() if isinstance(until, int | float) and until > now]
    return Lockout(until=max(ends)) if ends else None


def incr(key: str, window: int) -> int:
    """One more in the counter ``key`` (kept ``window`` seconds from its first count): the count now.
    ``cache.incr`` is atomic on Redis, so concurrent requests cannot slip past a limit together."""
    cache.add(key, 0, timeout=window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def _count(*, email: str | None, ip: str | None, scope: str) -> Lockout | None:
    window = _window()
    now = _now()
    locked: Lockout | None = None
    for kind, ident in _idents(email, ip):
        count = incr(_count_key(scope, ident), window)
        if count >= _max_failures(kind):
            until = now + window
            # A few seconds beyond the lock so the cache never drops it early; the stored end rules.
            cache.set(_lock_key(scope, ident), until, timeout=window + 5)
            cache.delete(_count_key(scope, ident))  # after the lock, counting starts afresh
            locked = Lockout(until=until)
            security_log.warning(
                "%s locked: %s=%s after %d attempts, for %ds",
                scope,
                kind,
                normalize_email(email or "") if kind == "email" else ip,
                count,
                window,
            )
    return locked


def record_failure(
    *, email: str | None, ip: str | None, scope: str = "login", reason: str = "password"
) -> Lockout | None:
    """Count one failed attempt against the email and the IP; returns the lock if this one triggered it."""
    security_log.warning("%s failed (%s): email=%s ip=%s", scope, reason, normalize_email(email or ""), ip)
    return _count(email=email, ip=ip, scope=scope)


def clear(*, email: str, scope: str = "login") -> None:
    """Forget the failures counted against an email (after it signed in successfully)."""
    ident = _ident("email", email)
    cache.delete_many([_count_key(scope, ident), _lock_key(scope, ident)])


def allow_request(*, email: str | None, ip: str | None, scope: str) -> bool:
    """Rate-limit a request that is not a failure (e.g. sending a password reset email) with the same
    limits; False when this email or IP has used up its allowance for the window."""
    if check(email=email, ip=ip, scope=scope) is not None:
        security_log.warning("%s refused (rate limit): email=%s ip=%s", scope, normalize_email(email or ""), ip)
        return False
    _count(email=email, ip=ip, scope=scope)
    return True
