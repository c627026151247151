"""Browser journey of 号码脱敏, on a phone-size screen in the 中文 UI: a salesperson whose role sees
contacts' phones masked finds them masked on the list and on the person's page, taps 显示 for the
whole number (a tel: link), and the page's change history says who saw it."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Account
from tests.e2e.flows import sign_in, switch_language

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}

_SEED = """
import json
from django_otp.plugins.otp_totp.models import TOTPDevice
from guanxi.customers import services
from guanxi.identity.models import FieldRule, Role, RolePermission, User
role = Role.objects.create(name="电话销售（脱敏）")
for action in ("view", "add", "change"):
    RolePermission.objects.create(role=role, object_type="customers.contact", action=action, scope="own")
FieldRule.objects.create(role=role, object_type="customers.contact", field="phones", access="masked")
rep = User.objects.create_user(email={email!r}, password={password!r}, display_name="赵脱敏", role=role)
TOTPDevice.objects.create(user=rep, name="e2e authenticator", key={key!r}, confirmed=True)
contact = services.contact_create(
    user=rep, data={{"family_name": "钱", "given_name": "多多"}}, phones=[{{"value": "13812345678"}}]
)
print(json.dumps({{"contact": contact.pk}}))
"""


def test_masking_journey(page: Page, make_page: Any, shot: Any, guanxi_server: Any) -> None:
    email = f"e2e-masked-{secrets.token_hex(3)}@example.com"
    rep = Account(email, "E2e-Passw0rd-脱敏", "赵脱敏", secrets.token_hex(20))
    seeded = guanxi_server.shell(_SEED.format(email=rep.email, password=rep.password, key=rep.totp_key))
    contact = json.loads(seeded.strip().splitlines()[-1])["contact"]
    sign_in(page, rep, shot)
    switch_language(page, "中文")
    phone = make_page(viewport=PHONE, is_mobile=True, storage_state=page.context.storage_state())

    # --- the list and the page: the number masked, no way to dial or copy it ------------------------------
    phone.goto("/customers/contacts/?columns=display_name,phones")
    expect(phone.locator("body")).to_contain_text("+86 138 **** 5678")
    assert "12345678" not in phone.content()
    phone.goto(f"/customers/contacts/{contact}/")
    masked = phone.locator('[data-reveal="phones"]')
    expect(masked).to_contain_text("+86 138 **** 5678")
    expect(phone.locator('a[href^="tel:"]')).to_have_count(0)
    shot("phone-contact-masked", phone)

    # --- 显示: the whole number in place, a tel: link; the history says who saw it -----------------------
    masked.get_by_role("button", name="显示").click()
    link = phone.locator('[data-revealed="phones"] a[href="tel:+8613812345678"]')
    expect(link).to_be_visible()
    shot("phone-contact-revealed", phone)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    phone.reload()
    expect(phone.locator('[data-reveal="phones"]')).to_contain_text("+86 138 **** 5678")  # masked again
    expect(phone.locator("#panel-changes")).to_contain_text("查看完整信息")
    expect(phone.locator("#panel-changes [data-revealed-fields]")).to_contain_text("电话")
