"""Background jobs of the core app."""

from __future__ import annotations

from django_tasks import task

from guanxi.core.context import write_context
from guanxi.core.services import recycle_bin_purge_expired


@task()
def recycle_bin_purge_task(days: int | None = None) -> dict[str, int]:
    """Purge expired recycle-bin records; schedule daily (see docs/deploy.md)."""
    with write_context("job"):
        return recycle_bin_purge_expired(days=days)
