from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guanxi.activities.notifications import notifications_purge_old


class Command(BaseCommand):
    help = "Delete notifications older than GUANXI_NOTIFICATION_DAYS, read or not (run daily)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override GUANXI_NOTIFICATION_DAYS")

    def handle(self, *args: Any, days: int | None = None, **options: Any) -> None:
        self.stdout.write(f"Deleted {notifications_purge_old(days)} notification(s).")
