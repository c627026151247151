"""``guanxi demo``: fill the database with demo data (see ``guanxi.demo``); safe to run twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanxi.core.errors import GuanxiError


class Command(BaseCommand):
    help = "Fill the database with demo users, teams, roles, tags and custom fields. Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even in production mode (the demo users share a published password).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from guanxi.demo import DEMO_ADMIN_EMAIL, DEMO_DOMAIN, DEMO_PASSWORD, load_demo

        if getattr(settings, "PRODUCTION", False) and not options["force"]:
            raise CommandError(
                "Refusing to load demo data in production mode: every demo user has the published "
                "password. Use --force on a throw-away install."
            )
        verbose = options["verbosity"] >= 2
        self.stdout.write("Loading demo data…")
        try:
            ctx = load_demo(log=self.stdout.write if verbose else lambda _line: None)
        except GuanxiError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            raise CommandError(f"Demo data failed: {exc.detail} {details}".strip()) from None
        if ctx.created:
            made = ", ".join(f"{count} {label}" for label, count in sorted(ctx.created.items()))
            self.stdout.write(self.style.SUCCESS(f"Demo data created: {made}."))
        else:
            self.stdout.write("Demo data is already there; nothing changed.")
        self.stdout.write(
            f"Demo login: {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD} "
            f"(every demo user, e.g. wang.fang@{DEMO_DOMAIN}, has the same password)"
        )
