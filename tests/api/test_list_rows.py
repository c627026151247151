"""Lists read rows as dicts (guanxi.api.crud.page_rows / serialize_rows): same JSON as ``serialize``.

The list endpoints skip model instances; these tests pin that each item is exactly what
``serialize`` gives for the same record (the detail endpoint's shape), that hidden fields stay
hidden, that the queries do not grow with the page, and that ``DISPLAY_FIELDS`` covers ``__str__``.
"""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.api.crud import DISPLAY_FIELDS, extras_for, row_plan, serialize, tag_names_for
from guanxi.core.choices import FieldAccess
from guanxi.core.permissions import hidden_fields
from guanxi.core.registry import resource_at, resources
from guanxi.customers import services
from guanxi.customers.models import Account, Contact, CustomerProfile
from guanxi.identity.models import Role, Team, User
from tests.conftest import Api, session_api
from tests.factories import CustomFieldFactory, field_rule, grant, tag


def expected_items(resource_path: str, user: Any, pks: list[Any]) -> list[dict]:
    """``serialize`` of the records, from model instances, as the detail endpoint builds them."""
    resource = resource_at(resource_path)
    objs = list(resource.model._base_manager.select_related(*resource.select_related).filter(pk__in=pks))
    by_pk = {obj.pk: obj for obj in objs}
    hidden = hidden_fields(user, resource.model)
    tags = tag_names_for(resource.model, pks) if resource.taggable else {}
    extra = extras_for(resource, objs, user)
    return [serialize(by_pk[pk], resource, hidden, tags.get(pk), extra=extra.get(pk)) for pk in pks]


def list_json(api: Api, path: str, **params: Any) -> dict:
    response = api.get(path, {"limit": 200, **params})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    team = Team.objects.create(name="华东销售部")
    role = Role.objects.create(name="销售代表")
    for object_type in ("customers.account", "customers.contact"):
        grant(role, object_type, scope="team")
    admin = User.objects.create_user(email="admin@example.com", display_name="管理员", is_superuser=True)
    rep = User.objects.create_user(email="rep@example.com", display_name="李雷", role=role, team=team)
    no_name = User.objects.create_user(email="noname@example.com", display_name="", team=team)
    profile = CustomerProfile.objects.create(name="制造业大客户")
    CustomFieldFactory(object_type="customers.contact", key="region")
    parent = services.account_create(user=admin, data={"name": "集团总部", "owner": rep, "team": team})
    accounts = []
    for i in range(6):
        account = services.account_create(
            user=admin,
            data={
                "name": f"上海示例科技{i}有限公司",
                "annual_revenue": decimal.Decimal("1234567.50"),
                "parent": parent if i % 2 else None,
                "owner": no_name if i % 3 == 0 else rep,
                "team": team if i % 2 else None,
                "website": "https://example.com",
                "province": "上海市",
            },
        )
        Account.objects.filter(pk=account.pk).update(fit_profile=profile, fit_score=70 + i)
        tag(account, "重点", f"t{i % 2}")
        accounts.append(account)
    contacts = []
    for i in range(6):
        contact = services.contact_create(
            user=admin,
            data={
                "family_name": "张",
                "given_name": f"三{i}",
                "title": "采购经理",
                "birthday": datetime.date(1990, 1, 1 + i) if i % 2 else None,
                "owner": rep if i % 2 else no_name,
                "team": team,
                "email_consent": bool(i % 2),
                "email_consent_at": timezone.now() if i % 2 else None,
                "custom_fields": {"region": "华东"} if i % 2 else {},
            },
            emails=[f"zhang{i}@example.com"],
            phones=["13800138000"] if i % 2 else None,
            accounts=[{"account": accounts[i].pk, "role": "采购", "is_primary": True}],
        )
        tag(contact, "vip")
        contacts.append(contact)
    # A link to an account in the recycle bin is not listed (restrict), as before.
    services.contact_link_account(contact_id=contacts[0].pk, account_id=accounts[1].pk, user=admin, role="顾问")
    Account.objects.filter(pk=accounts[1].pk).update(deleted_at=timezone.now())
    return {"admin": admin, "rep": rep, "role": role, "team": team, "accounts": accounts, "contacts": contacts}


@pytest.mark.parametrize("path", ["contacts", "accounts"])
@pytest.mark.parametrize("who", ["admin", "rep"])
def test_list_items_are_what_serialize_gives(world: dict[str, Any], path: str, who: str) -> None:
    user = world[who]
    body = list_json(session_api(user), path)
    pks = [item["id"] for item in body["items"]]
    assert pks
    assert json.dumps(body["items"], ensure_ascii=False) == json.dumps(
        expected_items(path, user, pks), ensure_ascii=False
    )


@pytest.mark.parametrize("ordering", ["display_name", "-updated_at", "created_at", "id"])
def test_keyset_pages_walk_the_same_records(world: dict[str, Any], ordering: str) -> None:
    api = session_api(world["admin"])
    seen: list[int] = []
    cursor = None
    while True:
        body = list_json(api, "contacts", limit=2, ordering=ordering, **({"cursor": cursor} if cursor else {}))
        seen.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    everything = [item["id"] for item in list_json(api, "contacts", ordering=ordering)["items"]]
    assert seen == everything
    assert sorted(seen) == sorted(c.pk for c in world["contacts"])


def test_hidden_fields_stay_hidden(world: dict[str, Any]) -> None:
    for name in ("owner", "emails", "birthday", "accounts"):
        field_rule(world["role"], "customers.contact", name, FieldAccess.HIDDEN)
    rep = User.objects.get(pk=world["rep"].pk)  # a fresh policy cache
    body = list_json(session_api(rep), "contacts")
    assert body["items"]
    for item in body["items"]:
        assert not {"owner", "emails", "birthday", "accounts"} & set(item)
        assert {"team", "phones", "tags", "custom_fields", "version"} <= set(item)
    pks = [item["id"] for item in body["items"]]
    assert body["items"] == expected_items("contacts", rep, pks)


@pytest.mark.parametrize("path", ["contacts", "accounts"])
@pytest.mark.parametrize("who", ["admin", "rep"])
def test_detail_is_what_serialize_gives(world: dict[str, Any], path: str, who: str) -> None:
    """The detail endpoint reads a row too (``read_response``): the same JSON, ETag and 304."""
    user = world[who]
    api = session_api(user)
    visible = [item["id"] for item in list_json(api, path)["items"]]
    assert visible
    for pk in visible:
        response = api.get(f"{path}/{pk}")
        assert response.status_code == 200, response.content
        expected = expected_items(path, user, [pk])[0]
        assert json.dumps(response.json(), ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
        assert response.headers["ETag"] == f'"v{expected["version"]}"'
        assert api.get(f"{path}/{pk}", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
        assert api.get(f"{path}/{pk}", headers={"If-None-Match": '"v0"'}).status_code == 200


def test_detail_respects_restrict_and_hidden_fields(world: dict[str, Any]) -> None:
    rep = world["rep"]
    model_pks = set(Contact.objects.values_list("pk", flat=True))
    visible = {item["id"] for item in list_json(session_api(rep), "contacts")["items"]}
    binned = world["accounts"][1].pk
    api = session_api(rep)
    for pk in model_pks - visible:
        assert api.get(f"contacts/{pk}").status_code == 404
    assert api.get(f"accounts/{binned}").status_code == 404
    field_rule(world["role"], "customers.contact", "birthday", FieldAccess.HIDDEN)
    field_rule(world["role"], "customers.contact", "owner", FieldAccess.HIDDEN)
    rep = User.objects.get(pk=rep.pk)  # a fresh policy cache
    pk = next(iter(visible))
    body = session_api(rep).get(f"contacts/{pk}").json()
    assert not {"birthday", "owner"} & set(body)
    assert body == expected_items("contacts", rep, [pk])[0]


@pytest.mark.parametrize("who", ["admin", "rep"])
def test_detail_query_count(world: dict[str, Any], who: str) -> None:
    """One query for the record with its display columns, one for tags, two for the account links."""
    api = session_api(world[who])
    pk = world["contacts"][1].pk
    api.get(f"contacts/{pk}")  # warm the session and the content-type cache
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(f"contacts/{pk}").status_code == 200
    record = [q["sql"] for q in ctx.captured_queries if 'FROM "customers_contact"' in q["sql"]]
    assert len(record) == 1 and '"identity_user"' in record[0], "the owner's display is joined"
    selects = [q["sql"][:100] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    # and the session, its user and (for the rep) the role's grants and field rules, once each
    assert len(selects) <= {"admin": 6, "rep": 10}[who], selects


def test_account_contacts_route_matches_serialize(world: dict[str, Any]) -> None:
    admin = world["admin"]
    account = world["accounts"][0]
    body = list_json(session_api(admin), f"accounts/{account.pk}/contacts")
    assert [item["id"] for item in body["items"]] == [world["contacts"][0].pk]
    item = body["items"][0]
    assert (item.pop("role"), item.pop("is_primary")) == ("采购", True)
    assert body["items"] == expected_items("contacts", admin, [world["contacts"][0].pk])


@pytest.mark.parametrize("path", ["contacts", "accounts"])
@pytest.mark.parametrize("who", ["admin", "rep"])
def test_list_queries_do_not_grow_with_the_page(world: dict[str, Any], path: str, who: str) -> None:
    api = session_api(world[who])

    def count(limit: int) -> tuple[int, int]:
        list_json(api, path, limit=limit)  # warm the session and the content-type cache
        with CaptureQueriesContext(connection) as ctx:
            body = list_json(api, path, limit=limit)
        return len(ctx.captured_queries), len(body["items"])

    one, rows_one = count(1)
    many, rows_many = count(200)
    assert rows_one == 1 and rows_many > 3
    assert one == many, f"{one} queries for one row, {many} for {rows_many}"


def test_display_fields_are_what_str_reads(db: Any) -> None:
    """A record rebuilt from ``DISPLAY_FIELDS`` alone gives the same ``str()``, without a query."""
    team = Team.objects.create(name="华南销售部")
    samples = {
        "identity.user": [
            User.objects.create_user(email="a@example.com", display_name="韩梅梅", team=team),
            User.objects.create_user(email="b@example.com", display_name=""),
        ],
        "identity.team": [team],
        "identity.role": [Role.objects.create(name="经理")],
        "customers.account": [Account.objects.create(name="北京示例")],
        "customers.contact": [Contact.objects.create(family_name="张", given_name="三", display_name="张三")],
        "customers.customerprofile": [CustomerProfile.objects.create(name="理想客户")],
        "contenttypes.contenttype": [apps.get_model("contenttypes.contenttype").objects.get_for_model(Contact)],
    }
    assert set(samples) == set(DISPLAY_FIELDS)
    for label, objs in samples.items():
        model = apps.get_model(label)
        fields = [f for f in model._meta.concrete_fields if f.primary_key or f.name in DISPLAY_FIELDS[label]]
        for obj in objs:
            rebuilt = model.from_db("default", [f.attname for f in fields], [getattr(obj, f.attname) for f in fields])
            with CaptureQueriesContext(connection) as ctx:
                assert str(rebuilt) == str(obj)
            assert not ctx.captured_queries, label


def test_the_customer_lists_take_the_rows_path() -> None:
    """Contacts and accounts are read as rows; a foreign key to a model without DISPLAY_FIELDS would
    send a resource back to model instances (slower, same output)."""
    assert row_plan(resource_at("contacts")) is not None
    assert row_plan(resource_at("accounts")) is not None
    for resource in resources():
        plan = row_plan(resource)
        if plan is None:
            continue
        for column in plan.columns:
            if column.related is not None:
                assert column.related._meta.label_lower in DISPLAY_FIELDS
