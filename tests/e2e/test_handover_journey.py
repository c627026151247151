"""Browser journey of 交接客户 (handing over a departing salesperson's records), on a phone-size screen
in the 中文 UI: from the user's page to the handover form, whose counts, colleague picker and buttons
fit 390 px; two colleagues picked by the initials of their names, the split between them previewed;
the user deactivated afterwards."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.flows import page_tool, sign_in, switch_language

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}

_SEED = """
import json
from guanxi.customers import services
from guanxi.identity.models import User
admin = User.objects.get(email={email!r})
leaving = User.objects.create_user(email="qian.lizhi@example.com", password=None, display_name="钱离职")
taking = User.objects.create_user(email="sun.jieshou@example.com", password=None, display_name="孙接手")
sharing = User.objects.create_user(email="zhou.fendan@example.com", password=None, display_name="周分担")
ids = []
for name in ("温州瓯江电气有限公司", "宁波浦江模具有限公司"):
    ids.append(services.account_create(user=admin, data={{"name": name, "owner_id": leaving.pk}}).pk)
services.contact_create(user=admin, data={{"family_name": "周", "given_name": "采购", "owner_id": leaving.pk}})
print(json.dumps({{"leaving": leaving.pk, "taking": taking.pk, "sharing": sharing.pk, "accounts": ids}}))
"""


def test_handover_journey(page: Page, make_page: Any, shot: Any, accounts: Any, guanxi_server: Any) -> None:
    ids = json.loads(guanxi_server.shell(_SEED.format(email=accounts["admin"].email)).strip().splitlines()[-1])
    sign_in(page, accounts["admin"], shot)
    switch_language(page, "中文")
    phone = make_page(viewport=PHONE, is_mobile=True, storage_state=page.context.storage_state())

    # --- from the user's page to the form: what they own, counted -------------------------------------
    phone.goto(f"/settings/users/{ids['leaving']}/")
    page_tool(phone, "#handover-button").click()  # in 更多 on a phone
    phone.wait_for_url(re.compile(rf"/settings/users/{ids['leaving']}/handover/"))
    expect(phone.locator("#page-title")).to_contain_text("钱离职")
    expect(phone.locator('#handover-counts [data-count="2"]')).to_have_count(1)
    expect(phone.locator('#handover-counts [data-count="1"]')).to_have_count(1)

    # --- two colleagues, by the initials of their names; the split previewed; deactivate afterwards ------
    for initials, name in (("sjs", "孙接手"), ("zfd", "周分担")):
        phone.locator("#id_recipients").fill(initials)
        phone.locator("#id_recipients_options [data-picker-option]").filter(has_text=name).click()
    expect(phone.locator('#handover-form [data-picker-chosen] input[name="recipients"]')).to_have_count(2)
    phone.locator("#handover-preview").click()
    expect(phone.locator("#handover-split tbody tr")).to_have_count(2)
    # 温州 to the first named, 宁波 to the second; 周采购, at no company, to the first again.
    expect(phone.locator(f'#handover-split [data-recipient="{ids["taking"]}"] [data-share-total]')).to_have_text("2")
    expect(phone.locator(f'#handover-split [data-recipient="{ids["sharing"]}"] [data-share-total]')).to_have_text("1")
    expect(phone.locator('#handover-form [data-picker-chosen] input[name="recipients"]')).to_have_count(2)
    phone.locator("#id_deactivate").check()
    shot("phone-handover-form", phone)
    # Nothing wider than the screen: no sideways scrolling on a phone.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    submit = phone.locator("#handover-submit")
    box = submit.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"], box

    # --- done: the counts are nought, the user can no longer sign in ---------------------------------------
    submit.click()
    phone.wait_for_url(re.compile(rf"/settings/users/{ids['leaving']}/handover/$"))
    expect(phone.locator("#messages")).to_contain_text("已交接：2 条")
    expect(phone.locator("#messages")).to_contain_text("已停用")
    expect(phone.locator('#handover-counts [data-count="0"]')).to_have_count(2)
    shot("phone-handed-over", phone)
    phone.goto(f"/customers/accounts/{ids['accounts'][0]}/")
    expect(phone.locator('[data-field="owner"]')).to_contain_text("孙接手")
    phone.goto(f"/customers/accounts/{ids['accounts'][1]}/")
    expect(phone.locator('[data-field="owner"]')).to_contain_text("周分担")
