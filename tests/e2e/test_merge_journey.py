"""Browser journey of the duplicates part, in the 中文 UI: open the duplicates queue, merge two duplicates
choosing a field's value, see the result, undo the merge; and the merge form on a phone-size screen."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE
from tests.e2e.flows import either, open_nav, path_of, sign_in, switch_language

pytestmark = pytest.mark.e2e

CUSTOMERS = ("Customers", "客户")
DUPLICATES = ("Duplicates", "重复客户")

_SEED = """
import json
from guanxi.customers import services
from guanxi.customers.duplicates import duplicates_detect
from guanxi.customers.models import Contact
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
ali = services.account_create(user=admin, data={{"name": "阿里巴巴（中国）有限公司"}})
a = services.contact_create(user=admin, data={{"family_name": "张", "given_name": "三丰", "title": ""}},
    emails=["zsf@alibaba.example"], accounts=[{{"account": ali.pk, "role": "采购经理"}}])
b = services.contact_create(user=admin, data={{"family_name": "Zhang", "given_name": "Sanfeng", "title": "采购总监"}},
    emails=["zhang.sanfeng@mail.example"], phones=["13912345678"], accounts=[{{"account": ali.pk}}])
duplicates_detect(Contact, [a.pk, b.pk])
print(json.dumps({{"a": a.pk, "b": b.pk}}))
"""


def test_merge_journey(page: Page, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(guanxi_server.shell(_SEED.format(email=accounts["admin"].email)).strip().splitlines()[-1])
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # --- the queue, from the customers menu -------------------------------------------------------
    open_nav(page, CUSTOMERS, DUPLICATES)
    assert path_of(page).startswith("/customers/duplicates/"), page.url
    row = page.locator(".gx-dup-row").filter(has_text="三丰").first
    expect(row).to_be_visible()
    expect(row).to_contain_text("Sanfeng")
    expect(row).to_contain_text("%")
    shot("duplicates-queue")

    # --- merge: keep 张三丰, take the job title of the other ------------------------------------
    row.get_by_role("link", name=either("Merge…", "合并…", "合并")).click()
    page.wait_for_url(re.compile(r"/customers/duplicates/merge/"))
    form = page.locator("#merge-form")
    form.locator(f'input[name=survivor][value="{ids["a"]}"]').check()
    title = form.locator('fieldset[data-field="title"]')
    expect(title).to_contain_text("采购总监")
    title.locator(f'input[type=radio][value="{ids["b"]}"]').check()
    shot("merge-form")
    page.locator("#merge-submit").click()
    page.wait_for_url(re.compile(r"/customers/merges/\d+/"))
    expect(page.locator("#merge-status")).to_be_visible()
    expect(page.locator("#merge-survivor")).to_contain_text("张三丰")
    expect(page.locator("#merge-others")).to_contain_text("Sanfeng")
    shot("merge-result")

    # the kept contact has the chosen title and both emails; the other is gone from the lists
    page.locator("#merge-survivor a").click()
    page.wait_for_url(re.compile(rf"/customers/contacts/{ids['a']}/"))
    expect(page.locator('[data-field="title"]')).to_contain_text("采购总监")
    expect(page.locator('[data-field="emails"]')).to_contain_text("zhang.sanfeng@mail.example")
    expect(page.locator('[data-kind="merged"]')).to_be_visible()
    shot("survivor-after-merge")
    page.goto(f"/customers/contacts/{ids['b']}/")
    page.wait_for_url(re.compile(r"/customers/merges/\d+/"))  # a merged record leads to its merge

    # --- undo the merge -----------------------------------------------------------------------------
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#merge-undo").click()
    page.wait_for_load_state()
    expect(page.locator("#merge-result")).to_have_attribute("data-status", "undone")
    expect(page.locator("#merge-undo")).to_have_count(0)
    shot("merge-undone")
    page.goto(f"/customers/contacts/{ids['b']}/")
    expect(page.locator('[data-field="title"]')).to_contain_text("采购总监")
    page.goto(f"/customers/contacts/{ids['a']}/")
    expect(page.locator('[data-field="title"]')).not_to_contain_text("采购总监")
    expect(page.locator('[data-field="emails"]')).not_to_contain_text("zhang.sanfeng@mail.example")
    shot("survivor-after-undo")


def test_merge_form_on_a_phone(make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    seed = _SEED.replace("三丰", "无忌").replace("Sanfeng", "Wuji")
    ids = json.loads(guanxi_server.shell(seed.format(email=accounts["phone"].email)).strip().splitlines()[-1])
    page = make_page(viewport=PHONE)
    sign_in(page, accounts["phone"], shot)
    page.goto(f"/customers/duplicates/merge/?type=contacts&ids={ids['a']},{ids['b']}")
    expect(page.locator("#merge-form")).to_be_visible()
    # Nothing wider than the screen: the page does not scroll sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the merge form is {width}px wide on a {PHONE['width']}px screen"
    page.locator(f'[data-take-all="{ids["b"]}"]').click()
    expect(page.locator(f'input[name=survivor][value="{ids["b"]}"]')).to_be_checked()
    shot("merge-form-phone", page)
