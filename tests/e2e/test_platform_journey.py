"""Browser journeys of the platform: sign in with two-factor, switch to Chinese, add a team and a user,
find both in the change log; and the same sign-in and navigation on a phone-size screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, SEEDED_TEAM
from tests.e2e.flows import either, field, list_row, open_menu, open_nav, path_of, sign_in, switch_language

pytestmark = pytest.mark.e2e

SETTINGS = ("Settings", "设置", "系统设置")
TEAMS = ("Teams", "团队")
USERS = ("Users", "用户")
CHANGE_LOG = ("Change log", "变更记录", "变更日志", "修改记录", "操作日志", "更改记录")

TEAM_NAME = "华北销售部"
TERRITORY = "北京"
USER_EMAIL = "zhao.min@example.com"
USER_NAME = "赵敏"


class Later:
    """Assertions whose failure should not stop the journey (so every later step still runs and is
    photographed); the test fails at the end if any of them failed."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, what: str, assertion: Any) -> None:
        try:
            assertion()
        except AssertionError as exc:
            self.failures.append(f"{what}: {str(exc).splitlines()[0]}")

    def raise_any(self) -> None:
        if self.failures:
            pytest.fail("the journey finished, but:\n  " + "\n  ".join(self.failures), pytrace=False)


def add_button(page: Page) -> Any:
    """The list page's "Add <thing>" button, among the page header's action buttons."""
    return page.locator("#page-actions").get_by_role(
        "link", name=either("Add", "增加", "添加", "新增", "新建", exact=False)
    )


def save_button(page: Page) -> Any:
    return page.get_by_role("button", name=either("Create", "Save", "创建", "保存", "新建"))


def test_platform_journey(page: Page, shot: Any, accounts: Any) -> None:
    later = Later()

    # --- sign in with password and the authenticator code -------------------------------------
    sign_in(page, accounts["admin"], shot)
    # The admin account is shared by the session's journeys; an earlier one may have saved 中文.
    if page.locator("html").get_attribute("lang") != "en":
        switch_language(page, "English")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shot("home")

    # --- switch to Chinese in the top bar -------------------------------------------------------
    switch_language(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert path_of(page) == "/", f"the language switch should come back to the same page, not {page.url}"
    nav = page.locator("#main-nav")
    expect(nav.get_by_role("link", name="首页", exact=True)).to_be_visible()
    later.check(
        "the Settings menu of the navigation reads 设置 in Chinese (zh-Hans catalogue)",
        lambda: expect(nav.get_by_role("button", name=either("设置", "系统设置"))).to_be_visible(timeout=1000),
    )
    shot("home-chinese")

    # --- Teams: add one, see it in the list ------------------------------------------------------
    nav.get_by_role("button", name=either(*SETTINGS)).click()
    expect(nav.get_by_role("link", name="用户", exact=True)).to_be_visible()
    later.check(
        "the Teams link of the navigation reads 团队 in Chinese (zh-Hans catalogue)",
        lambda: expect(nav.get_by_role("link", name="团队", exact=True)).to_be_visible(timeout=1000),
    )
    shot("settings-menu")
    nav.get_by_role("link", name=either(*TEAMS)).click()
    expect(page.locator("#page-title")).to_have_text(either(*TEAMS))
    shot("teams-list")

    add_button(page).click()
    field(page, "name", "Name", "名称", "团队名称").fill(TEAM_NAME)
    field(page, "territory", "Territory", "区域", "地区", "销售区域", "辖区").fill(TERRITORY)
    shot("team-form")
    save_button(page).click()
    expect(page.locator("#page-title")).to_have_text(TEAM_NAME)  # the new team's own page
    shot("team-saved")

    open_nav(page, SETTINGS, TEAMS)
    row = list_row(page, TEAM_NAME)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(TERRITORY)
    shot("teams-list-with-team")

    # --- Users: add one in the new team, see them in the list ------------------------------------
    open_nav(page, SETTINGS, USERS)
    expect(page.locator("#page-title")).to_have_text(either(*USERS))
    add_button(page).click()
    field(page, "email", "Email", "邮箱", "电子邮箱", "电子邮件").fill(USER_EMAIL)
    field(page, "display_name", "Display name", "显示名称", "姓名", "名称").fill(USER_NAME)
    field(page, "team", "Team", "团队").select_option(label=TEAM_NAME)
    shot("user-form")
    save_button(page).click()
    expect(page.locator("#page-title")).to_have_text(USER_NAME)  # the new user's own page
    shot("user-saved")

    open_nav(page, SETTINGS, USERS)
    row = list_row(page, USER_EMAIL)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(USER_NAME)
    shot("users-list-with-user")

    # --- the change log shows both --------------------------------------------------------------
    open_nav(page, SETTINGS, CHANGE_LOG)
    created = either("Created", "创建", "新建", "新增", "已创建", exact=False)
    table = page.locator("#list-table")
    expect(list_row(table, TEAM_NAME).filter(has_text=created)).to_have_count(1)
    expect(list_row(table, USER_NAME).filter(has_text=created)).to_have_count(1)
    shot("change-log")

    later.raise_any()


def test_phone_journey(make_page: Any, shot: Any, accounts: Any) -> None:
    page = make_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(page, accounts["phone"], shot)
    shot("home", page)

    expect(page.get_by_role("button", name=either("Open the menu", "打开菜单", "菜单"))).to_be_visible()
    expect(page.locator("#main-nav")).to_be_hidden()
    open_menu(page)
    expect(page.locator("#main-nav").get_by_role("button", name=either(*SETTINGS))).to_be_visible()
    shot("menu-open", page)

    open_nav(page, SETTINGS, TEAMS)
    expect(page.locator("#page-title")).to_have_text(either(*TEAMS))
    expect(list_row(page.locator("#list-table"), SEEDED_TEAM[0])).to_contain_text(SEEDED_TEAM[1])
    shot("teams-list", page)

    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= PHONE["width"] + 1, f"the teams list scrolls sideways on a phone: {widths}"
