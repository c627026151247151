"""Browser journey of 撞单保护, in the 中文 UI: a salesperson adds a company a colleague already has;
the form says whose it is as soon as the name is typed, and saving is refused with the same words,
nothing written. A company nobody has is added as usual."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Account
from tests.e2e.flows import either, sign_in, switch_language

pytestmark = pytest.mark.e2e

_SEED = """
from django_otp.plugins.otp_totp.models import TOTPDevice
from guanxi.customers import services
from guanxi.identity.models import Role, RolePermission, User
role = Role.objects.create(name={role!r}, duplicate_guard="refuse")
for action in ("view", "add", "change"):
    RolePermission.objects.create(role=role, object_type="customers.account", action=action, scope="own")
rep = User.objects.create_user(email={email!r}, password={password!r}, display_name="周撞单", role=role)
TOTPDevice.objects.create(user=rep, name="e2e authenticator", key={key!r}, confirmed=True)
colleague = User.objects.create_user(email={colleague!r}, password={password!r}, display_name="吴同事", role=role)
services.account_create(user=colleague, data={{"name": {name!r}, "owner_id": colleague.pk}})
"""

_COUNT = """
from guanxi.customers.models import Account
print(Account.objects.filter(name={name!r}).count())
"""


def test_guard_journey(page: Page, shot: Any, guanxi_server: Any, browser_errors: Any) -> None:
    token = secrets.token_hex(3)
    rep = Account(f"e2e-guard-{token}@example.com", "E2e-Passw0rd-撞单", "周撞单", secrets.token_hex(20))
    taken = f"撞单测试{token}科技有限公司"
    guanxi_server.shell(
        _SEED.format(
            role=f"销售（撞单保护 {token}）",
            email=rep.email,
            password=rep.password,
            key=rep.totp_key,
            colleague=f"e2e-colleague-{token}@example.com",
            name=taken,
        )
    )
    sign_in(page, rep, shot)
    switch_language(page, "中文")

    # --- typing the name: the form says whose it is, before anything is saved ----------------------------
    page.goto("/customers/accounts/add/")
    page.locator("#id_name").fill(taken)
    page.locator("#id_name").press("Tab")
    told = page.locator("#duplicate-check-elsewhere")
    expect(told).to_contain_text("吴同事")
    expect(told).to_contain_text(taken)
    expect(told).to_contain_text("撞单保护")
    shot("account-form-taken")

    # --- saving is refused at the name, with the same words; nothing is written --------------------------
    browser_errors.allow(r"/customers/accounts/add/: Failed to load resource: .* status of 400")
    page.get_by_role("button", name=either("保存", "创建", "新建")).click()
    expect(page.locator("#id_name_error")).to_contain_text("吴同事")
    expect(page.locator("#id_name")).to_have_value(taken)  # what was typed is still there
    assert guanxi_server.shell(_COUNT.format(name=taken)).strip().splitlines()[-1] == "1"

    # --- the same company without its legal form: told whose it is, as a similar name (not refused) ------
    page.locator("#id_name").fill(taken.removesuffix("有限公司"))
    page.locator("#id_name").press("Tab")
    expect(told).to_contain_text("名称相近")
    expect(told).to_contain_text("吴同事")
    shot("account-form-similar")
    # --- a company nobody has goes in as usual ----------------------------------------------------------
    fresh = f"新客户{token}有限公司"
    page.locator("#id_name").fill(fresh)
    page.locator("#id_name").press("Tab")
    expect(page.locator("#duplicate-check-elsewhere")).to_have_count(0)
    page.get_by_role("button", name=either("保存", "创建", "新建")).click()
    expect(page.locator("#page-title")).to_have_text(fresh)
    shot("account-added")
