"""Where a contact came from (来源, ``Contact.source``), in the channels of an account's source: the
form and the page, the API (read, write, refused values), the list's filter (API and page), the
contact breakdown, the import (Chinese and English headers and values, a bad value as a row error),
the export, a merge and a bulk edit."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from guanxi.core.models import ChangeLogEntry
from guanxi.customers import services
from guanxi.customers.models import Contact
from guanxi.identity.models import User
from tests.customers.conftest import Api, field_errors
from tests.customers.test_import import csv_bytes, job_client, read_errors
from tests.customers.test_import_template import download, sheets
from tests.factories import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(rep: User, other_rep: User, make_contact: Callable[..., Contact]) -> dict[str, Contact]:
    """Six contacts: the rep's four (two from a trade show, one referred, one of no known source) and
    the other rep's two (a trade show, the website)."""
    rows = {
        "甲": (rep, "trade_show"),
        "乙": (rep, "trade_show"),
        "丙": (rep, "referral"),
        "丁": (rep, ""),
        "戊": (other_rep, "trade_show"),
        "己": (other_rep, "website"),
    }
    return {
        name: make_contact(by=by, family_name=name, given_name="先生", source=source)
        for name, (by, source) in rows.items()
    }


def names(user: User, query: str) -> set[str]:
    response = Api(user).get(f"contacts?{query}&limit=200")
    assert response.status_code == 200, (query, response.json_body)
    assert response.json_body["next_cursor"] is None
    return {item["family_name"] for item in response.json_body["items"]}


ROW_LINK = re.compile(r'<a href="/customers/contacts/(\d+)/" class="fw-medium">')


def listed_on_the_page(client: Client, query: str) -> set[int]:
    response = client.get(reverse("ui:contacts-list") + f"?{query}")
    assert response.status_code == 200
    return {int(pk) for pk in ROW_LINK.findall(response.content.decode())}


# --- the form and the page ----------------------------------------------------------------------------


def test_the_form_saves_it_and_the_page_shows_it(rep: User) -> None:
    client = client_for(rep)
    form = client.get(reverse("ui:contacts-add")).content.decode()
    assert re.search(r'<select name="source"', form) and '<option value="trade_show">Trade show</option>' in form
    response = client.post(
        reverse("ui:contacts-add"), {"family_name": "张", "given_name": "三", "country": "CN", "source": "trade_show"}
    )
    contact = Contact.objects.get()
    assert response.status_code == 302 and contact.source == "trade_show"

    edit = client.get(reverse("ui:contacts-edit", args=[contact.pk])).content.decode()
    assert '<option value="trade_show" selected>Trade show</option>' in edit
    data = {"family_name": "张", "given_name": "三", "country": "CN", "source": "referral", "version": contact.version}
    data.update(owner=rep.pk, team=rep.team_id or "", tags="", emails="", phones="", new_accounts_role="")
    response = client.post(reverse("ui:contacts-edit", args=[contact.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    contact.refresh_from_db()
    assert contact.source == "referral"
    log = ChangeLogEntry.objects.filter(object_id=contact.pk, content_type__model="contact", action="update").get()
    assert log.changes["source"] == ["trade_show", "referral"]

    # On the record's page, in its summary, as accounts show theirs.
    page = client.get(reverse("ui:contacts-detail", args=[contact.pk])).content.decode()
    summary = page.split('data-section="summary">', 1)[1].split('data-section="', 1)[0]
    assert re.search(r'<div class="datagrid-item" data-field="source">.*?Referral', summary, re.S)
    refused = client.post(reverse("ui:contacts-edit", args=[contact.pk]), {**data, "source": "billboard"})
    assert refused.status_code == 400 and 'id="id_source_error"' in refused.content.decode()


# --- the API --------------------------------------------------------------------------------------------


def test_the_api_reads_writes_and_refuses_a_value_not_among_the_choices(admin_api: Api) -> None:
    created = admin_api.post("contacts", {"family_name": "李", "given_name": "雷", "source": "website"})
    assert created.status_code == 201, created.json_body
    pk = created.json_body["id"]
    assert created.json_body["source"] == "website"
    assert admin_api.get(f"contacts/{pk}").json_body["source"] == "website"
    changed = admin_api.patch(f"contacts/{pk}", {"source": "social"})
    assert changed.status_code == 200 and changed.json_body["source"] == "social"
    cleared = admin_api.patch(f"contacts/{pk}", {"source": ""})
    assert cleared.status_code == 200 and cleared.json_body["source"] == ""

    refused = admin_api.patch(f"contacts/{pk}", {"source": "billboard"})
    assert refused.status_code == 400 and "source" in field_errors(refused)
    refused = admin_api.post("contacts", {"family_name": "韩", "source": "Trade show"})  # a label, not the value
    assert refused.status_code == 400 and "source" in field_errors(refused)
    assert Contact.objects.get().source == "" and Contact.objects.count() == 1


def test_the_api_schema_takes_it(admin_api: Api) -> None:
    schemas = admin_api.get("openapi.json").json_body["components"]["schemas"]
    assert all("source" in schemas[name]["properties"] for name in ("ContactCreate", "ContactUpdate"))


# --- the list's filter ----------------------------------------------------------------------------------


def test_the_list_filters_by_it_through_the_api(rep: User, admin: User, people: dict[str, Contact]) -> None:
    assert names(admin, "source=trade_show") == {"甲", "乙", "戊"}
    assert names(admin, "source__in=website,referral") == {"丙", "己"}
    assert names(admin, "source__in=referral,none") == {"丙", "丁"}
    assert names(admin, "source=none") == {"丁"}
    assert names(rep, "source=trade_show") == {"甲", "乙"}  # only what the rep may see
    refused = Api(admin).get("contacts?source=billboard")
    assert refused.status_code == 400 and "source" in field_errors(refused)


def test_the_list_page_filters_by_it(rep: User, people: dict[str, Contact]) -> None:
    client = client_for(rep)
    page = client.get(reverse("ui:contacts-list")).content.decode()
    assert re.search(r'<select[^>]*name="source"', page) and '<option value="none">(none)</option>' in page
    assert listed_on_the_page(client, "source=trade_show") == {people["甲"].pk, people["乙"].pk}
    assert listed_on_the_page(client, "source__in=referral,none") == {people["丙"].pk, people["丁"].pk}
    # A column to choose under 列, as an account's source.
    page = client.get(reverse("ui:contacts-list") + "?columns=display_name,source").content.decode()
    assert "Trade show" in page and "Referral" in page


# --- the breakdown --------------------------------------------------------------------------------------


def test_the_breakdown_counts_by_source_and_links_to_the_list(
    admin: User, rep: User, people: dict[str, Contact]
) -> None:
    body = Api(admin).get("contacts/breakdown?by=source").json_body
    assert body["by"] == "source" and body["total"] == 6 and body["others"] == 0
    assert [(i["value"], i["label"], i["count"], i["filters"]) for i in body["items"]] == [
        ("trade_show", "Trade show", 3, {"source": "trade_show"}),
        ("referral", "Referral", 1, {"source": "referral"}),
        ("website", "Website", 1, {"source": "website"}),
        (None, "(none)", 1, {"source": "none"}),
    ]
    for item in body["items"]:  # each row's filters open exactly what it counts
        assert len(names(admin, urlencode(item["filters"]))) == item["count"]
    # The rep's own, narrowed by the list's filters.
    mine = Api(rep).get("contacts/breakdown?by=source&search=甲").json_body
    assert [(i["value"], i["count"]) for i in mine["items"]] == [("trade_show", 1)]

    page = client_for(rep).get(reverse("ui:contacts-breakdown") + "?by=source").content.decode()
    links = {html_lib.unescape(link) for link in re.findall(r'href="(/customers/contacts/\?[^"]*)"', page)}
    assert "/customers/contacts/?source=trade_show" in links and "/customers/contacts/?source=none" in links


# --- import and export ----------------------------------------------------------------------------------


@pytest.fixture
def importer(admin: User, django_capture_on_commit_callbacks: Any) -> Client:
    return job_client(admin, django_capture_on_commit_callbacks)


def run_import(client: Client, rows: list[list[str]], **fields: str) -> dict[str, Any]:
    data = {"file": SimpleUploadedFile("contacts.csv", csv_bytes(rows)), "type": "contacts", "start": "true", **fields}
    job = client.post("/api/v1/imports", data).json()
    return {"mapping": job["mapping"], **client.get(f"/api/v1/imports/{job['id']}").json()}


def test_the_import_maps_a_source_column_in_chinese_and_english(importer: Client) -> None:
    body = run_import(
        importer,
        [
            ["外部编号", "姓名", "来源"],
            ["P1", "张三", "展会"],  # the Chinese label
            ["P2", "李四", "website"],  # the stored value
            ["P3", "王五", "Cold call"],  # the English label
            ["P4", "赵六", "合作伙伴"],  # the brief's word for a partner
            ["P5", "钱七", "广告牌"],  # none of them: line 6
            ["P6", "孙八", ""],
        ],
    )
    assert body["mapping"]["来源"] == "source"
    assert body["result"] == {"created": 5, "updated": 0, "skipped": 0, "failed": 1}
    sources = dict(Contact.objects.values_list("external_id", "source"))
    assert sources == {"P1": "trade_show", "P2": "website", "P3": "cold_call", "P4": "partner", "P6": ""}
    errors = read_errors(importer, body["id"])
    assert [(row[0], row[1], row[2]) for row in errors[1:]] == [("6", "来源", "广告牌")]
    assert "not one of the choices" in errors[1][3]
    created = ChangeLogEntry.objects.get(object_id=Contact.objects.get(external_id="P1").pk, action="create")
    assert created.changes["source"] == [None, "trade_show"]

    # English headers; an update by external ID writes it too, and logs the change.
    for header in ("Source", "Lead source", "联系人来源", "客户来源"):
        body = run_import(
            importer, [["External ID", "Name", header], ["P6", "孙八", "Referral"]], duplicate_policy="update"
        )
        assert body["mapping"][header] == "source", header
    body = run_import(
        importer, [["External ID", "Name", "Source"], ["P1", "张三", "social"]], duplicate_policy="update"
    )
    assert body["result"]["updated"] == 1
    p1 = Contact.objects.get(external_id="P1")
    assert p1.source == "social" and Contact.objects.get(external_id="P6").source == "referral"
    log = ChangeLogEntry.objects.filter(object_id=p1.pk, action="update").get()
    assert log.changes["source"] == ["trade_show", "social"]


def test_empty_cells_that_clear_clear_it(importer: Client, make_contact: Callable[..., Contact]) -> None:
    make_contact(family_name="张", given_name="三", external_id="P1", source="trade_show")
    body = run_import(
        importer,
        [["External ID", "Name", "Source"], ["P1", "张三", ""]],
        duplicate_policy="update",
        blank_cells="clear",
    )
    assert body["result"]["updated"] == 1 and Contact.objects.get().source == ""


def test_the_import_fields_and_the_template_offer_it(admin: User) -> None:
    fields = Api(admin).get("imports/fields?type=contacts").json_body["fields"]
    source = next(f for f in fields if f["name"] == "source")
    assert source["label"] == "source" and "Trade show" in source["hint"]
    book = sheets(download(client_for(admin), "contacts"))
    rows, notes = list(book.values())
    assert "Source" in rows[0]
    assert any(row[0] == "Source" and "Trade show" in row[2] for row in notes)


def test_the_export_writes_it(admin: User, make_contact: Callable[..., Contact]) -> None:
    make_contact(family_name="张", given_name="三", source="trade_show")
    make_contact(family_name="李", given_name="四")
    response = client_for(admin).post(
        reverse("ui:export", args=["contacts"]), {"query": "ordering=display_name", "format": "csv", "scope": "all"}
    )
    assert response.status_code == 200
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    assert "Source" in header
    by_name = {row[header.index("Name")]: row[header.index("Source")] for row in rows[1:]}
    assert by_name == {"张三": "Trade show", "李四": ""}


# --- merge and bulk edit --------------------------------------------------------------------------------


def test_a_merge_lets_one_choose_the_source(admin: User, make_contact: Callable[..., Contact]) -> None:
    keep = make_contact(family_name="张", given_name="三", source="trade_show")
    gone = make_contact(family_name="张", given_name="三", source="referral")
    services.contact_merge(survivor=keep.pk, others=[gone.pk], user=admin, fields={"source": gone.pk})
    keep.refresh_from_db()
    assert keep.source == "referral"
    # Left to itself, a merge fills an empty source from the other record.
    empty = make_contact(family_name="李", given_name="四")
    known = make_contact(family_name="李", given_name="四", source="website")
    services.contact_merge(survivor=empty.pk, others=[known.pk], user=admin, fields={})
    empty.refresh_from_db()
    assert empty.source == "website"


def test_a_bulk_edit_sets_it(rep: User, people: dict[str, Contact]) -> None:
    mine = [people[name].pk for name in ("甲", "丙", "丁")]
    response = Api(rep).post("contacts/bulk", {"action": "update", "data": {"source": "social"}, "ids": mine})
    assert response.status_code == 200 and response.json_body["changed"] == 3
    assert set(Contact.objects.filter(pk__in=mine).values_list("source", flat=True)) == {"social"}
    refused = Api(rep).post("contacts/bulk", {"action": "update", "data": {"source": "billboard"}, "ids": mine})
    assert refused.status_code == 400 and [key.rsplit(".", 1)[-1] for key in field_errors(refused)] == ["source"]


def test_a_partner_source_reads_as_a_partner_not_as_the_stage() -> None:
    """The source 合作伙伴 and the lifecycle stage 代理商 share the English word "Partner"."""
    from django.utils import translation

    from guanxi.customers.choices import AccountSource, LifecycleStage
    from guanxi.customers.import_rows import _CHOICE_SYNONYMS

    with translation.override("zh-hans"):
        assert str(AccountSource.PARTNER.label) == "合作伙伴"
        assert str(LifecycleStage.PARTNER.label) == "代理商"
    # A file exported before, which wrote the source as 代理商, reads back the same.
    assert _CHOICE_SYNONYMS["source"]["代理商"] == "partner"
