"""Pages of one record, and lists filtered down to a few, do work in proportion to what they show,
whatever the size of the tables (issue 3).

A contact's and an account's page, the contact form, the duplicate queue and the recycle bin each
ask which linked records the user may see. Asked as ``contact_id IN (SELECT id FROM <every contact
the user may see>)``, SQLite first builds that list: for anyone who sees every contact, the whole
table (an account's page took 530 ms at a million contacts). ``permissions.visible_ref`` asks it
row by row instead. The contact list filtered by an account, an email or a phone is the other way
round: asked row by row, it walked every contact to find the few (0.6–1.1 s at a million), and so
would a tag on few records. The list's search box asks the search index, not LIKE '%text%' of every
contact.

The measure is SQLite's own count of the steps its virtual machine runs for every statement of the
request, before and after thousands of unrelated records are added: it must not grow with them.
PostgreSQL plans both spellings as the same semi-join where they stand alone, so the count is taken
on SQLite, where the difference is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.core.models import Note
from guanxi.customers.models import Account, AccountContact, Contact, DuplicateCandidate
from guanxi.customers.services import contact_create
from guanxi.identity.models import Role, RolePermission, User
from tests.factories import tag

pytestmark = pytest.mark.django_db

#: Steps between two calls of the progress handler (counting each one would be very slow).
STEP = 100
#: Unrelated records added between the two counts.
MORE = 3000


@contextmanager
def vm_steps() -> Iterator[list[int]]:
    """SQLite virtual-machine steps run meanwhile, in units of ``STEP``."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0  # go on

    connection.ensure_connection()
    raw = connection.connection
    raw.set_progress_handler(tick, STEP)
    try:
        yield counted
    finally:
        raw.set_progress_handler(None, STEP)


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    admin = User.objects.create_user(
        email="admin@example.com", password="Correct-Horse-73!", display_name="管理员", is_superuser=True
    )
    role = Role.objects.create(name="销售代表")
    for object_type in ("customers.contact", "customers.account"):
        for action in ("view", "add", "change", "delete"):
            RolePermission.objects.create(role=role, object_type=object_type, action=action, scope="own")
    rep = User.objects.create_user(
        email="rep@example.com", password="Correct-Horse-73!", display_name="李雷", role=role
    )
    account = Account.objects.create(name="示例科技有限公司", owner=rep, created_by=admin)
    first = contact_create(
        user=rep,
        data={"family_name": "张", "given_name": "三0"},
        emails=["zhangsan@example.com"],
        phones=["13812345678"],
    )
    others = [
        Contact.objects.create(family_name="张", given_name=f"三{n}", display_name=f"张三{n}", owner=rep)
        for n in (1, 2)
    ]
    contacts = [first, *others]
    for n, contact in enumerate(contacts):
        AccountContact.objects.create(account=account, contact=contact, is_primary=n == 0)
    tag(first, "重点客户")
    low, high = sorted(c.pk for c in contacts[:2])
    DuplicateCandidate.objects.create(record_type="contact", low_id=low, high_id=high, score=90)
    Note.all_objects.create(
        content_type=ContentType.objects.get_for_model(Contact),
        object_id=contacts[0].pk,
        body="旧的备注",
        created_by=rep,
        deleted_at=timezone.now(),
    )
    return {"admin": admin, "rep": rep, "account": account, "contact": contacts[0]}


def add_unrelated(admin: User) -> None:
    """Thousands of contacts and accounts that none of the pages shows."""
    Contact.objects.bulk_create(
        Contact(family_name="王", given_name=str(n), display_name=f"王{n}", owner=admin, created_by=admin)
        for n in range(MORE)
    )
    Account.objects.bulk_create(Account(name=f"其他公司{n}", owner=admin, created_by=admin) for n in range(MORE // 3))


PAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "contact": lambda w: reverse("ui:contacts-detail", args=[w["contact"].pk]),
    "contact form": lambda w: reverse("ui:contacts-edit", args=[w["contact"].pk]),
    "account": lambda w: reverse("ui:accounts-detail", args=[w["account"].pk]),
    "duplicate queue": lambda w: reverse("ui:duplicates-list"),
    "recycle bin": lambda w: reverse("ui:recycle-bin"),
    "contacts of the account": lambda w: f"/api/v1/contacts?account={w['account'].pk}",
    "contacts with the email": lambda w: "/api/v1/contacts?email=zhangsan@example.com",
    "contacts with the phone": lambda w: "/api/v1/contacts?phone=13812345678",
    "contacts by last digits": lambda w: "/api/v1/contacts?phone__endswith=5678",
    "contacts with the tag": lambda w: "/api/v1/contacts?tag=重点客户",
    "contacts searched": lambda w: "/api/v1/contacts?search=zhangsan@example.com",
    "their page in the UI": lambda w: "/customers/contacts/?email=zhangsan@example.com",
}


def steps_of(client: Client, url: str) -> int:
    client.get(url)  # the session and the role's policy are cached by now
    with vm_steps() as counted:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    if url.startswith("/api/"):
        assert response.json()["items"], url  # the filter found the contact
    return counted[0]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="counts SQLite's virtual-machine steps")
@pytest.mark.parametrize("who", ["admin", "rep"])
def test_the_pages_of_a_record_do_not_read_the_whole_table(world: dict[str, Any], who: str) -> None:
    client = Client()
    client.force_login(world[who])
    before = {name: steps_of(client, page(world)) for name, page in PAGES.items()}
    add_unrelated(world["admin"])
    after = {name: steps_of(client, page(world)) for name, page in PAGES.items()}
    # Reading every contact costs some 10 steps per contact: 30,000 and more here. Deeper indexes add
    # a few steps to each look-up; a tenth of a read of the table is allowed for that.
    allowed = MORE * 10 // STEP // 10
    grown = {name: after[name] - before[name] for name in PAGES if after[name] - before[name] > allowed}
    assert not grown, (grown, before, after)


def test_the_pages_still_show_only_what_the_user_may_see(world: dict[str, Any]) -> None:
    """The rep owns the account and its contacts; an admin's contact linked to the account stays hidden."""
    admin, rep, account = world["admin"], world["rep"], world["account"]
    hidden = Contact.objects.create(
        family_name="赵", given_name="六", display_name="赵六", owner=admin, created_by=admin
    )
    AccountContact.objects.create(account=account, contact=hidden)
    client = Client()
    client.force_login(rep)
    page = client.get(reverse("ui:accounts-detail", args=[account.pk])).content.decode()
    assert "张三0" in page and "赵六" not in page
    client.force_login(admin)
    assert "赵六" in client.get(reverse("ui:accounts-detail", args=[account.pk])).content.decode()
