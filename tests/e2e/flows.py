"""Steps the journeys share: signing in with two-factor, switching language, using the top navigation.

Selectors are roles, labels and visible text, in both languages where a label is translated
(``either("Teams", "团队")``), so a journey keeps working while the zh-Hans catalogue fills in.
Where a control has no accessible name, the element id the UI promises is used instead and named here.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page, expect


def either(*labels: str, exact: bool = True) -> re.Pattern[str]:
    """A case-insensitive pattern matching any of the labels (whole text when ``exact``)."""
    body = "|".join(re.escape(label) for label in labels)
    return re.compile(rf"^\s*(?:{body})\s*$" if exact else f"(?:{body})", re.IGNORECASE)


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def sign_in(page: Page, account: Any, shot: Any) -> None:
    """Email + password at /login/, then the authenticator code at the two-factor step; ends at home."""
    page.goto("/login/")
    email = page.get_by_label(either("Email", "邮箱", "电子邮箱", "电子邮件"))
    expect(email).to_be_visible()
    shot("login", page)
    email.fill(account.email)
    page.get_by_label(either("Password", "密码")).fill(account.password)
    page.get_by_role("button", name=either("Sign in", "登录")).click()

    page.wait_for_url(re.compile(r"/login/2fa/"))
    # The code input: by label, or by the id the brief promises (id_otp_token).
    code = page.get_by_label(either("Code", "验证码", "代码")).or_(page.locator("#id_otp_token")).first
    expect(code).to_be_visible()
    shot("two-factor", page)
    code.fill(account.totp())
    page.get_by_role("button", name=either("Verify", "验证")).click()

    page.wait_for_url(lambda url: "/login" not in url)
    assert path_of(page) == "/", f"signed in, but landed on {page.url}"
    expect(page.get_by_role("heading", level=1)).to_contain_text(account.display_name)


def switch_language(page: Page, button_text: str) -> None:
    """The language menu of the top bar (a toggle named "Language"), then the language named in itself."""
    toggle = page.get_by_role("button", name=either("Language", "语言"))
    if toggle.count() and toggle.first.is_visible():
        toggle.first.click()
    page.get_by_role("button", name=button_text, exact=True).first.click()
    page.wait_for_load_state()


def open_menu(page: Page) -> None:
    """Tap the hamburger button of a narrow screen and wait until the menu has finished sliding open."""
    page.get_by_role("button", name=either("Open the menu", "打开菜单", "菜单")).click()
    expect(page.locator("#main-nav")).to_be_visible()
    # Bootstrap's collapse: "collapsing" while it animates, then "collapse show".
    expect(page.locator("#navbar-menu")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))


def open_nav(page: Page, group: tuple[str, ...], item: tuple[str, ...]) -> None:
    """Open a group of the main navigation and follow one of its links (opening the hamburger menu
    first on narrow screens)."""
    nav = page.locator("#main-nav")
    if not nav.is_visible():
        open_menu(page)
    link = nav.get_by_role("link", name=either(*item))
    if not link.is_visible():
        nav.get_by_role("button", name=either(*group)).click()
    expect(link).to_be_visible()
    link.click()
    page.wait_for_load_state()


def field(page: Page, name: str, *labels: str) -> Locator:
    """A form input by its label in either language; failing that, by Django's id ``id_<name>``
    (while a label's translation is not known yet)."""
    return page.get_by_label(either(*labels)).or_(page.locator(f"#id_{name}")).first


def list_row(page: Page | Locator, text: str) -> Locator:
    """The row of the results table that shows ``text``."""
    return page.get_by_role("row").filter(has_text=text)


def page_tool(page: Page, selector: str) -> Locator:
    """A page's button that waits in the 更多 menu on a phone (``#page-more-toggle``, opened here first): a
    list's tools (视图, 列, 导出, 导入: ``#import-button``...), a record's 删除, 查找重复, 退回公海, 保存到通讯录,
    交接客户. At a desk they are buttons in the row."""
    tool = page.locator(selector)
    more = page.locator("#page-more-toggle")
    if not tool.is_visible() and more.is_visible():
        more.click()
    expect(tool).to_be_visible()
    return tool


def settled(target: Locator, content: str) -> None:
    """Wait until ``content`` (a selector) has arrived in ``target`` and htmx has wired it: htmx binds
    the new content's own triggers (a form's hx-post, a picker's search box) once the swap settles,
    some 20 ms after the content shows. A person cannot type that fast; a test can."""
    expect(target.locator(content)).to_be_visible()
    expect(target).not_to_have_class(re.compile(r"\bhtmx-settling\b"))
