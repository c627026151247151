"""Browser journey of the import wizard, in the 中文 UI: import a small GBK CSV with two bad rows from the
contacts list (upload, automatic column matching, preview with the bad rows marked, start), wait for it
to finish, download the error file and check that it lists exactly the two bad rows. Then the same
wizard on a phone-sized screen (375 px), and a phone's address book (a vCard file) through it."""

from __future__ import annotations

import csv
import io
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, Account, LiveServer
from tests.e2e.flows import list_row, page_tool, sign_in, switch_language

pytestmark = pytest.mark.e2e

HEADER = ["姓名", "手机", "邮箱", "公司", "职位", "省份"]
ROWS = [
    ["诸葛明", "139 0013 9001", "zhuge@example.com", "成都蜀汉科技有限公司", "总经理", "四川"],
    ["上官婉儿", "13900139002", "wan.er@example.com", "成都蜀汉科技有限公司", "采购经理", "四川"],
    ["李白", "12345", "libai@example.com", "", "诗人", "四川"],  # bad phone: row 4
    ["杜甫", "13900139004", "dufu@example.com", "", "", "火星"],  # bad province: row 5
    ["王维", "13900139005", "wangwei@example.com", "", "", "陕西"],
]
BAD_LINES = {"4": "手机", "5": "省份"}
#: What a phone exports its address book to: vCard 3.0, and 2.1 with quoted-printable UTF-8 (Android).
PHONE_BOOK = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:欧阳;娜娜;;;\r\nFN:欧阳娜娜\r\nORG:成都蜀汉科技有限公司;市场部\r\n"
    "TEL;TYPE=CELL:+86 139 0013 9011\r\nEMAIL:nana@example.com\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=AD=9F;=E6=B5=A9=E7=84=B6;;;\r\n"
    "TEL;CELL:13900139012\r\nEND:VCARD\r\n"
)

_SEED = """
from django_otp.plugins.otp_totp.models import TOTPDevice
from guanxi.identity.models import User
user = User.objects.create_superuser({email!r}, {password!r}, display_name={name!r}, language="en")
TOTPDevice.objects.create(user=user, name="e2e authenticator", key={key!r}, confirmed=True)
"""


@pytest.fixture(scope="module")
def importer(guanxi_server: LiveServer) -> Account:
    account = Account("e2e-import@example.com", "E2e-Passw0rd-导入", "E2E 导入", secrets.token_hex(20))
    guanxi_server.shell(
        _SEED.format(email=account.email, password=account.password, name=account.display_name, key=account.totp_key)
    )
    return account


def gbk_file(tmp_path: Path, rows: list[list[str]], name: str = "联系人.csv") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([HEADER, *rows])
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode("gbk"))  # what Chinese Excel saves
    return path


def run_wizard(page: Page, shot: Any, path: Path, tmp_path: Path, prefix: str) -> list[list[str]]:
    page.goto("/customers/contacts/")
    page.locator("#import-button").click()
    expect(page.locator("#import-upload-form")).to_be_visible()
    shot(f"{prefix}upload")
    page.locator("#import-file").set_input_files(str(path))
    page.locator("#import-upload-button").click()

    # The columns are matched automatically; the two bad rows are marked in the preview.
    expect(page.locator("#import-columns")).to_be_visible()
    expect(page.locator("#map-0")).to_have_value("name")
    expect(page.locator("#map-1")).to_have_value("mobile")
    expect(page.locator("#map-5")).to_have_value("province")
    expect(page.locator("#import-preview tr.table-danger")).to_have_count(2)
    expect(page.locator('#import-preview tr[data-preview-line="4"]')).to_have_class("table-danger")
    shot(f"{prefix}mapping")
    page.locator("#import-start-button").click()

    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator('[data-count="created"]')).to_have_text("3")
    expect(page.locator('[data-count="failed"]')).to_have_text("2")
    shot(f"{prefix}finished")
    with page.expect_download() as info:
        page.locator("#import-errors-download").click()
    target = tmp_path / f"{prefix}{info.value.suggested_filename}"
    info.value.save_as(target)
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM: Excel shows the Chinese"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_import_journey(
    page: Page, shot: Any, importer: Account, accounts: Any, tmp_path: Path, make_page: Any
) -> None:
    sign_in(page, importer, shot)
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    errors = run_wizard(page, shot, gbk_file(tmp_path, ROWS), tmp_path, "")
    header, rows = errors[0], errors[1:]
    assert header[4:] == HEADER, header
    assert {row[0]: row[1] for row in rows} == BAD_LINES, rows
    assert rows[0][4:] == ROWS[2] and rows[1][4:] == ROWS[3], "the original cells follow the reason"
    assert all(row[3] for row in rows), "each bad row says why"

    # The good rows are contacts now, linked to the account named in 公司.
    page.goto("/customers/contacts/")
    for name in ("诸葛明", "上官婉儿", "王维"):
        expect(list_row(page.locator("#list-table"), name)).to_have_count(1)
    expect(list_row(page.locator("#list-table"), "李白")).to_have_count(0)
    shot("contacts-after-import")

    # The same wizard on a phone: a re-run of the file adds nothing (external ID-less rows are
    # skipped as duplicates by phone), and nothing overflows the 375 px screen.
    phone = make_page(viewport=PHONE, is_mobile=True)
    sign_in(phone, accounts["phone"], shot)  # another account: the importer's code of now is used
    switch_language(phone, "中文")
    phone.goto("/customers/contacts/")
    page_tool(phone, "#import-button").click()
    phone.locator("#import-file").set_input_files(str(gbk_file(tmp_path, ROWS, "again.csv")))
    phone.locator("#import-upload-button").click()
    expect(phone.locator("#import-columns")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the mapping page is {width}px wide on a {PHONE['width']}px screen"
    phone.locator("#import-start-button").click()
    expect(phone.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(phone.locator('[data-count="created"]')).to_have_text("0")
    expect(phone.locator('[data-count="skipped"]')).to_have_text("3")
    shot("phone-finished", phone)

    # A phone's address book: the vCard file's cards are matched to the fields like a spreadsheet's columns.
    address_book = tmp_path / "通讯录.vcf"
    address_book.write_text(PHONE_BOOK, encoding="utf-8", newline="")
    phone.goto("/customers/contacts/")
    page_tool(phone, "#import-button").click()
    phone.locator("#import-file").set_input_files(str(address_book))
    phone.locator("#import-upload-button").click()
    expect(phone.locator("#import-columns")).to_be_visible()
    expect(phone.locator("#import-file-info")).to_contain_text("2 张名片")
    expect(phone.locator("#map-1")).to_have_value("family_name")
    expect(phone.locator("#map-8")).to_have_value("mobile")
    shot("vcard-mapping", phone)
    phone.locator("#import-start-button").click()
    expect(phone.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(phone.locator('[data-count="created"]')).to_have_text("2")
    phone.goto("/customers/contacts/")
    for name in ("欧阳娜娜", "孟浩然"):
        expect(list_row(phone.locator("#list-table"), name)).to_have_count(1)
