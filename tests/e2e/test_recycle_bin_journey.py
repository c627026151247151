"""Browser journey of the recycle bin (回收站), in the 中文 UI: bulk-delete companies on the account
list and take it back at once (撤销); bulk-delete them again, find them in the bin (deleted by me),
tick them, restore (恢复), and see them back on the list. The bin on a phone-size screen: its rows
are cards and 恢复 is reachable once a row is ticked."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE
from tests.e2e.flows import list_row, sign_in, switch_language

pytestmark = pytest.mark.e2e

PREFIX = "回收站旅程"
NAMES = [f"{PREFIX}{city}贸易有限公司" for city in ("苏州", "无锡", "常州")]

_SEED = """
import json
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
ids = [services.account_create(user=admin, data={{"name": name}}).pk for name in {names!r}]
print(json.dumps(ids))
"""


def _bulk_delete(page: Page) -> None:
    """Tick every row of the list (filtered to the journey's companies) and move them to the bin."""
    page.goto(f"/customers/accounts/?search={PREFIX}")
    for name in NAMES:
        expect(list_row(page.locator("#list-table"), name)).to_be_visible()
    page.locator("thead [data-select-all]").check()
    page.locator("[data-bulk-action]").select_option("delete")
    page.locator("[data-bulk-submit]").click()
    page.locator("#confirm-delete").click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("已将3条记录移入回收站")


def _on_list(page: Page, count: int) -> None:
    page.goto(f"/customers/accounts/?search={PREFIX}")
    rows = page.locator("#list-table tbody tr[data-pk]")
    expect(rows).to_have_count(count)


def test_recycle_bin_journey(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(
        guanxi_server.shell(_SEED.format(email=accounts["admin"].email, names=NAMES)).strip().splitlines()[-1]
    )
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # --- 撤销 right after the bulk delete ---------------------------------------------------------------
    _bulk_delete(page)
    shot("deleted-with-undo")
    page.locator("#undo-delete-button").click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("3")
    _on_list(page, 3)
    shot("undone")

    # --- delete again, then find them in the bin and restore them ---------------------------------------
    _bulk_delete(page)
    _on_list(page, 0)
    page.goto("/settings/recycle-bin/")
    expect(page.locator('[data-bin-type="accounts"]')).to_have_attribute("aria-current", "page")
    page.locator("#bin-mine").click()
    page.wait_for_url(re.compile(r"deleted_by=me"))
    page.locator("#bin-search").fill(PREFIX)
    page.locator("#bin-filter-apply").click()
    page.wait_for_url(re.compile(r"search="))
    rows = page.locator("#bin-table tbody tr[data-pk]")
    expect(rows).to_have_count(3)
    assert sorted(int(pk) for pk in rows.evaluate_all("rows => rows.map(r => r.dataset.pk)")) == sorted(ids)
    page.locator("#bin-table thead [data-select-all]").check()
    expect(page.locator("#bin-restore")).to_be_enabled()
    shot("bin-selected")
    page.locator("#bin-restore").click()
    page.wait_for_load_state()
    expect(page.locator("#messages")).to_contain_text("3")
    expect(page.locator("#bin-table tbody tr[data-pk]")).to_have_count(0)
    _on_list(page, 3)
    shot("restored")

    # --- the bin on a phone: cards, 恢复 reachable once a row is ticked ------------------------------------
    _bulk_delete(page)
    phone = make_page(viewport=PHONE, is_mobile=True)
    sign_in(phone, accounts["admin"], shot)
    switch_language(phone, "中文")
    phone.goto(f"/settings/recycle-bin/?type=accounts&search={PREFIX}")
    expect(phone.locator("#bin-restore")).to_be_hidden()  # the bar keeps to one line until a row is ticked
    row = list_row(phone.locator("#bin-table"), NAMES[0])
    row.locator('input[type="checkbox"]').check()
    restore = phone.locator("#bin-restore")
    expect(restore).to_be_visible()
    box = restore.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"], f"恢复 is off screen: {box}"
    widths = phone.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= PHONE["width"] + 1, f"the recycle bin scrolls sideways on a phone: {widths}"
    shot("bin-phone", phone)
    restore.click()
    phone.wait_for_load_state()
    expect(phone.locator("#bin-table tbody tr[data-pk]")).to_have_count(2)
