"""Importing a field one sees masked (号码脱敏): a rep whose role shows contacts' phones as
+86 138 **** 8000 imports their own new people with their numbers, as the add form takes them, but
a row may not write a number onto a person who is in Guanxi already: whatever the cell holds, it is
never compared with the stored number, nor used to find that person."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from python_calamine import CalamineWorkbook

from guanxi.customers import services
from guanxi.customers.models import Contact
from guanxi.identity.models import Role, User
from tests.customers.test_import import csv_bytes, job_client, read_errors, upload
from tests.factories import field_rule, grant

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "手机", "邮箱", "职位", "微信"]
MASKED = "You see this field masked and may not change it on an existing record"


@pytest.fixture
def importer(rep: User, sales_role: Role) -> User:
    grant(sales_role, "customers.contact", ("import",))
    field_rule(sales_role, "customers.contact", "phones", "masked")
    return rep


@pytest.fixture
def client(importer: User, django_capture_on_commit_callbacks: Any) -> Client:
    return job_client(importer, django_capture_on_commit_callbacks)


@pytest.fixture
def wang(importer: User) -> Contact:
    return services.contact_create(
        user=importer,
        data={"family_name": "王", "given_name": "五", "title": "经理", "wechat_id": "wangwu88"},
        emails=[{"value": "wang@example.com"}],
        phones=[{"value": "13800138000"}],
    )


def _import(client: Client, *rows: list[str], **fields: Any) -> dict[str, Any]:
    response = upload(client, csv_bytes([HEADER, *rows]), start="true", **fields)
    assert response.status_code == 201, response.content
    return client.get(f"/api/v1/imports/{response.json()['id']}").json()


def _phones(contact: Contact) -> list[str]:
    contact.refresh_from_db()
    return [point["value"] for point in contact.phones]


def test_new_people_come_with_their_numbers(client: Client) -> None:
    body = _import(
        client, ["李四", "13900139000", "li@example.com", "工程师", ""], ["赵六", "021-62345678", "", "", ""]
    )
    assert body["result"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 0}
    assert _phones(Contact.objects.get(family_name="李")) == ["+8613900139000"]
    assert _phones(Contact.objects.get(family_name="赵")) == ["+862162345678"]


def test_a_row_may_not_write_a_number_onto_someone_in_guanxi(client: Client, wang: Contact) -> None:
    body = _import(
        client,
        ["王五", "13800138000", "wang@example.com", "总监", ""],  # the stored number: refused all the same
        ["王五", "13600136000", "wang@example.com", "总监", ""],  # another number
        ["王五", "", "wang@example.com", "总监", ""],  # no number: the rest is written
        duplicate_policy="update",
    )
    assert body["result"] == {"created": 0, "updated": 1, "skipped": 0, "failed": 2}
    errors = read_errors(client, body["id"])
    assert [(row[0], row[1], row[2]) for row in errors[1:]] == [
        ("2", "手机", "13800138000"),
        ("3", "手机", "13600136000"),
    ]
    assert all(MASKED in row[3] for row in errors[1:])
    wang.refresh_from_db()
    assert wang.title == "总监" and _phones(wang) == ["+8613800138000"]


def test_an_empty_masked_cell_clears_nothing(client: Client, wang: Contact, sales_role: Role) -> None:
    field_rule(sales_role, "customers.contact", "wechat_id", "masked")
    body = _import(client, ["王五", "", "wang@example.com", "", ""], duplicate_policy="update", blank_cells="clear")
    assert body["result"]["updated"] == 1, read_errors(client, body["id"])
    wang.refresh_from_db()
    assert (wang.title, wang.wechat_id, _phones(wang)) == ("", "wangwu88", ["+8613800138000"])  # the title cleared


def test_the_record_id_and_the_external_id_name_someone_in_guanxi_too(client: Client, wang: Contact) -> None:
    response = upload(
        client,
        csv_bytes([["记录ID", "姓名", "手机"], [str(wang.pk), "王五", "13600136000"]]),
        duplicate_policy="create",
        start="true",
    )
    body = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert body["result"]["failed"] == 1 and MASKED in read_errors(client, body["id"])[1][3]
    assert _phones(wang) == ["+8613800138000"]


@pytest.mark.parametrize("policy", ["skip", "update"])
def test_a_number_one_sees_masked_finds_no_one(client: Client, wang: Contact, policy: str) -> None:
    """Found or not, a row would tell whether a guessed number is someone's: it adds a person."""
    body = _import(client, ["王五", "13800138000", "", "", ""], duplicate_policy=policy)
    assert body["result"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 0}
    assert Contact.objects.filter(family_name="王").count() == 2
    # Two rows of the file with one number are still one new person.
    body = _import(
        client, ["钱七", "13500135000", "", "", ""], ["钱七", "13500135000", "", "采购", ""], duplicate_policy="update"
    )
    assert body["result"] == {"created": 1, "updated": 1, "skipped": 0, "failed": 0}


def test_a_hidden_or_read_only_column_is_still_refused(client: Client, sales_role: Role) -> None:
    for access in ("hidden", "readonly"):
        field_rule(sales_role, "customers.contact", "wechat_id", access)
        response = upload(client, csv_bytes([HEADER, ["李四", "13900139000", "", "", "lisi"]]), start="true")
        assert response.status_code == 400, access
        assert response.json()["errors"][0]["field"] == "mapping.微信", access
    assert not Contact.objects.exists()


def test_the_template_and_the_fields_say_new_records_only(client: Client) -> None:
    fields = {f["name"]: f for f in client.get("/api/v1/imports/fields?type=contacts").json()["fields"]}
    assert (fields["mobile"]["read_only"], fields["mobile"]["new_records_only"]) == (False, True)
    assert fields["phone"]["new_records_only"] is True and "New records only" in fields["mobile"]["hint"]
    assert (fields["email"]["read_only"], fields["email"]["new_records_only"]) == (False, False)
    assert "New records only" not in fields["email"]["hint"]
    response = client.get(reverse("ui:imports-template", args=["contacts"]))
    book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)))
    header, notes = (book.get_sheet_by_name(name).to_python() for name in book.sheet_names)
    assert "Mobile" in header[0]
    described = {row[0]: row[2] for row in notes[1:] if row and row[0]}
    assert "New records only" in described["Mobile"] and "New records only" not in described["Email"]


def test_a_manager_is_not_found_by_an_email_one_sees_masked(client: Client, wang: Contact, sales_role: Role) -> None:
    field_rule(sales_role, "customers.contact", "emails", "masked")
    Contact.objects.filter(pk=wang.pk).update(external_id="W5")
    rows = [["姓名", "直属上级", "上级编号"], ["孙八", "wang@example.com", ""], ["周九", "", "W5"]]
    response = upload(client, csv_bytes(rows), start="true")
    body = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert body["result"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 1}
    assert [(row[0], row[1]) for row in read_errors(client, body["id"])[1:]] == [("2", "直属上级")]
    assert Contact.objects.get(family_name="周").reports_to_id == wang.pk  # by external ID, as before
