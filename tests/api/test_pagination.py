"""Keyset pagination, ordering, updated_since and search on list endpoints."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Api
from tests.factories import GadgetFactory
from tests.testapp.models import Gadget

BASE = timezone.now().replace(microsecond=0) - datetime.timedelta(days=10)


@pytest.fixture
def gadgets(admin_user: Any) -> list[Gadget]:
    """120 gadgets with repeated names, prices and creation times, so ties need the id tie-break."""
    rows = [
        GadgetFactory(owner=admin_user, name=f"Gadget {i % 37:02d}", price=str(i % 11), status="new")
        for i in range(120)
    ]
    for i, g in enumerate(rows):
        Gadget.objects.filter(pk=g.pk).update(
            created_at=BASE + datetime.timedelta(minutes=i % 13), updated_at=BASE + datetime.timedelta(hours=i)
        )
    return list(Gadget.objects.all())


def walk(api: Api, params: dict[str, Any], limit: int = 50) -> tuple[list[int], int]:
    ids: list[int] = []
    pages = 0
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = api.get("gadgets", query)
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["items"]) <= limit
        ids += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert pages < 1000


def expected_order(rows: list[Gadget], ordering: str) -> list[int]:
    name = ordering.lstrip("-")
    descending = ordering.startswith("-")
    return [g.pk for g in sorted(rows, key=lambda g: (getattr(g, name), g.pk), reverse=descending)]


@pytest.mark.parametrize("ordering", ["name", "-created_at", "-name", "created_at", "id", "-id", "price", "-price"])
def test_walk_every_page(admin_api: Api, gadgets: list[Gadget], ordering: str) -> None:
    ids, pages = walk(admin_api, {"ordering": ordering})
    assert pages == 3
    assert len(ids) == len(set(ids)) == 120
    assert ids == expected_order(gadgets, ordering)


def test_default_ordering_is_newest_first(admin_api: Api, gadgets: list[Gadget]) -> None:
    ids, _ = walk(admin_api, {})
    assert ids == sorted(ids, reverse=True)


def test_rows_added_during_a_walk_do_not_shift_pages(admin_api: Api, gadgets: list[Gadget], admin_user: Any) -> None:
    first = admin_api.get("gadgets", {"ordering": "id", "limit": 50}).json()
    GadgetFactory(owner=admin_user, name="inserted")  # lands at the end in id order
    Gadget.objects.filter(pk=min(g.pk for g in gadgets)).delete()  # a row already seen disappears
    rest, _ = walk(admin_api, {"ordering": "id", "cursor": first["next_cursor"]})
    seen = [i["id"] for i in first["items"]] + rest
    assert len(seen) == len(set(seen)) == 121


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(min_value=1, max_value=200),
    ordering=st.sampled_from(["name", "-name", "created_at", "-created_at", "price", "-price", "id", "-id"]),
)
def test_any_page_size_yields_every_row_once_in_order(
    admin_api: Api, gadgets: list[Gadget], limit: int, ordering: str
) -> None:
    ids, pages = walk(admin_api, {"ordering": ordering}, limit=limit)
    assert ids == expected_order(gadgets, ordering)
    assert pages == max(1, -(-120 // limit))


def _cursor(admin_api: Api, ordering: str) -> str:
    return admin_api.get("gadgets", {"ordering": ordering, "limit": 10}).json()["next_cursor"]


def _decode(cursor: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-3] + "!!!",
        lambda c: "not-a-cursor",
        lambda c: _encode({**_decode(c), "id": "one"}),
        lambda c: _encode({k: v for k, v in _decode(c).items() if k != "id"}),
        lambda c: _encode({**_decode(c), "v": "not a date"}),
        lambda c: _encode(["a", "list"]),
        lambda c: base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
    ids=["garbled", "garbage", "bad-id", "no-id", "bad-value", "not-an-object", "not-utf8"],
)
def test_tampered_cursor_is_a_400(admin_api: Api, gadgets: list[Gadget], tamper: Any) -> None:
    cursor = tamper(_cursor(admin_api, "-created_at"))
    response = admin_api.get("gadgets", {"ordering": "-created_at", "cursor": cursor})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


def test_cursor_from_another_ordering_is_a_400(admin_api: Api, gadgets: list[Gadget]) -> None:
    cursor = _cursor(admin_api, "name")
    for other in ("-name", "created_at", "-id"):
        response = admin_api.get("gadgets", {"ordering": other, "cursor": cursor})
        assert response.status_code == 400, other
        assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten", "1.5"])
def test_limit_out_of_range_is_a_400(admin_api: Api, gadgets: list[Gadget], limit: str) -> None:
    response = admin_api.get("gadgets", {"limit": limit})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["limit"]


@pytest.mark.parametrize("limit, count", [("1", 1), ("200", 120), ("", 50)])
def test_limit_bounds(admin_api: Api, gadgets: list[Gadget], limit: str, count: int) -> None:
    assert len(admin_api.get("gadgets", {"limit": limit}).json()["items"]) == count


def test_updated_since(admin_api: Api, gadgets: list[Gadget]) -> None:
    since = BASE + datetime.timedelta(hours=100)
    expected = {g.pk for g in gadgets if g.updated_at >= since}
    assert len(expected) == 20
    for value in (since.isoformat(), since.astimezone(datetime.timezone(datetime.timedelta(hours=8))).isoformat()):
        ids, _ = walk(admin_api, {"updated_since": value})
        assert set(ids) == expected, value


def test_updated_since_sees_a_later_write(admin_api: Api, gadgets: list[Gadget]) -> None:
    mark = timezone.now()
    target = gadgets[5]
    assert admin_api.patch(f"gadgets/{target.pk}", {"name": "touched"}).status_code == 200
    ids, _ = walk(admin_api, {"updated_since": mark.isoformat()})
    assert ids == [target.pk]


def test_search(admin_api: Api, admin_user: Any) -> None:
    lamp = GadgetFactory(owner=admin_user, name="Desk Lamp")
    lamp2 = GadgetFactory(owner=admin_user, name="LAMP post")
    chinese = GadgetFactory(owner=admin_user, name="台灯 Pro")
    GadgetFactory(owner=admin_user, name="Chair", status="lamp")  # status is not searched

    def ids(params: dict[str, str]) -> set[int]:
        return {i["id"] for i in admin_api.get("gadgets", params).json()["items"]}

    assert ids({"search": "lamp"}) == {lamp.pk, lamp2.pk}
    assert ids({"search": "台灯"}) == {chinese.pk}
    assert ids({"search": "  lamp  "}) == {lamp.pk, lamp2.pk}
    assert ids({"search": "lamp", "name__icontains": "desk"}) == {lamp.pk}
    assert ids({"search": "nothing like it"}) == set()
    assert len(ids({"search": ""})) == 4


def test_search_respects_restrict(principals: Any) -> None:
    from tests.conftest import session_api

    mine = GadgetFactory(owner=principals.users["owner"], name="Lamp mine")
    GadgetFactory(owner=principals.users["other"], name="Lamp theirs")
    items = session_api(principals.users["owner"]).get("gadgets", {"search": "lamp"}).json()["items"]
    assert [i["id"] for i in items] == [mine.pk]


def test_pagination_respects_restrict(principals: Any) -> None:
    from tests.conftest import session_api

    owner = principals.users["owner"]
    mine = {GadgetFactory(owner=owner).pk for _ in range(7)}
    for _ in range(9):
        GadgetFactory(owner=principals.users["other"])
    ids, pages = walk(session_api(owner), {"ordering": "name"}, limit=3)
    assert set(ids) == mine and len(ids) == 7 and pages == 3
