"""``PkQuery``: a read by primary keys compiled once per number of ids, with the rows the ORM gives."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.core.db import PkQuery, _json_text
from guanxi.customers.models import Contact

pytestmark = pytest.mark.django_db

COLUMNS = ("id", "display_name", "emails", "custom_fields", "birthday", "email_consent", "email_consent_at", "owner_id")


@pytest.fixture
def contacts(db: Any) -> list[Contact]:
    made = []
    for i in range(5):
        made.append(
            Contact.objects.create(
                family_name="王",
                given_name=f"芳{i}",
                display_name=f"王芳{i}",
                emails=[{"value": f"wang{i}@example.com", "label": "", "is_primary": True}],
                custom_fields={"grade": "A", "score": 10**20} if i == 2 else {},  # beyond 64 bits: orjson refuses
                birthday=datetime.date(1990, 1, 1 + i) if i % 2 else None,
                email_consent=bool(i % 2),
                email_consent_at=timezone.now() - datetime.timedelta(days=i) if i % 2 else None,
            )
        )
    return made


class Counting:
    """A ``build`` that counts how often the ORM is asked to make the query."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, ids: list[Any]) -> Any:
        self.calls += 1
        return Contact._base_manager.filter(pk__in=ids).order_by().values_list(*COLUMNS)


def orm_rows(ids: list[int]) -> dict[int, tuple[Any, ...]]:
    return {row[0]: row for row in Contact._base_manager.filter(pk__in=ids).values_list(*COLUMNS)}


def test_rows_are_what_the_orm_gives_and_the_sql_is_compiled_once_per_length(contacts: list[Contact]) -> None:
    build = Counting()
    query = PkQuery(build)
    pks = [c.pk for c in contacts]
    first = query.rows(pks[:3])
    assert build.calls == 2  # with the ids and with stand-ins
    assert {row[0]: row for row in first} == orm_rows(pks[:3])
    # Same length, other ids: no new compilation, one query, the right rows.
    with CaptureQueriesContext(connection) as ctx:
        again = query.rows(pks[2:])
    assert build.calls == 2 and len(ctx.captured_queries) == 1
    assert {row[0]: row for row in again} == orm_rows(pks[2:])
    # Types as the ORM's converters give them: aware datetimes, dates, booleans, JSON as Python values.
    by_pk = {row[0]: row for row in again}
    consent_at = by_pk[contacts[3].pk][6]
    assert consent_at.tzinfo is not None and consent_at == contacts[3].email_consent_at
    assert by_pk[contacts[3].pk][4] == datetime.date(1990, 1, 4) and by_pk[contacts[3].pk][5] is True
    assert by_pk[contacts[2].pk][3] == {"grade": "A", "score": 10**20}
    assert by_pk[contacts[4].pk][2] == [{"value": "wang4@example.com", "label": "", "is_primary": True}]
    # Another length compiles once more.
    assert {row[0]: row for row in query.rows(pks)} == orm_rows(pks)
    assert build.calls == 4


def test_repeated_missing_and_no_ids(contacts: list[Contact]) -> None:
    query = PkQuery(Counting())
    pk = contacts[0].pk
    assert [row[0] for row in query.rows([pk, pk, pk])] == [pk]
    assert [row[0] for row in query.rows([pk, 10**9])] == [pk]
    assert query.rows([]) == []


def test_a_query_whose_text_changes_with_the_ids_goes_through_the_orm(contacts: list[Contact]) -> None:
    def build(ids: list[Any]) -> Any:
        qs = Contact._base_manager.filter(pk__in=ids)
        if all(pk > 0 for pk in ids):  # the stand-ins take the other branch: the SQL differs
            qs = qs.filter(email_consent=True)
        return qs.order_by().values_list("id", flat=True)

    query = PkQuery(build)
    pks = [c.pk for c in contacts]
    assert sorted(query.rows(pks)) == sorted(c.pk for c in contacts if c.email_consent)
    assert query._compiled[len(pks)] is None


def test_json_text_reads_what_orjson_refuses_as_the_standard_library_does() -> None:
    assert _json_text('{"a": [1, "张三"]}', None, None) == {"a": [1, "张三"]}
    assert _json_text('{"n": 100000000000000000000}', None, None) == {"n": 10**20}
    nan = _json_text('{"x": NaN}', None, None)["x"]
    assert nan != nan
    assert _json_text("not json", None, None) == "not json"  # as JSONField.from_db_value leaves it
    assert _json_text(None, None, None) is None
    assert _json_text({"already": "decoded"}, None, None) == {"already": "decoded"}
