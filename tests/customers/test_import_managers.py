"""A contact import's 直属上级 column (``guanxi.customers.import_managers``): the manager named by
email, external ID or name at the person's company, in Guanxi already or in the file; every row
the contact form would refuse is refused on its line. Real jobs on the real database."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import ChangeLogEntry
from guanxi.customers.models import Account, Contact
from guanxi.customers.services.common import MAX_HIERARCHY_DEPTH
from guanxi.identity.models import Role, User
from tests.customers.conftest import grant
from tests.customers.test_import import JobClient, csv_bytes, job_client, read_errors, upload

pytestmark = pytest.mark.django_db

HEADER = ["外部编号", "姓名", "邮箱", "公司", "职位", "直属上级", "上级编号"]


def manager_of(name: str) -> str | None:
    person = Contact.objects.select_related("reports_to").get(display_name=name)
    return person.reports_to.display_name if person.reports_to else None


def imported(client: JobClient, rows: list[list[str]]) -> tuple[dict[str, Any], list[list[str]]]:
    """The job's summary and its error rows (line, column, value, reason); a row that finds a
    person updates them."""
    body = upload(client, csv_bytes([HEADER, *rows]), start="true", duplicate_policy="update").json()
    job = client.get(f"/api/v1/imports/{body['id']}").json()
    assert job["status"] == "succeeded", job
    errors = read_errors(client, body["id"])[1:] if job["result"]["failed"] else []
    return body, errors


@pytest.fixture
def client(admin: User, django_capture_on_commit_callbacks: Any) -> JobClient:
    return job_client(admin, django_capture_on_commit_callbacks)


def test_the_headers_map_to_the_manager(client: JobClient) -> None:
    body, _errors = imported(client, [["", "王总", "wang@hx.cn", "华信科技", "总经理", "", ""]])
    assert body["mapping"]["直属上级"] == "manager" and body["mapping"]["上级编号"] == "manager_external_id"


def test_managers_by_email_external_id_and_name_in_the_file_and_guanxi(
    client: JobClient, admin: User, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(name="华信科技")
    make_contact(family_name="周", given_name="董事长", accounts=[{"account": account.pk}])
    rows = [
        ["E1", "王总", "wang@hx.cn", "华信科技", "总经理", "周董事长", ""],  # by name, in Guanxi
        ["E2", "李采购", "li@hx.cn", "华信科技", "采购经理", "wang@hx.cn", ""],  # by email, a row above
        ["E3", "赵专员", "zhao@hx.cn", "华信科技", "采购专员", "", "E2"],  # by external ID
        ["E4", "钱工", "qian@hx.cn", "华信科技", "技术总监", "王总", ""],  # by name, a row above
        ["E5", "孙助理", "sun@hx.cn", "华信科技", "助理", "陈秘书", ""],  # by name, a row below
        ["E6", "陈秘书", "chen@hx.cn", "华信科技", "秘书", "", ""],
        ["E7", "Mary Lee", "mary@hx.cn", "华信科技", "Buyer", "Lee, Mary", ""],  # herself
    ]
    _body, errors = imported(client, rows)
    assert manager_of("王总") == "周董事长"
    assert manager_of("李采购") == "王总" and manager_of("赵专员") == "李采购" and manager_of("钱工") == "王总"
    assert manager_of("孙助理") == "陈秘书" and manager_of("陈秘书") is None
    assert [e[:3] for e in errors] == [["8", "直属上级", "Mary Lee"]]
    assert "themselves" in errors[0][3]
    # Each new person's change log names the manager, as the form's would.
    entry = ChangeLogEntry.objects.get(object_repr="赵专员")
    manager = Contact.objects.get(display_name="李采购").pk
    assert (json.loads(entry.changes) if isinstance(entry.changes, str) else entry.changes)["reports_to"] == [
        None,
        manager,
    ]


def test_a_manager_found_nowhere_two_alike_or_without_a_company_is_refused(
    client: JobClient, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    account = make_account(name="华信科技")
    for email in ("wang1@hx.cn", "wang2@hx.cn"):
        make_contact(family_name="王", given_name="总", emails=[{"value": email}], accounts=[{"account": account.pk}])
    rows = [
        ["", "李一", "", "华信科技", "", "王总", ""],  # two 王总 at the company
        ["", "李二", "", "华信科技", "", "wang2@hx.cn", ""],  # one of them by email: fine
        ["", "李三", "", "华信科技", "", "nobody@hx.cn", ""],
        ["", "李四", "", "华信科技", "", "", "NO-SUCH-ID"],
        ["", "李五", "", "", "", "王总", ""],  # a name without a company
        ["", "李六", "", "华信科技", "", "not an email@", ""],
        ["", "李七", "", "别的公司", "", "王总", ""],  # nobody of that name at this company
    ]
    _body, errors = imported(client, rows)
    assert manager_of("李二") == "王总"
    assert [e[:3] for e in errors] == [
        ["2", "直属上级", "王总"],
        ["4", "直属上级", "nobody@hx.cn"],
        ["5", "上级编号", "NO-SUCH-ID"],
        ["6", "直属上级", "王总"],
        ["7", "直属上级", "not an email@"],
        ["8", "直属上级", "王总"],
    ]
    assert "more than one" in errors[0][3].lower() and "company" in errors[3][3]
    assert set(Contact.objects.values_list("display_name", flat=True)) == {"王总", "李二"}


def test_a_manager_the_user_may_not_see_is_not_found(
    rep: User,
    other_rep: User,
    sales_role: Role,
    make_contact: Callable[..., Contact],
    django_capture_on_commit_callbacks: Any,
) -> None:
    grant(sales_role, "customers.contact", ("import",))
    make_contact(by=other_rep, family_name="秘密", given_name="经理", emails=[{"value": "boss@secret.cn"}])
    client = job_client(rep, django_capture_on_commit_callbacks)
    _body, errors = imported(client, [["", "李四", "", "", "", "boss@secret.cn", ""]])
    assert [e[:3] for e in errors] == [["2", "直属上级", "boss@secret.cn"]]
    assert not Contact.objects.filter(display_name="李四").exists()


def test_updates_set_managers_and_loops_are_refused(
    client: JobClient, make_account: Callable[..., Account], make_contact: Callable[..., Contact]
) -> None:
    """A person already in Guanxi is found by name at the companies they are linked to; a manager
    below the person (in Guanxi or through the file's other rows) would make a loop."""
    account = make_account(name="华信科技")

    def person(family: str, given: str, ext: str, **data: Any) -> Contact:
        return make_contact(
            family_name=family, given_name=given, external_id=ext, accounts=[{"account": account.pk}], **data
        )

    boss = person("王", "总", "P1")
    buyer = person("李", "采购", "P2", reports_to_id=boss.pk)
    clerk = person("赵", "专员", "P3", reports_to_id=buyer.pk)
    person("钱", "工", "P4")
    person("孙", "助理", "P5")
    rows = [
        ["P1", "王总", "", "", "", "赵专员", ""],  # 王总 under their own report's report: a loop
        ["P4", "钱工", "", "", "", "王总", ""],  # no company column: the companies 钱工 is linked to
        ["P5", "孙助理", "", "", "", "", "P6"],  # two rows of the file under each other
        ["P6", "陈秘书", "", "华信科技", "", "", "P5"],
    ]
    _body, errors = imported(client, rows)
    assert manager_of("钱工") == "王总" and manager_of("王总") is None and manager_of("孙助理") is None
    assert [e[:2] for e in errors] == [["2", "直属上级"], ["4", "上级编号"], ["5", "上级编号"]]
    assert all("loop" in e[3] for e in errors), [e[3] for e in errors]
    assert Contact.objects.get(pk=clerk.pk).reports_to_id == buyer.pk
    entry = ChangeLogEntry.objects.filter(object_repr="钱工").latest("id")
    changes = json.loads(entry.changes) if isinstance(entry.changes, str) else entry.changes
    assert changes["reports_to"] == [None, boss.pk]


def test_a_report_of_a_refused_row_is_refused_and_a_long_line_stops_at_the_limit(
    client: JobClient, make_account: Callable[..., Account]
) -> None:
    make_account(name="华信科技")
    rows = [
        ["", "李一", "", "华信科技", "", "nobody@hx.cn", ""],
        ["", "李二", "", "华信科技", "", "李一", ""],  # their manager's row is refused
    ]
    chain = [["C0", "链0", "", "华信科技", "", "", ""]]
    chain += [[f"C{i}", f"链{i}", "", "华信科技", "", "", f"C{i - 1}"] for i in range(1, MAX_HIERARCHY_DEPTH + 2)]
    _body, errors = imported(client, rows + chain)
    assert [e[:2] for e in errors] == [["2", "直属上级"], ["3", "直属上级"], [str(len(rows + chain) + 1), "上级编号"]]
    assert "could not be imported" in errors[1][3] and str(MAX_HIERARCHY_DEPTH) in errors[2][3]
    assert manager_of(f"链{MAX_HIERARCHY_DEPTH}") == f"链{MAX_HIERARCHY_DEPTH - 1}"


def test_a_manager_in_a_later_batch_is_refused_with_what_to_do(
    client: JobClient, make_account: Callable[..., Account], settings: Any
) -> None:
    settings.GUANXI_IMPORT_BATCH_SIZE = 2
    make_account(name="华信科技")
    rows = [  # two rows a batch
        ["", "王总", "wang@hx.cn", "华信科技", "", "", ""],
        ["", "赵专员", "", "华信科技", "", "钱工", ""],  # 钱工 comes in the next batch
        ["", "李采购", "li@hx.cn", "华信科技", "", "wang@hx.cn", ""],  # 王总 came in the batch before
        ["", "钱工", "qian@hx.cn", "华信科技", "", "李采购", ""],  # 李采购 in this batch
    ]
    _body, errors = imported(client, rows)
    assert manager_of("李采购") == "王总" and manager_of("钱工") == "李采购"
    assert [e[:2] for e in errors] == [["3", "直属上级"]] and "above" in errors[0][3]


def test_the_queries_do_not_grow_with_the_rows(client: JobClient, make_account: Callable[..., Account]) -> None:
    """What the managers cost a batch, measured as the same file's queries with and without them,
    is the same for 6 people as for 60."""
    make_account(name="华信科技")

    def count(n: int, tag: str, managers: bool = True) -> int:
        rows = [["", f"{tag}总", f"{tag}@hx.cn", "华信科技", "", "", ""]]
        rows += [[f"{tag}{i}", f"{tag}员{i}", "", "华信科技", "", f"{tag}@hx.cn", ""] for i in range(n)]
        rows += [[f"{tag}x{i}", f"{tag}助{i}", "", "华信科技", "", f"{tag}员{i}", ""] for i in range(n)]
        if not managers:
            rows = [[*row[:5], "", ""] for row in rows]
        with CaptureQueriesContext(connection) as captured:
            _body, errors = imported(client, rows)
        assert errors == []
        return len(captured)

    count(3, "甲")  # the first import reads what later ones find cached (custom fields, the account's key)
    few = count(3, "乙") - count(3, "丙", managers=False)
    many = count(30, "丁") - count(30, "戊", managers=False)
    assert few == many and few <= 4
    assert manager_of("丁助29") == "丁员29" and manager_of("丁员29") == "丁总"


def test_an_export_read_back_keeps_each_manager(
    client: JobClient,
    admin: User,
    make_account: Callable[..., Account],
    make_contact: Callable[..., Contact],
) -> None:
    """The export writes the manager's name; read back, a person whose manager is at another company
    (no one of that name at theirs) keeps that manager instead of being refused."""
    from tests.core.test_exports import body, read_csv, ui_export

    head_office = make_account(name="华信集团")
    branch = make_account(name="华信上海")
    boss = make_contact(family_name="周", given_name="董事长", accounts=[{"account": head_office.pk}])
    person = make_contact(
        family_name="李", given_name="经理", title="经理", accounts=[{"account": branch.pk}], reports_to_id=boss.pk
    )
    exported = read_csv(body(ui_export(client, "contacts", "columns=display_name,title,reports_to", format="csv")))
    header = [name.lower() for name in exported[0]]
    assert header[-1] == "reports to" and exported[1][-1] == "周董事长"
    exported[1][header.index("job title")] = "总经理"
    body_ = upload(client, csv_bytes(exported), start="true", duplicate_policy="update").json()
    job = client.get(f"/api/v1/imports/{body_['id']}").json()
    assert job["result"] == {"created": 0, "updated": 1, "skipped": 1, "failed": 0}, job  # 周董事长 as they were
    person.refresh_from_db()
    assert person.title == "总经理" and person.reports_to_id == boss.pk
