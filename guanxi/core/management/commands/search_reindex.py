"""``guanxi search_reindex [--type contacts]``: rebuild the search index from the records (all types by default).

Run it after restoring a backup made without the index, or after changing how a type builds its
documents. Each type is cleared and refilled in batches (one transaction each); searches keep
working meanwhile, with the records indexed so far.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanxi.core.search import search_rebuild, search_types


class Command(BaseCommand):
    help = "Rebuild the global search index (all searchable types, or the ones given with --type)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type",
            action="append",
            dest="types",
            metavar="TYPE",
            help="Only this type (repeat for several): " + ", ".join(t.key for t in search_types()),
        )
        parser.add_argument("--batch", type=int, default=5000, help="Records per transaction (default 5000).")

    def handle(self, *args: Any, **options: Any) -> None:
        known = [t.key for t in search_types()]
        wanted = options["types"] or known
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise CommandError(f"Unknown type {', '.join(unknown)}; use one of: {', '.join(known)}.")
        if options["batch"] < 1:
            raise CommandError("--batch must be 1 or more.")
        verbosity = options["verbosity"]
        for key in wanted:
            started = time.perf_counter()

            def progress(done: int, key: str = key) -> None:
                if verbosity >= 2:
                    self.stdout.write(f"  {key}: {done}")

            count = search_rebuild(key, batch=options["batch"], progress=progress)
            seconds = time.perf_counter() - started
            rate = f" ({count / seconds:,.0f}/s)" if seconds > 0 and count else ""
            self.stdout.write(f"{key}: indexed {count} records in {seconds:.1f}s{rate}")
