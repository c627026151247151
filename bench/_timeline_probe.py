"""In-process figure of an account's whole timeline on the database `bench/customers.py --keep` leaves:

    .venv/bin/python bench/_timeline_probe.py --engine sqlite|postgres [--add-entries] [--runs 30]

Reads ``timeline_page`` (the account page's timeline: its own entries, its contacts' and its direct
subsidiaries') of the account with the most contacts, as the first administrator, ``--runs`` times,
and prints p50 and the slowest. The bench's data holds no notes or timeline entries;
``--add-entries`` first writes 3,000 entries and 1,000 notes over that account's contacts (once:
skipped when they are there). Files starting with "_" are not run by ``make bench``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

# Run as a script, so its folder is on sys.path and its neighbour imports as a module.
from _page_probe import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--add-entries", action="store_true")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    setup(args.engine)

    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Count
    from django.utils import timezone

    from guanxi.core.models import Note, TimelineEntry
    from guanxi.core.timeline import timeline_page
    from guanxi.customers.models import Account, AccountContact, Contact
    from guanxi.identity.models import User

    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    largest = AccountContact.objects.values("account_id").annotate(n=Count("id")).order_by("-n").first()
    if admin is None or largest is None:
        sys.exit("no administrator or no linked contacts: run bench/customers.py --keep first")
    account = Account.objects.get(pk=largest["account_id"])
    contact_type = ContentType.objects.get_for_model(Contact)
    ids = list(AccountContact.objects.filter(account=account).values_list("contact_id", flat=True))
    if args.add_entries and not TimelineEntry.objects.filter(content_type=contact_type, object_id__in=ids).exists():
        now, rng = timezone.now(), random.Random(1)
        TimelineEntry.objects.bulk_create(
            TimelineEntry(
                content_type=contact_type,
                object_id=rng.choice(ids),
                kind="owner",
                summary="probe",
                at=now - timezone.timedelta(minutes=i),
            )
            for i in range(3000)
        )
        Note.objects.bulk_create(
            Note(
                content_type=contact_type,
                object_id=rng.choice(ids),
                body="probe",
                owner=admin,
                created_by=admin,
                created_at=now - timezone.timedelta(minutes=i, seconds=30),
            )
            for i in range(1000)
        )
    ms = []
    for _ in range(args.runs):
        started = time.perf_counter()
        page = timeline_page(admin, account)
        ms.append((time.perf_counter() - started) * 1000)
    print(
        f"{args.engine}: account {account.pk} with {largest['n']} contacts, {len(page.entries)} entries shown; "
        f"p50 {statistics.median(ms):.1f} ms, slowest {max(ms):.1f} ms over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
