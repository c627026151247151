"""List and detail speed at scale, proved by the query plans and the query counts (issue 3).

The contact list's page query (first page, a deep page by cursor, filtered, sorted) must be
answered by an index in the list's order: no full sort (SQLite "USE TEMP B-TREE FOR ORDER BY",
PostgreSQL a Sort node) and no scan of the whole table. A page costs a fixed number of queries
whatever its size, and so does a detail.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.core.db import analyze_tables, related_tables
from guanxi.core.pagination import _encode, paginate
from guanxi.customers.models import Account, AccountContact, Contact
from guanxi.identity.models import Role, RolePermission, Team, User
from tests.factories import CustomFieldFactory, client_for, tag

# Outside a test transaction, as after a real import: on PostgreSQL ``analyze_tables`` can VACUUM.
pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 3000
PROVINCES = ("上海市", "北京市", "广东省", "浙江省", "江苏省", "四川省", "湖北省", "山东省", "福建省", "河南省")


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    team = Team.objects.create(name="华东销售部", territory="华东")
    role = Role.objects.create(name="销售代表")
    for action in ("view", "add", "change", "delete"):
        RolePermission.objects.create(role=role, object_type="customers.contact", action=action, scope="own")
        RolePermission.objects.create(role=role, object_type="customers.account", action=action, scope="own")
    admin = User.objects.create_user(
        email="admin@example.com", password="Correct-Horse-73!", display_name="管理员", is_superuser=True
    )
    reps = [
        User.objects.create_user(
            email=f"rep{n}@example.com", password="Correct-Horse-73!", display_name=f"销售{n}", role=role, team=team
        )
        for n in range(5)
    ]
    return {"admin": admin, "reps": reps, "team": team}


@pytest.fixture
def many_contacts(people: dict[str, Any]) -> list[int]:
    """ROWS live contacts (and a few deleted ones), written in import-sized batches that share an
    update time, then ANALYZEd as the import does."""
    reps, team, admin = people["reps"], people["team"], people["admin"]
    base = timezone.now() - datetime.timedelta(days=30)
    batch = 500
    for start in range(0, ROWS, batch):
        Contact.objects.bulk_create(
            [
                Contact(
                    family_name="张",
                    given_name=f"{n:05d}",
                    display_name=f"张{(n * 7919) % ROWS:05d}",
                    owner=reps[n % len(reps)],
                    team=team,
                    created_by=admin,
                    country="CN",
                    province=PROVINCES[n % len(PROVINCES)],
                    custom_fields={"grade": "A"},
                )
                for n in range(start, start + batch)
            ]
        )
        # One batch, one update time: ties broken by the id, as after an import.
        Contact.objects.filter(updated_at__gte=base + datetime.timedelta(hours=start)).update(
            updated_at=base + datetime.timedelta(hours=start)
        )
    Contact.objects.filter(pk__in=list(Contact.objects.values_list("pk", flat=True)[:30])).update(
        deleted_at=timezone.now()
    )
    analyze_tables(Contact, rows=ROWS)
    return list(Contact.objects.order_by("-updated_at", "-id").values_list("pk", flat=True))


@contextmanager
def recorded() -> Iterator[list[tuple[str, Any]]]:
    """The SQL and parameters this connection runs (to EXPLAIN the real page query)."""
    calls: list[tuple[str, Any]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        calls.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield calls


def page_query(calls: list[tuple[str, Any]]) -> tuple[str, Any]:
    """The query that chose the page: from the contacts table, ordered and limited."""
    found = [
        (sql, params)
        for sql, params in calls
        if 'FROM "customers_contact"' in sql and "ORDER BY" in sql and "LIMIT" in sql
    ]
    assert found, [sql for sql, _params in calls]
    return found[0]


def plan_of(sql: str, params: Any) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return [str(row[-1]) for row in cursor.fetchall()]
        # Small tables: a sequential scan or a bitmap may honestly be cheaper; the question is
        # whether an index gives the rows in the list's order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return [str(row[0]) for row in cursor.fetchall()]


def assert_indexed_in_order(plan: list[str], *, presorted: bool = False, by_id: bool = False) -> None:
    """An index gives the rows in order. ``presorted``: on PostgreSQL an Incremental Sort (ties of
    the index's first column sorted by id, rows read in index order) is accepted, a full Sort not.
    ``by_id``: on SQLite the table itself is that index (its rows are stored in id order)."""
    text = "\n".join(plan)
    if connection.vendor == "sqlite":
        assert "USE TEMP B-TREE FOR ORDER BY" not in text, text
        for line in plan:
            if line.startswith("SCAN customers_contact") and not (by_id and line == "SCAN customers_contact"):
                assert "INDEX" in line, text
        assert by_id or "customers_contact USING" in text, text
    else:
        sorts = [line for line in plan if "Sort" in line and "Sort Key" not in line and "Presorted" not in line]
        if presorted:
            assert all("Incremental Sort" in line for line in sorts), text
        else:
            assert not sorts, text
        assert "Index Scan" in text or "Index Only Scan" in text, text
        assert "Seq Scan" not in text, text


def list_plan(user: User, query: str) -> tuple[list[str], dict[str, Any]]:
    client = client_for(user)
    with recorded() as calls:
        response = client.get(f"/api/v1/contacts?{query}")
    assert response.status_code == 200, response.content
    sql, params = page_query(calls)
    return plan_of(sql, params), response.json()


def test_analyze_covers_link_tables() -> None:
    assert related_tables(Contact)[:1] == ["customers_contact"]
    assert "customers_accountcontact" in related_tables(Contact)
    assert "customers_accountcontact" in related_tables(Account)


@pytest.mark.parametrize(
    "query",
    [
        "limit=50",  # first page, default order: newest update first
        "limit=50&ordering=display_name",
        "limit=50&ordering=-display_name",
        "limit=50&ordering=created_at",
        "limit=50&ordering=id",
        "limit=50&province=广东省",
        "limit=50&owner={owner}",
        "limit=50&team={team}",
    ],
)
def test_list_pages_use_an_index_in_order(people: dict[str, Any], many_contacts: list[int], query: str) -> None:
    query = query.format(owner=people["reps"][1].pk, team=people["team"].pk)
    plan, body = list_plan(people["admin"], query)
    assert_indexed_in_order(plan, by_id="ordering=id" in query)
    assert len(body["items"]) == 50 and body["next_cursor"]


@pytest.mark.parametrize("ordering", ["-updated_at", "display_name", "created_at", "-id"])
def test_deep_page_is_an_index_seek(people: dict[str, Any], many_contacts: list[int], ordering: str) -> None:
    """A cursor 2,000 rows down: the page starts at an index range, no earlier row is read."""
    client = client_for(people["admin"])
    first = client.get(f"/api/v1/contacts?limit=200&ordering={ordering}").json()
    cursor = first["next_cursor"]
    for _page in range(9):
        cursor = client.get(f"/api/v1/contacts?limit=200&ordering={ordering}&cursor={cursor}").json()["next_cursor"]
    plan, body = list_plan(people["admin"], f"limit=50&ordering={ordering}&cursor={cursor}")
    assert_indexed_in_order(plan)
    if connection.vendor == "sqlite":
        assert any(line.startswith("SEARCH customers_contact") for line in plan), plan  # a range, not a scan
    else:
        assert "Index Cond" in "\n".join(plan), plan
    name = ordering.lstrip("-")
    expected = list(
        Contact.objects.order_by(ordering, "-id" if ordering.startswith("-") else "id").values_list("pk", flat=True)
    )
    assert [item["id"] for item in body["items"]] == expected[2000:2050]
    assert name


def test_phone_last_digits_read_the_contacts_from_the_suffix_index(
    people: dict[str, Any], many_contacts: list[int]
) -> None:
    """``phone__endswith`` reads the few contacts' ids from the phones' suffix index; on PostgreSQL
    from the index alone (the contact is in it), not from each matching row of the table."""
    from guanxi.customers.models import ContactPoint
    from guanxi.customers.normalize import phone_digits_reversed

    numbers = {pk: f"+86138{pk % 10_000:04d}{pk % 9_999:04d}" for pk in many_contacts}
    ContactPoint.objects.bulk_create(
        ContactPoint(contact_id=pk, kind="phone", value=e164, digits_reversed=phone_digits_reversed(e164))
        for pk, e164 in numbers.items()
    )
    analyze_tables(ContactPoint, rows=len(numbers))
    wanted = numbers[many_contacts[7]][-4:]
    plan, body = list_plan(people["admin"], f"limit=50&phone__endswith={wanted}")
    text = "\n".join(plan)
    assert "contactpoint_suffix_idx" in text, text
    if connection.vendor == "postgresql":
        assert "Index Only Scan using contactpoint_suffix_idx" in text, text
    assert {item["id"] for item in body["items"]} == {pk for pk, e164 in numbers.items() if e164.endswith(wanted)}


def test_deep_page_of_a_batch_with_one_update_time(people: dict[str, Any], many_contacts: list[int]) -> None:
    """500 rows share an update time: the cursor's id tie-break walks through them without gaps."""
    client = client_for(people["admin"])
    seen: list[int] = []
    cursor = ""
    while len(seen) < 1200:
        body = client.get(f"/api/v1/contacts?limit=170{'&cursor=' + cursor if cursor else ''}").json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
    assert seen[:1200] == many_contacts[:1200]


def test_scoped_user_list_reads_in_index_order(people: dict[str, Any], many_contacts: list[int]) -> None:
    """ "Own records or shared with me" is an OR: SQLite still reads an index in order; PostgreSQL
    may take the single-column updated_at index (guanxi.core.models.TimestampMixin) and sort ties."""
    rep = people["reps"][2]
    plan, body = list_plan(rep, "limit=50")
    assert_indexed_in_order(plan, presorted=True)
    assert {item["owner"]["id"] for item in body["items"]} == {rep.pk}


def test_cursor_from_a_sorted_list_keeps_its_contract(people: dict[str, Any], many_contacts: list[int]) -> None:
    client = client_for(people["admin"])
    wrong = _encode("display_name", "张00001", many_contacts[0])
    response = client.get(f"/api/v1/contacts?ordering=-updated_at&cursor={wrong}")
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


def test_paginate_with_joins_loads_related_rows_in_two_queries(
    people: dict[str, Any], many_contacts: list[int]
) -> None:
    qs = Contact.objects.select_related("owner", "team", "created_by")
    with CaptureQueriesContext(connection) as ctx:
        page = paginate(qs, "-updated_at", None, 50)
        owners = {c.owner.display_name for c in page.items}
    assert len(ctx.captured_queries) == 2
    assert owners == {r.display_name for r in people["reps"]}
    assert [c.pk for c in page.items] == many_contacts[:50]
    # Without joins: one query.
    with CaptureQueriesContext(connection) as ctx:
        again = paginate(Contact.objects.all(), "-updated_at", page.next_cursor, 50)
    assert len(ctx.captured_queries) == 1
    assert [c.pk for c in again.items] == many_contacts[50:100]


# --- query counts --------------------------------------------------------------------------------


@pytest.fixture
def linked_contacts(people: dict[str, Any]) -> Callable[[int], list[Contact]]:
    admin = people["admin"]
    CustomFieldFactory(object_type="customers.contact", key="grade", field_type="text")
    accounts = Account.objects.bulk_create(
        [Account(name=f"示例科技{n}有限公司", owner=admin, created_by=admin) for n in range(120)]
    )

    def make(count: int) -> list[Contact]:
        start = Contact.objects.count()
        contacts = Contact.objects.bulk_create(
            [
                Contact(
                    family_name="王",
                    given_name=str(n),
                    display_name=f"王{n}",
                    owner=people["reps"][n % 5],
                    team=people["team"],
                    created_by=admin,
                    custom_fields={"grade": "B"},
                )
                for n in range(start, start + count)
            ]
        )
        AccountContact.objects.bulk_create(
            [
                AccountContact(account=accounts[(c.pk + k) % len(accounts)], contact=c, is_primary=k == 1)
                for c in contacts
                for k in (1, 2)
            ]
        )
        for c in contacts:
            tag(c, "重点", f"批次{c.pk % 3}")
        return contacts

    return make


def count_list(user: User, query: str = "limit=50") -> tuple[int, dict[str, Any]]:
    client = client_for(user)
    client.get("/api/v1/contacts?limit=1")  # session, policy caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/api/v1/contacts?{query}")
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize("who", ["admin", "rep"])
def test_list_query_count_is_fixed(
    people: dict[str, Any], linked_contacts: Callable[[int], list[Contact]], who: str
) -> None:
    user = people["admin"] if who == "admin" else people["reps"][0]
    linked_contacts(25)
    small, body = count_list(user)
    assert body["items"] and all(len(item["accounts"]) >= 1 for item in body["items"] if who == "admin")
    linked_contacts(250)
    large, body = count_list(user)
    assert len(body["items"]) == 50
    assert small == large, f"{small} queries for a short page, {large} for 50 rows"
    # Session, user, role policy (4), the page: ids, rows with owner/team/creator, tags, account
    # links, which linked accounts are visible; the session's save (3 statements).
    assert large <= 14, large
    item = body["items"][0]
    assert item["tags"] and item["custom_fields"] == {"grade": "B"}
    if who == "admin":
        assert len(item["accounts"]) == 2


def test_contact_accounts_only_lists_visible_accounts(
    people: dict[str, Any], linked_contacts: Callable[[int], list[Contact]]
) -> None:
    """A rep sees the links to accounts they may view only (the admin owns all these accounts)."""
    rep = people["reps"][0]
    linked_contacts(10)
    mine = Account.objects.create(name="李雷的客户", owner=rep, created_by=rep)
    contact = Contact.objects.filter(owner=rep).first()
    assert contact is not None
    AccountContact.objects.create(account=mine, contact=contact, role="采购")
    body = client_for(rep).get(f"/api/v1/contacts/{contact.pk}").json()
    assert [link["account"]["id"] for link in body["accounts"]] == [mine.pk]
    admin_body = client_for(people["admin"]).get(f"/api/v1/contacts/{contact.pk}").json()
    assert len(admin_body["accounts"]) == 3


def test_detail_query_count_is_fixed(people: dict[str, Any], linked_contacts: Callable[[int], list[Contact]]) -> None:
    contacts = linked_contacts(30)
    client = client_for(people["admin"])
    client.get(f"/api/v1/contacts/{contacts[0].pk}")
    counts = []
    for contact in (contacts[0], contacts[-1]):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/v1/contacts/{contact.pk}")
        assert response.status_code == 200
        assert len(response.json()["accounts"]) == 2 and response.json()["tags"]
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] and counts[0] <= 10, counts
