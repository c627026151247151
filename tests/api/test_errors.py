"""Errors are RFC 9457 problem documents with per-field errors; bodies are strict."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, db_snapshot
from tests.factories import GadgetFactory

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: Any, status: int, fields: set[str] | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("urn:guanxi:problem:")
    assert body["title"] and body["detail"]
    assert body["instance"].startswith("/api/v1/")
    assert body["request_id"] == response["X-Request-ID"]
    if fields is not None:
        assert {e["field"] for e in body["errors"]} == fields, body.get("errors")
        assert all(e["detail"] for e in body["errors"])
    return body


@pytest.fixture
def gadget(admin_user: Any) -> Any:
    return GadgetFactory(owner=admin_user)


def test_every_status_is_a_problem_document(admin_api: Api, anon_api: Api, gadget: Any, principals: Any) -> None:
    from tests.conftest import session_api

    assert_problem(anon_api.get("gadgets"), 401)
    assert_problem(session_api(principals.users["norole"]).get("users"), 403)
    assert_problem(admin_api.get("gadgets/999999"), 404)
    assert_problem(admin_api.get("gadgets", {"ordering": "nope"}), 400, {"ordering"})
    admin_api.patch(f"gadgets/{gadget.pk}", {"name": "v2"})
    assert_problem(admin_api.patch(f"gadgets/{gadget.pk}", {"name": "x"}, headers={"If-Match": '"v1"'}), 412)


def test_instance_is_the_request_path(admin_api: Api) -> None:
    body = assert_problem(admin_api.get("gadgets", {"limit": "0"}), 400, {"limit"})
    assert body["instance"] == "/api/v1/gadgets?limit=0"


@pytest.mark.parametrize("method", ["post", "patch", "put"])
def test_unknown_body_field_is_refused_by_name(admin_api: Api, gadget: Any, method: str) -> None:
    before = db_snapshot()
    path = "gadgets" if method == "post" else f"gadgets/{gadget.pk}"
    response = getattr(admin_api, method)(path, {"name": "x", "colour": "red", "deleted_at": None})
    assert_problem(response, 400, {"colour", "deleted_at"})
    assert not before.changed_tables(db_snapshot())


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"name": "x", "price": "cheap"}, {"price"}),
        ({"name": "x", "price": "1e400"}, {"price"}),
        ({"name": "x" * 101}, {"name"}),
        ({"name": "x", "owner": 999999}, {"owner"}),
        ({"name": "x", "team": "A"}, {"team"}),
        ({"name": "x", "tags": "vip"}, {"tags"}),
        ({"name": "x", "custom_fields": ["a"]}, {"custom_fields"}),
        ({"price": "1.00"}, {"name"}),
        ({"name": ""}, {"name"}),
        ({"name": None}, {"name"}),
        ({"name": "x", "price": "12.345"}, {"price"}),
    ],
)
def test_invalid_create_names_the_field(admin_api: Api, body: dict[str, Any], fields: set[str]) -> None:
    before = db_snapshot()
    assert_problem(admin_api.post("gadgets", body), 400, fields)
    assert not before.changed_tables(db_snapshot())


def test_put_needs_the_required_fields(admin_api: Api, gadget: Any) -> None:
    assert_problem(admin_api.put(f"gadgets/{gadget.pk}", {"price": "2.00"}), 400, {"name"})


def test_patch_may_send_one_field(admin_api: Api, gadget: Any) -> None:
    response = admin_api.patch(f"gadgets/{gadget.pk}", {"status": "won"})
    assert response.status_code == 200 and response.json()["name"] == gadget.name


def test_unparsable_body(admin_api: Api) -> None:
    response = admin_api.client.post("/api/v1/gadgets", "{not json", content_type="application/json")
    assert_problem(response, 400)


def test_bad_path_id(admin_api: Api) -> None:
    assert_problem(admin_api.get("gadgets/abc"), 400)


def test_missing_row_and_invisible_row_answer_the_same(principals: Any) -> None:
    from tests.conftest import session_api

    theirs = GadgetFactory(owner=principals.users["other"])
    api = session_api(principals.users["owner"])
    a, b = api.get(f"gadgets/{theirs.pk}"), api.get("gadgets/999999")
    assert a.status_code == b.status_code == 404
    strip = {"instance", "request_id"}
    assert {k: v for k, v in a.json().items() if k not in strip} == {
        k: v for k, v in b.json().items() if k not in strip
    }


def test_unknown_api_path_is_a_problem_document(admin_api: Api) -> None:
    assert_problem(admin_api.get("no-such-resource"), 404)


def test_error_messages_follow_the_language(admin_user: Any) -> None:
    from tests.conftest import session_api

    admin_user.language = "zh-hans"
    admin_user.save()
    api = session_api(admin_user)
    body = api.get("gadgets", {"ordering": "nope"}, headers={"Accept-Language": "zh-hans"}).json()
    assert body["status"] == 400 and body["errors"][0]["field"] == "ordering"
