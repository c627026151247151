"""The account import's 关联企业 columns (``guanxi.customers.import_relations``) and the account
export's column of the same name: relations between companies named by name or external ID, in
Guanxi already or in the file, read from the row's side; every bad item refuses its row on its
line; an export reads back to the same relations. Real jobs on the real database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core.models import ChangeLogEntry, TimelineEntry
from guanxi.customers.models import Account, AccountRelation
from guanxi.customers.relations import relation_rows
from guanxi.customers.services.relations import relation_add, relation_remove
from guanxi.identity.models import Role, User
from tests.core.test_exports import body, read_csv, ui_export
from tests.customers.conftest import grant
from tests.customers.test_import import JobClient, csv_bytes, job_client, read_errors, upload

pytestmark = pytest.mark.django_db

HEADER = ["客户编号", "公司名称", "关联企业", "关联企业编号"]


def imported(
    client: JobClient, rows: list[list[str]], header: list[str] = HEADER, policy: str = "update"
) -> tuple[dict[str, Any], list[list[str]]]:
    """The job (its mapping and result) and its error rows (line, column, value, reason)."""
    response = upload(client, csv_bytes([header, *rows]), type="accounts", start="true", duplicate_policy=policy)
    assert response.status_code == 201, response.content
    job = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert job["status"] == "succeeded", job
    errors = read_errors(client, job["id"])[1:] if job["result"]["failed"] else []
    return {**job, "mapping": response.json()["mapping"]}, errors


def relations() -> set[tuple[str, str, str]]:
    """Every relation as (first company, second company, kind): the supplier first."""
    names = dict(Account.all_objects.values_list("pk", "name"))
    return {(names[f], names[s], k) for f, s, k in AccountRelation.objects.values_list("first_id", "second_id", "kind")}


def page_of(user: User, name: str) -> set[tuple[str, str]]:
    """The relations as the company's page reads them: (reading, other company)."""
    return {(r["label"], r["other"].name) for r in relation_rows(user, Account.objects.get(name=name))}


@pytest.fixture
def client(admin: User, django_capture_on_commit_callbacks: Any) -> JobClient:
    return job_client(admin, django_capture_on_commit_callbacks)


def test_the_headers_map_to_the_relations(client: JobClient) -> None:
    job, _errors = imported(client, [["", "甲公司", "", ""]])
    assert job["mapping"]["关联企业"] == "relations" and job["mapping"]["关联企业编号"] == "relation_external_ids"
    job, _errors = imported(client, [["乙公司", ""]], header=["Company name", "Related companies"])
    assert job["mapping"]["Related companies"] == "relations"
    job, _errors = imported(client, [["丙公司", ""]], header=["公司名称", "企业关系"])
    assert job["mapping"]["企业关系"] == "relations"


def test_relations_by_name_and_external_id_read_from_each_rows_side(
    client: JobClient, admin: User, make_account: Callable[..., Account]
) -> None:
    make_account(name="华信科技有限公司", external_id="HX")
    make_account(name="明凯佳科技")
    rows = [
        ["A1", "甲公司", "供应商:华信科技有限公司; 合作伙伴:明凯佳科技", ""],  # 甲 supplies 华信
        ["A2", "乙公司", "采购自：华信科技有限公司", ""],  # 乙 buys from 华信: 华信 supplies 乙
        ["A3", "丙公司", "", "Supplies:HX"],  # by external ID, in English
        ["A4", "丁公司", "invested in by:甲公司，competitors：戊公司", ""],  # a row above, a row below
        ["A5", "戊公司", "", ""],
    ]
    job, errors = imported(client, rows)
    assert errors == [] and job["result"] == {"created": 5, "updated": 0, "skipped": 0, "failed": 0}
    assert relations() == {
        ("甲公司", "华信科技有限公司", "supplier"),
        ("华信科技有限公司", "乙公司", "supplier"),
        ("丙公司", "华信科技有限公司", "supplier"),
        ("甲公司", "丁公司", "investor"),
        *{tuple(sorted(["甲公司", "明凯佳科技"], key=lambda n: Account.objects.get(name=n).pk)) + ("partner",)},
        *{tuple(sorted(["丁公司", "戊公司"], key=lambda n: Account.objects.get(name=n).pk)) + ("competitor",)},
    }
    assert page_of(admin, "华信科技有限公司") == {
        ("Buys from", "甲公司"),
        ("Supplies", "乙公司"),
        ("Buys from", "丙公司"),
    }
    assert page_of(admin, "丁公司") == {("Invested in by", "甲公司"), ("Competitors", "戊公司")}
    # Through the service: the row's company's change log and both timelines say so.
    entry = ChangeLogEntry.objects.filter(object_repr="乙公司", action="update").latest("id")
    assert entry.source == "import" and entry.changes["relations"][0] == []
    assert TimelineEntry.objects.filter(kind="relation_added").count() == 2 * AccountRelation.objects.count()

    again, errors = imported(client, rows)
    assert errors == [] and again["result"] == {"created": 0, "updated": 0, "skipped": 5, "failed": 0}
    assert AccountRelation.objects.count() == 6 and TimelineEntry.objects.filter(kind="relation_added").count() == 12


def test_a_row_that_only_relates_its_account_counts_as_updated(
    client: JobClient, make_account: Callable[..., Account]
) -> None:
    make_account(name="华信科技", external_id="HX")
    make_account(name="明凯佳", external_id="MK")
    # Said from both sides (as an export writes it): added once.
    rows = [["HX", "华信科技", "供货给:明凯佳", ""], ["MK", "明凯佳", "", "采购自:HX; 其他:HX"]]
    job, errors = imported(client, rows)
    assert errors == [] and job["result"] == {"created": 0, "updated": 2, "skipped": 0, "failed": 0}
    assert relations() == {("华信科技", "明凯佳", "supplier"), (*sorted(["华信科技", "明凯佳"], key=_pk), "other")}


def _pk(name: str) -> int:
    return Account.objects.get(name=name).pk


def test_each_bad_item_refuses_its_row_naming_line_column_and_what_to_do(
    client: JobClient, make_account: Callable[..., Account]
) -> None:
    make_account(name="华信科技", external_id="HX")
    make_account(name="重名公司")
    make_account(name="重名公司")
    rows = [
        ["B1", "甲公司", "朋友:华信科技", ""],  # 2: no such relation
        ["B2", "乙公司", "华信科技", ""],  # 3: no relation word
        ["B3", "丙公司", "合作伙伴:不存在的公司", ""],  # 4: nowhere
        ["B4", "丁公司", "竞争对手:重名公司", ""],  # 5: two of that name
        ["B5", "戊公司", "合作伙伴:戊公司", ""],  # 6: itself
        ["B6", "己公司", "", "合作伙伴:B1"],  # 7: a row refused above
        ["B7", "庚公司", "合作伙伴:华信科技", "供货给:NO-SUCH"],  # 8: the second column's item
        ["HX", "华信科技", "", "竞争对手:HX"],  # 9: itself, an update by external ID
    ]
    job, errors = imported(client, rows)
    assert job["result"] == {"created": 0, "updated": 0, "skipped": 0, "failed": 8}
    assert [e[:3] for e in errors] == [
        ["2", "关联企业", "朋友:华信科技"],
        ["3", "关联企业", "华信科技"],
        ["4", "关联企业", "合作伙伴:不存在的公司"],
        ["5", "关联企业", "竞争对手:重名公司"],
        ["6", "关联企业", "合作伙伴:戊公司"],
        ["7", "关联企业编号", "合作伙伴:B1"],
        ["8", "关联企业编号", "供货给:NO-SUCH"],
        ["9", "关联企业编号", "竞争对手:HX"],
    ]
    reasons = [e[3] for e in errors]
    assert (
        reasons[0].startswith("Unknown relation “朋友”: use one of Supplies, Buys from,") and "Partners" in reasons[0]
    )
    assert reasons[1] == "Write the relation, a colon, then the company, e.g. “Supplies:华信科技”."
    assert reasons[2].startswith("No account you may see has this name or external ID") and "above" in reasons[2]
    assert (
        reasons[3].startswith("2 accounts you may see have this name") and "Related company external IDs" in reasons[3]
    )
    assert "not related to itself" in reasons[4] and "not related to itself" in reasons[7]
    assert reasons[5] == "The related company's own row could not be imported."
    assert not Account.objects.filter(external_id__startswith="B").exists() and not AccountRelation.objects.exists()


def test_a_company_the_user_may_not_see_is_not_found(
    rep: User,
    other_rep: User,
    sales_role: Role,
    make_account: Callable[..., Account],
    django_capture_on_commit_callbacks: Any,
) -> None:
    grant(sales_role, "customers.account", ("import",))
    make_account(by=other_rep, name="秘密客户", external_id="SECRET")
    make_account(by=rep, name="我的客户")
    client = job_client(rep, django_capture_on_commit_callbacks)
    job, errors = imported(
        client, [["", "新客户", "合作伙伴:秘密客户", "合作伙伴:SECRET"], ["", "另一家", "竞争对手:我的客户", ""]]
    )
    assert [e[:3] for e in errors] == [["2", "关联企业", "合作伙伴:秘密客户"], ["2", "关联企业编号", "合作伙伴:SECRET"]]
    assert all(e[3].startswith("No account you may see") for e in errors)
    assert job["result"]["created"] == 1 and relations() == {(*sorted(["我的客户", "另一家"], key=_pk), "competitor")}


def test_a_new_company_given_to_a_colleague_keeps_its_relations(
    rep: User,
    other_rep: User,
    sales_role: Role,
    make_account: Callable[..., Account],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The rep may not change a colleague's accounts, but the relations of one their import creates
    for that colleague are part of writing it, as its fields are: the row is written whole."""
    grant(sales_role, "customers.account", ("import", "assign"))
    make_account(by=rep, name="我的客户")
    client = job_client(rep, django_capture_on_commit_callbacks)
    header = [*HEADER, "负责人"]
    job, errors = imported(client, [["", "给同事的新客户", "合作伙伴:我的客户", "", other_rep.email]], header=header)
    assert errors == [] and job["result"]["created"] == 1 and job["result"]["failed"] == 0
    assert Account.objects.get(name="给同事的新客户").owner_id == other_rep.pk
    assert relations() == {(*sorted(["我的客户", "给同事的新客户"], key=_pk), "partner")}
    entry = ChangeLogEntry.objects.filter(content_type__model="account", changes__has_key="relations").get()
    assert entry.actor_id == rep.pk  # through relation_add, as the account's page would


def test_a_company_in_a_later_batch_is_refused_with_what_to_do(
    client: JobClient, settings: Any, make_account: Callable[..., Account]
) -> None:
    settings.GUANXI_IMPORT_BATCH_SIZE = 2
    rows = [  # two rows a batch
        ["", "甲公司", "", ""],
        ["", "乙公司", "供货给:丁公司", ""],  # 丁公司 comes in the next batch
        ["", "丙公司", "采购自:甲公司", ""],  # 甲公司 came in the batch before
        ["", "丁公司", "", ""],
    ]
    _job, errors = imported(client, rows)
    assert [e[:2] for e in errors] == [["3", "关联企业"]] and "above" in errors[0][3]
    assert relations() == {("甲公司", "丙公司", "supplier")}


def test_an_empty_cell_keeps_the_relations(
    client: JobClient, admin: User, make_account: Callable[..., Account]
) -> None:
    first, second = make_account(name="华信科技", external_id="HX"), make_account(name="明凯佳")
    relation_add(model=Account, record_id=first.pk, other_id=second.pk, kind="supplier", user=admin)
    job, errors = imported(client, [["HX", "华信科技", "", ""]])
    assert errors == [] and job["result"]["skipped"] == 1
    assert relations() == {("华信科技", "明凯佳", "supplier")}


# --- the export ------------------------------------------------------------------------------------


def export_all(client: Any, query: str = "ordering=name", scope: str = "all") -> list[list[str]]:
    """The account list as a CSV file: all columns, or (``scope=""``) those the query shows."""
    return read_csv(body(ui_export(client, "accounts", query, format="csv", scope=scope)))


def test_an_export_reads_back_to_the_same_relations(
    client: JobClient, admin: User, make_account: Callable[..., Account]
) -> None:
    """The column says each relation from the row's side; with the relations gone, the unchanged
    file brings them back, and a second import adds nothing."""
    hx = make_account(name="华信科技")
    mk = make_account(name="明凯佳科技")
    acme = make_account(name="Acme, Inc.")
    formula = make_account(name="=HYPERLINK(1)")
    for record, other, kind in ((hx, mk, "supplier"), (acme, hx, "partner"), (mk, formula, "investor")):
        relation_add(model=Account, record_id=record.pk, other_id=other.pk, kind=kind, user=admin)
    before = relations()
    rows = export_all(client)
    column = rows[0].index("Related companies")
    cells = {row[1]: row[column] for row in rows[1:]}
    assert cells["华信科技"] == "Supplies:明凯佳科技; Partners:Acme, Inc."
    assert cells["明凯佳科技"] == "Buys from:华信科技; Invests in:=HYPERLINK(1)"
    assert cells["'=HYPERLINK(1)"] == "Invested in by:明凯佳科技" and cells["Acme, Inc."] == "Partners:华信科技"
    for relation in AccountRelation.objects.all():
        relation_remove(model=Account, record_id=relation.first_id, relation_id=relation.pk, user=admin)

    job, errors = imported(client, rows[1:], header=rows[0])
    assert job["mapping"]["Related companies"] == "relations"
    # Each relation is added from the first of its two rows; 明凯佳科技's come from the rows above it.
    assert errors == [] and job["result"] == {"created": 0, "updated": 3, "skipped": 1, "failed": 0}
    assert relations() == before
    job, errors = imported(client, export_all(client)[1:], header=rows[0])
    assert job["result"] == {"created": 0, "updated": 0, "skipped": 4, "failed": 0} and relations() == before


def test_names_that_hold_a_separator_are_quoted_and_read_back_whole(
    client: JobClient, admin: User, make_account: Callable[..., Account]
) -> None:
    """A name with ; or ； goes in double quotes (a quote inside it doubled); the others are written
    as before, a quote inside a name included. The unchanged file brings the relations back."""
    centre = make_account(name="中心公司")
    names = ["A;B Trading", "华信；北京分公司", 'Say "Hi"; Ltd', '华信"科技"', "Acme, Partners:Beta"]
    for other, kind in zip(names, ("supplier", "partner", "investor", "competitor", "other"), strict=True):
        relation_add(model=Account, record_id=centre.pk, other_id=make_account(name=other).pk, kind=kind, user=admin)
    before = relations()
    rows = export_all(client)
    column = rows[0].index("Related companies")
    cells = {row[1]: row[column] for row in rows[1:]}
    assert cells["中心公司"] == (
        'Supplies:"A;B Trading"; Partners:"华信；北京分公司"; Invests in:"Say ""Hi""; Ltd"; '
        'Competitors:华信"科技"; Other:"Acme, Partners:Beta"'
    )
    assert cells["A;B Trading"] == "Buys from:中心公司" and cells['华信"科技"'] == "Competitors:中心公司"
    for relation in AccountRelation.objects.all():
        relation_remove(model=Account, record_id=relation.first_id, relation_id=relation.pk, user=admin)

    job, errors = imported(client, rows[1:], header=rows[0])
    assert errors == [] and job["result"]["failed"] == 0 and relations() == before
    job, errors = imported(client, export_all(client)[1:], header=rows[0])
    assert errors == [] and job["result"]["updated"] == 0 and relations() == before


def test_quoted_names_as_people_type_them_and_cells_written_before(
    client: JobClient, make_account: Callable[..., Account]
) -> None:
    """The name quoted or the whole item, full-width separators, a doubled quote; and the cells
    without quotes read as they always did (a quote inside a name is the name's own)."""
    for name in ("A;B Trading", "华信；北京分公司", 'Say "Hi" Ltd', '华信"科技"', "Acme, Inc.", "明凯佳"):
        make_account(name=name)
    rows = [
        ["", "甲公司", '供货给:"A;B Trading"；"合作伙伴:华信；北京分公司"', ""],
        ["", "乙公司", '采购自 ： "Say ""Hi"" Ltd" ; 竞争对手:华信"科技"', ""],
        ["", "丙公司", '合作伙伴:Acme, Inc.，竞争对手：明凯佳；供货给:华信"科技"', ""],
    ]
    job, errors = imported(client, rows)
    assert errors == [] and job["result"] == {"created": 3, "updated": 0, "skipped": 0, "failed": 0}
    assert relations() == {
        ("甲公司", "A;B Trading", "supplier"),
        (*sorted(["甲公司", "华信；北京分公司"], key=_pk), "partner"),
        ('Say "Hi" Ltd', "乙公司", "supplier"),
        (*sorted(["乙公司", '华信"科技"'], key=_pk), "competitor"),
        (*sorted(["丙公司", "Acme, Inc."], key=_pk), "partner"),
        (*sorted(["丙公司", "明凯佳"], key=_pk), "competitor"),
        ("丙公司", '华信"科技"', "supplier"),
    }


def test_a_quote_left_open_refuses_its_row_on_its_line_and_column(
    client: JobClient, make_account: Callable[..., Account]
) -> None:
    make_account(name="A;B Trading", external_id="AB")
    rows = [
        ["", "甲公司", "供货给:A;B Trading", ""],  # 2: read as before: 供货给:A, then "B Trading" without a relation
        ["", "乙公司", '供货给:"A;B Trading', ""],  # 3: never closed
        ["", "丙公司", "", '供货给:"AB" x'],  # 4: text after the closing quote
        ["", "丁公司", '供货给:"A;B Trading"', ""],  # 5: good
    ]
    job, errors = imported(client, rows)
    assert job["result"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 3}
    assert [e[:3] for e in errors] == [
        ["2", "关联企业", "B Trading"],
        ["3", "关联企业", '供货给:"A;B Trading'],
        ["4", "关联企业编号", '供货给:"AB" x'],
    ]
    assert errors[1][3] == (
        '“"A;B Trading” opens a double quote but does not close it: end the quoted name with a double quote, '
        'and write a quote inside it twice ("").'
    )
    assert errors[2][3].startswith('“供货给:"AB" x” goes on after its closing double quote')
    assert relations() == {("丁公司", "A;B Trading", "supplier")}


def test_the_export_writes_only_relations_to_companies_the_user_may_see(
    rep: User, other_rep: User, admin: User, sales_role: Role, make_account: Callable[..., Account]
) -> None:
    grant(sales_role, "customers.account", ("export",))
    mine, theirs = make_account(by=rep, name="我的客户"), make_account(by=other_rep, name="秘密客户")
    partner = make_account(by=rep, name="合作方")
    relation_add(model=Account, record_id=mine.pk, other_id=theirs.pk, kind="supplier", user=admin)
    relation_add(model=Account, record_id=mine.pk, other_id=partner.pk, kind="partner", user=admin)
    from django.test import Client

    client = Client()
    client.force_login(rep)
    rows = export_all(client)
    column = rows[0].index("Related companies")
    assert {row[1]: row[column] for row in rows[1:]} == {"我的客户": "Partners:合作方", "合作方": "Partners:我的客户"}


def test_the_exports_relations_cost_one_query_a_chunk(
    client: JobClient, admin: User, make_account: Callable[..., Account]
) -> None:
    def count(n: int) -> int:
        for i in range(n):
            first = make_account(name=f"{n}甲{i}")
            for kind in ("supplier", "partner"):
                other = make_account(name=f"{n}{kind}{i}")
                relation_add(model=Account, record_id=first.pk, other_id=other.pk, kind=kind, user=admin)
        with CaptureQueriesContext(connection) as with_relations:
            rows = export_all(client, f"name__startswith={n}&columns=name,relations", scope="")
        assert rows[0] == ["Record ID", "Name", "Related companies"] and len(rows) == 1 + 3 * n
        assert all(row[2] for row in rows[1:])
        with CaptureQueriesContext(connection) as without:
            export_all(client, f"name__startswith={n}&columns=name", scope="")
        return len(with_relations) - len(without)

    few, many = count(2), count(20)
    assert few == many == 1, (few, many)


@pytest.mark.parametrize(
    ("language", "column", "example"),
    [("zh-hans", "关联企业", "供货给:华信科技有限公司"), ("en", "Related companies", "Supplies:Acme Ltd")],
)
def test_the_template_shows_the_columns_with_their_format(language: str, column: str, example: str) -> None:
    from django.test import Client

    from tests.customers.test_import_template import download, sheets
    from tests.factories import AdminFactory

    client = Client()
    client.force_login(AdminFactory(language=language))
    first, notes = list(sheets(download(client, "accounts")).values())
    assert (
        column in first[0] and ("关联企业编号" if language == "zh-hans" else "Related company external IDs") in first[0]
    )
    described = {row[0]: row[2] for row in notes[1:]}
    assert example in described[column]
