"""Importing contacts and accounts through /api/v1/imports: files, mapping, validation, policies, the bulk path.

Every test runs the real job (the test settings run tasks immediately) against the real database.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from guanxi.core.models import ChangeLogEntry, Job, Tag, TaggedItem
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint
from tests.factories import AdminFactory, RoleFactory, UserFactory, grant

pytestmark = pytest.mark.django_db

ZH_HEADER = [
    "外部编号",
    "姓名",
    "手机",
    "邮箱",
    "公司",
    "职位",
    "部门",
    "微信",
    "生日",
    "省份",
    "城市",
    "地址",
    "负责人",
    "标签",
]
EN_HEADER = ["External ID", "Family name", "Given name", "Mobile", "Email", "Company", "Title", "Birthday", "Province"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def good_row(i: int, owner: str = "") -> list[str]:
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 3) % len(GIVEN)]
    return [
        f"C{i:06d}",
        name,
        f"139{i:08d}",
        f"user{i}@example.com",
        f"公司{i % 50}",
        "采购经理",
        "采购部",
        f"wx{i}",
        "1990-05-20",
        "广东",
        "深圳",
        "南山区科技园",
        owner,
        "展会,重点",
    ]


BAD_KINDS: list[tuple[str, Callable[[list[str]], None]]] = [
    ("手机", lambda r: r.__setitem__(2, "12345")),
    ("邮箱", lambda r: r.__setitem__(3, "not-an-email")),
    ("姓名", lambda r: r.__setitem__(1, "")),
    ("负责人", lambda r: r.__setitem__(12, "nobody@example.com")),
    ("职位", lambda r: r.__setitem__(5, "长" * 101)),
    ("生日", lambda r: r.__setitem__(8, "1990-13-45")),
    ("省份", lambda r: r.__setitem__(9, "火星")),
]


def mixed_file(n: int, bad_every: int = 20, owner: str = "") -> tuple[bytes, dict[int, str]]:
    """``n`` rows; every ``bad_every``-th row is bad in one of the ``BAD_KINDS`` ways. Returns the file
    and {row number: the column that is wrong}."""
    rows = [ZH_HEADER]
    bad: dict[int, str] = {}
    for i in range(n):
        row = good_row(i, owner)
        if i % bad_every == bad_every - 1:
            column, spoil = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)]
            spoil(row)
            bad[i + 2] = column
        rows.append(row)
    return csv_bytes(rows), bad


def upload(client: Client, content: bytes, name: str = "contacts.csv", **fields: Any) -> Any:
    data = {"file": SimpleUploadedFile(name, content), "type": "contacts", **fields}
    if isinstance(data.get("mapping"), dict):
        data["mapping"] = json.dumps(data["mapping"], ensure_ascii=False)
    return client.post("/api/v1/imports", data)


@pytest.fixture
def admin() -> Any:
    return AdminFactory(email="importer@example.com", display_name="导入员", language="en")


class JobClient(Client):
    """A test client whose requests run the jobs they queue (the test's transaction never commits,
    so on-commit callbacks are captured and run at the end of each request)."""

    capture: Any = None

    def request(self, **request: Any) -> Any:
        with self.capture(execute=True):
            return super().request(**request)


def job_client(user: Any, capture: Any) -> JobClient:
    """A client signed in as ``user`` whose requests run the jobs they queue."""
    c = JobClient()
    c.capture = capture
    c.force_login(user)
    return c


@pytest.fixture
def client(admin: Any, django_capture_on_commit_callbacks: Any) -> Client:
    return job_client(admin, django_capture_on_commit_callbacks)


def read_errors(client: Client, job_id: int) -> list[list[str]]:
    response = client.get(f"/api/v1/imports/{job_id}/errors")
    assert response.status_code == 200
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Excel shows Chinese"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


# --- the acceptance import ------------------------------------------------------------------------


def test_ten_thousand_rows_with_five_percent_bad(client: Client, admin: Any, settings: Any) -> None:
    settings.GUANXI_IMPORT_BATCH_SIZE = 2000
    content, bad = mixed_file(10_000)
    response = upload(client, content, start="true")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    body = client.get(f"/api/v1/imports/{job_id}").json()
    assert body["status"] == "succeeded", body
    good = 10_000 - len(bad)
    assert body["result"] == {"created": good, "updated": 0, "skipped": 0, "failed": len(bad)}
    assert body["processed"] == 10_000 and body["percent"] == 100
    assert Contact.objects.count() == good
    bad_ids = {f"C{line - 2:06d}" for line in bad}
    assert not Contact.objects.filter(external_id__in=bad_ids).exists()
    assert set(Contact.objects.values_list("external_id", flat=True)) == {f"C{i:06d}" for i in range(10_000)} - bad_ids
    errors = read_errors(client, job_id)
    header, rows = errors[0], errors[1:]
    assert header[:4] == ["Row", "Column", "Value", "Reason"] and header[4:] == ZH_HEADER
    reported = {int(r[0]): r[1] for r in rows}
    assert reported == bad
    assert all(r[3] for r in rows), "every error says why"
    assert all(len(r) == 4 + len(ZH_HEADER) for r in rows), "the original cells follow"
    # What the services would have written, for every created contact.
    c = Contact.objects.get(external_id="C000001")
    assert (c.family_name, c.given_name, c.display_name) == ("李", c.display_name[1:], c.display_name)
    assert c.phones == [{"value": "+8613900000001", "extension": "", "label": "mobile", "is_primary": True}]
    assert c.emails == [{"value": "user1@example.com", "label": "", "is_primary": True}]
    assert c.province == "广东省" and c.owner_id == admin.pk and str(c.birthday) == "1990-05-20"
    assert ContactPoint.objects.filter(kind="phone").count() == good
    assert ContactPoint.objects.get(contact=c, kind="phone").digits_reversed == "10000000931" + "68"
    assert AccountContact.objects.filter(is_primary=True).count() == good
    assert Account.objects.count() == 50
    assert TaggedItem.objects.count() == 2 * good and Tag.objects.filter(name__in=["展会", "重点"]).count() == 2
    log = ChangeLogEntry.objects.filter(object_id=c.pk, content_type__model="contact").get()
    assert (log.action, log.source, log.actor_id) == ("create", "import", admin.pk)
    assert log.changes["display_name"] == [None, c.display_name]
    assert ChangeLogEntry.objects.filter(source="import", content_type__model="contact").count() == good


# --- files and headers -----------------------------------------------------------------------------

SMALL = [
    ZH_HEADER,
    good_row(1),
    good_row(2),
    ["", "欧阳娜娜", "13800138000", "", "", "", "", "", "", "", "", "", "", ""],
]


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    workbook.close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "encoding"),
    [
        ("gbk.csv", csv_bytes(SMALL, "gbk"), "gb18030"),
        ("gb18030.csv", csv_bytes([*SMALL, ["", "𠮷野家", "13900139000"] + [""] * 11], "gb18030"), "gb18030"),
        ("bom.csv", b"\xef\xbb\xbf" + csv_bytes(SMALL), "utf-8-sig"),
        ("plain.csv", csv_bytes(SMALL), "utf-8"),
        ("sheet.xlsx", xlsx_bytes(SMALL), "xlsx"),
    ],
)
def test_encodings_and_excel(client: Client, name: str, content: bytes, encoding: str) -> None:
    response = upload(client, content, name=name)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["encoding"] == encoding
    assert body["headers"] == ZH_HEADER
    assert body["mapping"]["姓名"] == "name" and body["mapping"]["手机"] == "mobile"
    assert body["preview"][0]["values"]["name"] == good_row(1)[1]
    assert body["preview"][0]["errors"] == []
    assert body["status"] == "pending" and body["total"] == len(SMALL) - 1 + (name == "gb18030.csv")
    started = client.post(f"/api/v1/imports/{body['id']}/start", "{}", content_type="application/json")
    assert started.status_code == 202, started.content
    assert client.get(f"/api/v1/imports/{body['id']}").json()["status"] == "succeeded"
    assert Contact.objects.filter(display_name=good_row(2)[1]).exists()
    ouyang = Contact.objects.get(display_name="欧阳娜娜")
    assert (ouyang.family_name, ouyang.given_name) == ("欧阳", "娜娜")
    assert ouyang.phones[0]["value"] == "+8613800138000", "a number read from Excel keeps no '.0'"
    if name == "gb18030.csv":
        assert Contact.objects.filter(display_name="𠮷野家").exists()


def test_english_headers_auto_match(client: Client) -> None:
    rows = [
        EN_HEADER,
        ["E1", "Smith", "John", "+1 650 253 0000", "John@Example.com", "Acme Inc", "CTO", "1980/1/2", "Guangdong"],
    ]
    body = upload(client, csv_bytes(rows), start="true").json()
    assert body["mapping"] == {
        "External ID": "external_id",
        "Family name": "family_name",
        "Given name": "given_name",
        "Mobile": "mobile",
        "Email": "email",
        "Company": "company",
        "Title": "title",
        "Birthday": "birthday",
        "Province": "province",
    }
    john = Contact.objects.get(external_id="E1")
    assert john.display_name == "John Smith" and john.emails[0]["value"] == "john@example.com"
    assert john.phones[0]["value"] == "+16502530000" and str(john.birthday) == "1980-01-02"
    assert john.province == "广东省"
    assert john.accounts.get().name == "Acme Inc"


def test_formula_looking_values_are_plain_text(client: Client) -> None:
    rows = [["姓名", "职位", "备注"], ["张三", "=1+2", "@SUM(A1)"]]
    upload(client, csv_bytes(rows), start="true")
    c = Contact.objects.get()
    assert (c.title, c.description) == ("=1+2", "@SUM(A1)")


def test_error_file_escapes_formulas(client: Client) -> None:
    rows = [["姓名", "邮箱"], ["张三", '=HYPERLINK("x")']]
    body = upload(client, csv_bytes(rows), start="true").json()
    errors = read_errors(client, body["id"])
    assert errors[1][2].startswith("'=") and errors[1][5].startswith("'=")


# --- mapping ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"姓名": "nickname"}, "mapping.姓名"),
        ({"姓名": "name", "手机": "name"}, "mapping.手机"),
        ({"手机": "mobile"}, "mapping.name"),
        ({"没有这列": "name"}, "mapping.没有这列"),
    ],
)
def test_bad_mapping_is_refused_naming_it(client: Client, mapping: dict[str, str], field: str) -> None:
    response = upload(client, csv_bytes(SMALL), mapping=mapping)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Job.objects.exists()
    body = upload(client, csv_bytes(SMALL)).json()
    started = client.post(f"/api/v1/imports/{body['id']}/start", {"mapping": mapping}, content_type="application/json")
    assert started.status_code == 400 and field in {e["field"] for e in started.json()["errors"]}
    assert Job.objects.get().status == "pending" and not Contact.objects.exists()


def test_explicit_mapping_ignores_other_columns(client: Client) -> None:
    body = upload(client, csv_bytes(SMALL), mapping={"姓名": "name", "邮箱": "email"}, start="true").json()
    assert body["mapping"]["手机"] == "" and body["mapping"]["姓名"] == "name"
    assert ContactPoint.objects.filter(kind="phone").count() == 0
    assert Contact.objects.count() == 3


# --- duplicates ---------------------------------------------------------------------------------------


def _rows(*rows: list[str]) -> bytes:
    return csv_bytes([["外部编号", "姓名", "手机", "邮箱", "职位"], *rows])


def test_external_id_rerun_adds_nothing(client: Client) -> None:
    content, _bad = mixed_file(300, bad_every=1000)
    first = upload(client, content, start="true").json()
    assert client.get(f"/api/v1/imports/{first['id']}").json()["result"]["created"] == 300
    counts = (
        Contact.objects.count(),
        ContactPoint.objects.count(),
        AccountContact.objects.count(),
        Account.objects.count(),
    )
    for policy in ("skip", "update", "create"):
        again = upload(client, content, start="true", duplicate_policy=policy).json()
        result = client.get(f"/api/v1/imports/{again['id']}").json()["result"]
        assert result["created"] == 0 and result["failed"] == 0, (policy, result)
        after = (
            Contact.objects.count(),
            ContactPoint.objects.count(),
            AccountContact.objects.count(),
            Account.objects.count(),
        )
        assert after == counts, policy


def test_policy_skip(client: Client) -> None:
    upload(client, _rows(["X1", "张三", "13800138000", "zs@example.com", "经理"]), start="true")
    body = upload(
        client,
        _rows(
            ["", "张三丰", "13800138000", "", "总监"],  # same phone
            ["", "张三", "", "ZS@example.com", "总监"],  # same email
            ["", "李四", "13900139000", "", ""],  # new
        ),
        start="true",
    ).json()
    assert client.get(f"/api/v1/imports/{body['id']}").json()["result"] == {
        "created": 1,
        "updated": 0,
        "skipped": 2,
        "failed": 0,
    }
    assert Contact.objects.get(external_id="X1").title == "经理"


def test_policy_update(client: Client) -> None:
    upload(client, _rows(["X1", "张三", "13800138000", "zs@example.com", "经理"]), start="true")
    x1 = Contact.objects.get(external_id="X1")
    body = upload(
        client,
        _rows(
            ["", "", "13800138000", "second@example.com", "总监"],  # by phone: adds the email, changes the title
            ["X1", "", "", "", ""],  # by external id, nothing new: unchanged
        ),
        mapping={"外部编号": "external_id", "姓名": "name", "手机": "mobile", "邮箱": "email", "职位": "title"},
        start="false",
    ).json()
    # no name in either row: the name column is mapped but empty -> the rows are refused
    client.post(f"/api/v1/imports/{body['id']}/start", {"duplicate_policy": "update"}, content_type="application/json")
    result = client.get(f"/api/v1/imports/{body['id']}").json()["result"]
    assert result["failed"] == 2
    body = upload(
        client,
        _rows(
            ["", "张三", "13800138000", "second@example.com", "总监"],
            ["X1", "张三", "", "", ""],
        ),
        duplicate_policy="update",
        start="true",
    ).json()
    result = client.get(f"/api/v1/imports/{body['id']}").json()["result"]
    # Both rows are about X1 (by phone, by external id): one update of the record, both rows counted.
    assert result == {"created": 0, "updated": 2, "skipped": 0, "failed": 0}
    again = upload(client, _rows(["X1", "张三", "", "", "总监"]), duplicate_policy="update", start="true").json()
    assert client.get(f"/api/v1/imports/{again['id']}").json()["result"]["skipped"] == 1, "nothing new: unchanged"
    x1.refresh_from_db()
    assert x1.title == "总监" and x1.version == 2
    assert [e["value"] for e in x1.emails] == ["zs@example.com", "second@example.com"]
    assert set(ContactPoint.objects.filter(contact=x1).values_list("value", flat=True)) == {
        "zs@example.com",
        "second@example.com",
        "+8613800138000",
    }
    log = ChangeLogEntry.objects.filter(object_id=x1.pk, action="update").get()
    assert log.source == "import" and log.changes["title"] == ["经理", "总监"]
    assert Contact.objects.count() == 1


def test_policy_create(client: Client) -> None:
    upload(client, _rows(["X1", "张三", "13800138000", "zs@example.com", "经理"]), start="true")
    body = upload(
        client,
        _rows(
            ["", "张三", "13800138000", "zs@example.com", "经理"],  # same phone and email: created anyway
            ["X1", "张三", "", "", "总监"],  # same external id: that record is updated (upsert)
        ),
        duplicate_policy="create",
        start="true",
    ).json()
    result = client.get(f"/api/v1/imports/{body['id']}").json()["result"]
    assert result == {"created": 1, "updated": 1, "skipped": 0, "failed": 0}
    assert Contact.objects.count() == 2 and Contact.objects.get(external_id="X1").title == "总监"


def test_duplicates_inside_one_file(client: Client) -> None:
    body = upload(
        client,
        _rows(
            ["", "张三", "13800138000", "", ""],
            ["", "张三", "13800138000", "zs@example.com", "经理"],
        ),
        duplicate_policy="update",
        start="true",
    ).json()
    assert client.get(f"/api/v1/imports/{body['id']}").json()["result"]["created"] == 1
    c = Contact.objects.get()
    assert c.title == "经理" and c.emails[0]["value"] == "zs@example.com"


def test_accounts_import(client: Client) -> None:
    rows = [
        ["客户编号", "公司名称", "行业", "员工数", "年营业额", "网站", "省份", "阶段", "标签"],
        [
            "A1",
            "深圳示例科技有限公司",
            "软件与信息技术服务",
            "120",
            "1,200万",
            "www.example.com",
            "广东",
            "客户",
            "重点",
        ],
        ["A2", "Acme", "software", "5", "100000", "acme.test", "", "prospect", ""],
        ["A3", "", "", "", "", "", "", "", ""],
        ["A4", "Bad", "钢铁", "many", "-5", "not a url", "火星", "x", ""],
    ]
    data = {"file": SimpleUploadedFile("accounts.csv", csv_bytes(rows)), "type": "accounts", "start": "true"}
    body = client.post("/api/v1/imports", data).json()
    result = client.get(f"/api/v1/imports/{body['id']}").json()["result"]
    assert result == {"created": 2, "updated": 0, "skipped": 0, "failed": 2}
    a1 = Account.objects.get(external_id="A1")
    assert (a1.industry, a1.employee_count, a1.size, str(a1.annual_revenue)) == (
        "software",
        120,
        "medium",
        "12000000.00",
    )
    assert (a1.website, a1.province, a1.region, a1.lifecycle_stage) == (
        "https://www.example.com",
        "广东省",
        "华南",
        "customer",
    )
    errors = read_errors(client, body["id"])
    assert {(int(r[0]), r[1]) for r in errors[1:]} == {
        (4, "公司名称"),
        (5, "行业"),
        (5, "员工数"),
        (5, "年营业额"),
        (5, "网站"),
        (5, "省份"),
        (5, "阶段"),
    }


def _import_accounts(client: Client, rows: list[list[str]], policy: str = "update") -> tuple[dict[str, Any], int]:
    data = {"file": SimpleUploadedFile("accounts.csv", csv_bytes(rows)), "type": "accounts", "start": "true"}
    body = client.post("/api/v1/imports", {**data, "duplicate_policy": policy}).json()
    return client.get(f"/api/v1/imports/{body['id']}").json()["result"], body["id"]


def _parent_names() -> dict[str, str | None]:
    return {a.name: a.parent.name if a.parent else None for a in Account.objects.select_related("parent")}


def test_accounts_import_with_their_parents(client: Client, admin: Any) -> None:
    """A parent is an account that exists, or another row of the file, above or below its subsidiary;
    one named nowhere, the row itself, or a loop refuses the row and names the column."""
    top = Account.objects.create(name="华夏集团", external_id="G0", owner=admin, created_by=admin)
    Account.objects.create(name="华夏西南", owner=admin, created_by=admin)
    rows = [
        ["客户编号", "公司名称", "上级客户", "上级客户编号"],
        ["G1", "华夏华东", "华夏集团", ""],  # 2: by name, in the database
        ["G2", "华夏苏州", "", "G1"],  # 3: by external ID, a row above
        ["G3", "华夏华南", "华夏华南", ""],  # 4: itself
        ["G4", "华夏西部", "不存在的公司", ""],  # 5: nowhere
        ["G5", "华夏北方", "华夏东北", ""],  # 6: a row below
        ["G6", "华夏东北", "", ""],  # 7
        ["L1", "环甲", "环乙", ""],  # 8: a loop of two new accounts
        ["L2", "环乙", "环甲", ""],  # 9
        ["G0", "华夏集团", "华夏苏州", ""],  # 10: the top under its own grandchild
        ["", "华夏西南", "", "G0"],  # 11: an account there already, now in the group
    ]
    result, job_id = _import_accounts(client, rows)
    assert result == {"created": 4, "updated": 1, "skipped": 0, "failed": 5}
    parents = _parent_names()
    assert parents["华夏华东"] == "华夏集团" and parents["华夏苏州"] == "华夏华东" and parents["华夏北方"] == "华夏东北"
    assert parents["华夏集团"] is None and "环甲" not in parents and "华夏华南" not in parents
    found = read_errors(client, job_id)[1:]
    assert {(int(r[0]), r[1]) for r in found} == {(n, "上级客户") for n in (4, 5, 8, 9, 10)}
    errors = {int(r[0]): r[3] for r in found}
    assert errors[4] == "An account cannot be its own parent."
    assert errors[5].startswith("No account you may see has this name or external ID")
    assert "loop" in errors[8] and "loop" in errors[9] and "loop" in errors[10]
    entry = ChangeLogEntry.objects.get(object_id=Account.objects.get(external_id="G2").pk, action="create")
    assert entry.changes["parent"] == [None, Account.objects.get(external_id="G1").pk]
    assert Account.objects.filter(parent=top).count() == 2 and parents["华夏西南"] == "华夏集团"


def test_an_imported_parent_keeps_groups_within_their_depth(
    client: Client, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guanxi.customers import import_accounts

    monkeypatch.setattr(import_accounts, "MAX_HIERARCHY_DEPTH", 2)
    Account.objects.create(name="一级", owner=admin, created_by=admin)
    rows = [["公司名称", "上级客户"], ["二级", "一级"], ["三级", "二级"], ["四级", "三级"]]
    result, job_id = _import_accounts(client, rows)
    assert result["created"] == 2 and result["failed"] == 1
    assert _parent_names() == {"一级": None, "二级": "一级", "三级": "二级"}
    assert read_errors(client, job_id)[1][:2] == ["4", "上级客户"]


def test_a_parent_the_user_may_not_add_refuses_its_subsidiary(django_capture_on_commit_callbacks: Any) -> None:
    """Without "add", the new parent row is refused, and so is the update naming it as parent."""
    role = RoleFactory(name="Editor")
    grant(role, "customers.account", ("view", "change", "import"), "all")
    editor = UserFactory(role=role)
    Account.objects.create(name="华夏西南", owner=editor, created_by=editor)
    c = JobClient()
    c.capture = django_capture_on_commit_callbacks
    c.force_login(editor)
    rows = [["公司名称", "上级客户"], ["华夏新集团", ""], ["华夏西南", "华夏新集团"]]
    result, job_id = _import_accounts(c, rows)
    assert result == {"created": 0, "updated": 0, "skipped": 0, "failed": 2}
    errors = {int(r[0]): (r[1], r[3]) for r in read_errors(c, job_id)[1:]}
    assert errors[2][1] == "You may not add records of this type."
    assert errors[3] == ("上级客户", "The parent account's own row could not be imported.")
    assert Account.objects.get(name="华夏西南").parent_id is None


# --- permissions --------------------------------------------------------------------------------------


def test_refused_without_the_import_permission(django_capture_on_commit_callbacks: Any) -> None:
    role = RoleFactory(name="Rep")
    grant(role, "*", ("view", "add", "change", "delete"), "own")
    rep = UserFactory(role=role)
    c = Client()
    c.force_login(rep)
    response = upload(c, csv_bytes(SMALL))
    assert response.status_code == 403 and not Job.objects.exists()
    grant(role, "customers.contact", "import", "own")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            c,
            csv_bytes([*SMALL, ["", "王五", "", "", "", "", "", "", "", "", "", "", "importer@example.com", ""]]),
            start="true",
        )
    assert response.status_code == 201
    job = Job.objects.get()
    # The rep may not assign records to someone else: that row is refused, the others are in.
    assert job.result["created"] == 3 and job.result["failed"] == 1
    assert set(Contact.objects.values_list("owner_id", flat=True)) == {rep.pk}
    # Imports are personal: another user does not see this one.
    other = UserFactory(role=role)
    c2 = Client()
    c2.force_login(other)
    assert c2.get(f"/api/v1/imports/{job.pk}").status_code == 404
    assert c2.get("/api/v1/imports").json()["items"] == []
    assert c2.get(f"/api/v1/imports/{job.pk}/errors").status_code == 404
    assert c.get("/api/v1/imports").json()["items"][0]["id"] == job.pk


def test_import_list_is_keyset_paged(client: Client) -> None:
    for _ in range(3):
        upload(client, csv_bytes(SMALL))
    first = client.get("/api/v1/imports", {"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get("/api/v1/imports", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True)


def test_started_import_cannot_start_twice(client: Client) -> None:
    body = upload(client, csv_bytes(SMALL), start="true").json()
    again = client.post(f"/api/v1/imports/{body['id']}/start", "{}", content_type="application/json")
    assert again.status_code == 409


def test_no_error_file_when_every_row_is_good(client: Client) -> None:
    body = upload(client, csv_bytes(SMALL), start="true").json()
    detail = client.get(f"/api/v1/imports/{body['id']}").json()
    assert detail["error_file_url"] is None and detail["result"]["failed"] == 0
    assert client.get(f"/api/v1/imports/{body['id']}/errors").status_code == 404


def test_random_rows_never_crash_the_job(client: Client) -> None:
    """Whatever the cells hold, each row is imported or reported; the job never fails."""
    rng = random.Random(7)
    alphabet = "张三李四 ,;@.+-=()（）0123456789abcXYZ\t\"'"
    rows = [ZH_HEADER] + [
        ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15))) for _ in ZH_HEADER] for _ in range(300)
    ]
    body = upload(client, csv_bytes(rows), start="true").json()
    detail = client.get(f"/api/v1/imports/{body['id']}").json()
    assert detail["status"] == "succeeded", detail["error"]
    result = detail["result"]
    assert result["created"] + result["updated"] + result["skipped"] + result["failed"] == detail["processed"]


def test_validation_in_worker_processes_gives_the_same_result(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process pool (forked workers validate chunks while this process writes) changes nothing."""
    settings.GUANXI_IMPORT_BATCH_SIZE = 300
    monkeypatch.setenv("GUANXI_IMPORT_PROCESSES", "2")
    content, bad = mixed_file(2000)
    body = upload(client, content, start="true").json()
    detail = client.get(f"/api/v1/imports/{body['id']}").json()
    assert detail["result"] == {"created": 2000 - len(bad), "updated": 0, "skipped": 0, "failed": len(bad)}
    assert {int(r[0]): r[1] for r in read_errors(client, body["id"])[1:]} == bad
    assert Contact.objects.count() == 2000 - len(bad)


@pytest.mark.parametrize("processes", ["0", "2"])
def test_imported_records_are_indexed_as_a_rebuild_would_index_them(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch, processes: str
) -> None:
    """The import writes search documents from the rows it writes (no read-back): they must equal the
    documents ``search_rebuild`` builds from the database, also when two rows of the file fill in one
    new contact and when accounts are created from a company column, and search must find them."""
    from guanxi.core.search import search, search_rebuild
    from guanxi.core.search.backends import backend
    from guanxi.core.search.engine import id_range

    settings.GUANXI_IMPORT_BATCH_SIZE = 40
    monkeypatch.setenv("GUANXI_IMPORT_PROCESSES", processes)
    rows = [good_row(i) for i in range(100)]
    # A second row with the same external ID, in the same batch, adds a phone and an email to the first
    # one's new contact (merged before it is written); one in a later batch updates it in the database.
    rows.insert(4, ["C000003", rows[3][1], "13700000003", "second@example.com", *[""] * 10])
    rows.append(["C000005", rows[5][1], "", "later@example.com", *[""] * 10])
    rows.append(["", "欧阳娜娜", "+86 138 0013 8000", "", "全新公司", "", "", "", "", "", "", "", "", ""])
    body = upload(client, csv_bytes([ZH_HEADER, *rows]), start="true", duplicate_policy="update").json()
    detail = client.get(f"/api/v1/imports/{body['id']}").json()
    assert detail["status"] == "succeeded" and detail["result"]["failed"] == 0, read_errors(client, body["id"])

    def indexed(model: Any) -> dict[int, tuple[Any, ...]]:
        lo, _hi = id_range(model)
        found = backend().documents([lo | pk for pk in model.objects.values_list("pk", flat=True)])
        return {row[0]: tuple(row[1:]) for row in found}

    imported = {model: indexed(model) for model in (Contact, Account)}
    assert len(imported[Contact]) == Contact.objects.count() == 101
    assert len(imported[Account]) == Account.objects.count() == 51
    search_rebuild("contacts")
    search_rebuild("accounts")
    assert imported == {model: indexed(model) for model in (Contact, Account)}

    user = Job.objects.get(pk=body["id"]).user
    names = [hit.title for hit in search(user, "oynn")]
    assert "欧阳娜娜" in names
    assert [hit.title for hit in search(user, "8000")] == ["欧阳娜娜"]
    third = Contact.objects.get(external_id="C000003")
    assert third.pk in {hit.id for hit in search(user, "second@example.com")}
    assert third.pk in {hit.id for hit in search(user, "0003")}
    fifth = Contact.objects.get(external_id="C000005")
    assert [hit.id for hit in search(user, "later@example.com")] == [fifth.pk]


def test_countries_by_name_as_a_spreadsheet_holds_them(client: Client) -> None:
    """A 国家 column of names (中国, 美国, United Kingdom) imports as codes; the country also reads the
    phone, so a US number needs no +1. A country no one knows refuses its row, naming it."""
    rows = [
        ["外部编号", "姓名", "手机", "国家"],
        ["C1", "王一", "13800138001", "中国"],
        ["C2", "Ann Lee", "650 253 0000", "美国"],
        ["C3", "Tom Hill", "", "United Kingdom"],
        ["C4", "Ivy Wu", "", "火星"],
    ]
    job = upload(client, csv_bytes(rows), start="true").json()
    result = client.get(f"/api/v1/imports/{job['id']}").json()["result"]
    assert result["created"] == 3 and result["failed"] == 1
    countries = dict(Contact.objects.values_list("external_id", "country"))
    assert countries == {"C1": "CN", "C2": "US", "C3": "GB"}
    assert Contact.objects.get(external_id="C2").phones[0]["value"] == "+16502530000"
    errors = read_errors(client, job["id"])
    assert [row[:3] for row in errors[1:]] == [["5", "国家", "火星"]]
    assert "type its name (中国, China) or its two-letter code" in errors[1][3]
