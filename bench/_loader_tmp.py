"""TEMPORARY: load the generated CSVs straight into the tables while /api/v1/imports does not exist.

Only for developing the list/detail phases of bench/customers.py; deleted once the import lands.
    python bench/_loader_tmp.py accounts.csv contacts.csv OWNER_ID
"""

from __future__ import annotations

import csv
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402

from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint  # noqa: E402
from guanxi.customers.normalize import (  # noqa: E402
    normalize_email,
    normalize_phone,
    person_display_name,
    phone_digits_reversed,
)

BATCH = 5000


def main(accounts_csv: str, contacts_csv: str, owner_id: int) -> None:
    by_name: dict[str, int] = {}
    with open(accounts_csv, encoding="utf-8-sig", newline="") as fh:
        batch: list[Account] = []
        for row in csv.DictReader(fh):
            if row["客户名称"] in by_name:
                continue
            by_name[row["客户名称"]] = 0
            batch.append(
                Account(
                    name=row["客户名称"],
                    province=row["省份"],
                    city=row["城市"],
                    country=row["国家"] or "CN",
                    owner_id=owner_id,
                    created_by_id=owner_id,
                )
            )
            if len(batch) >= BATCH:
                Account.objects.bulk_create(batch)
                batch = []
        Account.objects.bulk_create(batch)
    by_name = dict(Account.objects.values_list("name", "id"))
    with open(contacts_csv, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        contacts, points, links = [], [], []
        for row in chunk:
            emails, phones = [], []
            try:
                if row["邮箱"]:
                    emails.append({"value": normalize_email(row["邮箱"]), "label": "", "is_primary": True})
                if row["手机"]:
                    phone = normalize_phone(row["手机"], row["国家"] or "CN")
                    phones.append({"value": phone.e164, "extension": "", "label": "mobile", "is_primary": True})
            except ValueError:
                continue
            contact = Contact(
                family_name=row["姓"],
                given_name=row["名"],
                display_name=person_display_name(row["姓"], row["名"]),
                title=row["职位"],
                department=row["部门"],
                emails=emails,
                phones=phones,
                province=row["省份"],
                city=row["城市"],
                country=row["国家"] or "CN",
                owner_id=owner_id,
                created_by_id=owner_id,
            )
            contacts.append((contact, row["公司"]))
        with transaction.atomic():
            Contact.objects.bulk_create([c for c, _ in contacts])
            for contact, company in contacts:
                for kind, items in (("email", contact.emails), ("phone", contact.phones)):
                    for pos, item in enumerate(items):
                        points.append(
                            ContactPoint(
                                contact=contact,
                                kind=kind,
                                value=item["value"],
                                is_primary=item["is_primary"],
                                position=pos,
                                digits_reversed=phone_digits_reversed(item["value"]) if kind == "phone" else "",
                            )
                        )
                if company in by_name:
                    links.append(AccountContact(account_id=by_name[company], contact=contact, is_primary=True))
            ContactPoint.objects.bulk_create(points)
            AccountContact.objects.bulk_create(links)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
