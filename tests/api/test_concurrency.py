"""Optimistic concurrency: ETag / If-Match / If-None-Match, and two writers racing for real.

The race tests run two threads, each with its own database connection, against committed data
(``transaction=True``). On SQLite the test database is a WAL file (see tests/conftest.py), as in
production; on PostgreSQL the second writer waits on the row lock (``select_for_update``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from guanxi.core import services
from tests.conftest import Api, db_snapshot
from tests.factories import AdminFactory, GadgetFactory, RoleFactory
from tests.testapp.models import Gadget


def patch_in_threads(user: Any, url: str, bodies: dict[str, dict[str, Any]], headers: dict[str, str]) -> dict[str, Any]:
    """Send one PATCH per body at the same moment from separate threads; return status and timing per body."""
    barrier = threading.Barrier(len(bodies))
    results: dict[str, Any] = {}
    clients = {}
    for name in bodies:
        client = Client()
        client.force_login(user)
        clients[name] = client

    def run(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            started = time.monotonic()
            response = clients[name].patch(url, bodies[name], content_type="application/json", headers=headers)
            results[name] = {"status": response.status_code, "start": started, "end": time.monotonic()}
        except Exception as exc:  # surfaced by the assertion below
            results[name] = {"error": repr(exc)}
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all("error" not in r for r in results.values()), results
    return results


@pytest.fixture
def slow_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each update's transaction open a moment after it has locked the row, so the writers overlap."""
    real = services.check_version

    def slow(obj: Any, expected_version: Any) -> None:
        time.sleep(0.3)
        real(obj, expected_version)

    monkeypatch.setattr(services, "check_version", slow)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_patches_with_the_same_version_one_wins(slow_writes: None) -> None:
    admin = AdminFactory()
    gadget = GadgetFactory(owner=admin, name="original")
    results = patch_in_threads(
        admin,
        f"/api/v1/gadgets/{gadget.pk}",
        {"alice": {"name": "alice"}, "bob": {"name": "bob"}},
        {"If-Match": '"v1"'},
    )
    statuses = sorted(r["status"] for r in results.values())
    assert statuses == [200, 412], results
    winner = next(name for name, r in results.items() if r["status"] == 200)
    loser = next(name for name, r in results.items() if r["status"] == 412)
    # the two requests really overlapped: the loser started before the winner finished
    assert results[loser]["start"] < results[winner]["end"]
    stored = Gadget.objects.get(pk=gadget.pk)
    assert stored.name == winner and stored.version == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_without_if_match_lose_no_field(slow_writes: None) -> None:
    """Without If-Match the last writer wins per field, but each writes on top of the other (row lock)."""
    admin = AdminFactory()
    gadget = GadgetFactory(owner=admin, name="original", price="1.00")
    results = patch_in_threads(
        admin, f"/api/v1/gadgets/{gadget.pk}", {"a": {"name": "renamed"}, "b": {"price": "7.00"}}, {}
    )
    assert sorted(r["status"] for r in results.values()) == [200, 200], results
    stored = Gadget.objects.get(pk=gadget.pk)
    assert (stored.name, str(stored.price), stored.version) == ("renamed", "7.00", 3)


# --- single-threaded contract ---------------------------------------------------------------------------


@pytest.fixture
def gadget(admin_user: Any) -> Gadget:
    return GadgetFactory(owner=admin_user, name="v1 name")


def test_get_returns_the_etag(admin_api: Api, gadget: Gadget) -> None:
    response = admin_api.get(f"gadgets/{gadget.pk}")
    assert response["ETag"] == '"v1"' and response.json()["version"] == 1


def test_if_none_match_answers_304_until_the_record_changes(admin_api: Api, gadget: Gadget) -> None:
    response = admin_api.get(f"gadgets/{gadget.pk}", headers={"If-None-Match": '"v1"'})
    assert response.status_code == 304 and response.content == b"" and response["ETag"] == '"v1"'
    assert admin_api.patch(f"gadgets/{gadget.pk}", {"name": "v2 name"}).status_code == 200
    response = admin_api.get(f"gadgets/{gadget.pk}", headers={"If-None-Match": '"v1"'})
    assert response.status_code == 200 and response["ETag"] == '"v2"'


def test_patch_without_if_match_is_allowed(admin_api: Api, gadget: Gadget) -> None:
    """Documented: If-Match is optional; clients that send it get the stale-write protection."""
    response = admin_api.patch(f"gadgets/{gadget.pk}", {"name": "no precondition"})
    assert response.status_code == 200
    assert response["ETag"] == '"v2"' and response.json()["version"] == 2


@pytest.mark.parametrize("header", ['"v1"', 'W/"v1"', "v1", "1", "*"])
def test_current_if_match_forms_are_accepted(admin_api: Api, gadget: Gadget, header: str) -> None:
    assert admin_api.patch(f"gadgets/{gadget.pk}", {"name": "ok"}, headers={"If-Match": header}).status_code == 200


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_stale_if_match_answers_412_and_changes_nothing(admin_api: Api, gadget: Gadget, method: str) -> None:
    services.record_update(model=Gadget, pk=gadget.pk, user=gadget.owner, data={"name": "someone else"})
    before = db_snapshot()
    path = f"gadgets/{gadget.pk}"
    headers = {"If-Match": '"v1"'}
    if method == "delete":
        response = admin_api.delete(path, headers=headers)
    else:
        response = getattr(admin_api, method)(path, {"name": "mine", "price": "1"}, headers=headers)
    assert response.status_code == 412
    body = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert body["type"].endswith("stale-version") and body["status"] == 412
    assert not before.changed_tables(db_snapshot())
    stored = Gadget.objects.get(pk=gadget.pk)
    assert stored.name == "someone else" and stored.version == 2 and stored.deleted_at is None


def test_delete_with_current_if_match(admin_api: Api, gadget: Gadget) -> None:
    assert admin_api.delete(f"gadgets/{gadget.pk}", headers={"If-Match": '"v1"'}).status_code == 204
    assert Gadget.all_objects.get(pk=gadget.pk).deleted_at is not None


def test_malformed_if_match_is_a_400_naming_the_header(admin_api: Api, gadget: Gadget) -> None:
    response = admin_api.patch(f"gadgets/{gadget.pk}", {"name": "x"}, headers={"If-Match": '"version-one"'})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["If-Match"]


def test_role_permissions_honour_if_match(admin_api: Api) -> None:
    role = RoleFactory()
    etag = admin_api.get(f"roles/{role.pk}/permissions")["ETag"]
    body = {"permissions": [{"object_type": "*", "action": "view", "scope": "own"}]}
    first = admin_api.put(f"roles/{role.pk}/permissions", body, headers={"If-Match": etag})
    assert first.status_code == 200 and first["ETag"] != etag
    before = db_snapshot()
    stale = admin_api.put(f"roles/{role.pk}/permissions", {"permissions": []}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert not before.changed_tables(db_snapshot())


def test_version_increments_on_every_write(admin_api: Api, gadget: Gadget) -> None:
    for expected in (2, 3, 4):
        response = admin_api.patch(
            f"gadgets/{gadget.pk}", {"name": f"n{expected}"}, headers={"If-Match": f'"v{expected - 1}"'}
        )
        assert response.json()["version"] == expected
    assert admin_api.delete(f"gadgets/{gadget.pk}", headers={"If-Match": '"v4"'}).status_code == 204
    restored = admin_api.post(f"recycle-bin/testapp.gadget/{gadget.pk}/restore")
    assert restored.json()["version"] == 6
