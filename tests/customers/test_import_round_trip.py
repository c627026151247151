"""Export, edit in a spreadsheet, import again: the record ID column and custom fields.

A file exported from Guanxi maps back by itself: its "Record ID" column picks the record each row
updates, its custom field columns fill the custom fields, and cells the export escaped come back as
they were. Every test runs the real export and the real import job against the real database.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from guanxi.core.models import ChangeLogEntry, CustomFieldDefinition
from guanxi.core.services import record_delete
from guanxi.customers import services
from guanxi.customers.models import Account, Contact
from tests.customers.test_import import JobClient, csv_bytes, job_client, read_errors, upload
from tests.factories import AdminFactory, RoleFactory, UserFactory, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Any:
    return AdminFactory(email="importer@example.com", display_name="导入员", language="en")


@pytest.fixture
def client(admin: Any, django_capture_on_commit_callbacks: Any) -> JobClient:
    return job_client(admin, django_capture_on_commit_callbacks)


def define(
    key: str, field_type: str, label_zh: str, label_en: str, *, on: str = "account", **extra: Any
) -> CustomFieldDefinition:
    """A custom field of accounts (or ``on="contact"``), as an administrator defines one."""
    return CustomFieldDefinition.objects.create(
        object_type=f"customers.{on}", key=key, field_type=field_type, label_zh=label_zh, label_en=label_en, **extra
    )


@pytest.fixture
def account_fields(db: Any) -> dict[str, CustomFieldDefinition]:
    return {
        "contract_no": define("contract_no", "text", "合同编号", "Contract number"),
        "budget": define("budget", "number", "年采购预算", "Annual budget"),
        "rate": define("rate", "decimal", "折扣率", "Discount rate"),
        "terms": define("terms", "choice", "付款条件", "Payment terms", choices=["Net 30", "Net 60", "预付"]),
        "lines": define("lines", "multichoice", "产品线", "Product lines", choices=["CRM", "ERP", "MES"]),
        "signed": define("signed", "date", "签约日期", "Signed on"),
        "key_account": define("key_account", "boolean", "重点客户", "Key account"),
        "buyer": define("buyer", "user", "采购对接人", "Buyer"),
    }


def export_rows(client: Client, path: str, query: str = "") -> list[list[str]]:
    response = client.post(reverse("ui:export", args=[path]), {"query": query, "format": "csv", "scope": "all"})
    assert response.status_code == 200, response.content
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def run_import(client: Client, rows: list[list[str]], type_name: str, policy: str = "update") -> dict[str, Any]:
    response = upload(
        client, csv_bytes(rows), name=f"{type_name}.csv", type=type_name, duplicate_policy=policy, start="true"
    )
    assert response.status_code == 201, response.content
    job = response.json()
    body = client.get(f"/api/v1/imports/{job['id']}").json()
    assert body["status"] == "succeeded", body
    return {"mapping": job["mapping"], **body}


def errors_by_line(client: Client, job_id: int) -> dict[int, tuple[str, str]]:
    return {int(r[0]): (r[1], r[3]) for r in read_errors(client, job_id)[1:]}


# --- the round trip --------------------------------------------------------------------------------------------


def test_exported_accounts_edited_and_imported_update_the_same_records(
    client: Client, admin: Any, account_fields: dict[str, Any]
) -> None:
    buyer = UserFactory(email="buyer@example.com", display_name="采购 李")
    first = services.account_create(
        user=admin,
        data={"name": "华东精密制造有限公司", "industry": "manufacturing"},
        custom_fields={"contract_no": "HT-2026-001", "budget": 500, "terms": "Net 30"},
    )
    second = services.account_create(user=admin, data={"name": "深圳云帆科技", "external_id": "ERP-2"})
    rows = export_rows(client, "accounts", "ordering=name")
    header = rows[0]
    assert header[0] == "Record ID" and "Contract number" in header and "Payment terms" in header
    col = {name: header.index(name) for name in header}
    by_id = {int(r[0]): r for r in rows[1:]}
    # What a sales assistant changes in Excel: an industry, a custom field or two, a new value.
    by_id[first.pk][col["Industry"]] = "Software and IT services"
    by_id[first.pk][col["Payment terms"]] = "net 60"  # any case
    by_id[first.pk][col["Product lines"]] = "CRM、MES"
    by_id[first.pk][col["Signed on"]] = "2026/3/5"
    by_id[first.pk][col["Annual budget"]] = "1,200"
    by_id[first.pk][col["Discount rate"]] = "0.85"
    by_id[first.pk][col["Key account"]] = "是"
    by_id[first.pk][col["Buyer"]] = "buyer@example.com"
    by_id[second.pk][col["Name"]] = "深圳云帆科技有限公司"  # a rename: the ID still finds it
    before = ChangeLogEntry.objects.count()

    result = run_import(client, rows, "accounts")

    assert result["mapping"]["Record ID"] == "id" and result["mapping"]["External ID"] == "external_id"
    assert result["mapping"]["Contract number"] == "cf.contract_no" and result["mapping"]["Buyer"] == "cf.buyer"
    assert result["result"] == {"created": 0, "updated": 2, "skipped": 0, "failed": 0}, read_errors(
        client, result["id"]
    )
    assert Account.objects.count() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.industry == "software" and first.external_id == "" and second.external_id == "ERP-2"
    assert second.name == "深圳云帆科技有限公司"
    assert first.custom_fields == {
        "contract_no": "HT-2026-001",
        "budget": 1200,
        "rate": "0.85",
        "terms": "Net 60",
        "lines": ["CRM", "MES"],
        "signed": "2026-03-05",
        "key_account": True,
        "buyer": buyer.pk,
    }
    log = ChangeLogEntry.objects.filter(object_id=first.pk, content_type__model="account").latest("id")
    assert (log.action, log.source) == ("update", "import")
    assert log.changes["cf.terms"] == ["Net 30", "Net 60"] and log.changes["cf.budget"] == [500, 1200]
    assert log.changes["industry"] == ["manufacturing", "software"] and "custom_fields" not in log.changes
    assert ChangeLogEntry.objects.count() == before + 2


def test_exported_contacts_come_back_with_what_the_export_escaped(client: Client, admin: Any) -> None:
    contact = services.contact_create(
        user=admin,
        data={"family_name": "王", "given_name": "芳", "title": "+86 区域经理", "description": "=1+1 是公式"},
        phones=["+8613800138000"],
        emails=["wang.fang@example.com"],
    )
    rows = export_rows(client, "contacts")
    header = rows[0]
    row = rows[1]
    assert row[header.index("Job title")] == "'+86 区域经理", "the export escapes it"
    row[header.index("Department")] = "采购部"

    result = run_import(client, rows, "contacts")

    assert result["result"] == {"created": 0, "updated": 1, "skipped": 0, "failed": 0}
    contact.refresh_from_db()
    assert contact.title == "+86 区域经理" and contact.description == "=1+1 是公式", "no apostrophe added"
    assert contact.department == "采购部" and contact.external_id == ""
    assert [p["value"] for p in contact.phones] == ["+8613800138000"]
    assert Contact.objects.count() == 1


# --- the record ID -------------------------------------------------------------------------------------------


def test_a_record_id_updates_that_record_whatever_else_matches(client: Client, admin: Any) -> None:
    target = services.contact_create(user=admin, data={"family_name": "李", "given_name": "雷"})
    other = services.contact_create(
        user=admin, data={"family_name": "韩", "given_name": "梅梅"}, emails=["han@example.com"]
    )
    rows = [
        ["记录 ID", "姓名", "邮箱", "职位"],
        [str(target.pk), "李雷", "han@example.com", "总监"],  # the email is another contact's: the ID decides
    ]
    result = run_import(client, rows, "contacts")
    assert result["mapping"]["记录 ID"] == "id"
    assert result["result"]["updated"] == 1
    target.refresh_from_db()
    other.refresh_from_db()
    assert target.title == "总监" and "han@example.com" in [e["value"] for e in target.emails]
    assert other.title == ""


def test_record_ids_that_find_nothing_are_refused_with_their_line(client: JobClient, admin: Any) -> None:
    mine = services.contact_create(user=admin, data={"family_name": "李", "given_name": "雷"})
    role = RoleFactory(name="仅自己")
    grant(role, "customers.contact", ("view", "add", "change", "import"), "own")
    someone = UserFactory(email="someone@example.com", role=role)
    hidden = services.contact_create(user=someone, data={"family_name": "赵", "given_name": "敏"})
    binned = services.contact_create(user=admin, data={"family_name": "钱", "given_name": "多"})
    record_delete(model=Contact, pk=binned.pk, user=admin)
    rows = [
        ["Record ID", "Name", "Title"],
        [str(mine.pk), "李雷", "经理"],  # 2: updates
        ["abc", "某人", "x"],  # 3: not a number
        [str(mine.pk + 10_000), "某人", "x"],  # 4: no such record
        [str(binned.pk), "钱多", "x"],  # 5: in the recycle bin
        ["", "新人", "x"],  # 6: no ID: a new contact
        ["²", "某人", "x"],  # 7: a digit to str.isdigit, not to int
    ]
    someone_client = job_client(someone, client.capture)
    result = run_import(someone_client, [*rows, [str(hidden.pk), "赵敏", "y"]], "contacts")
    # someone sees only their own: the admin's contact is "not found" for them, not "forbidden".
    errors = errors_by_line(someone_client, result["id"])
    assert set(errors) == {2, 3, 4, 5, 7}
    assert all(column == "Record ID" for column, _reason in errors.values())
    assert "whole number" in errors[3][1] and "No record you may see" in errors[4][1]
    assert "whole number" in errors[7][1]
    assert result["result"] == {"created": 1, "updated": 1, "skipped": 0, "failed": 5}
    hidden.refresh_from_db()
    mine.refresh_from_db()
    assert hidden.title == "y" and mine.title == ""

    result = run_import(client, rows, "contacts")
    assert set(errors_by_line(client, result["id"])) == {3, 4, 5, 7}
    mine.refresh_from_db()
    assert mine.title == "经理"


def test_a_record_id_with_another_records_external_id_is_refused(client: Client, admin: Any) -> None:
    first = services.account_create(user=admin, data={"name": "甲公司", "external_id": "E-1"})
    second = services.account_create(user=admin, data={"name": "乙公司"})
    rows = [
        ["Record ID", "Name", "External ID", "Description"],
        [str(second.pk), "乙公司", "E-1", "takes 甲's external ID"],
        [str(second.pk), "乙公司", "E-2", "gives it a new one"],
        ["", "乙公司（新）", "E-2", "another row with E-2: the same record"],
    ]
    result = run_import(client, rows, "accounts", policy="create")
    errors = errors_by_line(client, result["id"])
    assert errors == {2: ("External ID", f"This external ID belongs to another record (ID {first.pk}).")}
    assert result["result"] == {"created": 0, "updated": 2, "skipped": 0, "failed": 1}
    second.refresh_from_db()
    assert second.external_id == "E-2" and second.description == "another row with E-2: the same record"
    assert Account.objects.count() == 2


def test_policies_with_a_record_id(client: Client, admin: Any) -> None:
    contact = services.contact_create(user=admin, data={"family_name": "李", "given_name": "雷"})
    rows = [["Record ID", "Name", "Title"], [str(contact.pk), "李雷", "经理"]]
    assert run_import(client, rows, "contacts", policy="skip")["result"]["skipped"] == 1
    contact.refresh_from_db()
    assert contact.title == ""
    assert run_import(client, rows, "contacts", policy="create")["result"]["updated"] == 1, "an ID is that record"
    contact.refresh_from_db()
    assert contact.title == "经理" and Contact.objects.count() == 1


def test_another_systems_id_column_stays_an_external_id(client: Client) -> None:
    rows = [["ID", "姓名", "手机"], ["1", "张伟", "13800138000"], ["2", "李娜", "13900139000"]]
    result = run_import(client, rows, "contacts")
    assert result["mapping"]["ID"] == "external_id"
    assert result["result"]["created"] == 2
    assert sorted(Contact.objects.values_list("external_id", flat=True)) == ["1", "2"]


def test_an_older_export_whose_first_column_is_id_updates_its_records(client: Client, admin: Any) -> None:
    """Exports made before "记录 ID" headed their first column "ID". Beside the export's own 外部编号
    column, that "ID" is the record ID, so the file still updates what it came from."""
    contact = services.contact_create(
        user=admin, data={"family_name": "周", "given_name": "八", "external_id": "CRM-8"}, phones=["13800138008"]
    )
    # Without an external-ID column of its own, "ID" stays another system's id (the test above).
    other = upload(client, csv_bytes([["ID", "姓名", "职位"], ["77", "吴九", "CTO"]])).json()
    assert other["mapping"]["ID"] == "external_id"
    rows = [["ID", "姓名", "职位", "外部编号"], [str(contact.pk), "周八", "总经理", "CRM-8"]]
    result = run_import(client, rows, "contacts")
    assert result["mapping"] == {"ID": "id", "姓名": "name", "职位": "title", "外部编号": "external_id"}
    assert result["result"] == {"created": 0, "updated": 1, "skipped": 0, "failed": 0}
    contact.refresh_from_db()
    assert contact.title == "总经理" and contact.external_id == "CRM-8"


# --- custom fields ---------------------------------------------------------------------------------------------


def test_custom_fields_on_new_records_and_their_errors(
    client: Client, admin: Any, account_fields: dict[str, Any]
) -> None:
    account_fields["contract_no"].required = True
    account_fields["contract_no"].save()
    UserFactory(email="buyer@example.com", display_name="采购 李")
    rows = [
        ["客户名称", "合同编号", "年采购预算", "付款条件", "产品线", "签约日期", "重点客户", "采购对接人"],
        ["甲公司", "9131A", "2,000", "预付", "crm, erp", "2026年3月5日", "yes", "采购 李"],  # 2: good
        ["乙公司", "9131B", "两千", "", "", "", "", ""],  # 3: not a number
        ["丙公司", "9131C", "", "Net 90", "", "", "", ""],  # 4: not a choice
        ["丁公司", "9131D", "", "", "CRM、OA", "", "", ""],  # 5: one pick unknown
        ["戊公司", "9131E", "", "", "", "2026-02-30", "", ""],  # 6: no such day
        ["己公司", "9131F", "", "", "", "", "也许", ""],  # 7: not yes or no
        ["庚公司", "9131G", "", "", "", "", "", "nobody@example.com"],  # 8: no such user
        ["辛公司", "", "", "", "", "", "", ""],  # 9: the required field is empty
    ]
    result = run_import(client, rows, "accounts")
    assert result["mapping"]["合同编号"] == "cf.contract_no" and result["mapping"]["采购对接人"] == "cf.buyer"
    errors = errors_by_line(client, result["id"])
    assert {line: column for line, (column, _reason) in errors.items()} == {
        3: "年采购预算",
        4: "付款条件",
        5: "产品线",
        6: "签约日期",
        7: "重点客户",
        8: "采购对接人",
        9: "合同编号",
    }
    assert all(reason for _column, reason in errors.values())
    assert "required" in errors[9][1]
    assert result["result"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 7}
    account = Account.objects.get()
    assert account.custom_fields["budget"] == 2000 and account.custom_fields["lines"] == ["CRM", "ERP"]
    assert account.custom_fields["signed"] == "2026-03-05" and account.custom_fields["key_account"] is True
    assert account.custom_fields["buyer"] == UserFactory._meta.model.objects.get(email="buyer@example.com").pk
    log = ChangeLogEntry.objects.get(object_id=account.pk, content_type__model="account")
    assert log.changes["cf.contract_no"] == [None, "9131A"] and "custom_fields" not in log.changes


def test_custom_fields_of_contacts_on_the_bulk_path(client: Client, settings: Any) -> None:
    settings.GUANXI_IMPORT_BATCH_SIZE = 2
    define("hobby", "text", "兴趣爱好", "Interests", on="contact")
    define("level", "number", "决策层级", "Level", on="contact")
    rows = [["姓名", "手机", "兴趣爱好", "决策层级"]]
    rows += [[f"张{i}", f"1380013{i:04d}", f"羽毛球{i}", str(i % 3)] for i in range(5)]
    rows.append(["张5", "13800135555", "'=cmd", "x"])  # 7: the level is bad; the formula-like text is text
    result = run_import(client, rows, "contacts")
    assert result["result"] == {"created": 5, "updated": 0, "skipped": 0, "failed": 1}
    assert errors_by_line(client, result["id"])[7][0] == "决策层级"
    contact = Contact.objects.get(display_name="张3")
    assert contact.custom_fields == {"hobby": "羽毛球3", "level": 0}
    log = ChangeLogEntry.objects.get(object_id=contact.pk, content_type__model="contact")
    assert log.changes["cf.hobby"] == [None, "羽毛球3"]
    # An update fills in what the file gives and keeps the rest.
    update = [["手机", "姓名", "决策层级"], ["13800130003", "张3", "2"]]
    assert run_import(client, update, "contacts")["result"]["updated"] == 1
    contact.refresh_from_db()
    assert contact.custom_fields == {"hobby": "羽毛球3", "level": 2}


# --- the mapping remembered ------------------------------------------------------------------------------------


def test_the_next_file_with_the_same_headers_is_matched_as_last_time(client: JobClient, admin: Any) -> None:
    hobby = define("hobby", "text", "兴趣爱好", "Interests", on="contact")
    header = ["联系人", "客户手机（主）", "备注", "爱好"]
    first = upload(client, csv_bytes([header, ["张伟", "13800138000", "老客户", "钓鱼"]]), name="march.csv").json()
    assert first["mapping"] == {"联系人": "name", "客户手机（主）": "", "备注": "description", "爱好": ""}
    assert first["remembered_from"] is None
    # The user maps the phone and the hobby by hand and leaves the notes out; a file they never start
    # teaches nothing.
    chosen = {"联系人": "name", "客户手机（主）": "mobile", "备注": "", "爱好": "cf.hobby"}
    upload(client, csv_bytes([header, ["x", "1", "", ""]]), name="draft.csv", mapping=chosen)
    started = client.post(f"/api/v1/imports/{first['id']}/start", {"mapping": chosen}, content_type="application/json")
    assert started.status_code == 202
    pending = upload(client, csv_bytes([header, ["y", "2", "", ""]]), name="draft2.csv").json()
    assert pending["mapping"] == chosen and pending["remembered_from"] == {"id": first["id"], "file_name": "march.csv"}

    # April's file: the same columns and one more; only this user's imports count.
    april = upload(client, csv_bytes([[*header, "邮箱"], ["李娜", "13900139000", "新", "登山", "li@example.com"]]))
    assert april.json()["mapping"] == {**chosen, "邮箱": "email"}
    other = job_client(AdminFactory(email="other@example.com"), client.capture)
    assert upload(other, csv_bytes([header, ["x", "1", "", ""]])).json()["mapping"] == first["mapping"]

    # A field deleted since is matched by name again.
    hobby.delete()
    again = upload(client, csv_bytes([header, ["x", "1", "", ""]])).json()
    assert again["mapping"] == {**chosen, "爱好": ""}


def test_the_wizard_says_where_the_matching_comes_from(client: Client) -> None:
    header = ["联系人", "客户手机（主）"]
    first = upload(client, csv_bytes([header, ["张伟", "13800138000"]]), name="march.csv").json()
    chosen = {"联系人": "name", "客户手机（主）": "mobile"}
    client.post(f"/api/v1/imports/{first['id']}/start", {"mapping": chosen}, content_type="application/json")
    page = client.post(
        reverse("ui:imports-new", args=["contacts"]),
        {"file": SimpleUploadedFile("april.csv", csv_bytes([header, ["李娜", "13900139000"]]))},
    )
    assert page.status_code == 302
    detail = client.get(page["Location"]).content.decode()
    assert "march.csv" in detail and 'id="import-remembered"' in detail
    assert '<option value="mobile" selected>' in detail


def test_an_unchanged_export_imported_again_changes_nothing(
    client: Client, admin: Any, account_fields: dict[str, Any]
) -> None:
    account = services.account_create(
        user=admin,
        data={"name": "华东精密制造", "industry": "manufacturing", "annual_revenue": 12000000, "website": "a.cn"},
        tags=["重点", "华东"],
        custom_fields={"terms": "Net 30", "lines": ["CRM", "ERP"], "signed": "2026-03-05", "key_account": True},
    )
    services.account_create(user=admin, data={"name": "深圳云帆"})
    contact = services.contact_create(
        user=admin,
        data={"family_name": "王", "given_name": "芳", "title": "+86 经理", "birthday": "1990-05-20"},
        phones=["13800138000", "021-62345678 转 801"],
        emails=["wang@example.com"],
        accounts=[{"account": account.pk, "role": "采购"}],
        tags=["展会"],
    )
    logged = ChangeLogEntry.objects.count()
    versions = {a.pk: a.version for a in Account.objects.all()}

    for type_name in ("accounts", "contacts"):
        rows = export_rows(client, type_name)
        result = run_import(client, rows, type_name)
        assert result["result"]["updated"] == 0 and result["result"]["failed"] == 0, (type_name, result["result"])
        assert result["result"]["skipped"] == len(rows) - 1
    assert ChangeLogEntry.objects.count() == logged
    assert {a.pk: a.version for a in Account.objects.all()} == versions
    assert Contact.objects.get(pk=contact.pk).version == contact.version

    # A tag added in the file is one change, logged as the services log it.
    rows = export_rows(client, "accounts", "ordering=name")
    tags_col = rows[0].index("Tags")
    row = next(r for r in rows[1:] if int(r[0]) == account.pk)
    row[tags_col] += ", 新签"
    assert run_import(client, rows, "accounts")["result"]["updated"] == 1
    log = ChangeLogEntry.objects.filter(object_id=account.pk, content_type__model="account").latest("id")
    assert log.changes == {"tags": [["华东", "重点"], ["华东", "新签", "重点"]]}


def test_the_lists_columns_exported_edited_and_imported(client: Client, admin: Any) -> None:
    """The list's export (the columns shown) maps back too, and a file of IDs and one column is enough."""
    wang = services.contact_create(user=admin, data={"family_name": "王", "given_name": "芳", "title": "经理"})
    smith = services.contact_create(user=admin, data={"family_name": "Smith", "given_name": "John"})
    response = client.post(reverse("ui:export", args=["contacts"]), {"query": "ordering=display_name", "format": "csv"})
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    assert "Family name" not in header, "the list's columns only"
    title = header.index("Job title")
    for row in rows[1:]:
        row[title] = "采购总监" if int(row[0]) == wang.pk else "Buyer"
    result = run_import(client, rows, "contacts")
    assert result["mapping"]["Name"] == "name" and result["result"]["updated"] == 2, result
    wang.refresh_from_db()
    smith.refresh_from_db()
    assert (wang.title, wang.display_name) == ("采购总监", "王芳")
    assert (smith.title, smith.display_name) == ("Buyer", "John Smith")

    # IDs and one column: no name needed for the rows that name their record; a row without an
    # ID still needs one.
    few = [["记录 ID", "部门"], [str(wang.pk), "采购部"], ["", "无名"]]
    result = run_import(client, few, "contacts")
    assert result["result"] == {"created": 0, "updated": 1, "skipped": 0, "failed": 1}
    wang.refresh_from_db()
    assert wang.department == "采购部" and wang.family_name == "王"
    accounts = [["Record ID", "Website"], [str(services.account_create(user=admin, data={"name": "甲"}).pk), "jia.cn"]]
    assert run_import(client, accounts, "accounts")["result"]["updated"] == 1
    assert Account.objects.get(name="甲").website == "https://jia.cn"


# --- empty cells that clear ------------------------------------------------------------------------------------


def test_empty_cells_clear_only_when_the_import_says_so(client: Client, admin: Any, settings: Any) -> None:
    """An export edited to remove values: by default an empty cell keeps what the record has; with
    blank_cells=clear it clears the plain fields and the optional custom fields, never the name, the
    emails, phones, tags, company or a required custom field. Both write paths (batches of 2)."""
    settings.GUANXI_IMPORT_BATCH_SIZE = 2
    define("hobby", "text", "兴趣爱好", "Interests", on="contact")
    define("grade", "text", "客户等级", "Grade", on="contact", required=True)
    account = services.account_create(user=admin, data={"name": "上海示例"})
    full = {"title": "采购经理", "department": "采购部", "wechat_id": "li_wx", "birthday": "1990-05-04", "city": "上海"}
    contacts = [
        services.contact_create(
            user=admin,
            data={"family_name": "李", "given_name": f"雷{i}", **full},
            emails=[f"li{i}@example.com"],
            phones=[f"1380013800{i}"],
            accounts=[{"account": account.pk}],
            tags=["VIP"],
            custom_fields={"hobby": "羽毛球", "grade": "A"},
        )
        for i in range(3)
    ]
    header = ["Record ID", "Name", "Title", "Department", "WeChat ID", "Birthday", "City", "Email", "Phones"]
    header += ["Tags", "Company", "Interests", "Grade"]
    rows = [header] + [[str(c.pk), "", "", "", "", "", "", "", "", "", "", "", ""] for c in contacts]
    rows[3][2] = "总经理"  # one cell that is not empty still changes its field

    kept = run_import(client, rows, "contacts")
    assert kept["blank_cells"] == "keep"
    assert kept["result"] == {"created": 0, "updated": 1, "skipped": 2, "failed": 0}
    contacts[0].refresh_from_db()
    assert contacts[0].title == "采购经理" and contacts[0].custom_fields == {"hobby": "羽毛球", "grade": "A"}

    response = upload(client, csv_bytes(rows), name="cleared.csv", duplicate_policy="update", blank_cells="clear")
    assert response.json()["blank_cells"] == "clear"
    started = client.post(f"/api/v1/imports/{response.json()['id']}/start", {}, content_type="application/json")
    assert started.status_code == 202
    result = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert result["result"] == {"created": 0, "updated": 3, "skipped": 0, "failed": 0}, read_errors(
        client, result["id"]
    )
    for contact in contacts:
        contact.refresh_from_db()
        assert (contact.department, contact.wechat_id, contact.birthday, contact.city) == ("", "", None, "")
        assert contact.display_name.startswith("李雷") and contact.emails and contact.phones
        assert contact.custom_fields == {"grade": "A"}
        assert contact.account_links.count() == 1
        assert client.get(f"/api/v1/contacts/{contact.pk}").json()["tags"] == ["VIP"]
    assert [c.title for c in contacts] == ["", "", "总经理"]
    log = ChangeLogEntry.objects.filter(object_id=contacts[0].pk, content_type__model="contact").latest("id")
    assert log.changes["birthday"] == ["1990-05-04", None] and log.changes["cf.hobby"] == ["羽毛球", None]
    assert log.changes["title"] == ["采购经理", ""] and "emails" not in log.changes

    # Clearing what is already empty is no change.
    again = run_import(client, rows, "contacts")  # keep
    assert again["result"]["updated"] == 0


def test_clearing_account_fields_and_no_change_the_second_time(client: Client, admin: Any) -> None:
    account = services.account_create(
        user=admin,
        data={
            "name": "华东精密制造有限公司",
            "industry": "manufacturing",
            "employee_count": 120,
            "annual_revenue": 5000000,
            "website": "https://example.com",
        },
    )
    rows = [["Record ID", "Industry", "Employees", "Annual revenue", "Website"], [str(account.pk), "", "", "", ""]]

    def run() -> dict[str, Any]:
        response = upload(
            client, csv_bytes(rows), name="a.csv", type="accounts", duplicate_policy="update", blank_cells="clear"
        )
        client.post(f"/api/v1/imports/{response.json()['id']}/start", {}, content_type="application/json")
        return client.get(f"/api/v1/imports/{response.json()['id']}").json()["result"]

    assert run() == {"created": 0, "updated": 1, "skipped": 0, "failed": 0}
    account.refresh_from_db()
    assert (account.industry, account.employee_count, str(account.annual_revenue), account.website) == (
        "",
        None,
        "0.00",
        "",
    )
    assert account.name == "华东精密制造有限公司"
    assert run() == {"created": 0, "updated": 0, "skipped": 1, "failed": 0}


def test_blank_cells_takes_keep_or_clear(client: Client) -> None:
    response = upload(client, csv_bytes([["姓名"], ["张三"]]), blank_cells="sometimes")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "blank_cells", "detail": "Use one of: keep, clear."}]
    job = upload(client, csv_bytes([["姓名"], ["张三"]])).json()
    bad = client.post(f"/api/v1/imports/{job['id']}/start", {"blank_cells": "all"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "blank_cells"


def test_the_wizard_offers_to_clear_empty_cells(client: Client) -> None:
    page = client.post(
        reverse("ui:imports-new", args=["contacts"]),
        {"file": SimpleUploadedFile("edited.csv", csv_bytes([["姓名", "职位"], ["张三", ""]]))},
    )
    detail_url = page["Location"]
    detail = client.get(detail_url).content.decode()
    assert re.search(r'<input class="form-check-input" type="checkbox" name="blank_cells" value="clear"', detail)
    assert 'id="import-blank-cells" checked' not in detail
    job_id = int(detail_url.rstrip("/").rsplit("/", 1)[1])
    client.post(
        detail_url,
        {"map_0": "name", "map_1": "title", "duplicate_policy": "update", "blank_cells": "clear", "action": "start"},
    )
    assert client.get(f"/api/v1/imports/{job_id}").json()["blank_cells"] == "clear"
