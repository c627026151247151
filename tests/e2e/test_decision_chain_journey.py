"""Browser journey of a customer's decision chain (决策链), in the 中文 UI: a salesperson maps who
reports to whom at a company through the contact form (the manager chosen by typing their pinyin),
gives a decision role and a stance, and reads the company's people as a tree on its page, on a
desktop and on a phone; the manager's page lists their direct reports. Then the people's network
(人脉关系): two people recorded as classmates from one's page, read on the other's, removed; and the
company's relation to another (企业关系): it supplies 华东精密, which reads 采购自 on its own page; and
who of ours knows its head (我方熟人), on his page and the company's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE
from tests.e2e.flows import settled, sign_in, switch_language

pytestmark = pytest.mark.e2e

COMPANY = "苏州工业园区恒信电子有限公司"

_SEED = """
import json
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
company = services.account_create(user=admin, data={{"name": {company!r}}})
def person(family, given, title):
    return services.contact_create(user=admin, data={{"family_name": family, "given_name": given, "title": title}},
                                   accounts=[{{"account": company.pk, "role": title}}])
boss = person("端木", "正阳", "总经理")
buyer = person("慕容", "秋水", "采购经理")
clerk = person("夏侯", "子衿", "采购专员")
elsewhere = services.account_create(user=admin, data={{"name": "华东精密机械有限公司"}})
outsider = services.contact_create(user=admin, data={{"family_name": "司马", "given_name": "长风", "title": "副总裁"}},
                                   accounts=[{{"account": elsewhere.pk, "role": "副总裁"}}])
print(json.dumps({{"company": company.pk, "boss": boss.pk, "buyer": buyer.pk, "clerk": clerk.pk,
                  "outsider": outsider.pk, "elsewhere": elsewhere.pk}}))
"""


def depths(page: Page) -> list[tuple[str, str]]:
    rows = page.locator("#account-contacts [data-contact]")
    return [
        (rows.nth(i).get_attribute("data-contact") or "", rows.nth(i).get_attribute("data-depth") or "")
        for i in range(rows.count())
    ]


def choose_manager(page: Page, typed: str, name: str) -> None:
    page.locator("#id_reports_to").fill(typed)
    option = page.locator("#id_reports_to_options [data-picker-option]").filter(has_text=name)
    expect(option).to_be_visible()
    option.click()
    expect(page.locator('[data-picker-chosen] input[name="reports_to"]')).to_have_count(1)


def test_decision_chain_journey(
    page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any, browser_errors: Any
) -> None:
    admin = accounts["admin"]
    ids = json.loads(guanxi_server.shell(_SEED.format(email=admin.email, company=COMPANY)).strip().splitlines()[-1])
    sign_in(page, admin, shot)
    switch_language(page, "中文")

    # --- before: three people side by side, nobody mapped ---------------------------------------
    page.goto(f"/customers/accounts/{ids['company']}/")
    expect(page.locator("#account-contacts [data-contact]")).to_have_count(3)
    assert {depth for _pk, depth in depths(page)} == {"0"}

    # --- the buyer reports to the boss: the manager found by the initials of 端木正阳 -----------
    page.goto(f"/customers/contacts/{ids['buyer']}/edit/")
    choose_manager(page, "dmzy", "端木正阳")
    page.locator("#id_decision_role").select_option(label="采购人")
    page.locator("#id_stance").select_option(label="支持")
    shot("contact-form-decision-chain")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#page-title")).to_contain_text("慕容秋水")
    expect(page.locator('[data-field="reports_to"] a')).to_have_text("端木正阳")
    expect(page.locator('[data-field="decision_role"]')).to_contain_text("采购人")
    expect(page.locator('[data-field="stance"]')).to_contain_text("支持")
    shot("contact-decision-chain")

    # --- the clerk reports to the buyer; the boss is the decision maker -------------------------
    page.goto(f"/customers/contacts/{ids['clerk']}/edit/")
    choose_manager(page, "mrqs", "慕容秋水")
    page.get_by_role("button", name="保存").click()
    expect(page.locator('[data-field="reports_to"] a')).to_have_text("慕容秋水")
    page.goto(f"/customers/contacts/{ids['boss']}/edit/")
    page.locator("#id_decision_role").select_option(label="决策人")
    page.get_by_role("button", name="保存").click()
    # A loop is refused at the field, and what was typed stays: the boss cannot report to the clerk.
    page.goto(f"/customers/contacts/{ids['boss']}/edit/")
    choose_manager(page, "xhzj", "夏侯子衿")
    browser_errors.allow(r"/customers/contacts/\d+/edit/: Failed to load resource: .* status of 400")  # refused
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#id_reports_to_error")).to_contain_text("循环")
    shot("contact-form-loop-refused")

    # --- the manager's page lists their direct report ----------------------------------------------
    page.goto(f"/customers/contacts/{ids['boss']}/")
    expect(page.locator("#contact-reports")).to_contain_text("慕容秋水")
    expect(page.locator("#contact-reports")).not_to_contain_text("夏侯子衿")

    # --- the company's page draws its people as a tree ----------------------------------------------
    page.goto(f"/customers/accounts/{ids['company']}/")
    expect(page.locator("#account-contacts [data-contact]")).to_have_count(3)
    assert depths(page) == [(str(ids["boss"]), "0"), (str(ids["buyer"]), "1"), (str(ids["clerk"]), "2")]
    panel = page.locator("#account-contacts")
    expect(panel.locator("[data-decision-role]")).to_have_count(2)
    expect(panel.locator(f'[data-contact="{ids["buyer"]}"] [data-stance]')).to_have_text("支持")
    shot("account-decision-chain")

    # --- on a phone: the same tree, indented less, nothing wider than the screen -----------------
    phone = make_page(viewport=PHONE, is_mobile=True, has_touch=True, storage_state=page.context.storage_state())
    phone.goto(f"/customers/accounts/{ids['company']}/")
    clerk = phone.locator(f'#account-contacts [data-contact="{ids["clerk"]}"]')
    expect(clerk).to_be_visible()
    box = clerk.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"] + 1, box
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    shot("account-decision-chain-phone", phone)

    # --- 人脉关系: the clerk and a vice president elsewhere were classmates; said on the clerk's page -----
    page.goto(f"/customers/contacts/{ids['clerk']}/")
    card = page.locator("#contact-relations")
    expect(card.locator("#contact-relations-empty")).to_be_visible()
    card.locator("#relation-add-open").click()  # the form is folded until wanted, and fetched then
    settled(card.locator("#relation-form-slot"), "#relation-form")
    card.locator("#id_kind").select_option(label="同学 / 校友")
    card.locator("#id_note").fill("同济大学 2012 届")
    card.locator("#relation-add").click()  # nobody chosen yet: said at the field, the note kept
    expect(card.locator("#id_other_error")).to_contain_text("请选择对方")
    settled(card, "#id_other_error")  # the card came back whole: its picker is wired once it settles
    expect(page.locator("#contact-relations #id_note")).to_have_value("同济大学 2012 届")
    page.locator("#id_other").fill("smcf")
    # The box lists the people changed lately on focus; the search's answer then replaces them.
    expect(page.locator("#id_other_options [data-picker-option]")).to_have_count(1)
    option = page.locator("#id_other_options [data-picker-option]").filter(has_text="司马长风")
    expect(option).to_be_visible()
    shot("contact-relation-picker")
    option.click()
    page.locator("#relation-add").click()
    row = page.locator("#contact-relations [data-relation]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("司马长风")
    expect(row).to_contain_text("华东精密机械有限公司")  # their company
    expect(row.locator("[data-relation-label]")).to_have_text("同学 / 校友")
    expect(row).to_contain_text("同济大学 2012 届")
    shot("contact-relations")
    # The change history says it in words, as the card does (it showed the stored data).
    page.reload()
    history = page.locator("#panel-changes")
    expect(history).to_contain_text("人脉关系")
    expect(history).to_contain_text("同学 / 校友 司马长风：同济大学 2012 届")
    expect(history).not_to_contain_text("second")
    # The company's page: whom its people know elsewhere, the way in to 华东精密.
    page.goto(f"/customers/accounts/{ids['company']}/")
    network = page.locator("#account-network [data-relation]")
    expect(network).to_have_count(1)
    expect(network).to_contain_text("夏侯子衿")
    expect(network.locator("[data-theirs]")).to_have_text("司马长风")
    shot("account-network")
    # 企业关系: the company supplies 华东精密 (a directed kind: each side reads it its own way).
    companies = page.locator("#account-relations")
    expect(companies.locator("#account-relations-empty")).to_be_visible()
    companies.locator("#relation-add-open").click()
    settled(companies.locator("#relation-form-slot"), "#relation-form")
    companies.locator("#id_kind").select_option(label="供应商与客户")
    companies.locator("#id_note").fill("贴片电阻，月结 60 天")
    companies.locator("#id_other").fill("华东精密")
    supplied = companies.locator("#id_other_options [data-picker-option]").filter(has_text="华东精密机械有限公司")
    expect(supplied).to_be_visible()
    supplied.click()
    companies.locator("#relation-add").click()
    row = page.locator("#account-relations [data-relation]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-relation-label]")).to_have_text("供货给")
    expect(row).to_contain_text("贴片电阻，月结 60 天")
    shot("account-relations")
    page.goto(f"/customers/accounts/{ids['elsewhere']}/")
    expect(page.locator("#account-relations [data-relation-label]")).to_have_text("采购自")

    # --- 我方熟人: the administrator knows the company's head; his page and the company's say so -------
    page.goto(f"/customers/contacts/{ids['boss']}/")
    known = page.locator("#contact-acquaintances")
    expect(known.locator("#contact-acquaintances-empty")).to_be_visible()
    known.locator("#acquaintance-open").click()
    known.locator("#id_closeness").select_option(label="熟悉")
    known.locator("#id_note").fill("EMBA 同班")
    known.locator("#acquaintance-save").click()
    row = page.locator("#contact-acquaintances [data-acquaintance]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-closeness]")).to_have_text("熟悉")
    expect(row).to_contain_text("EMBA 同班")
    shot("contact-acquaintances")
    page.goto(f"/customers/accounts/{ids['company']}/")
    there = page.locator("#account-acquaintances [data-acquaintance]")
    expect(there).to_have_count(1)
    expect(there.locator("[data-contact]")).to_have_text("端木正阳")
    page.goto(f"/customers/contacts/{ids['outsider']}/")
    other_side = page.locator("#contact-relations [data-relation]")
    expect(other_side).to_contain_text("夏侯子衿")
    other_side.locator("[data-relation-remove]").click()
    expect(page.locator("#contact-relations #contact-relations-empty")).to_be_visible()
