"""Browser journey of the customer pool (公海), in the 中文 UI: open the pool from the account list, read
why a company is there, claim it (领取); release another one with a reason (退回公海) and find it in
the pool; the pool's banner on a phone-size screen. And an owner told that a company goes back to the
pool soon (即将退回公海): from the home page to the list and the company's page, where a follow-up note
keeps it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE
from tests.e2e.flows import either, list_row, open_nav, sign_in, switch_language

pytestmark = pytest.mark.e2e

CUSTOMERS = ("Customers", "客户")
ACCOUNTS = ("Accounts", "客户", "客户列表")

_SEED = """
import json
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
pooled = services.account_create(user=admin, data={{"name": "南宁八桂农业发展有限公司", "lifecycle_stage": "prospect"}})
services.pool_release(pk=pooled.pk, user=admin, reason="今年没有采购预算，明年春耕前再联系")
kept = services.account_create(user=admin, data={{"name": "汕头潮汕玩具实业有限公司", "lifecycle_stage": "prospect"}})
print(json.dumps({{"pooled": pooled.pk, "kept": kept.pk}}))
"""


def test_pool_journey(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(guanxi_server.shell(_SEED.format(email=accounts["admin"].email)).strip().splitlines()[-1])
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # --- the pool, one tap from the account list ----------------------------------------------------
    page.goto("/customers/accounts/")
    page.locator('[data-scope="pool"]').click()
    page.wait_for_url(re.compile(r"pooled_at__isnull=false"))
    expect(page.locator('[data-scope="pool"]')).to_have_attribute("aria-current", "true")
    row = list_row(page, "南宁八桂农业发展有限公司")
    expect(row).to_be_visible()
    expect(row).to_contain_text("今年没有采购预算")
    expect(list_row(page, "汕头潮汕玩具实业有限公司")).to_have_count(0)
    shot("pool-list")

    # --- claim it from its page -----------------------------------------------------------------------
    row.get_by_role("link", name="南宁八桂农业发展有限公司").click()
    page.wait_for_url(re.compile(rf"/customers/accounts/{ids['pooled']}/"))
    expect(page.locator("#pool-alert")).to_contain_text("在公海中")
    expect(page.locator("#pool-reason")).to_contain_text("明年春耕前再联系")
    shot("pooled-account")
    page.locator("#pool-claim").click()
    page.wait_for_url(re.compile(rf"/customers/accounts/{ids['pooled']}/"))
    expect(page.get_by_text(re.compile("现在由您负责"))).to_be_visible()
    expect(page.locator("#pool-alert")).to_have_count(0)
    expect(page.locator('[data-field="owner"]')).to_contain_text(accounts["admin"].display_name)
    expect(page.locator('[data-kind="pool"]').first).to_contain_text("从公海领取")
    shot("claimed")

    # --- release another one, saying why ------------------------------------------------------------
    page.goto(f"/customers/accounts/{ids['kept']}/")
    page.locator("#pool-release-toggle").click()
    # One of the release reasons (退回原因), and words of one's own.
    page.locator("#pool-release-reason-id").select_option(label="联系不上")
    reason = page.locator("#pool-release-reason")
    expect(reason).to_be_visible()
    reason.fill("联系人已离职，需要重新找到采购负责人")
    shot("release-form")
    page.locator("#pool-release-submit").click()
    page.wait_for_load_state()
    expect(page.get_by_text(re.compile("已退回公海"))).to_be_visible()
    expect(page.locator("#pool-alert")).to_contain_text("联系不上：联系人已离职")

    open_nav(page, CUSTOMERS, ACCOUNTS)
    page.locator('[data-scope="pool"]').click()
    page.wait_for_url(re.compile(r"pooled_at__isnull=false"))
    expect(list_row(page, "汕头潮汕玩具实业有限公司")).to_contain_text("联系人已离职")
    expect(list_row(page, "南宁八桂农业发展有限公司")).to_have_count(0)
    shot("released-in-pool")

    # --- the pool's statistics (公海统计): this month's moves, why accounts were released -------------
    open_nav(page, CUSTOMERS, ("Pool statistics", "公海统计"))
    expect(page.locator('[data-total="released"]')).to_have_text("2")
    expect(page.locator('[data-total="claimed"]')).to_have_text("1")
    expect(page.locator("#pool-by-reason")).to_contain_text("联系不上")
    expect(page.locator("#pool-by-person")).to_contain_text(accounts["admin"].display_name)
    shot("pool-statistics")
    # The same figures as an Excel file to send on: a sheet per table.
    with page.expect_download() as download:
        page.locator('#pool-statistics-export [data-format="xlsx"]').click()
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(download.value.path())
    assert book.sheet_names == ["合计", "按销售人员", "退回原因", "回收规则"], book.sheet_names
    totals = book.get_sheet_by_name("合计").to_python()
    assert [int(n) for n in totals[1][1:]] == [2, 0, 1], totals

    # --- on a phone: the banner and its button fit the screen ------------------------------------------
    phone = make_page(viewport=PHONE, is_mobile=True, storage_state=page.context.storage_state())
    phone.goto(f"/customers/accounts/{ids['kept']}/")
    claim = phone.locator("#pool-claim")
    expect(claim).to_have_text(either("领取"))
    box = claim.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
    shot("phone-pooled", phone)


_DUE_SEED = """
import datetime, json
from django.utils import timezone
from guanxi.customers import services
from guanxi.customers.models import Account, PoolRule
from guanxi.identity.models import User
owner = User.objects.get(email="e2e-owner@example.com")
PoolRule.objects.get_or_create(
    name="潜在客户 30 天", defaults={"idle_days": 30, "warn_days": 7, "conditions": {"lifecycle_stages": ["prospect"]}}
)
due = services.account_create(user=owner, data={"name": "NAME", "lifecycle_stage": "prospect"})
Account.objects.filter(pk=due.pk).update(created_at=timezone.now() - datetime.timedelta(days=26))
services.pool_recycle()
print(json.dumps({"due": due.pk}))
"""


def test_going_back_soon_journey(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(guanxi_server.shell(_DUE_SEED.replace("NAME", "温州瓯江电气有限公司")).strip().splitlines()[-1])
    sign_in(page, accounts["owner"], shot)
    switch_language(page, "中文")
    page.goto("/")

    # --- the home page says which company goes back, and when ------------------------------------------
    line = page.locator('[data-waiting="due"]')
    expect(line).to_contain_text("即将退回公海")
    expect(line).to_contain_text("1")
    soonest = page.locator("[data-waiting-account]").first
    expect(soonest).to_contain_text("温州瓯江电气有限公司")
    expect(soonest).to_contain_text("4 天后")
    shot("home-going-back")

    # --- the list behind it shows the date -----------------------------------------------------------
    line.click()
    page.wait_for_url(re.compile(r"pool_due_at__isnull=false"))
    row = list_row(page, "温州瓯江电气有限公司")
    expect(row).to_be_visible()
    expect(page.locator("thead")).to_contain_text("退回公海日期")
    shot("list-going-back")

    # --- the company's page warns, and a follow-up note keeps it ------------------------------------------
    row.get_by_role("link", name="温州瓯江电气有限公司").click()
    page.wait_for_url(re.compile(rf"/customers/accounts/{ids['due']}/"))
    expect(page.locator("#pool-due")).to_contain_text("4 天后退回公海")
    shot("account-going-back")
    page.locator("#pool-due-note").click()
    note = page.locator("#note-body")
    expect(note).to_be_in_viewport()
    note.fill("电话联系了采购部，下周上门演示")
    page.locator("#note-form button[type=submit]").click()
    expect(page.locator('[data-kind="note"]').first).to_contain_text("下周上门演示")
    expect(page.locator("#pool-due")).to_have_count(0)
    shot("followed-up")

    # --- on a phone: the warning and its button fit the screen ----------------------------------------
    other = json.loads(guanxi_server.shell(_DUE_SEED.replace("NAME", "宁波浦江模具有限公司")).strip().splitlines()[-1])
    phone = make_page(viewport=PHONE, is_mobile=True, storage_state=page.context.storage_state())
    phone.goto(f"/customers/accounts/{other['due']}/")
    button = phone.locator("#pool-due-note")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
    shot("phone-going-back", phone)
