"""The list's bulk 修改字段 offers the custom fields (自定义字段), as the API's bulk "update" takes
them: each with its own "change" tick and the record form's widget. The ticked ones go with the
ticked model fields in one ``core.bulk.bulk_apply_ids`` call (one plan: the set-based hook,
``customers.services.bulk_update``, writes both at once, all or nothing); only their keys change,
each record's other custom fields are kept, an emptied one is cleared unless required. A role's
rule on "custom_fields" (read-only or hidden) offers none. Before, the form dropped every ``cf_``
input."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import ChangeLogEntry, CustomFieldDefinition
from guanxi.core.registry import resource_at
from guanxi.customers import services
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import FieldRule, User

pytestmark = pytest.mark.django_db

ACCOUNTS = "/customers/accounts/bulk/"
CONTACTS = "/customers/contacts/bulk/"


def _define(key: str, field_type: str, on: str = "account", label: str = "", **extra: Any) -> CustomFieldDefinition:
    return CustomFieldDefinition.objects.create(
        object_type=f"customers.{on}",
        key=key,
        field_type=field_type,
        label_zh=f"{key}字段",
        label_en=label or key,
        **extra,
    )


@pytest.fixture
def defined(db: Any) -> None:
    """An account's custom fields of each kind a widget differs for, and one of contacts."""
    _define("grade", "choice", choices=["金", "银", "铜"], position=1)
    _define("po", "text", position=2)
    _define("seats", "number", position=3)
    _define("signed", "date", position=4)
    _define("vip", "boolean", position=5)
    _define("channels", "multichoice", choices=["线上", "线下", "渠道"], position=6)
    _define("hobby", "text", on="contact")


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _accounts(by: User, count: int, **custom: Any) -> list[Account]:
    return [
        services.account_create(user=by, data={"name": f"自定义字段公司{i}"}, custom_fields={**custom, "po": f"PO-{i}"})
        for i in range(count)
    ]


def _apply(pks: list[int], ticked: list[str], **values: Any) -> dict[str, Any]:
    return {"action": "edit", "step": "apply", "_apply": ticked, "pk": [str(pk) for pk in pks], **values}


def _stored(pks: list[int]) -> dict[int, dict[str, Any]]:
    return dict(Account.objects.filter(pk__in=pks).values_list("pk", "custom_fields"))


def test_the_form_offers_the_custom_fields_with_the_record_forms_widgets(defined: None, admin: User) -> None:
    pks = [a.pk for a in _accounts(admin, 2)]
    page = _client(admin).post(ACCOUNTS, {"action": "edit", "pk": [str(pk) for pk in pks]}).content.decode()
    for key in ("grade", "po", "seats", "signed", "vip", "channels"):
        assert f'name="_apply" value="cf_{key}"' in page, key
    assert '<select name="cf_grade"' in page and '<option value="铜">铜</option>' in page
    assert 'type="number" name="cf_seats"' in page and 'type="date" name="cf_signed"' in page
    assert '<select name="cf_vip"' in page
    assert page.count('type="checkbox" name="cf_channels"') == 3
    assert 'id="bulk-edit-custom"' in page  # under "More fields", as on the record's form
    assert page.index('value="industry"') < page.index('id="bulk-edit-custom"') < page.index('value="cf_grade"')
    assert "cf_hobby" not in page  # a contact's field is not an account's
    assert 'class="form-label required" for="id_cf_grade"' not in page  # nothing is required until ticked


@pytest.mark.parametrize("access", ["readonly", "hidden"])
def test_a_rule_on_custom_fields_offers_none_and_a_forged_tick_writes_nothing(
    access: str, defined: None, rep: User
) -> None:
    pks = [a.pk for a in _accounts(rep, 2, grade="银")]
    FieldRule.objects.create(role=rep.role, object_type="customers.account", field="custom_fields", access=access)
    rep = User.objects.get(pk=rep.pk)
    client = _client(rep)
    page = client.post(ACCOUNTS, {"action": "edit", "pk": [str(pk) for pk in pks]}).content.decode()
    assert 'name="_apply" value="industry"' in page
    assert "cf_" not in page and 'id="bulk-edit-custom"' not in page
    forged = client.post(ACCOUNTS, _apply(pks, ["cf_grade"], cf_grade="金"))
    assert forged.status_code == 400 and "Tick “change” next to the field you want to set." in forged.content.decode()
    assert {v["grade"] for v in _stored(pks).values()} == {"银"}


def test_a_ticked_custom_field_is_set_on_every_record_and_the_others_are_kept(defined: None, admin: User) -> None:
    accounts = _accounts(admin, 3, grade="银", seats=5)
    pks = [a.pk for a in accounts]
    client = _client(admin)
    # cf_seats comes with a value but no tick: it stays; each record keeps its own "po".
    done = client.post(ACCOUNTS, _apply(pks, ["cf_grade"], cf_grade="金", cf_seats="99"))
    assert done.status_code == 302, done.content.decode()[:800]
    stored = _stored(pks)
    assert stored == {pk: {"grade": "金", "seats": 5, "po": f"PO-{i}"} for i, pk in enumerate(pks)}

    # The other widgets' values as the record form stores them; an emptied tick clears one key.
    done = client.post(
        ACCOUNTS,
        _apply(
            pks,
            ["cf_signed", "cf_vip", "cf_channels", "cf_seats"],
            cf_signed="2025-03-01",
            cf_vip="false",
            cf_channels=["渠道", "线上"],
            cf_seats="",
        ),
    )
    assert done.status_code == 302, done.content.decode()[:800]
    for i, pk in enumerate(pks):
        assert _stored(pks)[pk] == {
            "grade": "金",
            "po": f"PO-{i}",
            "signed": "2025-03-01",
            "vip": False,
            "channels": ["线上", "渠道"],
        }


def test_a_model_field_and_a_custom_field_in_one_submit_one_set_based_call(
    defined: None, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    pks = [a.pk for a in _accounts(admin, 4)]
    resource = resource_at("accounts")
    calls: list[dict[str, Any]] = []
    hook = resource.bulk_update
    assert hook is not None

    def counted(**kwargs: Any) -> Any:
        calls.append({"data": kwargs["data"], "custom_fields": kwargs["custom_fields"], "pks": kwargs["pks"]})
        return hook(**kwargs)

    monkeypatch.setattr(resource, "bulk_update", counted)
    since = ChangeLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    done = _client(admin).post(ACCOUNTS, _apply(pks, ["industry", "cf_grade"], industry="software", cf_grade="铜"))
    assert done.status_code == 302, done.content.decode()[:800]
    assert calls == [{"data": {"industry": "software"}, "custom_fields": {"grade": "铜"}, "pks": pks}]
    assert Account.objects.filter(pk__in=pks, industry="software", custom_fields__grade="铜").count() == 4
    # The change log: one entry a record, with both changes.
    entries = ChangeLogEntry.objects.filter(pk__gt=since, action="update", object_id__in=pks)
    assert entries.count() == 4
    for entry in entries:  # each custom field by its key: "po", kept, is not among them
        assert entry.changes == {"industry": ["", "software"], "cf.grade": [None, "铜"]}, entry.changes


def test_contacts_too(defined: None, admin: User) -> None:
    contacts = [
        services.contact_create(
            user=admin, data={"family_name": "王", "given_name": f"{i}"}, custom_fields={"hobby": "茶"}
        )
        for i in range(2)
    ]
    pks = [c.pk for c in contacts]
    client = _client(admin)
    page = client.post(CONTACTS, {"action": "edit", "pk": [str(pk) for pk in pks]}).content.decode()
    assert 'value="cf_hobby"' in page and "cf_grade" not in page
    done = client.post(CONTACTS, _apply(pks, ["title", "cf_hobby"], title="采购经理", cf_hobby="围棋"))
    assert done.status_code == 302, done.content.decode()[:800]
    assert (
        list(Contact.objects.filter(pk__in=pks).values_list("title", "custom_fields"))
        == [("采购经理", {"hobby": "围棋"})] * 2
    )


def test_a_required_custom_field_cleared_is_refused_naming_it(defined: None, admin: User) -> None:
    pks = [a.pk for a in _accounts(admin, 3, grade="银")]
    CustomFieldDefinition.objects.filter(key="grade").update(required=True)
    client = _client(admin)
    before = _stored(pks)
    refused = client.post(ACCOUNTS, _apply(pks, ["industry", "cf_grade"], industry="software", cf_grade=""))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert '<div class="invalid-feedback d-block" id="id_cf_grade_error">This field is required.</div>' in page
    assert _stored(pks) == before and not Account.objects.filter(pk__in=pks, industry="software").exists()

    # A required one a record lacks, not ticked: the service refuses the batch, naming it by its label.
    _define("region_code", "text", label="Region code", required=True, position=9)
    refused = client.post(ACCOUNTS, _apply(pks, ["cf_po"], cf_po="PO-X"))
    assert refused.status_code == 400
    assert "<div>Region code: This field is required.</div>" in refused.content.decode()
    assert _stored(pks) == before


def test_a_bad_value_is_said_beside_its_field_and_nothing_is_written(defined: None, admin: User) -> None:
    pks = [a.pk for a in _accounts(admin, 2, grade="银", seats=5)]
    before = _stored(pks)
    client = _client(admin)
    refused = client.post(ACCOUNTS, _apply(pks, ["cf_seats", "cf_grade", "cf_po"], cf_seats="很多", cf_grade="钻石"))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'id="id_cf_seats_error">Enter a whole number.</div>' in page
    assert 'id="id_cf_grade_error">Select a valid choice. 钻石 is not one of the available choices.</div>' in page
    assert 'name="cf_seats" value="很多"' in page  # kept as typed, to correct
    assert _stored(pks) == before


def test_all_matching_records_take_a_custom_field_too(defined: None, admin: User) -> None:
    pks = [a.pk for a in _accounts(admin, 3, grade="银")]
    body = {"action": "edit", "select_all": "matching", "query": "search=自定义字段公司", "confirm": "yes"}
    done = _client(admin).post(ACCOUNTS, {**body, "step": "apply", "_apply": ["cf_grade"], "cf_grade": "金"})
    assert done.status_code == 302, done.content.decode()[:800]
    assert {pk: v["grade"] for pk, v in _stored(pks).items()} == dict.fromkeys(pks, "金")
    assert {v["po"] for v in _stored(pks).values()} == {"PO-0", "PO-1", "PO-2"}


def test_the_submit_costs_the_same_for_20_and_60_records(defined: None, admin: User) -> None:
    """Set-based: the statements of the submit do not grow with the records (one service call a
    record took 8 or more)."""
    accounts = _accounts(admin, 60, grade="银")
    client = _client(admin)

    def statements(count: int, grade: str) -> int:
        pks = [a.pk for a in accounts[:count]]
        body = _apply(pks, ["industry", "cf_grade"], industry="software" if count == 20 else "retail", cf_grade=grade)
        with CaptureQueriesContext(connection) as queries:
            response = client.post(ACCOUNTS, body)
        assert response.status_code == 302, response.content.decode()[:800]
        assert Account.objects.filter(pk__in=pks, custom_fields__grade=grade).count() == count
        return len(queries)

    few, many = statements(20, "金"), statements(60, "铜")
    assert many <= few + 2, (few, many)
    assert many < 60, many
