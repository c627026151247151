"""Browser journey of notifications (通知), in the 中文 UI: follow (关注) a company; a colleague changes
it and writes a note; the bell counts two; the notifications page says who did what (修改了 … 行业)
and opens the company; all read, the count goes. The bell and the page on a phone-size screen."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE
from tests.e2e.flows import sign_in, switch_language

pytestmark = pytest.mark.e2e

_SEED = """
import json
from guanxi.customers import services
from guanxi.identity.models import User
colleague = User.objects.filter(email="colleague@example.com").first() or User.objects.create_user(
    email="colleague@example.com", password="Colleague-pass-2026", display_name="王芳", is_superuser=True
)
account = services.account_create(user=colleague, data={"name": "杭州西湖茶业有限公司"})
print(json.dumps({"account": account.pk}))
"""

_CHANGE = """
from django.contrib.contenttypes.models import ContentType
from guanxi.core.timeline import note_create
from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.identity.models import User
colleague = User.objects.get(email="colleague@example.com")
services.account_update(pk={pk}, user=colleague, data={{"industry": "manufacturing", "lifecycle_stage": "customer"}})
account_type = ContentType.objects.get_for_model(Account).pk
note_create(user=colleague, data={{"content_type_id": account_type, "object_id": {pk}, "body": "客户确认下月续约"}})
"""


def test_notifications_journey(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(guanxi_server.shell(_SEED).strip().splitlines()[-1])
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # --- follow a colleague's company ----------------------------------------------------------------
    page.goto(f"/customers/accounts/{ids['account']}/")
    page.locator("#follow-button").click()
    expect(page.locator("#follow-button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#notification-count")).to_have_count(0)

    # --- the colleague changes it and writes a note; the bell counts two -----------------------------
    guanxi_server.shell(_CHANGE.format(pk=ids["account"]))
    page.goto("/")
    expect(page.locator("#notification-count")).to_have_text("2")
    shot("bell")
    page.locator("#notification-bell-link").click()
    page.wait_for_url(re.compile(r"/notifications/"))
    items = page.locator("#notification-list .list-group-item")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("王芳 在 客户 杭州西湖茶业有限公司 写了跟进记录")
    expect(items.nth(0)).to_contain_text("客户确认下月续约")
    expect(items.nth(1)).to_contain_text("王芳 修改了 客户 杭州西湖茶业有限公司")
    expect(items.nth(1).locator(".notification-changes")).to_contain_text("行业")
    expect(items.nth(1).locator(".notification-changes")).to_contain_text("制造业")
    shot("notifications")

    # --- open one: the company's page; it is read ----------------------------------------------------
    items.nth(1).locator("a.notification-record").click()
    page.wait_for_url(re.compile(rf"/customers/accounts/{ids['account']}/"))
    expect(page.locator("#notification-count")).to_have_text("1")
    page.goto("/notifications/?unread=1")
    expect(page.locator("#notification-list .list-group-item")).to_have_count(1)
    page.locator("#notification-read-all").click()
    page.wait_for_url(re.compile(r"/notifications/$"))
    expect(page.locator("#notification-count")).to_have_count(0)
    expect(page.locator("#notification-list .gx-unread")).to_have_count(0)
    shot("all-read")

    # --- 通知设置: no more notes (跟进记录) --------------------------------------------------------------
    page.locator("#notification-settings-link").click()
    page.wait_for_url(re.compile(r"/notifications/settings/"))
    expect(page.locator("#wanted-note")).to_be_checked()
    page.locator("#wanted-note").uncheck()
    page.locator("#notification-settings-save").click()
    expect(page.locator(".alert-success, .toast, [role=status]").first).to_be_visible()
    expect(page.locator("#wanted-note")).not_to_be_checked()
    shot("settings")

    # --- on a phone: the bell in the top bar, the page in one column; the colleague's next change and
    # note tell of the change alone --------------------------------------------------------------------
    guanxi_server.shell(_CHANGE.format(pk=ids["account"]).replace("manufacturing", "retail"))
    phone = make_page(viewport=PHONE, is_mobile=True, storage_state=page.context.storage_state())
    phone.goto("/")
    expect(phone.locator("#notification-count")).to_have_text("1")
    phone.locator("#notification-bell-link").click()
    phone.wait_for_url(re.compile(r"/notifications/"))
    expect(phone.locator("#notification-list .gx-unread")).to_have_count(1)
    expect(phone.locator("#notification-list .gx-unread")).to_contain_text("修改了")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    shot("phone", phone)
