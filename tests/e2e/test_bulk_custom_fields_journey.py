"""Browser journey of the list's 修改字段 with a custom field (自定义字段), in the 中文 UI: tick two of
three companies, open 修改字段, choose 合作等级 (setting it ticks its 修改 box), apply, and see it on
both companies' pages, not on the third. The same form on a phone (390 px): no sideways scroll, the
custom field's tick and select on screen."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.flows import list_row, sign_in, switch_language

pytestmark = pytest.mark.e2e

PREFIX = "自定义字段旅程"
NAMES = [f"{PREFIX}{city}机械有限公司" for city in ("嘉兴", "湖州", "绍兴")]
PHONE_390 = {"width": 390, "height": 844}

_SEED = """
import json
from guanxi.core.models import CustomFieldDefinition
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
CustomFieldDefinition.objects.get_or_create(
    object_type="customers.account", key="journey_grade",
    defaults=dict(label_zh="合作等级", label_en="Partner level", field_type="choice", choices=["金牌", "银牌"]),
)
ids = [services.account_create(user=admin, data={{"name": name}}).pk for name in {names!r}]
print(json.dumps(ids))
"""


def _open_bulk_edit(page: Page) -> None:
    """The journey's first two companies ticked on the list, then 修改字段."""
    page.goto(f"/customers/accounts/?search={PREFIX}")
    table = page.locator("#list-table")
    for name in NAMES[:2]:
        list_row(table, name).locator('input[name=pk][form="bulk-form"]').check()
    page.locator("[data-bulk-action]").select_option("edit")
    page.locator("[data-bulk-submit]").click()
    expect(page.locator("#bulk-edit-form")).to_be_visible()


def test_bulk_custom_field_journey(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(
        guanxi_server.shell(_SEED.format(email=accounts["admin"].email, names=NAMES)).strip().splitlines()[-1]
    )
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")

    _open_bulk_edit(page)
    expect(page.locator("#bulk-edit-custom")).to_have_text("更多字段")
    tick = page.locator('input[name="_apply"][value="cf_journey_grade"]')
    expect(tick).not_to_be_checked()
    page.locator('select[name="cf_journey_grade"]').select_option("金牌")
    expect(tick).to_be_checked()  # choosing a value ticks its 修改 box (guanxi.js)
    shot("bulk-edit-custom-field")
    page.locator("#bulk-apply").click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("已更新2条记录")

    for pk, name in zip(ids, NAMES, strict=True):
        page.goto(f"/customers/accounts/{pk}/")
        custom = page.locator("#detail-custom-fields")
        if name in NAMES[:2]:
            expect(custom).to_contain_text("合作等级")
            expect(custom).to_contain_text("金牌")
            shot(f"record-{pk}-with-custom-field")
        else:  # the third was not ticked
            expect(page.locator("body")).not_to_contain_text("金牌")

    # --- the same form on a phone ------------------------------------------------------------------------
    phone = make_page(viewport=PHONE_390, is_mobile=True)
    sign_in(phone, accounts["admin"], shot)
    switch_language(phone, "中文")
    _open_bulk_edit(phone)
    for selector in (
        'input[name="_apply"][value="cf_journey_grade"]',
        'select[name="cf_journey_grade"]',
        "#bulk-apply",
    ):
        target = phone.locator(selector)
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_390["width"], (selector, box)
    widths = phone.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= PHONE_390["width"] + 1, f"the bulk edit form scrolls sideways on a phone: {widths}"
    shot("bulk-edit-phone", phone)
