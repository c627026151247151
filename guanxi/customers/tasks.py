"""Background jobs of the customer module: recomputing tiers (and engagement) and fit scores.

Both are safe to run twice (they only write what changed) and write the change log with source "job".
"""

from __future__ import annotations

from django_tasks import task

from guanxi.core.context import write_context
from guanxi.customers import services


@task()
def account_tier_recompute_task(account_ids: list[int] | None = None) -> dict[str, int]:
    """Apply the tier rules to the given accounts (all when None); hand-set tiers stay. For all
    accounts, their engagement is recounted first (rules may ask for it)."""
    with write_context("job"):
        if account_ids is None:
            services.account_engagement_recompute()
        return services.account_tier_recompute(account_ids=account_ids)


@task()
def account_fit_recompute_task(account_ids: list[int] | None = None) -> dict[str, int]:
    """Score the given accounts (all when None) against the active ideal customer profiles."""
    with write_context("job"):
        return services.account_fit_recompute(account_ids=account_ids)
