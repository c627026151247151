"""Background jobs of the core app."""

from __future__ import annotations

from django_tasks import task

from guanxi.core.context import write_context
from guanxi.core.services import recycle_bin_purge_expired, reveal_counts_purge_old


@task()
def recycle_bin_purge_task(days: int | None = None) -> dict[str, int]:
    """Purge expired recycle-bin records, and the daily counts of masked values seen in full older
    than ``REVEAL_COUNT_DAYS``; schedule daily (see docs/deploy.md)."""
    with write_context("job"):
        purged = recycle_bin_purge_expired(days=days)
    reveal_counts_purge_old()
    return purged
