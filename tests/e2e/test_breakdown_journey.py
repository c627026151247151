"""Browser journey of 客户分布 (the account breakdown), in the 中文 UI: from the filtered account list to
its breakdown by tier and by province, and from a value back to exactly its accounts; the figures
downloaded as Excel; the contacts' breakdown by month added; on a 390 px phone the page fits the
screen without scrolling sideways."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from python_calamine import CalamineWorkbook

from tests.e2e.flows import list_row, sign_in, switch_language

pytestmark = pytest.mark.e2e

PHONE_390 = {"width": 390, "height": 844}

_SEED = """
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
for name, tier, province in (
    ("佛山顺德电器制造有限公司", "A", "广东"),
    ("东莞长安模具有限公司", "A", "广东"),
    ("宁波北仑港物流有限公司", "B", "浙江"),
    ("温州瓯海鞋业有限公司", "", "浙江"),
):
    data = {{"name": name, "tier": tier, "province": province, "industry": "logistics"}}
    services.account_create(user=admin, data=data)
"""


def test_breakdown_journey(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    guanxi_server.shell(_SEED.format(email=accounts["admin"].email))
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")

    # --- from the filtered list to its breakdown ---------------------------------------------------
    page.goto("/customers/accounts/?industry=logistics")
    page.locator("#breakdown-link").click()
    page.wait_for_url(re.compile(r"/customers/accounts/breakdown/\?industry=logistics"))
    expect(page.locator("#page-title")).to_contain_text("客户分布")
    expect(page.locator('[data-by="tier"]')).to_have_attribute("aria-current", "page")
    expect(page.locator("#breakdown-total")).to_have_attribute("data-total", "4")
    expect(page.locator('#breakdown-rows [data-value="A"]')).to_have_attribute("data-count", "2")
    expect(page.locator("#breakdown-rows")).to_contain_text("未分级")
    shot("breakdown-tier")

    # The figures as Excel: the same counts, under the dimension's name.
    with page.expect_download() as download:
        page.locator('#breakdown-export [data-format="xlsx"]').click()
    assert download.value.suggested_filename.startswith("客户分布_客户等级_"), download.value.suggested_filename
    content = Path(download.value.path()).read_bytes()
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert rows[0][:2] == ["客户等级", "数量"] and rows[-1][:2] == ["合计", 4], rows

    # --- by province; a value opens the list with just its accounts -------------------------------------
    page.locator('[data-by="province"]').click()
    page.wait_for_url(re.compile(r"by=province"))
    page.locator('#breakdown-rows [data-value="浙江省"]').click()
    page.wait_for_url(re.compile(r"/customers/accounts/\?"))
    expect(list_row(page, "宁波北仑港物流有限公司")).to_be_visible()
    expect(list_row(page, "温州瓯海鞋业有限公司")).to_be_visible()
    expect(list_row(page, "佛山顺德电器制造有限公司")).to_have_count(0)
    shot("breakdown-row-list")

    # --- the contacts' breakdown by month added, from the contact list --------------------------------
    page.goto("/customers/contacts/")
    page.locator("#breakdown-link").click()
    page.wait_for_url(re.compile(r"/customers/contacts/breakdown/"))
    expect(page.locator("#page-title")).to_contain_text("联系人分布")
    page.locator('[data-by="month"]').click()
    page.wait_for_url(re.compile(r"by=month"))
    # The journeys share one server: whatever contacts the others left, counted by month.
    expect(page.locator('[data-by="month"]')).to_have_attribute("aria-current", "page")
    expect(page.locator("#breakdown-total")).to_contain_text("位联系人")
    shot("contact-breakdown-month")

    # --- on a phone: nothing wider than the screen -------------------------------------------------------
    phone = make_page(viewport=PHONE_390, is_mobile=True, storage_state=page.context.storage_state())
    phone.goto("/customers/accounts/breakdown/?industry=logistics&by=owner")
    expect(phone.locator("#breakdown-rows a").first).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_390["width"], width
    box = phone.locator("#breakdown-rows a").first.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE_390["width"], box
    shot("phone-breakdown", phone)
