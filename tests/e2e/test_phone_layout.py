"""Browser journey of the customer screens a salesperson opens all day, on a touch phone (390 px) and at a
desk, in the 中文 UI: the lists and record pages never scroll sideways, a phone number in the desk list is
shown whole, a list's buttons and a record's keep to one row on a phone (a list's tools, a record's 删除,
查找重复, 退回公海 in 更多, opened by keyboard too) and stay as they were at a desk, 退回公海's reasons read
whole, and what a finger taps (the bulk bar's button, the sort menu, a row's star and tick, an account's
group figures, a relation's 移除, a chosen record's ×, a form's tick) is big enough and where it belongs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.flows import list_row, page_tool, sign_in, switch_language

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 800}
TAP_PX = 40
FINGER_PX = 44  # what was smaller than a small button gets a finger's square
# A list's buttons at a desk, in their order; on a phone those between the first and the last are in 更多.
DESK_BUTTONS = (
    "#breakdown-link",
    "#saved-views-toggle",
    "#column-chooser-toggle",
    "#export-toggle",
    "#import-button",
    "#add-button",
)
# A record's header buttons at a desk, in their order; on a phone 编辑, 添加备注 and 关注 (its star) stay in the
# row and the rest wait in 更多.
_FIRST = ("#follow-button", "#edit-button", "#note-jump", "#delete-button", "#find-duplicates")
DESK_RECORD_BUTTONS = {"account": (*_FIRST, "#pool-release-toggle"), "contact": (*_FIRST, "#vcard-toggle")}
PHONE_ROW = ("#edit-button", "#follow-button", "#note-jump", "#page-more-toggle")
IN_MORE = {
    "account": ("#delete-button", "#find-duplicates", "#pool-release-toggle"),
    "contact": ("#delete-button", "#find-duplicates", "#vcard-download"),
}

_SEED = """
import json
from guanxi.customers import services
from guanxi.customers.models import Account
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
account = services.account_create(user=admin, data={{
    "name": "深圳前海跨境电商供应链管理有限公司", "registration_number": "91440300MA5FQH7K2D",
    "website": "https://www.qianhai-crossborder-supplychain.example.com",
}})
# A subsidiary (the account page's group figures link to the group's accounts and contacts) and a
# company it works with whose long name wraps on a phone (企业关系, with its 移除).
branch = services.account_create(
    user=admin, data={{"name": "深圳前海跨境供应链（东莞）分公司", "parent_id": account.pk}}
)
partner = services.account_create(user=admin, data={{"name": "广州南沙国际物流与报关服务有限公司", "city": "广州"}})
services.relation_add(model=Account, record_id=account.pk, other_id=partner.pk, kind="partner", user=admin)
people = []
for family, given, email, phone in (
    ("欧阳", "晓峰", "ouyang.xiaofeng@qianhai-crossborder-supplychain.example.com", "13760665272"),
    ("司徒", "美玲", "situ.meiling@qianhai.example.com", "18665116576"),
):
    people.append(services.contact_create(
        user=admin, data={{"family_name": family, "given_name": given, "title": "供应链采购总监"}},
        emails=[{{"value": email, "label": "work", "is_primary": True}}], phones=[phone],
        accounts=[{{"account": account.pk}}, {{"account": branch.pk}}],
    ).pk)
print(json.dumps({{"account": account.pk, "contacts": people}}))
"""

_RECORD_SEED = """
import json
from guanxi.core.models import ChangeLogEntry
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
account = services.account_create(user=admin, data={{"name": "舟山群岛远洋渔业有限公司"}})
contact = services.contact_create(
    user=admin, data={{"family_name": "皇甫", "given_name": "若水"}}, accounts=[{{"account": account.pk}}]
)
print(json.dumps({{"account": account.pk, "contact": contact.pk, "change": ChangeLogEntry.objects.latest("pk").pk}}))
"""

# Whether the first option of a native select, its placeholder, fits in it: the select shows no more.
_PLACEHOLDER_FITS = """select => {
  const style = getComputedStyle(select), text = select.options[0].text;
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return {text, need: context.measureText(text).width, room};
}"""


def _no_sideways_scroll(page: Page, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{where} scrolls sideways: {width}px"


def _tall_enough(page: Page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None and box["height"] >= TAP_PX - 0.5, f"{selector} is too small to tap: {box}"


def _finger_sized(box: dict[str, float] | None, what: str) -> None:
    assert box is not None and min(box["width"], box["height"]) >= FINGER_PX - 0.5, f"{what} is too small: {box}"


def _one_line(locator: Locator, what: str) -> None:
    """The element's text is one line: no taller than its line height."""
    lines = locator.evaluate("e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)")
    assert lines < 1.5, f"{what} takes {lines:.1f} lines"


def _same_row(boxes: list[dict[str, float] | None], what: str) -> None:
    tops = [box["y"] for box in boxes if box]
    assert len(tops) == len(boxes) and max(tops) - min(tops) < 2, f"{what} are not on one row: {boxes}"


def _tapped(page: Page, x: float, y: float, selector: str) -> int:
    """Which of the elements matching ``selector`` a tap at (x, y) of the screen reaches (-1: none)."""
    return int(
        page.evaluate(
            """([x, y, selector]) => {
              const hit = document.elementFromPoint(x, y);
              const target = hit && hit.closest(selector);
              return target ? Array.from(document.querySelectorAll(selector)).indexOf(target) : -1;
            }""",
            [x, y, selector],
        )
    )


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
    # At a desk the list's buttons stand in one row, in their order, with no 更多.
    expect(desk.locator("#page-more")).to_be_hidden()
    row = [desk.locator(f"#page-actions {selector}") for selector in DESK_BUTTONS]
    boxes = [button.bounding_box() for button in row]
    _same_row(boxes, "the desk list's buttons")
    assert [box["x"] for box in boxes if box] == sorted(box["x"] for box in boxes if box), boxes
    shot("desk-contacts", desk)
    # The group figures keep their desk size: the touch screen's squares make no row taller here.
    desk.goto(f"/customers/accounts/{ids['account']}/")
    for figure in desk.locator("#account-group-rollups dd:has(a)").all():
        box = figure.bounding_box()
        assert box is not None and box["height"] < 30, f"a group figure's row is taller at a desk: {box}"

    # --- on a touch phone: cards, no sideways scrolling, finger-sized controls ---------------------------
    phone = make_page(viewport=PHONE, is_mobile=True, has_touch=True, storage_state=state)
    for path in ("/customers/accounts/", "/customers/contacts/"):
        phone.goto(path)
        expect(phone.locator("#list-table tbody tr").first).to_be_visible()
        _no_sideways_scroll(phone, path)
        # The page's main action comes first, under the thumb, then the list's own link and 更多: one row.
        add = phone.locator("#page-actions #add-button").bounding_box()
        shown = [b for b in phone.locator("#page-actions > *").all() if b.is_visible()]
        others = [box for box in (b.bounding_box() for b in shown) if box]
        assert add and add["y"] <= min(box["y"] for box in others) + 1 and add["x"] <= min(b["x"] for b in others) + 1
        assert len(shown) <= 3, [b.evaluate("e => e.id") for b in shown]
        _same_row(others, f"the buttons of {path}")
        for selector in DESK_BUTTONS[1:-1]:
            expect(phone.locator(selector)).to_be_hidden()
    # 更多 by keyboard: Enter opens it, Tab walks its tools, Enter on 更多 again closes it.
    more = phone.locator("#page-more-toggle")
    more.focus()
    phone.keyboard.press("Enter")
    expect(phone.locator("#import-button")).to_be_visible()
    phone.keyboard.press("Tab")
    expect(phone.locator("#saved-views-toggle")).to_be_focused()
    _no_sideways_scroll(phone, "the contact list with 更多 open")
    # A tool's own menu opens inside it, on the screen.
    phone.locator("#export-toggle").click()
    expect(phone.locator("#export-submit")).to_be_in_viewport()
    shot("phone-more", phone)
    # Escape closes the tool's menu first, 更多 stays open; a second Escape closes 更多 and gives it the focus.
    phone.keyboard.press("Escape")
    expect(phone.locator("#export-submit")).to_be_hidden()
    expect(phone.locator("#import-button")).to_be_visible()
    phone.keyboard.press("Escape")
    expect(phone.locator("#import-button")).to_be_hidden()
    expect(more).to_be_focused()
    phone.keyboard.press("Enter")
    expect(phone.locator("#import-button")).to_be_visible()
    phone.keyboard.press("Enter")
    expect(phone.locator("#import-button")).to_be_hidden()
    # A tap outside 更多 and its menu closes it, as a dropdown does (guanxi.js).
    more.click()
    expect(phone.locator("#import-button")).to_be_visible()
    phone.locator("#page-title").click()
    expect(phone.locator("#import-button")).to_be_hidden()
    page_tool(phone, "#import-button")  # what the journeys use to reach a tool on either screen
    phone.goto("/customers/contacts/?search=供应链")
    row = list_row(phone.locator("#list-table"), "欧阳晓峰")
    row.locator('input[type="checkbox"]').check()
    expect(phone.locator("[data-bulk-submit]")).to_be_enabled()
    for selector in ("[data-bulk-submit]", "[data-bulk-action]", "#list-sort-toggle", "#list-table .gx-star"):
        _tall_enough(phone, selector)
    # A row's 24 px tick and 全选 take a finger's square.
    _finger_sized(row.locator(".gx-tick").bounding_box(), "a row's tick")
    box = phone.locator("#list-phone-bar .form-check").bounding_box()
    assert box is not None and box["height"] >= FINGER_PX - 0.5, f"全选 is too small: {box}"
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
    # The contact's page: 资料完整度 on one line, not a character a line.
    _one_line(phone.locator("#completeness .fw-medium"), "资料完整度")
    shot("phone-contact", phone)
    # An email's kind (工作) goes whole to the next line, not "工" after the email and "作" below it: its line
    # is narrowed to where one character of it would still fit, as it is after a longer email.
    phone.goto(f"/customers/contacts/{ids['contacts'][1]}/")
    kind = phone.locator('[data-points="emails"] li .text-secondary').first
    kind.evaluate(
        """kind => {
          const line = kind.parentElement, email = line.querySelector("a").getBoundingClientRect();
          const room = 1.6 * parseFloat(getComputedStyle(kind).fontSize);
          line.style.width = email.right - line.getBoundingClientRect().left + room + "px";
        }"""
    )
    _one_line(kind, "the email's kind")

    # --- the account page: its group figures, its relations and its long values -------------------------
    phone.goto(f"/customers/accounts/{ids['account']}/")
    figures = phone.locator("#account-group-rollups dd:has(a)")
    expect(figures.first).to_be_visible()
    for figure in figures.all():
        _finger_sized(figure.locator("a").bounding_box(), "a group figure")
        box = figure.bounding_box()
        assert box is not None and box["height"] < 30, f"the square made the group card taller: {box}"
    # 移除 stays on its relation's line; the company's long name wraps instead.
    relation = phone.locator("#account-relations [data-relation]").first
    label = relation.locator("[data-relation-label]").bounding_box()
    remove = relation.locator("[data-relation-remove]").bounding_box()
    assert label and remove, (label, remove)
    shared = min(label["y"] + label["height"], remove["y"] + remove["height"]) - max(label["y"], remove["y"])
    assert shared > 0, f"移除 is not on the relation's line: {label} {remove}"
    assert remove["x"] + remove["width"] <= PHONE["width"], remove
    # A 统一社会信用代码 and a website take the whole row, not half of it, broken mid-word.
    grid = phone.locator("#detail-fields .datagrid").first.bounding_box()
    for name in ("registration_number", "website"):
        box = phone.locator(f'#detail-fields [data-field="{name}"]').bounding_box()
        assert grid and box and box["width"] > grid["width"] * 0.9, f"{name} has half a row: {box}"
    _one_line(phone.locator('#detail-fields [data-field="registration_number"] .datagrid-content'), "the credit code")
    shot("phone-account", phone)

    # --- a chosen company's × in the contact's form takes a finger's square, the next chip's its own -------
    phone.goto(f"/customers/contacts/{ids['contacts'][0]}/edit/")
    removes = phone.locator("#id_accounts").locator("xpath=..").locator("[data-picker-remove]")
    expect(removes).to_have_count(2)
    removes.first.evaluate("e => e.scrollIntoView({block: 'center', behavior: 'instant'})")
    box = removes.first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    reach = FINGER_PX / 2 - 2
    for dx, dy in ((0, -reach), (0, reach), (-reach, 0), (reach, 0)):
        assert _tapped(phone, x + dx, y + dy, "[data-picker-remove]") == 0, f"a tap {dx, dy} px off the × missed it"

    # --- a long form keeps its Create button in sight --------------------------------------------------
    phone.goto("/customers/contacts/add/")
    save = phone.locator("#save-button")
    expect(save).to_be_in_viewport()
    _no_sideways_scroll(phone, "the contact form")
    shot("phone-contact-form", phone)
    # A form's tick (手动设置等级) was a 20 px line.
    phone.goto("/customers/accounts/add/")
    tick = phone.locator("#record-form label.form-check").first
    box = tick.bounding_box()
    assert box is not None and box["height"] >= FINGER_PX - 0.5, f"the form's tick is too small: {box}"


def _record_paths(ids: dict[str, int]) -> dict[str, str]:
    return {"account": f"/customers/accounts/{ids['account']}/", "contact": f"/customers/contacts/{ids['contact']}/"}


def test_record_buttons(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    """A record's header buttons: one row on a phone, with 删除, 查找重复, 退回公海 (or 保存到通讯录) in 更多, reached
    by keyboard; as they were at a desk; 退回公海's reasons readable on a phone."""
    ids = json.loads(guanxi_server.shell(_RECORD_SEED.format(email=accounts["admin"].email)).strip().splitlines()[-1])
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    state = page.context.storage_state()

    # --- at a desk: the buttons in one row, in their order, 关注 with its word, no 更多 ----------------------
    desk = make_page(viewport=DESK, storage_state=state)
    for kind, path in _record_paths(ids).items():
        desk.goto(path)
        expect(desk.locator("#page-more")).to_be_hidden()
        boxes = [desk.locator(f"#page-actions {selector}").bounding_box() for selector in DESK_RECORD_BUTTONS[kind]]
        _same_row(boxes, f"the desk {kind}'s buttons")
        assert [box["x"] for box in boxes if box] == sorted(box["x"] for box in boxes if box), (kind, boxes)
        word = desk.locator("#follow-button .gx-follow-word").bounding_box()
        assert word and word["width"] > 20, f"关注's word is missing at a desk: {word}"
        shot(f"desk-{kind}-buttons", desk)

    # --- on a phone: 编辑, the star, 添加备注 and 更多, in one row; the rest in 更多 --------------------------
    phone = make_page(viewport=PHONE, is_mobile=True, has_touch=True, storage_state=state)
    for kind, path in _record_paths(ids).items():
        phone.goto(path)
        shown = [b for b in phone.locator("#page-actions > *").all() if b.is_visible()]
        assert len(shown) == len(PHONE_ROW), [b.evaluate("e => e.id") for b in shown]
        row = [phone.locator(selector).bounding_box() for selector in PHONE_ROW]
        _same_row(row, f"the phone {kind}'s buttons")
        assert [box["x"] for box in row if box] == sorted(box["x"] for box in row if box), (kind, row)
        assert row[-1] and row[-1]["x"] + row[-1]["width"] <= PHONE["width"], row
        for selector in IN_MORE[kind]:
            expect(phone.locator(selector)).to_be_hidden()
        # 关注 is its star alone, still named 关注 for a screen reader, and big enough to tap.
        word = phone.locator("#follow-button .gx-follow-word").bounding_box()
        assert word and word["width"] <= 1, f"关注's word shows on a phone: {word}"
        expect(phone.locator("#follow-button")).to_have_accessible_name(re.compile("关注"))
        _tall_enough(phone, "#follow-button")
        _no_sideways_scroll(phone, path)
        shot(f"phone-{kind}-buttons", phone)
    # Following it (★ 已关注, htmx swaps the button) keeps the row.
    phone.locator("#follow-button").click()
    expect(phone.locator("#follow-button")).to_have_attribute("aria-pressed", "true")
    _same_row([phone.locator(selector).bounding_box() for selector in PHONE_ROW], "the buttons after 关注")

    # 更多 by keyboard: Enter opens it, Tab walks 删除 (clearly red), 查找重复, 退回公海; Enter on 更多 closes it.
    phone.goto(_record_paths(ids)["account"])
    more = phone.locator("#page-more-toggle")
    more.focus()
    phone.keyboard.press("Enter")
    for selector in IN_MORE["account"]:
        phone.keyboard.press("Tab")
        expect(phone.locator(selector)).to_be_focused()
        expect(phone.locator(selector)).to_be_in_viewport()
    delete = phone.locator("#delete-button")
    colours = delete.evaluate(
        """button => {
          const probe = document.createElement("span");
          probe.style.color = "var(--tblr-danger)";
          document.body.append(probe);
          const danger = getComputedStyle(probe).color;
          probe.remove();
          const style = getComputedStyle(button);
          return [danger, style.color, style.borderTopColor];
        }"""
    )
    assert colours[1] == colours[0] and colours[2] == colours[0], f"删除 is not red in 更多: {colours}"
    _no_sideways_scroll(phone, "the account with 更多 open")
    shot("phone-account-more", phone)
    # 退回公海's form opens on the screen, and its reasons' first line is read whole (the native select cut a
    # long one short: it is "— 请选择退回原因 —"); that the list may stay empty is said under it.
    phone.keyboard.press("Enter")
    select = phone.locator("#pool-release-reason-id")
    expect(select).to_be_in_viewport()
    fit = select.evaluate(_PLACEHOLDER_FITS)
    assert fit["need"] <= fit["room"], f"the reasons' placeholder is cut off: {fit}"
    expect(phone.locator("#pool-release-reason-id-hint")).to_be_visible()
    form = phone.locator("#pool-release .dropdown-menu").bounding_box()
    assert form and form["x"] >= 0 and form["x"] + form["width"] <= PHONE["width"], form
    shot("phone-release-form", phone)
    phone.keyboard.press("Escape")
    more.focus()
    phone.keyboard.press("Enter")
    expect(phone.locator("#delete-button")).to_be_hidden()
    page_tool(phone, "#find-duplicates")  # how journeys reach it on either screen

    # A page with nothing for 更多 (a change's page) shows none.
    phone.goto(f"/settings/change-log/{ids['change']}/")
    expect(phone.locator("#page-title")).to_be_visible()
    expect(phone.locator("#page-more")).to_be_hidden()
