"""Amounts of money as people write and read them (``guanxi.core.money``): 500万 typed in the account
form, its list filter and the API's filter; 2.4亿 shown in the Chinese UI with the whole figure at
hand; the stored value and the API's answers stay plain decimals."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from guanxi.core.money import money_text, parse_money, short_money
from guanxi.customers.import_rows import parse_amount
from guanxi.customers.models import Account
from guanxi.identity.models import User
from tests.customers.conftest import Api


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("5000000", "5000000"),
        ("5,000,000", "5000000"),
        ("500万", "5000000"),
        ("500 万元", "5000000"),
        ("1.2亿", "120000000"),
        ("1.5千万", "15000000"),
        ("¥3,000,000", "3000000"),
        ("￥３，０００，０００元", "3000000"),  # full-width, as a Chinese keyboard types it
        ("人民币 80万", "800000"),
        ("CNY 500万元", "5000000"),
        ("50w", "500000"),
        ("2.5M", "2500000"),
        ("800k", "800000"),
        ("12.50", "12.5"),
    ],
)
def test_amounts_are_read_as_people_write_them(typed: str, stored: str) -> None:
    assert money_text(typed) == stored


@pytest.mark.parametrize("typed", ["", "abc", "5万万", "1.2.3", "万", "5 million"])
def test_what_is_not_an_amount_is_said_so(typed: str) -> None:
    with pytest.raises(ValueError, match="is not an amount"):
        parse_money(typed)


@pytest.mark.parametrize(
    ("value", "chinese"),
    [
        (9999, None),  # below 1万: written out
        (10000, "1万"),
        (12345, "1.23万"),
        (3500000, "350万"),
        (99995000, "9999.5万"),
        (99999999, "1亿"),  # rounds up to 亿, not to 10000万
        (240000000, "2.4亿"),
        (123456789012, "1234.57亿"),
        (Decimal("-2500000"), "-250万"),
    ],
)
def test_large_amounts_read_in_wan_and_yi_in_chinese(value: Decimal | int, chinese: str | None) -> None:
    with translation.override("zh-hans"):
        assert short_money(value) == chinese
    with translation.override("en"):
        assert short_money(value) is None  # English reads the figure grouped by thousands


def test_the_import_reads_amounts_the_same_way() -> None:
    assert parse_amount("1.2亿") == Decimal("120000000.00")
    assert parse_amount("人民币80万元") == Decimal("800000.00")
    with pytest.raises(ValueError, match="from 0 to"):
        parse_amount("-5万")
    with pytest.raises(ValueError, match="is not an amount"):
        parse_amount("很多")


def _browser(user: User, language: str = "zh-hans") -> Client:
    User.objects.filter(pk=user.pk).update(language=language)
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


FORM = {"name": "万达示例", "currency": "CNY", "lifecycle_stage": "prospect", "country": "CN"}


@pytest.mark.django_db
def test_the_account_form_takes_500_wan_and_names_the_field_when_it_cannot(admin: User) -> None:
    client = _browser(admin)
    page = client.get("/customers/accounts/add/").content.decode()
    field = re.search(r"<input[^>]*name=\"annual_revenue\"[^>]*>", page)
    assert field is not None and 'type="text"' in field.group() and 'inputmode="decimal"' in field.group()
    refused = client.post("/customers/accounts/add/", {**FORM, "annual_revenue": "五百万"})
    assert refused.status_code == 400 and not Account.objects.filter(name="万达示例").exists()
    assert "请填写金额，如 5000000、500万 或 1.2亿。" in refused.content.decode()
    assert client.post("/customers/accounts/add/", {**FORM, "annual_revenue": "500万"}).status_code == 302
    assert Account.objects.get(name="万达示例").annual_revenue == Decimal("5000000")


@pytest.mark.django_db
def test_lists_filter_by_500_wan_and_show_yi(
    admin: User, make_account: Callable[..., Account], api_for: Callable[[User], Api]
) -> None:
    big = make_account(name="大集团", annual_revenue=Decimal("240000000"))
    mid = make_account(name="中型企业", annual_revenue=Decimal("6000000"))
    make_account(name="小店", annual_revenue=Decimal("80000"))
    # The API: one filter definition, so 500万 there too; the answers stay plain decimals.
    response = api_for(admin).get("accounts?annual_revenue__gte=500万&ordering=-annual_revenue")
    assert response.status_code == 200, response.content
    assert [(row["id"], row["annual_revenue"]) for row in response.json_body["items"]] == [
        (big.pk, "240000000.00"),
        (mid.pk, "6000000.00"),
    ]
    bad = api_for(admin).get("accounts?annual_revenue__lte=很多")
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json_body["errors"]] == ["annual_revenue__lte"]
    # The list page: a text input that takes 500万, and the amounts in 万 and 亿 (the figure in the title).
    html = _browser(admin).get("/customers/accounts/?annual_revenue__gte=500万&columns=name,annual_revenue")
    page = html.content.decode()
    control = re.search(r"<input[^>]*id=\"filter-annual_revenue__gte\"[^>]*>", page)
    assert control is not None and 'type="text"' in control.group() and 'value="500万"' in control.group()
    assert '<span title="240,000,000">2.4亿</span>' in page and '<span title="6,000,000">600万</span>' in page
    assert "小店" not in page


@pytest.mark.django_db
def test_the_group_revenue_reads_in_yi(admin: User, make_account: Callable[..., Account]) -> None:
    top = make_account(name="华夏集团", annual_revenue=Decimal("900000000"))
    make_account(name="华夏华东", parent=top, annual_revenue=Decimal("48000000"))
    page = _browser(admin).get(f"/customers/accounts/{top.pk}/").content.decode()
    assert "CNY 9.48亿 (948,000,000.00)" in page
    english = _browser(admin, "en").get(f"/customers/accounts/{top.pk}/").content.decode()
    assert "CNY 948,000,000.00" in english and "亿" not in english.split('id="account-group"', 1)[1]
