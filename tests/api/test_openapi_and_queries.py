"""The OpenAPI document and docs page, and query counts that do not grow with the page size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core.registry import resources
from tests.api.test_permission_matrix import api_routes
from tests.conftest import Api, session_api
from tests.factories import (
    CustomFieldFactory,
    GadgetFactory,
    TeamFactory,
    UserFactory,
    attach,
    changelog_entry,
    make_token,
    note,
    share,
    tag,
    timeline_entry,
)


class TestOpenApi:
    def test_document_lists_every_resource_and_route(self, admin_api: Api) -> None:
        response = admin_api.get("openapi.json")
        assert response.status_code == 200
        schema = response.json()
        assert schema["openapi"].startswith("3.")
        paths = schema["paths"]
        for resource in resources():
            if resource.api:
                assert f"/api/v1/{resource.path}" in paths, resource.path
                assert "get" in paths[f"/api/v1/{resource.path}/{{id}}"], resource.path
        documented = {(m.upper(), p) for p, ops in paths.items() for m in ops}
        assert documented == api_routes()

    def test_list_operations_document_their_parameters(self, admin_api: Api) -> None:
        params = {
            p["name"]: p for p in admin_api.get("openapi.json").json()["paths"]["/api/v1/gadgets"]["get"]["parameters"]
        }
        assert {"limit", "cursor", "ordering", "updated_since", "search", "status__in", "price__gte"} <= set(params)
        assert set(params["ordering"]["schema"]["enum"]) >= {"name", "-name", "created_at", "-created_at"}

    def test_write_operations_document_their_bodies(self, admin_api: Api) -> None:
        schema = admin_api.get("openapi.json").json()
        post = schema["paths"]["/api/v1/gadgets"]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        props = schema["components"]["schemas"][ref]["properties"]
        assert {"name", "price", "status", "owner", "team", "tags", "custom_fields"} == set(props)

    def test_security_schemes(self, admin_api: Api) -> None:
        schemes = admin_api.get("openapi.json").json()["components"]["securitySchemes"]
        assert any(s.get("scheme") == "bearer" for s in schemes.values())

    @pytest.mark.parametrize("who", ["admin", "anonymous"])
    def test_docs_render(self, admin_api: Api, anon_api: Api, who: str) -> None:
        api = admin_api if who == "admin" else anon_api
        response = api.get("docs")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert b"openapi.json" in response.content


# --- query counts -------------------------------------------------------------------------------------


def count_queries(api: Api, path: str, params: dict[str, Any] | None = None) -> tuple[int, int]:
    api.get(path, {"limit": 200, **(params or {})})  # warm the content-type cache and the session
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, {"limit": 200, **(params or {})})
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), len(response.json()["items"])


def make_gadgets(admin: Any, n: int) -> None:
    owner = UserFactory(team=TeamFactory())
    for i in range(n):
        g = GadgetFactory(owner=owner, custom_fields={"region": "华东"})
        tag(g, f"t{i % 3}", f"u{i % 5}")


def test_gadget_list_query_count_is_constant(admin_api: Api, admin_user: Any) -> None:
    CustomFieldFactory(key="region")
    make_gadgets(admin_user, 5)
    small, rows = count_queries(admin_api, "gadgets")
    assert rows == 5
    make_gadgets(admin_user, 45)
    large, rows = count_queries(admin_api, "gadgets")
    assert rows == 50
    assert small == large, f"{small} queries for 5 rows, {large} for 50"
    assert large <= 8


def test_gadget_list_query_count_is_constant_for_a_rep(principals: Any) -> None:
    """restrict() for a scoped user adds subqueries, not a query per row."""
    owner = principals.users["owner"]
    api = session_api(owner)

    def add(n: int) -> None:
        for i in range(n):
            g = GadgetFactory(owner=owner)
            tag(g, f"t{i % 4}")
            share(GadgetFactory(owner=principals.users["other"]), user=owner)

    add(3)
    small, rows = count_queries(api, "gadgets")
    assert rows == 6
    add(22)
    large, rows = count_queries(api, "gadgets")
    assert rows == 50
    assert small == large


def _users(admin: Any, n: int) -> None:
    team = TeamFactory()
    for _ in range(n):
        UserFactory(team=team)


def _notes(admin: Any, n: int) -> None:
    for _ in range(n):
        note(GadgetFactory(owner=admin), owner=admin)


def _attachments(admin: Any, n: int) -> None:
    for _ in range(n):
        attach(GadgetFactory(owner=admin), by=admin)


def _timeline(admin: Any, n: int) -> None:
    for _ in range(n):
        timeline_entry(GadgetFactory(owner=admin), actor=admin)


def _shares(admin: Any, n: int) -> None:
    for _ in range(n):
        share(GadgetFactory(owner=admin), user=UserFactory())


def _changelog(admin: Any, n: int) -> None:
    for _ in range(n):
        changelog_entry(GadgetFactory(owner=admin), actor=admin)


def _tokens(admin: Any, n: int) -> None:
    for _ in range(n):
        make_token(UserFactory(), ["*:view"])


def _teams(admin: Any, n: int) -> None:
    for _ in range(n):
        TeamFactory(manager=UserFactory())


LISTS: dict[str, Callable[[Any, int], None]] = {
    "users": _users,
    "teams": _teams,
    "notes": _notes,
    "attachments": _attachments,
    "timeline": _timeline,
    "shares": _shares,
    "change-log": _changelog,
    "tokens": _tokens,
}


@pytest.mark.parametrize("path", sorted(LISTS))
def test_list_query_counts_are_constant(admin_api: Api, admin_user: Any, path: str) -> None:
    LISTS[path](admin_user, 3)
    small, small_rows = count_queries(admin_api, path)
    LISTS[path](admin_user, 20)
    large, large_rows = count_queries(admin_api, path)
    assert large_rows >= small_rows + 20
    assert small == large, f"{path}: {small} queries for {small_rows} rows, {large} for {large_rows}"


def test_detail_query_count_is_small(admin_api: Api, admin_user: Any) -> None:
    g = GadgetFactory(owner=admin_user)
    tag(g, "a", "b")
    admin_api.get(f"gadgets/{g.pk}")
    with CaptureQueriesContext(connection) as ctx:
        assert admin_api.get(f"gadgets/{g.pk}").status_code == 200
    # session read, user, the gadget, its tags (and the session's save when its expiry is renewed)
    sql = [q["sql"][:120] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) <= 5, "\n".join(sql)
