from typing import Any

from django.core.management.base import BaseCommand

from guanxi.activities.mail import send_daily_summaries


class Command(BaseCommand):
    help = "Email the daily summary of unread notifications to the users who asked for one (run daily)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Sent {send_daily_summaries()} summary email(s).")
