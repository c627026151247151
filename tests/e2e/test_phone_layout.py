"""Browser journey of the customer screens a salesperson opens all day, on a touch phone (390 px) and at a
desk, in the 中文 UI: the lists and record pages never scroll sideways, a phone number in the desk list is
shown whole, and what a finger taps on a list (the bulk bar's button, the sort menu, a row's star and tick)
is at least 40 px tall."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.flows import list_row, sign_in, switch_language

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 800}
TAP_PX = 40

_SEED = """
import json
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
account = services.account_create(user=admin, data={{"name": "深圳前海跨境电商供应链管理有限公司"}})
people = []
for family, given, email, phone in (
    ("欧阳", "晓峰", "ouyang.xiaofeng@qianhai-crossborder-supplychain.example.com", "13760665272"),
    ("司徒", "美玲", "situ.meiling@qianhai-crossborder-supplychain.example.com", "18665116576"),
):
    people.append(services.contact_create(
        user=admin, data={{"family_name": family, "given_name": given, "title": "供应链采购总监"}},
        emails=[email], phones=[phone], accounts=[{{"account": account.pk}}],
    ).pk)
print(json.dumps({{"account": account.pk, "contacts": people}}))
"""


def _no_sideways_scroll(page: Page, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{where} scrolls sideways: {width}px"


def _tall_enough(page: Page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None and box["height"] >= TAP_PX - 0.5, f"{selector} is too small to tap: {box}"


def test_phone_layout(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(guanxi_server.shell(_SEED.format(email=accounts["admin"].email)).strip().splitlines()[-1])
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    state = page.context.storage_state()

    # --- at a desk: the phone number is read whole, not "+86 137 6066 5…" --------------------------------
    desk = make_page(viewport=DESK, storage_state=state)
    desk.goto("/customers/contacts/")
    call = list_row(desk.locator("#list-table"), "欧阳晓峰").locator('a[href^="tel:"]')
    expect(call).to_have_text("+86 137 6066 5272")
    assert call.evaluate("a => a.scrollWidth <= a.clientWidth"), "the phone number ends in …"
    _no_sideways_scroll(desk, "the contact list at 1280 px")
    shot("desk-contacts", desk)

    # --- on a touch phone: cards, no sideways scrolling, finger-sized controls ---------------------------
    phone = make_page(viewport=PHONE, is_mobile=True, has_touch=True, storage_state=state)
    for path in ("/customers/accounts/", "/customers/contacts/"):
        phone.goto(path)
        expect(phone.locator("#list-table tbody tr").first).to_be_visible()
        _no_sideways_scroll(phone, path)
        # The page's main action comes first, on the first row of its buttons, under the thumb.
        add = phone.locator("#page-actions #add-button").bounding_box()
        others = [box for box in (b.bounding_box() for b in phone.locator("#page-actions > *").all()) if box]
        assert add and add["y"] <= min(box["y"] for box in others) + 1 and add["x"] <= min(b["x"] for b in others) + 1
    phone.goto("/customers/contacts/?search=供应链")
    row = list_row(phone.locator("#list-table"), "欧阳晓峰")
    row.locator('input[type="checkbox"]').check()
    expect(phone.locator("[data-bulk-submit]")).to_be_enabled()
    for selector in ("[data-bulk-submit]", "[data-bulk-action]", "#list-sort-toggle", "#list-table .gx-star"):
        _tall_enough(phone, selector)
    # The action and its button share one row.
    action = phone.locator("[data-bulk-action]").bounding_box()
    submit = phone.locator("[data-bulk-submit]").bounding_box()
    assert action and submit and abs(action["y"] - submit["y"]) < 2, (action, submit)
    _no_sideways_scroll(phone, "the contact list with the bulk bar open")
    shot("phone-contacts-bulk", phone)

    for path in (f"/customers/accounts/{ids['account']}/", f"/customers/contacts/{ids['contacts'][0]}/"):
        phone.goto(path)
        expect(phone.locator("#page-title")).to_be_visible()
        _no_sideways_scroll(phone, path)
    shot("phone-contact", phone)

    # --- a long form keeps its Create button in sight --------------------------------------------------
    phone.goto("/customers/contacts/add/")
    save = phone.locator("#save-button")
    expect(save).to_be_in_viewport()
    _no_sideways_scroll(phone, "the contact form")
    shot("phone-contact-form", phone)
