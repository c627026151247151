"""What the database connection is set up to do, on the engine the suite runs on."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from guanxi.customers.models import Contact
from tests.factories import client_for

pytestmark = pytest.mark.django_db

# Prepared statements and server-side binding are psycopg's, for PostgreSQL; SQLite has neither.
# `make test` runs the suite on both engines, so this runs wherever PostgreSQL answers.
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's prepared statements; SQLite has none"
)


@postgres_only
def test_postgres_keeps_a_repeated_read_prepared(admin_user: Any) -> None:
    """A contact list run twice on a connection is prepared there: the server parses and plans it
    once (GUANXI_DB_PREPARED, on by default)."""
    browser = client_for(admin_user)

    def prepared() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return {row[0] for row in cursor.fetchall()}

    Contact.objects.create(family_name="张", given_name="三", display_name="张三")
    before = prepared()
    for _ in range(3):
        assert browser.get("/api/v1/contacts?limit=50").status_code == 200
    added = prepared() - before
    assert any('FROM "customers_contact"' in statement for statement in added), added
    # Parameters are bound by the server ($1), not written into the text.
    assert all("%s" not in statement for statement in added)
    assert any("$1" in statement for statement in added)
