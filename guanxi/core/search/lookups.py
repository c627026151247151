"""An hourly allowance of whole-value lookups for readers who see emails or phones masked (号码脱敏).

Search finds an email or phone its reader sees masked by the whole value only (``engine._whole_only``):
the number a customer rang from finds them. Someone who sees ``+86 138 **** 8000`` could still try
the 10,000 middles one search at a time, and the API makes that a script. So each search that may
find a masked value whole counts one lookup for its user; past ``GUANXI_MASKED_LOOKUPS_PER_HOUR`` in
a clock hour, the masked columns are not searched until the hour ends (names and everything else
still are), and the search says so. Readers without a masked email or phone column never count.

Counted in the cache with ``throttle.incr`` (atomic on Redis; the default local-memory cache counts
per process). A clock hour rather than an hour from the first lookup: the key names its hour, so
the notice can say when the allowance comes back without a second key to keep it; a burst across
the turn of an hour gets two hours' allowance at most.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from guanxi.identity import throttle

security_log = logging.getLogger("guanxi.security")

KEY_PREFIX = "guanxi:masked-lookups"
HOUR = 3600


def _now() -> float:
    """The clock the hours are told by; tests move it instead of waiting."""
    return time.time()


@dataclass(frozen=True)
class LookupsUsedUp:
    """A reader's whole-value lookups of masked values are used up until ``until`` (unix time)."""

    until: float
    limit: int

    @property
    def resumes_at(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.until, tz=datetime.UTC)

    def message(self) -> str:
        """A sentence saying why a number or email seen masked is not found, and until when, in the
        reader's language and time zone."""
        from django.utils import timezone
        from django.utils.formats import time_format
        from django.utils.translation import gettext as _

        return _(
            "You have looked up %(limit)d whole numbers or emails this hour, as many as an hour allows: "
            "until %(time)s, numbers and emails you see masked are not searched."
        ) % {"limit": self.limit, "time": time_format(timezone.localtime(self.resumes_at), "H:i")}

    def as_dict(self) -> dict[str, Any]:
        return {"notice": self.message(), "masked_search_resumes_at": self.resumes_at.isoformat()}


def masked_lookup(user: Any) -> LookupsUsedUp | None:
    """Count one search of ``user`` that may find a masked value whole: None while the hour's
    allowance lasts, else when it comes back (this search may not look them up). The first search
    refused in an hour goes to the security log."""
    limit = int(settings.GUANXI_MASKED_LOOKUPS_PER_HOUR)
    now = _now()
    hour = int(now // HOUR)
    until = (hour + 1) * HOUR
    count = throttle.incr(f"{KEY_PREFIX}:{user.pk}:{hour}", int(until - now) + 5)
    if count <= limit:
        return None
    if count == limit + 1:
        security_log.warning(
            "masked lookups used up: user=%s (%s) searched %d times this hour for values seen masked; "
            "not searched until %s",
            user.pk,
            getattr(user, "email", ""),
            limit,
            datetime.datetime.fromtimestamp(until, tz=datetime.UTC).isoformat(),
        )
    return LookupsUsedUp(until=until, limit=limit)
