"""The import template (an Excel file to fill in) and the list of mapping targets in the API.

The property that matters: every column of a template maps back to its field by itself, in both
languages, custom fields included; and the template offers nothing the user may not import.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from python_calamine import CalamineWorkbook

from guanxi.core.imports.mapping import auto_map
from guanxi.core.imports.specs import import_spec
from guanxi.core.models import CustomFieldDefinition
from guanxi.customers.models import Account
from tests.customers.test_import import JobClient, read_errors, upload, xlsx_bytes
from tests.factories import AdminFactory, RoleFactory, UserFactory, field_rule, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def custom_fields(db: Any) -> None:
    CustomFieldDefinition.objects.create(
        object_type="customers.account",
        key="terms",
        field_type="choice",
        label_zh="付款条件",
        label_en="Payment terms",
        choices=["Net 30", "预付"],
        required=True,
    )
    CustomFieldDefinition.objects.create(
        object_type="customers.contact", key="hobby", field_type="text", label_zh="兴趣爱好", label_en="Interests"
    )


def sheets(content: bytes) -> dict[str, list[list[Any]]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def download(client: Client, type_name: str) -> bytes:
    response = client.get(reverse("ui:imports-template", args=[type_name]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("type_name", ["accounts", "contacts"])
def test_every_column_of_the_template_maps_back_by_itself(custom_fields: None, language: str, type_name: str) -> None:
    client = Client()
    client.force_login(AdminFactory(language=language))
    book = sheets(download(client, type_name))
    first, notes = list(book.values())
    header = first[0]
    spec = import_spec(type_name)
    assert spec is not None
    mapping = auto_map(spec, header)
    assert "" not in mapping.values(), f"unmapped: {[h for h, f in mapping.items() if not f]}"
    targets = set(mapping.values())
    assert "id" not in targets and "family_name" not in targets, "no record ID, no alternative name columns"
    assert ("cf.terms" if type_name == "accounts" else "cf.hobby") in targets
    if language == "zh-hans":
        assert ("名称（必填）" if type_name == "accounts" else "姓名（必填）") in header
        assert header[0] == "外部编号"
    # The notes: one row per column, what to type, and the choices in the user's language.
    described = {row[0]: row for row in notes[1 : len(header) + 1]}
    assert len(described) == len(header) and all(row[2] for row in described.values())
    if type_name == "accounts" and language == "zh-hans":
        assert "制造业" in described["行业"][2] and described["付款条件"][1] == "是"
        assert "Net 30" in described["付款条件"][2]


def test_the_template_keeps_what_is_typed_as_text(custom_fields: None) -> None:
    client = Client()
    client.force_login(AdminFactory(language="zh-hans"))
    content = download(client, "contacts")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        styles = archive.read("xl/styles.xml").decode()
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert 'formatCode="@"' in styles, "the text format (@): 13800138000 stays as typed, not 1.38E+10"
    assert "<cols>" in sheet and "<f>" not in sheet


def test_a_filled_in_template_imports(custom_fields: None, django_capture_on_commit_callbacks: Any) -> None:
    admin = AdminFactory(language="zh-hans", email="t@example.com")
    client = JobClient()
    client.capture = django_capture_on_commit_callbacks
    client.force_login(admin)
    header = sheets(download(client, "accounts"))["客户"][0]
    row = dict.fromkeys(header, "")
    row.update({"名称（必填）": "华东精密制造", "行业": "制造业", "年营收": "120万", "付款条件（必填）": "预付"})
    response = upload(client, xlsx_bytes([header, list(row.values())]), name="t.xlsx", type="accounts", start="true")
    assert response.status_code == 201, response.content
    body = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert body["result"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 0}, read_errors(client, body["id"])
    account = Account.objects.get()
    assert (account.industry, str(account.annual_revenue)) == ("manufacturing", "1200000.00")
    assert account.custom_fields == {"terms": "预付"}


def test_the_template_and_the_fields_follow_the_users_permissions(custom_fields: None) -> None:
    role = RoleFactory(name="录入员")
    grant(role, "customers.account", ("view", "add", "import"), "own")
    field_rule(role, "customers.account", "annual_revenue", "readonly")
    clerk = UserFactory(role=role, language="en")
    client = Client()
    client.force_login(clerk)
    header = list(sheets(download(client, "accounts")).values())[0][0]
    assert "Annual revenue" not in header and "Name (required)" in header
    fields = client.get("/api/v1/imports/fields?type=accounts").json()["fields"]
    by_name = {f["name"]: f for f in fields}
    assert by_name["annual_revenue"]["read_only"] is True and by_name["name"]["required"] is True
    assert by_name["cf.terms"] == {
        "name": "cf.terms",
        "label": "Payment terms",
        "required": True,
        "hint": "One of: Net 30, 预付.",
        "read_only": False,
        "new_records_only": False,
    }
    assert by_name["id"]["required"] is False
    # No import permission: no template, no fields.
    assert client.get(reverse("ui:imports-template", args=["contacts"])).status_code == 403
    assert client.get("/api/v1/imports/fields?type=contacts").status_code == 403
    assert client.get("/api/v1/imports/template?type=contacts").status_code == 403
    assert client.get("/api/v1/imports/template?type=deals").status_code == 400
    api = client.get("/api/v1/imports/template?type=accounts")
    assert api.status_code == 200 and api["Content-Type"].endswith("spreadsheetml.sheet")


def test_the_upload_page_links_the_template(custom_fields: None) -> None:
    client = Client()
    client.force_login(AdminFactory(language="zh-hans"))
    page = client.get(reverse("ui:imports-new", args=["contacts"])).content.decode()
    assert reverse("ui:imports-template", args=["contacts"]) in page
    assert "兴趣爱好" in page, "custom fields are listed among the columns recognised"
