"""``guanxi classify``: every account's engagement, tier and fit score brought up to date, and the pool
rules applied: accounts back in the pool, and those going back soon dated (run daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from guanxi.core.context import write_context
from guanxi.customers import services
from guanxi.customers.models import Account


class Command(BaseCommand):
    help = (
        "Recount every account's interactions of the last 90 days, then apply the tier rules and the ideal "
        "customer profiles, then the pool rules (run daily: interactions leave the 90-day window as days pass)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with write_context("job"):
            done = services.accounts_classify()
        engagement, tiers, fit = done["engagement"], done["tiers"], done["fit"]
        self.stdout.write(
            f"Engagement: {engagement['changed']} of {engagement['checked']} accounts changed; "
            f"tiers: {tiers['changed']} changed ({tiers['locked']} set by hand); fit scores: {fit['changed']} changed; "
            f"back in the customer pool: {sum(done['pool'].values())}; "
            f"going back soon: {Account.objects.filter(pool_due_at__isnull=False).count()}."
        )
