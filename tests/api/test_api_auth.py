"""API authentication: session + CSRF, bearer tokens, and token scopes as a ceiling on the user."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone

from guanxi.identity.models import ApiToken
from tests.api.test_permission_matrix import api_routes
from tests.conftest import Api, db_snapshot, token_api
from tests.factories import GadgetFactory, UserFactory, make_token

UNSAFE = sorted(r for r in api_routes() if r[0] != "GET")


def concrete(path: str) -> str:
    """A real URL for a route template: ids that exist nowhere, a soft-deletable type."""
    path = path.replace("{object_type}", "testapp.gadget")
    return re.sub(r"\{[a-z_]+\}", "999999", path)


@pytest.mark.django_db
@pytest.mark.parametrize("route", UNSAFE, ids=lambda r: f"{r[0]} {r[1]}")
def test_unsafe_session_request_without_csrf_token_is_refused(route: tuple[str, str], admin_user: Any) -> None:
    method, path = route
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    before = db_snapshot()
    response = getattr(client, method.lower())(concrete(path), "{}", content_type="application/json")
    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["title"]
    assert not before.changed_tables(db_snapshot())

    # the same request with the token gets past the CSRF check (and fails later, on the missing row/body)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = getattr(client, method.lower())(
        concrete(path), "{}", content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code != 403 or "CSRF" not in response.json()["title"]


@pytest.mark.django_db
def test_csrf_token_lets_a_session_write_through(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = client.post(
        "/api/v1/gadgets", {"name": "with csrf"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_safe_session_requests_need_no_csrf_token(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get("/api/v1/gadgets").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(api_routes()), ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_gets_401_on_every_route_even_without_csrf_cookie(route: tuple[str, str]) -> None:
    """A non-browser client with no (or a dead) token is told to authenticate, not that CSRF failed."""
    method, path = route
    client = Client(enforce_csrf_checks=True)
    before = db_snapshot()
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = getattr(client, method.lower())(concrete(path), **({"headers": headers}))
        assert response.status_code == 401, (headers, response.content)
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response["Content-Type"].startswith("application/problem+json")
    assert not before.changed_tables(db_snapshot())


# --- bearer tokens ----------------------------------------------------------------------------------


@pytest.fixture
def rep(principals: Any) -> Any:
    return principals.users["owner"]


def test_token_authenticates_its_user(rep: Any) -> None:
    _token, key = make_token(rep, ["*:*"])
    response = token_api(key).get("users")
    assert response.status_code == 200
    assert [u["id"] for u in response.json()["items"]] == [rep.pk]


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": timezone.now()},
        {"expires_at": timezone.now() - datetime.timedelta(seconds=1)},
    ],
    ids=["revoked", "expired"],
)
def test_dead_token_is_refused(rep: Any, change: dict[str, Any]) -> None:
    token, key = make_token(rep, ["*:*"])
    ApiToken.objects.filter(pk=token.pk).update(**change)
    response = token_api(key).get("gadgets")
    assert response.status_code == 401


def test_token_of_deactivated_user_is_refused(rep: Any) -> None:
    _token, key = make_token(rep, ["*:*"])
    rep.is_active = False
    rep.save()
    assert token_api(key).get("gadgets").status_code == 401


def test_token_with_right_prefix_but_wrong_secret_is_refused(rep: Any) -> None:
    _token, key = make_token(rep, ["*:*"])
    forged = key[: ApiToken.PREFIX_LENGTH] + "x" * (len(key) - ApiToken.PREFIX_LENGTH)
    assert token_api(forged).get("gadgets").status_code == 401


def test_token_use_is_recorded(rep: Any) -> None:
    token, key = make_token(rep, ["*:*"])
    assert token.last_used_at is None
    token_api(key).get("gadgets")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_token_scopes_cap_the_users_role(principals: Any) -> None:
    owner, other = principals.users["owner"], principals.users["other"]
    mine = GadgetFactory(owner=owner)
    GadgetFactory(owner=other)
    # "*:*" on a rep's token is still the rep: own records only
    _t, key = make_token(owner, ["*:*"])
    assert [g["id"] for g in token_api(key).get("gadgets").json()["items"]] == [mine.pk]
    # a read-only token cannot write what the user could
    _t, key = make_token(owner, ["testapp.gadget:view"])
    reader = token_api(key)
    assert reader.get(f"gadgets/{mine.pk}").status_code == 200
    before = db_snapshot()
    assert reader.patch(f"gadgets/{mine.pk}", {"name": "nope"}).status_code == 403
    assert reader.post("gadgets", {"name": "nope"}).status_code == 403
    assert reader.delete(f"gadgets/{mine.pk}").status_code == 403
    assert not before.changed_tables(db_snapshot())
    # other record types are out of reach entirely
    assert reader.get("tags").status_code == 403


def test_token_scope_wildcards(principals: Any) -> None:
    owner = principals.users["owner"]
    gadget = GadgetFactory(owner=owner)
    _t, key = make_token(owner, ["*:view"])
    api = token_api(key)
    assert api.get(f"gadgets/{gadget.pk}").status_code == 200
    assert api.patch(f"gadgets/{gadget.pk}", {"name": "x"}).status_code == 403
    _t, key = make_token(owner, ["testapp.gadget:*"])
    assert token_api(key).patch(f"gadgets/{gadget.pk}", {"name": "x"}).status_code == 200


def test_token_scope_does_not_open_shares_beyond_it(principals: Any) -> None:
    """A share gives view/change on one record, but never more than the token's scopes."""
    from tests.factories import share

    owner, other = principals.users["owner"], principals.users["other"]
    shared = GadgetFactory(owner=other)
    share(shared, user=owner, access="change")
    _t, key = make_token(owner, ["testapp.gadget:view"])
    api = token_api(key)
    assert api.get(f"gadgets/{shared.pk}").status_code == 200
    assert api.patch(f"gadgets/{shared.pk}", {"name": "x"}).status_code == 403


class TestMinting:
    def test_a_token_cannot_mint_a_wider_token(self, admin_user: Any) -> None:
        _t, key = make_token(admin_user, ["identity.apitoken:add", "testapp.gadget:view"])
        api = token_api(key)
        before = db_snapshot()
        for wider in (["*:*"], ["testapp.gadget:change"], ["identity.apitoken:add", "identity.user:view"], ["*:view"]):
            response = api.post("tokens", {"name": "wider", "scopes": wider})
            assert response.status_code == 400, wider
            assert response.json()["errors"][0]["field"] == "scopes"
        assert not before.changed_tables(db_snapshot())
        response = api.post("tokens", {"name": "narrower", "scopes": ["testapp.gadget:view"]})
        assert response.status_code == 201
        minted = response.json()
        assert minted["scopes"] == ["testapp.gadget:view"]
        assert token_api(minted["key"]).get("gadgets").status_code == 200
        assert (
            token_api(minted["key"]).post("tokens", {"name": "x", "scopes": ["testapp.gadget:view"]}).status_code == 403
        )

    def test_a_token_without_the_token_scope_cannot_mint(self, admin_user: Any) -> None:
        _t, key = make_token(admin_user, ["*:view"])
        before = db_snapshot()
        response = token_api(key).post("tokens", {"name": "x", "scopes": ["testapp.gadget:view"]})
        assert response.status_code == 403
        assert not before.changed_tables(db_snapshot())

    def test_the_key_is_shown_once_and_only_its_hash_is_stored(self, admin_api: Api) -> None:
        response = admin_api.post("tokens", {"name": "ERP sync", "scopes": ["testapp.gadget:view"]})
        assert response.status_code == 201
        data = response.json()
        key = data["key"]
        row = ApiToken.objects.get(pk=data["id"])
        assert key not in (row.key_hash, row.prefix) and row.prefix == key[: ApiToken.PREFIX_LENGTH]
        detail = admin_api.get(f"tokens/{row.pk}").json()
        assert "key" not in detail and "key_hash" not in detail
        assert all("key" not in item and "key_hash" not in item for item in admin_api.get("tokens").json()["items"])

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"name": "", "scopes": ["*:view"]}, "name"),
            ({"name": "x", "scopes": []}, "scopes"),
            ({"name": "x", "scopes": ["nonsense"]}, "scopes"),
            ({"name": "x", "scopes": ["testapp.gadget:fly"]}, "scopes"),
            ({"name": "x", "scopes": ["*:view"], "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
            ({"name": "x", "scopes": ["*:view"], "owner": 1}, "owner"),
        ],
    )
    def test_invalid_token_requests_name_the_field(self, admin_api: Api, body: dict[str, Any], field: str) -> None:
        before = db_snapshot()
        response = admin_api.post("tokens", body)
        assert response.status_code == 400
        assert field in {e["field"] for e in response.json()["errors"]}
        assert not before.changed_tables(db_snapshot())

    def test_revoked_token_stops_working_at_once(self, admin_api: Api, admin_user: Any) -> None:
        token, key = make_token(admin_user, ["*:*"])
        assert token_api(key).get("gadgets").status_code == 200
        assert admin_api.post(f"tokens/{token.pk}/revoke").status_code == 200
        assert token_api(key).get("gadgets").status_code == 401
        # revoking twice is harmless and writes nothing
        before = db_snapshot()
        assert admin_api.delete(f"tokens/{token.pk}").status_code == 204
        assert not before.changed_tables(db_snapshot())


def test_session_of_a_deactivated_user_is_refused(db: None) -> None:
    user = UserFactory()
    client = Client()
    client.force_login(user)
    user.is_active = False
    user.save()
    assert client.get("/api/v1/gadgets").status_code == 401
