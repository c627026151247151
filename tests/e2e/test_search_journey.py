"""Browser journey of global search, in the 中文 UI: find a contact from the top bar by the initials of
its pinyin and by the last four digits of its phone, open it; and the same box on a phone-size screen."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE
from tests.e2e.flows import either, path_of, sign_in, switch_language

pytestmark = pytest.mark.e2e

NAME = "诸葛明远"  # initials zgmy
COMPANY = "北京云图数据科技有限公司"
PHONE_NUMBER = "139 8765 4321"

_SEED = """
from guanxi.customers import services
from guanxi.customers.models import Contact
from guanxi.identity.models import User
user = User.objects.get(email={email!r})
if not Contact.objects.filter(display_name={name!r}).exists():
    account = services.account_create(user=user, data={{"name": {company!r}}})
    services.contact_create(
        user=user,
        data={{"family_name": "诸葛", "given_name": "明远", "title": "采购总监"}},
        phones=[{phone!r}],
        emails=["zhuge.mingyuan@yuntu.example"],
        accounts=[{{"account": account.pk}}],
    )
print(Contact.objects.get(display_name={name!r}).pk)
"""


@pytest.fixture(scope="module")
def contact_id(guanxi_server: Any, account_pool: Any) -> int:
    code = _SEED.format(email=account_pool.first("admin").email, name=NAME, company=COMPANY, phone=PHONE_NUMBER)
    return int(guanxi_server.shell(code).strip().splitlines()[-1])


def search_box(page: Page) -> Any:
    return page.get_by_role("searchbox", name=either("Search", "搜索")).or_(page.locator("#gx-search-input")).first


def suggestion(page: Page, text: str) -> Any:
    return page.locator("#gx-search-suggest [data-search-hit]").filter(has_text=text)


def test_search_journey(page: Page, shot: Any, accounts: Any, contact_id: int) -> None:
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # --- pinyin initials in the top bar: live suggestions, click the contact ---------------------------
    box = search_box(page)
    expect(box).to_be_visible()
    box.click()
    box.press_sequentially("zgmy", delay=40)
    hit = suggestion(page, NAME)
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text(COMPANY)  # the subtitle: company and phone
    expect(page.locator("#gx-search-suggest")).to_be_visible()
    shot("suggestions-initials")
    hit.click()
    page.wait_for_url(re.compile(rf"/customers/contacts/{contact_id}/$"))
    expect(page.locator("#page-title")).to_contain_text(NAME)
    shot("contact-opened")

    # --- the last four digits of the phone: choose with the keyboard ---------------------------------
    box = search_box(page)
    box.click()
    box.press_sequentially("4321", delay=40)
    # The results for "4321", not the list of records opened lately that the empty box showed (it
    # names this contact too, and arrowing through it races the results replacing it).
    expect(page.locator("#gx-search-suggest [data-search-recent]")).to_have_count(0)
    expect(suggestion(page, NAME)).to_have_count(1)
    shot("suggestions-phone")
    for _ in range(10):  # arrow down to our contact (other journeys may have made phones ending 4321)
        box.press("ArrowDown")
        if "active" in (suggestion(page, NAME).get_attribute("class") or ""):
            break
    box.press("Enter")
    page.wait_for_url(re.compile(rf"/customers/contacts/{contact_id}/$"))
    expect(page.locator("#page-title")).to_contain_text(NAME)

    # --- Enter without choosing opens the results page, grouped by type -----------------------------
    box = search_box(page)
    box.fill("诸葛")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q="))
    group = page.locator('[data-search-group="contacts"]')
    expect(group).to_contain_text(NAME)
    expect(group.locator(".card-title")).to_contain_text("联系人")
    shot("results-page")
    group.get_by_role("link").filter(has_text=NAME).click()
    expect(page.locator("#page-title")).to_contain_text(NAME)
    assert path_of(page) == f"/customers/contacts/{contact_id}/"

    # --- 最近查看: the empty box, focused anywhere, lists the records opened lately, newest first ------
    page.goto("/")
    box = search_box(page)
    box.click()
    recent = page.locator("#gx-search-suggest [data-search-recent]")
    expect(page.locator("#gx-search-recent")).to_have_text("最近查看")
    expect(recent.first).to_contain_text(NAME)
    expect(recent.first).to_contain_text("联系人")
    shot("recently-viewed")
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url(re.compile(rf"/customers/contacts/{contact_id}/$"))


def test_search_on_a_phone(make_page: Any, shot: Any, accounts: Any, contact_id: int) -> None:
    page = make_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, accounts["phone"], shot)
    switch_language(page, "中文")
    box = search_box(page)
    expect(box).to_be_visible()  # in the top bar, without opening the menu
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"
    box.tap()
    box.press_sequentially("zgmy", delay=40)
    hit = suggestion(page, NAME)
    expect(hit).to_be_visible()
    shot("phone-suggestions", page)
    hit.tap()
    page.wait_for_url(re.compile(rf"/customers/contacts/{contact_id}/$"))
    expect(page.locator("#page-title")).to_contain_text(NAME)
    shot("phone-contact", page)
