"""Cells of several names other than 关联企业 (``guanxi.core.list_cells``): tags and multiple-choice
custom fields. A name that holds a separator is quoted by the export and read back whole; cells
without quotes read as they always did; a quote left open refuses the row on its line and column.
Real export and import jobs, as ``test_import_round_trip``."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from guanxi.api.crud import tag_names_for
from guanxi.core.list_cells import QuoteError, join_list, split_list
from guanxi.customers import services
from guanxi.customers.models import Account
from tests.customers.test_import import JobClient, job_client
from tests.customers.test_import_round_trip import define, errors_by_line, export_rows, run_import
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("cell", "names"),
    [
        ("VIP, 华东；重点、A|B", ["VIP", "华东", "重点", "A", "B"]),  # every separator, as before
        ('华信"科技", x', ['华信"科技"', "x"]),  # a quote inside a name is the name's own
        ('"A, B", "say ""hi""" ; C', ["A, B", 'say "hi"', "C"]),
        (' , ;"" ,', []),
    ],
)
def test_a_cell_splits_into_its_names(cell: str, names: list[str]) -> None:
    assert split_list(cell) == names


@pytest.mark.parametrize("cell", ['"A, B', 'x, "A" B, y'])
def test_quotes_that_do_not_read_are_refused(cell: str) -> None:
    with pytest.raises(QuoteError):
        split_list(cell)


def test_only_names_that_would_not_read_back_are_quoted() -> None:
    names = ["VIP", "A, B", "甲；乙", '华信"科技"', '"引号"开头']
    assert join_list(names) == 'VIP, "A, B", "甲；乙", 华信"科技", """引号""开头"'
    assert split_list(join_list(names)) == names


@pytest.fixture
def admin() -> Any:
    return AdminFactory(email="importer@example.com", display_name="导入员", language="en")


@pytest.fixture
def client(admin: Any, django_capture_on_commit_callbacks: Any) -> JobClient:
    return job_client(admin, django_capture_on_commit_callbacks)


def test_tags_and_choices_with_a_separator_come_back_whole(client: Client, admin: Any) -> None:
    define("lines", "multichoice", "产品线", "Product lines", choices=["CRM", "ERP, MES", '"Cloud"'])
    account = services.account_create(
        user=admin,
        data={"name": "华信科技"},
        tags=["A, B", "VIP", "华东；华南"],
        custom_fields={"lines": ["CRM", "ERP, MES", '"Cloud"']},
    )
    rows = export_rows(client, "accounts")
    header = rows[0]
    row = next(r for r in rows[1:] if int(r[0]) == account.pk)
    assert row[header.index("Tags")] == '"A, B", VIP, "华东；华南"'
    assert row[header.index("Product lines")] == 'CRM, "ERP, MES", """Cloud"""'

    result = run_import(client, rows, "accounts")
    assert result["result"] == {"created": 0, "updated": 0, "skipped": 1, "failed": 0}

    row[header.index("Tags")] = 'VIP, "C; D"'
    row[header.index("Product lines")] = '"ERP, MES"'
    result = run_import(client, rows, "accounts")
    assert result["result"]["updated"] == 1
    account = Account.objects.get(pk=account.pk)
    assert account.custom_fields["lines"] == ["ERP, MES"]
    assert sorted(tag_names_for(Account, [account.pk])[account.pk]) == ["A, B", "C; D", "VIP", "华东；华南"]


def test_a_quote_left_open_in_tags_or_choices_refuses_its_row(client: Client, admin: Any) -> None:
    define("lines", "multichoice", "产品线", "Product lines", choices=["CRM", "ERP, MES"])
    rows = [
        ["Name", "Tags", "Product lines"],
        ["甲公司", 'VIP, "A, B', ""],
        ["乙公司", "", '"ERP, MES" x'],
        ["丙公司", "VIP, A", "CRM; ERP"],  # as before: ERP alone is no choice
        ["丁公司", '"A, B"', '"ERP, MES"'],
    ]
    result = run_import(client, rows, "accounts")
    assert result["result"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 3}
    errors = errors_by_line(client, result["id"])
    assert errors[2][0] == "Tags" and "does not close it" in errors[2][1]
    assert errors[3][0] == "Product lines" and "goes on after its closing double quote" in errors[3][1]
    assert errors[4][0] == "Product lines" and "Pick from" in errors[4][1]
    assert Account.objects.get().custom_fields == {"lines": ["ERP, MES"]}
