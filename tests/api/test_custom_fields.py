"""Custom fields: definitions, validation of each type, required values, unknown keys, filtering."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, db_snapshot
from tests.factories import CustomFieldFactory, GadgetFactory, UserFactory
from tests.testapp.models import Gadget


def cf_errors(response: Any) -> set[str]:
    assert response.status_code == 400, response.content
    return {e["field"] for e in response.json()["errors"]}


@pytest.fixture
def fields(db: None) -> dict[str, Any]:
    return {
        "note": CustomFieldFactory(key="note", field_type="text"),
        "seats": CustomFieldFactory(key="seats", field_type="number"),
        "budget": CustomFieldFactory(key="budget", field_type="decimal"),
        "since": CustomFieldFactory(key="since", field_type="date"),
        "vip": CustomFieldFactory(key="vip", field_type="boolean"),
        "tier": CustomFieldFactory(key="tier", field_type="choice", choices=["Gold", "Silver"]),
        "channels": CustomFieldFactory(key="channels", field_type="multichoice", choices=["wechat", "email", "phone"]),
        "rep": CustomFieldFactory(key="rep", field_type="user"),
    }


VALID = [
    ("note", "任何文字", "任何文字"),
    ("seats", 12, 12),
    ("seats", "12", 12),
    ("seats", "12.0", 12),
    ("budget", "12.50", "12.50"),
    ("budget", 3, "3"),
    ("since", "2026-02-29" if False else "2024-02-29", "2024-02-29"),
    ("vip", True, True),
    ("vip", "是", True),
    ("vip", "no", False),
    ("tier", "Gold", "Gold"),
    ("channels", ["phone", "wechat"], ["wechat", "phone"]),
    ("channels", "email, wechat", ["wechat", "email"]),
]
INVALID = [
    ("note", "x" * 1001),
    ("seats", 1.5),
    ("seats", "twelve"),
    ("seats", True),
    ("budget", "abc"),
    ("budget", "NaN"),
    ("since", "2026-13-01"),
    ("since", "yesterday"),
    ("vip", "maybe"),
    ("tier", "Bronze"),
    ("channels", ["fax"]),
    ("rep", "nobody"),
    ("rep", 999999),
]


@pytest.mark.parametrize("key, value, stored", VALID)
def test_valid_values_are_stored_normalised(
    admin_api: Api, fields: dict[str, Any], key: str, value: Any, stored: Any
) -> None:
    response = admin_api.post("gadgets", {"name": "x", "custom_fields": {key: value}})
    assert response.status_code == 201, response.content
    assert response.json()["custom_fields"] == {key: stored}
    assert Gadget.objects.get(pk=response.json()["id"]).custom_fields == {key: stored}


@pytest.mark.parametrize("key, value", INVALID)
def test_invalid_values_name_the_custom_field(admin_api: Api, fields: dict[str, Any], key: str, value: Any) -> None:
    before = db_snapshot()
    response = admin_api.post("gadgets", {"name": "x", "custom_fields": {key: value}})
    assert cf_errors(response) == {f"custom_fields.{key}"}
    assert not before.changed_tables(db_snapshot())


def test_user_field(admin_api: Api, fields: dict[str, Any]) -> None:
    active, inactive = UserFactory(), UserFactory(is_active=False)
    assert admin_api.post("gadgets", {"name": "x", "custom_fields": {"rep": active.pk}}).json()["custom_fields"] == {
        "rep": active.pk
    }
    assert cf_errors(admin_api.post("gadgets", {"name": "x", "custom_fields": {"rep": inactive.pk}})) == {
        "custom_fields.rep"
    }


def test_unknown_key(admin_api: Api, fields: dict[str, Any]) -> None:
    response = admin_api.post("gadgets", {"name": "x", "custom_fields": {"nope": 1, "Note": "x"}})
    assert cf_errors(response) == {"custom_fields.nope", "custom_fields.Note"}


def test_fields_of_another_type_are_unknown(admin_api: Api, db: None) -> None:
    CustomFieldFactory(key="industry", object_type="core.note")
    assert cf_errors(admin_api.post("gadgets", {"name": "x", "custom_fields": {"industry": "x"}})) == {
        "custom_fields.industry"
    }


def test_every_error_at_once(admin_api: Api, fields: dict[str, Any]) -> None:
    response = admin_api.post("gadgets", {"name": "x", "custom_fields": {"seats": "x", "tier": "x", "nope": 1}})
    assert cf_errors(response) == {"custom_fields.seats", "custom_fields.tier", "custom_fields.nope"}


def test_required(admin_api: Api, db: None) -> None:
    CustomFieldFactory(key="region", required=True)
    assert cf_errors(admin_api.post("gadgets", {"name": "x"})) == {"custom_fields.region"}
    assert cf_errors(admin_api.post("gadgets", {"name": "x", "custom_fields": {"region": ""}})) == {
        "custom_fields.region"
    }
    created = admin_api.post("gadgets", {"name": "x", "custom_fields": {"region": "华东"}})
    assert created.status_code == 201
    pk = created.json()["id"]
    # clearing a required value is refused; changing other fields leaves it alone
    assert cf_errors(admin_api.patch(f"gadgets/{pk}", {"custom_fields": {"region": None}})) == {"custom_fields.region"}
    assert admin_api.patch(f"gadgets/{pk}", {"name": "y"}).json()["custom_fields"] == {"region": "华东"}


def test_patch_merges_and_null_clears(admin_api: Api, fields: dict[str, Any], admin_user: Any) -> None:
    g = GadgetFactory(owner=admin_user, custom_fields={"note": "a", "tier": "Gold"})
    response = admin_api.patch(f"gadgets/{g.pk}", {"custom_fields": {"tier": "Silver", "note": None}})
    assert response.json()["custom_fields"] == {"tier": "Silver"}
    response = admin_api.patch(f"gadgets/{g.pk}", {"custom_fields": {"seats": 3}})
    assert response.json()["custom_fields"] == {"tier": "Silver", "seats": 3}


class TestFilter:
    @pytest.fixture
    def rows(self, admin_user: Any, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "gold": GadgetFactory(
                owner=admin_user, custom_fields={"tier": "Gold", "note": "Beijing office", "vip": True}
            ),
            "silver": GadgetFactory(owner=admin_user, custom_fields={"tier": "Silver", "note": "上海", "vip": False}),
            "none": GadgetFactory(owner=admin_user, custom_fields={}),
        }

    def ids(self, api: Api, params: dict[str, str]) -> set[int]:
        response = api.get("gadgets", params)
        assert response.status_code == 200, response.content
        return {i["id"] for i in response.json()["items"]}

    def test_exact_icontains_isnull(self, admin_api: Api, rows: dict[str, Any]) -> None:
        assert self.ids(admin_api, {"cf_tier": "Gold"}) == {rows["gold"].pk}
        assert self.ids(admin_api, {"cf_note__icontains": "beijing"}) == {rows["gold"].pk}
        assert self.ids(admin_api, {"cf_note__icontains": "上海"}) == {rows["silver"].pk}
        assert self.ids(admin_api, {"cf_tier__isnull": "true"}) == {rows["none"].pk}
        assert self.ids(admin_api, {"cf_tier__isnull": "false"}) == {rows["gold"].pk, rows["silver"].pk}

    def test_date_range(self, admin_api: Api, admin_user: Any, fields: dict[str, Any]) -> None:
        early = GadgetFactory(owner=admin_user, custom_fields={"since": "2024-01-15"})
        late = GadgetFactory(owner=admin_user, custom_fields={"since": "2025-06-01"})
        assert self.ids(admin_api, {"cf_since__gte": "2025-01-01"}) == {late.pk}
        assert self.ids(admin_api, {"cf_since__lte": "2024-12-31"}) == {early.pk}

    def test_number_and_boolean(self, admin_api: Api, admin_user: Any, fields: dict[str, Any]) -> None:
        small = GadgetFactory(owner=admin_user, custom_fields={"seats": 5, "vip": True})
        big = GadgetFactory(owner=admin_user, custom_fields={"seats": 20, "vip": False})
        assert self.ids(admin_api, {"cf_seats": "5"}) == {small.pk}
        assert self.ids(admin_api, {"cf_seats__gte": "10"}) == {big.pk}
        assert self.ids(admin_api, {"cf_seats__lte": "9"}) == {small.pk}
        assert self.ids(admin_api, {"cf_vip": "true"}) == {small.pk}

    @pytest.mark.parametrize("param", ["cf_nope", "cf_tier__startswith", "cf_tier__regex", "cf_"])
    def test_unknown_or_unsupported(self, admin_api: Api, rows: dict[str, Any], param: str) -> None:
        assert cf_errors(admin_api.get("gadgets", {param: "x"})) == {param}

    def test_unfilterable_field(self, admin_api: Api, rows: dict[str, Any]) -> None:
        CustomFieldFactory(key="secret", filterable=False)
        assert cf_errors(admin_api.get("gadgets", {"cf_secret": "x"})) == {"cf_secret"}

    def test_filter_respects_restrict(self, principals: Any, fields: dict[str, Any]) -> None:
        from tests.conftest import session_api

        mine = GadgetFactory(owner=principals.users["owner"], custom_fields={"tier": "Gold"})
        GadgetFactory(owner=principals.users["other"], custom_fields={"tier": "Gold"})
        assert self.ids(session_api(principals.users["owner"]), {"cf_tier": "Gold"}) == {mine.pk}


class TestDefinitions:
    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "object_type": "testapp.gadget",
            "key": "region",
            "label_en": "Region",
            "label_zh": "地区",
            "field_type": "text",
            **extra,
        }

    def test_create_and_read(self, admin_api: Api) -> None:
        response = admin_api.post("custom-fields", self.body())
        assert response.status_code == 201
        assert admin_api.get("custom-fields", {"object_type": "testapp.gadget"}).json()["items"][0]["key"] == "region"

    @pytest.mark.parametrize(
        "extra, field",
        [
            ({"key": "Bad Key"}, "key"),
            ({"key": "1abc"}, "key"),
            ({"key": "x" * 51}, "key"),
            ({"object_type": "identity.user"}, "object_type"),
            ({"object_type": "nope.nope"}, "object_type"),
            ({"field_type": "choice"}, "choices"),
            ({"field_type": "choice", "choices": []}, "choices"),
            ({"field_type": "multichoice", "choices": ["a", ""]}, "choices"),
            ({"field_type": "colour"}, "field_type"),
        ],
    )
    def test_invalid_definition(self, admin_api: Api, extra: dict[str, Any], field: str) -> None:
        before = db_snapshot()
        assert field in cf_errors(admin_api.post("custom-fields", self.body(**extra)))
        assert not before.changed_tables(db_snapshot())

    def test_duplicate_key(self, admin_api: Api) -> None:
        assert admin_api.post("custom-fields", self.body()).status_code == 201
        assert cf_errors(admin_api.post("custom-fields", self.body())) == {"key"}

    @pytest.mark.parametrize("change", [{"key": "other"}, {"field_type": "number"}, {"object_type": "core.note"}])
    def test_identity_of_a_field_cannot_change(self, admin_api: Api, change: dict[str, Any]) -> None:
        pk = admin_api.post("custom-fields", self.body()).json()["id"]
        assert cf_errors(admin_api.patch(f"custom-fields/{pk}", change)) == set(change)

    def test_labels_and_flags_can_change(self, admin_api: Api) -> None:
        pk = admin_api.post("custom-fields", self.body(field_type="choice", choices=["A"])).json()["id"]
        response = admin_api.patch(f"custom-fields/{pk}", {"label_zh": "区域", "choices": ["A", "B"], "required": True})
        assert response.status_code == 200
        assert response.json()["choices"] == ["A", "B"] and response.json()["required"] is True
