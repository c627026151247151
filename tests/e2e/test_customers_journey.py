"""Browser journey of the customer lists, in the 中文 UI: add an account and a contact (with a phone,
an email, linked to the account) through the forms, a subsidiary under the account (its group on both
pages), find both in their lists, export the contacts list
(CSV and Excel) and read the downloaded files."""

from __future__ import annotations

import csv
import datetime
import io
import re
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, Account, LiveServer
from tests.e2e.flows import either, list_row, page_tool, path_of, settled, sign_in, switch_language

pytestmark = pytest.mark.e2e

ACCOUNT_NAME = "杭州西湖数据科技有限公司"
SUBSIDIARY = "宁波甬江数据服务有限公司"
CREDIT_CODE = "9133 0106 MA2H 8X3Q 41"  # well-formed: its check character is right
FAMILY, GIVEN = "欧阳", "小明"
EMAIL = "ouyang.xm@example.com"
PHONE_TYPED, PHONE_E164 = "138 0013 8000", "+8613800138000"
ROLE = "采购经理"
# The server's day (Asia/Shanghai) two days on, in 1988: a leap year has every day of the calendar.
BIRTHDAY = (datetime.datetime.now(ZoneInfo("Asia/Shanghai")).date() + datetime.timedelta(days=2)).replace(year=1988)

_SEED = """
from django_otp.plugins.otp_totp.models import TOTPDevice
from guanxi.identity.models import User
user = User.objects.create_superuser({email!r}, {password!r}, display_name={name!r}, language="en")
TOTPDevice.objects.create(user=user, name="e2e authenticator", key={key!r}, confirmed=True)
from guanxi.core.models import Tag
Tag.objects.get_or_create(name="设备维保需求")
Tag.objects.get_or_create(name="意向::高")
Tag.objects.get_or_create(name="意向::中")
User.objects.get_or_create(email="zhou.colleague@example.com", defaults={{"display_name": "周同事"}})
"""


@pytest.fixture(scope="module")
def seller(guanxi_server: LiveServer) -> Account:
    """Its own superuser, so its two-factor codes do not wait for another journey's."""
    account = Account("e2e-customers@example.com", "E2e-Passw0rd-客户", "E2E 客户", secrets.token_hex(20))
    guanxi_server.shell(
        _SEED.format(email=account.email, password=account.password, name=account.display_name, key=account.totp_key)
    )
    return account


def save(page: Page) -> None:
    page.get_by_role("button", name=either("Create", "Save", "创建", "保存", "新建")).click()


def add_button(page: Page) -> Any:
    return page.locator("#add-button")


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def download(page: Page, fmt: str, tmp_path: Path) -> bytes:
    form = page.locator("#export-form")
    if not form.is_visible():  # the menu stays open after a download
        page.locator("#export-toggle").click()
    expect(form).to_be_visible()
    form.locator(f"input[name=format][value={fmt}]").check()
    with page.expect_download() as info:
        page.locator("#export-submit").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target.read_bytes()


_JOB = """
from guanxi.core.models import Job
from guanxi.identity.models import User
job = Job.objects.create(kind="export", user=User.objects.get(email={email!r}), object_type="customers.contact",
                         status="running", total=10, processed=4, result={{"rows": 4}})
print(job.pk)
"""
_FINISH = """
from guanxi.core.models import Job
Job.objects.filter(pk={pk}).update(status="succeeded", processed=10, result={{"created": 9, "failed": 1}})
"""


def test_customers_journey(
    page: Page, shot: Any, seller: Account, tmp_path: Path, guanxi_server: LiveServer, browser_errors: Any
) -> None:
    sign_in(page, seller, shot)
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # --- an account, through its form -----------------------------------------------------------
    page.goto("/customers/accounts/")
    expect(page.locator("#page-title")).to_be_visible()
    shot("accounts-list-empty")
    add_button(page).click()
    page.locator("#id_name").fill(ACCOUNT_NAME)
    # Revenue as people say it: 1.2亿 (a text input, not a number one, so 亿 can be typed).
    page.locator("#id_annual_revenue").fill("1.2亿")
    # Its need, picked from the existing tags rather than typed (rules ask for the exact name).
    chip = page.locator('[data-tag-chips] [data-tag="设备维保需求"]')
    chip.click()
    expect(page.locator("#id_tags")).to_have_value("设备维保需求")
    expect(chip).to_have_attribute("aria-pressed", "true")
    # A scoped tag (意向::…) is one of its scope: 意向::中 takes 意向::高 out of the input.
    page.locator('[data-tag-chips] [data-tag="意向::高"]').click()
    page.locator('[data-tag-chips] [data-tag="意向::中"]').click()
    expect(page.locator("#id_tags")).to_have_value("设备维保需求, 意向::中")
    expect(page.locator('[data-tag-chips] [data-tag="意向::高"]')).to_have_attribute("aria-pressed", "false")
    # A tag holding a comma is typed in double quotes, and a chip's click keeps it whole.
    page.locator("#id_tags").fill('"华东, 华南", 意向::中')
    page.locator('[data-tag-chips] [data-tag="意向::中"]').click()
    expect(page.locator("#id_tags")).to_have_value('"华东, 华南"')
    page.locator("#id_tags").fill("设备维保需求, 意向::中")
    # Its 统一社会信用代码, checked: a wrong check character is named at the field and nothing is saved.
    page.locator("#id_registration_number").fill("9133 0106 MA2H 8X3Q 42")
    # Leaving the field asks whether the company exists (the duplicate check, on "change"); waited for,
    # so that the click on 创建 does not race that request (a CI run once lost the click so).
    with page.expect_response(lambda response: "/duplicates/check/" in response.url):
        page.locator("#id_registration_number").press("Tab")
    browser_errors.allow(r"/customers/accounts/add/: Failed to load resource: .* status of 400")  # the form, refused
    save(page)
    expect(page.locator("#id_registration_number_error")).to_contain_text("统一社会信用代码")
    expect(page.locator("#id_name")).to_have_value(ACCOUNT_NAME)  # what was typed is still there
    page.locator("#id_registration_number").fill(CREDIT_CODE)
    shot("account-form")
    save(page)
    expect(page.locator("#page-title")).to_have_text(ACCOUNT_NAME)
    expect(page.locator(".badge", has_text="设备维保需求")).to_be_visible()
    expect(page.locator('.badge[title="意向::中"]')).to_have_text("意向: 中")
    expect(page.locator('[data-field="annual_revenue"]')).to_contain_text("1.2亿 (120,000,000)")
    expect(page.locator('[data-field="registration_number"]')).to_contain_text("91330106MA2H8X3Q41")
    shot("account-saved")
    # 关注: one press, and the button says so (htmx swaps it); the list's 我关注的 then shows it.
    page.locator("#follow-button").click()
    expect(page.locator("#follow-button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#follow-button")).to_contain_text("已关注")
    # 共享给他人…: the form is fetched when opened, not with each view; a colleague is found by typing
    # the initials of their name (周同事: zts), as a customer is.
    expect(page.locator("#share-form")).to_have_count(0)
    page.locator("#share-open").click()
    settled(page.locator("#share-form-slot"), "#share-form")
    page.locator("#share-form #id_user").fill("zts")
    page.locator("#id_user_options [data-picker-option]").filter(has_text="周同事").click()
    expect(page.locator('#share-form [data-picker-chosen] input[name="user"]')).to_have_count(1)
    shot("account-share-form")
    page.locator("#share-submit").click()
    expect(page.locator("#panel-shares")).to_contain_text("周同事")

    # --- a contact with an email and a phone, linked to the account ------------------------------
    page.goto("/customers/contacts/")
    add_button(page).click()
    page.locator("#id_family_name").fill(FAMILY)
    page.locator("#id_given_name").fill(GIVEN)
    page.locator("#id_emails").fill(EMAIL)
    page.locator("#id_phones").fill(PHONE_TYPED)
    # The account is chosen by typing: "hz" are the initials of 杭州 (no select lists every account).
    page.locator("#id_accounts").fill("hz")
    option = page.locator("#id_accounts_options [data-picker-option]").filter(has_text=ACCOUNT_NAME)
    expect(option).to_be_visible()
    shot("contact-form-account-picker")
    page.locator("#id_accounts").press("ArrowDown")  # from the keyboard: the option becomes active
    expect(page.locator("#id_accounts")).to_have_attribute("aria-activedescendant", "id_accounts-option-0")
    page.locator("#id_accounts").press("Enter")
    expect(page.locator('[data-picker-chosen] input[name="accounts"]')).to_have_count(1)
    page.locator("#id_new_accounts_role").fill(ROLE)
    # A birthday the day after tomorrow (born in 1988, a leap year, so any day of the calendar is one).
    page.locator("#id_birthday").fill(BIRTHDAY.isoformat())
    shot("contact-form")
    save(page)
    expect(page.locator("#page-title")).to_contain_text(FAMILY + GIVEN)
    expect(page.locator("#main")).to_contain_text(ACCOUNT_NAME)
    expect(page.locator("#birthday-soon")).to_contain_text("2 天后生日")
    shot("contact-saved")
    # At a desk, 保存到通讯录 shows the card as a QR code for the phone's camera, drawn when it opens.
    page.locator("#vcard-toggle").click()
    expect(page.locator("#vcard-qr-code svg")).to_be_visible()
    expect(page.locator("#vcard-file")).to_be_visible()
    shot("contact-vcard-qr")
    page.keyboard.press("Escape")

    # --- adding the same person again: the form says so before it is saved ------------------------
    page.goto("/customers/contacts/")
    add_button(page).click()
    page.locator("#id_family_name").fill(FAMILY)
    page.locator("#id_phones").fill(PHONE_TYPED)
    page.locator("#id_phones").blur()
    found = page.locator("#duplicate-check-found")
    expect(found).to_contain_text(FAMILY + GIVEN)
    expect(found).to_contain_text("+86 138 0013 8000")
    shot("contact-form-exists")
    # By the name too, once the company is chosen (no phone or email typed): the same person there.
    page.goto("/customers/contacts/")
    add_button(page).click()
    page.locator("#id_family_name").fill(FAMILY)
    page.locator("#id_given_name").fill(GIVEN)
    page.locator("#id_accounts").fill("hz")
    page.locator("#id_accounts_options [data-picker-option]").filter(has_text=ACCOUNT_NAME).click()
    expect(found).to_contain_text(FAMILY + GIVEN)
    expect(found).to_contain_text(f"同一公司（{ACCOUNT_NAME}）")

    # --- a subsidiary: its parent chosen by typing; the group on both account pages ---------------
    page.goto("/customers/accounts/")
    add_button(page).click()
    page.locator("#id_name").fill(SUBSIDIARY)
    page.locator("#id_parent").fill("hzxh")  # the initials of 杭州西湖
    option = page.locator("#id_parent_options [data-picker-option]").filter(has_text=ACCOUNT_NAME)
    expect(option).to_be_visible()
    option.click()
    expect(page.locator('[data-picker-chosen] input[name="parent"]')).to_have_count(1)
    save(page)
    expect(page.locator("#page-title")).to_have_text(SUBSIDIARY)
    path = page.locator("#account-group-path")
    expect(path).to_contain_text(ACCOUNT_NAME)
    shot("subsidiary-saved")
    path.get_by_role("link", name=ACCOUNT_NAME).click()
    expect(page.locator("#page-title")).to_have_text(ACCOUNT_NAME)
    expect(page.locator("#account-subsidiaries")).to_contain_text(SUBSIDIARY)
    expect(page.locator("#account-group-rollups")).to_contain_text("集团内联系人")
    expect(page.locator('[data-rollup="contacts"]')).to_have_text("1")
    shot("account-group")
    page.locator('[data-rollup="accounts"] a').click()
    expect(page.locator("#filter-group")).to_be_attached()
    group_rows = page.locator("#list-table tbody tr")
    expect(group_rows).to_have_count(2)
    expect(page.locator("#list-table")).to_contain_text(SUBSIDIARY)
    shot("account-group-list")
    # Rows ticked, then Export: the file holds those rows only ("仅导出所选", chosen by the ticking).
    list_row(page.locator("#list-table"), SUBSIDIARY).locator('input[name=pk][form="bulk-form"]').check()
    page.locator("#export-toggle").click()
    expect(page.locator("#export-rows-selected")).to_be_checked()
    expect(page.locator("[data-export-selected-label]")).to_contain_text("1")
    shot("export-selected")
    chosen = list(csv.reader(io.StringIO(download(page, "csv", tmp_path).decode("utf-8-sig"))))
    assert [row[1] for row in chosen[1:]] == [SUBSIDIARY], chosen
    page.keyboard.press("Escape")

    # --- both in their lists ---------------------------------------------------------------------
    page.goto("/customers/accounts/")
    expect(list_row(page.locator("#list-table"), ACCOUNT_NAME)).to_have_count(1)
    shot("accounts-list")
    # 关注 from the list: the star after a name, pressed in place.
    star = list_row(page.locator("#list-table"), SUBSIDIARY).locator(".gx-star")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    page.locator('#list-scope [data-scope="followed"]').click()
    expect(page.locator('#list-scope [data-scope="followed"]')).to_have_attribute("aria-current", "true")
    expect(page.locator("#list-table tbody tr")).to_have_count(2)
    shot("accounts-following")
    list_row(page.locator("#list-table"), SUBSIDIARY).locator(".gx-star").click()
    expect(list_row(page.locator("#list-table"), SUBSIDIARY).locator(".gx-star")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.reload()
    expect(page.locator("#list-table tbody tr")).to_have_count(1)
    expect(page.locator("#list-table")).to_contain_text(ACCOUNT_NAME)
    page.goto("/customers/contacts/")
    row = list_row(page.locator("#list-table"), FAMILY + GIVEN)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(EMAIL)
    shot("contacts-list")

    # --- the home page names whose birthday comes this week; its link lists them -------------------
    page.goto("/")
    card = page.locator("#home-birthdays")
    expect(card).to_contain_text(FAMILY + GIVEN)
    expect(card).to_contain_text("2 天后")
    expect(page.locator("#home-following")).to_contain_text(ACCOUNT_NAME)  # followed above
    shot("home-birthdays")
    page.locator("#home-birthdays-all").click()
    expect(page.locator("#filter-birthday_within")).to_have_value("7")
    expect(list_row(page.locator("#list-table"), FAMILY + GIVEN)).to_have_count(1)
    shot("contacts-birthdays")
    page.goto("/customers/contacts/")

    # --- export the contacts list and read the files back ----------------------------------------
    expect(page.locator("#export-toggle")).to_have_text(either("导出", "Export"))
    content = download(page, "csv", tmp_path)
    assert content.startswith(b"\xef\xbb\xbf"), "CSV in UTF-8 with a BOM (Excel opens Chinese correctly)"
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(rows) == 2, rows
    header, values = rows
    assert header[0] == "记录 ID" and any(ord(ch) > 127 for ch in "".join(header[1:])), f"headers in Chinese: {header}"
    text = " ".join(values)
    assert FAMILY + GIVEN in text and EMAIL in text and PHONE_E164 in text, values
    shot("exported-csv")
    assert path_of(page).startswith("/customers/contacts/")

    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(download(page, "xlsx", tmp_path)))
    sheet = book.get_sheet_by_index(0).to_python()
    assert len(sheet) == 2 and FAMILY + GIVEN in [str(v) for v in sheet[1]], sheet
    shot("exported-xlsx")

    # --- edit the exported file as in Excel and import it back: its record ID updates that contact ---
    values[header.index("职位")] = "采购总监"
    edited = tmp_path / "edited.csv"
    edited.write_bytes(b"\xef\xbb\xbf" + csv_text([header, values]).encode("utf-8"))
    page.locator("#import-button").click()
    with page.expect_download() as info:
        page.locator("#import-template-link").click()
    template = CalamineWorkbook.from_path(info.value.path()).get_sheet_by_index(0).to_python()
    assert template[0][0] == "外部编号" and "姓名（必填）" in template[0], template[0]
    page.locator("#import-file").set_input_files(str(edited))
    page.locator("input[name=duplicate_policy][value=update]").check()
    page.locator("#import-upload-button").click()
    expect(page.locator("#map-0")).to_have_value("id")
    shot("reimport-mapping")
    page.locator("#import-start-button").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator('[data-count="updated"]')).to_have_text("1")
    expect(page.locator('[data-count="created"]')).to_have_text("0")
    page.goto("/customers/contacts/")
    expect(list_row(page.locator("#list-table"), FAMILY + GIVEN)).to_contain_text("采购总监")
    shot("reimported")

    # --- the title deleted in the file: "empty cells clear" removes it, and only it ---------------------
    values[header.index("职位")] = ""
    edited.write_bytes(b"\xef\xbb\xbf" + csv_text([header, values]).encode("utf-8"))
    page.locator("#import-button").click()
    page.locator("#import-file").set_input_files(str(edited))
    page.locator("input[name=duplicate_policy][value=update]").check()
    page.locator("#import-upload-button").click()
    page.locator("#import-blank-cells").check()
    shot("reimport-clear")
    page.locator("#import-start-button").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator('[data-count="updated"]')).to_have_text("1")
    page.goto("/customers/contacts/")
    list_row(page.locator("#list-table"), FAMILY + GIVEN).get_by_role("link", name=FAMILY + GIVEN).click()
    summary = page.locator('[data-section="summary"]')
    expect(summary.locator('.gx-unfilled [data-field="title"]')).to_be_attached()
    expect(summary.locator('[data-field="emails"]')).to_contain_text(EMAIL)
    expect(summary.locator('[data-field="phones"]')).to_contain_text("138 0013 8000")

    # --- bulk: every contact matching the list (all pages), add a tag, after a confirmation with N ----
    page.goto("/customers/contacts/")
    page.locator("thead [data-select-all]").check()
    matching = page.locator("[data-bulk-matching-box]")
    expect(matching).to_be_visible()
    matching.check()
    page.locator("[data-bulk-action]").select_option("add_tags")
    page.locator("#bulk-tags").fill("重点客户")
    page.locator("[data-bulk-submit]").click()
    expect(page.locator("#bulk-matching-count")).to_contain_text("1")
    shot("bulk-confirm")
    page.locator("#bulk-confirm").click()
    expect(page.locator("#main")).to_contain_text("1")
    page.goto("/customers/contacts/?columns=display_name,tags")
    expect(list_row(page.locator("#list-table"), FAMILY + GIVEN)).to_contain_text("重点客户")
    shot("bulk-tagged")

    # --- the jobs page (user menu) fits a phone screen --------------------------------------------
    page.set_viewport_size(PHONE)
    page.goto("/jobs/")
    expect(page.locator("#page-title")).to_have_text(either("任务", "Jobs"))
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= PHONE["width"] + 1, f"the jobs page scrolls sideways on a phone: {widths}"
    shot("jobs-phone")

    # --- on a phone the contact list is one card per person, the number a tap away ------------------
    page.goto("/customers/contacts/")
    row = list_row(page.locator("#list-table"), FAMILY + GIVEN)
    call = row.locator(f'a[href="tel:{PHONE_E164}"]')
    expect(call).to_be_visible()
    box = call.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"], f"the number is off screen: {box}"
    expect(row.locator('td[data-label="电话"]')).to_be_visible()
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= PHONE["width"] + 1, f"the contact list scrolls sideways on a phone: {widths}"
    # The bulk bar keeps to one line until a row is ticked; the headers' sort is a menu above the rows.
    expect(page.locator("[data-bulk-action]")).to_be_hidden()
    shot("contacts-phone")
    page.locator("#list-sort-toggle").click()
    page.locator("#list-sort-menu .dropdown-item").filter(has_text="名称，降序").click()
    expect(page).to_have_url(re.compile(r"ordering=-display_name"))
    expect(page.locator("#list-sort-toggle")).to_contain_text("排序：名称，降序")
    page.locator("#phone-select-all").check()
    expect(page.locator("[data-bulk-action]")).to_be_visible()
    page.locator("#phone-select-all").uncheck()
    # Whose records: a menu named after the one in use (the buttons do not fit a phone's width).
    expect(page.locator("#list-scope")).to_be_hidden()
    page.locator("#list-scope-toggle").click()
    page.locator('#list-scope-menu [data-scope-menu="mine"]').click()
    expect(page).to_have_url(re.compile(r"owner=me"))
    expect(page.locator("#list-scope-toggle")).to_contain_text("我负责的")
    row = list_row(page.locator("#list-table"), FAMILY + GIVEN)
    row.get_by_role("link", name=FAMILY + GIVEN).click()
    expect(page.locator('[data-section="summary"] a[href="tel:' + PHONE_E164 + '"]')).to_be_visible()
    # The consent trail starts folded; one tap opens it.
    consent = page.locator('details[data-section="consent"]')
    expect(consent.locator('[data-field="email_consent"]')).to_be_hidden()
    consent.locator("summary").click()
    expect(consent.locator('[data-field="email_consent"]')).to_be_visible()
    shot("contact-phone")
    # 保存到通讯录 (in 更多): the person as a vCard, which the phone offers to add to its contacts.
    with page.expect_download() as card:
        page_tool(page, "#vcard-download").click()
    assert card.value.suggested_filename == f"{FAMILY}{GIVEN}.vcf", card.value.suggested_filename
    text = Path(card.value.path()).read_text(encoding="utf-8")
    assert f"FN:{FAMILY}{GIVEN}" in text and "TEL;TYPE=" in text, text
    # After a call: "添加备注" at the top goes to the note box, cursor in it, far below on a phone.
    page.locator("#note-jump").click()
    expect(page.locator("#note-body")).to_be_focused()
    page.keyboard.type("电话沟通：下周报价")
    page.locator("#note-form button[type=submit]").click()
    expect(page.locator("#panel-timeline")).to_contain_text("电话沟通：下周报价")
    # The company's timeline (客户动态) gathers its people's: the note shows there, under the contact.
    page.locator("#main").get_by_role("link", name=ACCOUNT_NAME, exact=True).first.click()
    # On a phone the cards stack far below the fields: the row of links under the title reaches each.
    sections = page.locator("#section-nav")
    expect(sections.get_by_role("link", name="联系人", exact=True)).to_be_visible()
    sections.get_by_role("link", name="联系人", exact=True).click()
    expect(page.locator("#account-contacts")).to_be_in_viewport()
    timeline = page.locator("#panel-timeline")
    expect(timeline).to_contain_text("电话沟通：下周报价")
    expect(timeline.locator(".timeline-subject").first).to_contain_text(FAMILY + GIVEN)
    page.locator("#timeline-kind").select_option("note")
    expect(timeline.locator('[data-kind]:not([data-kind="note"])')).to_have_count(0)
    expect(timeline).to_contain_text("电话沟通：下周报价")
    shot("account-timeline-notes-phone")
    page.locator("#timeline-gathered").uncheck()
    expect(timeline).not_to_contain_text("电话沟通：下周报价")

    # --- a running job's page polls until it has finished --------------------------------------------
    pk = int(guanxi_server.shell(_JOB.format(email=seller.email)).strip().splitlines()[-1])
    page.goto(f"/jobs/{pk}/")
    expect(page.locator("#job-percent")).to_have_text("40%")
    shot("job-running-phone")
    guanxi_server.shell(_FINISH.format(pk=pk))
    expect(page.locator("#job-percent")).to_have_text("100%", timeout=8000)
    expect(page.locator("#job-result")).to_contain_text("9")
    shot("job-finished-phone")
