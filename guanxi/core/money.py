"""Amounts of money as people write and read them: "500万", "1.2亿", "¥3,000,000", "2.5M".

Chinese counts large amounts in 万 (10⁴) and 亿 (10⁸): a salesperson reads 240,000,000 as 2.4亿 and
types 500万 for a revenue floor. A model names its money fields (``money_fields``, e.g. an account's
annual revenue); its forms and list filters take these words (``parse_money``), and in the Chinese UI
its lists and pages show the short form with the exact figure beside it or in its title
(``short_money``). Stored values and the API stay plain decimals.
"""

from __future__ import annotations

import decimal
import re
import unicodedata
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

#: Units after a number, longest first (千万 before 万): Chinese ones and the English k / M / B.
UNITS: dict[str, int] = {
    "千万": 10**7,
    "百万": 10**6,
    "亿": 10**8,
    "万": 10**4,
    "千": 10**3,
    "w": 10**4,  # as typed in a hurry in Chinese: 50w
    "k": 10**3,
    "m": 10**6,
    "b": 10**9,
}
_NUMBER = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(千万|百万|亿|万|千|w|k|m|b)?$")
_SEPARATORS = re.compile(r"[\s,_']")
_CURRENCY = re.compile(r"^(?:¥|\$|cny|rmb|usd|人民币)")


def money_fields(model: Any) -> frozenset[str]:
    return getattr(model, "money_fields", frozenset())


def parse_money(text: str) -> decimal.Decimal:
    """``"500万"`` -> ``Decimal("5000000")``; plain figures with group separators too. Full-width
    digits and signs are read as their ASCII twins (a Chinese keyboard's １２万). ValueError, in words
    the user can act on, for anything else."""
    raw = unicodedata.normalize("NFKC", str(text)).lower()
    cleaned = _CURRENCY.sub("", _SEPARATORS.sub("", raw)).removesuffix("元")
    match = _NUMBER.match(cleaned)
    if not match:
        raise ValueError(
            _("“%(value)s” is not an amount. Write a number, such as 5000000, 500万 or 1.2亿.") % {"value": text[:30]}
        )
    number = decimal.Decimal(match.group(1))
    unit = match.group(2)
    return number * UNITS[unit] if unit else number


def money_text(text: str) -> str:
    """A typed amount as the plain decimal text a model field or a filter takes (a ``value_cleaner``)."""
    return format(parse_money(text).normalize(), "f")


def _trimmed(value: decimal.Decimal) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def short_money(value: decimal.Decimal | int | float | None) -> str | None:
    """The Chinese short form of a large amount, to two decimals: 240000000 -> "2.4亿", 3500000 ->
    "350万"; None below 10,000 (written out as it is) and in other languages (they read the figure
    grouped by thousands)."""
    if value is None or not (get_language() or "").lower().startswith("zh"):
        return None
    amount = decimal.Decimal(str(value))
    size = abs(amount)
    if size < 10**4:
        return None
    for unit, factor in (("亿", 10**8), ("万", 10**4)):
        if size >= factor:
            shown = (amount / factor).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
            if unit == "万" and abs(shown) >= 10**4:  # 99,999,999 rounds to 1亿, not 10000万
                return _trimmed(shown / 10**4) + "亿"
            return _trimmed(shown) + unit
    return None
