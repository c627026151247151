from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guanxi.core.context import write_context
from guanxi.core.services import REVEAL_COUNT_DAYS, recycle_bin_purge_expired, reveal_counts_purge_old


class Command(BaseCommand):
    help = (
        "Purge records that have been in the recycle bin longer than GUANXI_RECYCLE_BIN_DAYS, and the daily "
        f"counts of masked values seen in full older than {REVEAL_COUNT_DAYS} days (run daily)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override GUANXI_RECYCLE_BIN_DAYS")

    def handle(self, *args: Any, days: int | None = None, **options: Any) -> None:
        with write_context("job"):
            purged = recycle_bin_purge_expired(days=days)
        total = sum(purged.values())
        details = ", ".join(f"{k}: {v}" for k, v in sorted(purged.items())) or "nothing expired"
        self.stdout.write(f"Purged {total} record(s) ({details}).")
        counts = reveal_counts_purge_old()
        self.stdout.write(f"Deleted {counts} daily count(s) of masked values seen in full.")
