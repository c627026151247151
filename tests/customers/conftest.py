"""Fixtures of the customer tests: people with roles, an API client, and small record builders.

Records are built through the services (so display names, contact points and links are what the
app would store); permissions are granted by writing role rules directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from guanxi.core import filters
from guanxi.customers import services
from guanxi.customers.models import Account, Contact, PoolRule
from guanxi.identity.models import Role, RolePermission, Team, User

PASSWORD = "Correct-Horse-73!"
CRUD = ("view", "add", "change", "delete")


def grant(role: Role, object_type: str, actions: Iterable[str] = CRUD, scope: str = "own") -> None:
    for action in actions:
        RolePermission.objects.update_or_create(
            role=role, object_type=object_type, action=action, defaults={"scope": scope}
        )


class Api:
    """A logged-in JSON client for /api/v1/."""

    def __init__(self, user: User):
        self.user = user
        self.client = Client()
        self.client.force_login(user)

    def _call(self, method: str, path: str, data: Any = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {"headers": headers}
        if data is not None:
            kwargs.update(data=json.dumps(data), content_type="application/json")
        response = getattr(self.client, method)(f"/api/v1/{path.lstrip('/')}", **kwargs)
        try:
            response.json_body = response.json()
        except (ValueError, TypeError):
            response.json_body = None
        return response

    def get(self, path: str, **headers: str) -> Any:
        return self._call("get", path, **headers)

    def post(self, path: str, data: Any = None, **headers: str) -> Any:
        return self._call("post", path, data if data is not None else {}, **headers)

    def patch(self, path: str, data: Any, **headers: str) -> Any:
        return self._call("patch", path, data, **headers)

    def put(self, path: str, data: Any, **headers: str) -> Any:
        return self._call("put", path, data, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self._call("delete", path, **headers)


def field_errors(response: Any) -> dict[str, list[str]]:
    """A refused API call's messages by field (``problem+json``'s ``errors``)."""
    out: dict[str, list[str]] = {}
    for error in response.json_body.get("errors", []):
        out.setdefault(error["field"], []).append(error["detail"])
    return out


@pytest.fixture(autouse=True)
def english(settings: Any) -> Iterator[None]:
    """Messages are asserted in English, whatever the install's language and its catalogue say."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def team_east(db: Any) -> Team:
    return Team.objects.create(name="华东销售部", territory="华东")


@pytest.fixture
def team_south(db: Any) -> Team:
    return Team.objects.create(name="华南销售部", territory="华南")


@pytest.fixture
def sales_role(db: Any) -> Role:
    """A sales rep: own accounts and contacts (view/add/change/delete), nothing else."""
    role = Role.objects.create(name="销售代表")
    grant(role, "customers.account")
    grant(role, "customers.contact")
    return role


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(*, role: Role | None = None, team: Team | None = None, superuser: bool = False, name: str = "") -> User:
        n = next(counter)
        return User.objects.create_user(
            email=f"person{n}@example.com",
            password=PASSWORD,
            display_name=name or f"用户{n}",
            role=role,
            team=team,
            is_superuser=superuser,
            language="en",
        )

    return make


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(superuser=True, name="管理员")


@pytest.fixture
def rep(make_user: Callable[..., User], sales_role: Role, team_east: Team) -> User:
    return make_user(role=sales_role, team=team_east, name="李雷")


@pytest.fixture
def other_rep(make_user: Callable[..., User], sales_role: Role, team_south: Team) -> User:
    return make_user(role=sales_role, team=team_south, name="韩梅梅")


@pytest.fixture
def api_for() -> Callable[[User], Api]:
    return Api


@pytest.fixture
def admin_api(admin: User) -> Api:
    return Api(admin)


@pytest.fixture
def prospects_rule(db: Any) -> PoolRule:
    """A pool rule: prospects not followed up for 30 days go back to the customer pool (warned a week before)."""
    return PoolRule.objects.create(
        name="潜在客户30天", position=1, conditions={"lifecycle_stages": ["prospect"]}, idle_days=30
    )


@pytest.fixture
def make_account(admin: User) -> Callable[..., Account]:
    def make(*, by: User | None = None, tags: list[str] | None = None, **data: Any) -> Account:
        data.setdefault("name", "上海示例科技有限公司")
        return services.account_create(user=by or admin, data=data, tags=tags)

    return make


@pytest.fixture
def make_contact(admin: User) -> Callable[..., Contact]:
    def make(
        *, by: User | None = None, emails: Any = None, phones: Any = None, accounts: Any = None, **data: Any
    ) -> Contact:
        data.setdefault("family_name", "张")
        data.setdefault("given_name", "三")
        return services.contact_create(user=by or admin, data=data, emails=emails, phones=phones, accounts=accounts)

    return make


@pytest.fixture(params=[filters.FEW, 1], ids=["ids first", "row by row"])
def both_ways(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Filters through another table (``filters.through``) read their few ids first, or, when they
    match ``FEW`` rows or more, check the records row by row: a test that uses it runs both ways."""
    monkeypatch.setattr(filters, "FEW", request.param)
