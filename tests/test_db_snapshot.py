"""The database snapshot that proves a refused write changed nothing: it sees every kind of write,
and a read of a database nothing wrote reuses the last one."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import db_snapshot
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_reads_of_an_unwritten_database_reuse_the_snapshot() -> None:
    TeamFactory(name="Alpha")
    first = db_snapshot()
    assert db_snapshot() is first


def test_an_orm_write_is_seen() -> None:
    team = TeamFactory(name="Alpha")
    before = db_snapshot()
    team.name = "Beta"
    team.save()
    assert before.changed_tables(db_snapshot()) == ["identity_team"]


def test_a_write_through_a_raw_cursor_is_seen() -> None:
    """The bulk import writes through the driver's own cursor, past Django's execute wrappers."""
    team = TeamFactory(name="Alpha")
    before = db_snapshot()
    raw = connection.connection.cursor()
    # The driver's own placeholder differs by engine (? / %s); the only value is an int.
    raw.execute(f"UPDATE identity_team SET name = 'Gamma' WHERE id = {int(team.pk)}")  # noqa: S608
    raw.close()
    assert before.changed_tables(db_snapshot()) == ["identity_team"]


def test_a_new_table_is_seen() -> None:
    before = db_snapshot()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE snapshot_probe (id integer)")
    assert before.changed_tables(db_snapshot()) == ["snapshot_probe"]


def test_a_write_to_one_table_reads_that_table_again() -> None:
    """A later snapshot is the earlier one with the written tables read again: a row written to a
    second table, then the first, shows up in both."""
    from guanxi.identity.models import Role

    TeamFactory(name="Alpha")
    first = db_snapshot()
    Role.objects.create(name="Probe role")
    second = db_snapshot()
    TeamFactory(name="Beta")
    third = db_snapshot()
    assert first.changed_tables(second) == ["identity_role"]
    assert second.changed_tables(third) == ["identity_team"]
    assert first.changed_tables(third) == ["identity_role", "identity_team"]
