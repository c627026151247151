"""Masked fields (号码脱敏): values a role sees in part, such as a phone as ``+86 138 **** 8000``.

A field rule of access ``masked`` lets a salesperson call and write to a customer without being able
to copy the customer list's numbers out of Guanxi: lists, record pages and the API show each value
masked; exports, search, filters, sorting, cards and the change log leave it out as they do a hidden
field (``hidden_fields`` holds masked fields too, so any path that does not know masking keeps the
value back). The whole value is one request away (``guanxi.core.services.record_reveal``), written
to the change log and counted against a daily allowance (``GUANXI_REVEALS_PER_DAY``). Search finds an
email or phone by its whole value only, so many searches an hour (``guanxi.core.search.lookups``); an
import writes a masked field on the records it adds only (``guanxi.customers.import_writers``).
"""

from __future__ import annotations

import re
from typing import Any

STARS = "****"
_DIGIT_RE = re.compile(r"\d")


def mask_phone(text: str) -> str:
    """``+86 138 0013 8000`` -> ``+86 138 **** 8000``: the country code, the first three and the
    last four digits of the number stay (what a caller checks it against), the rest are stars. A
    short number keeps its last two digits."""
    head, rest = "", text
    if text.startswith("+"):
        if " " not in text:  # E.164 as stored: grouped as people read it, so the code stands apart
            text = _international(text)
        head, _sep, rest = text.partition(" ")
        head += " " if rest else ""
    digits = [match.start() for match in _DIGIT_RE.finditer(rest)]
    keep_first, keep_last = (3, 4) if len(digits) >= 9 else (0, 2)
    hidden = set(digits[keep_first : len(digits) - keep_last])
    masked = "".join("*" if index in hidden else char for index, char in enumerate(rest))
    # One run of stars however the number was grouped: "138 **** 8000", not "138 ** ** 8000".
    return head + re.sub(r"\*[\s*]*\*", STARS, masked)


def _international(e164: str) -> str:
    import phonenumbers

    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def mask_email(text: str) -> str:
    """``zhang.san@acme.com`` -> ``zh****@acme.com``: the domain stays (which company), the name
    keeps its first two characters (one when it is short)."""
    local, at, domain = text.partition("@")
    if not at:
        return mask_text(text)
    return local[: 2 if len(local) > 4 else 1] + STARS + "@" + domain


def mask_text(text: str) -> str:
    """Any other text: its first and last characters (``wxid_zhangsan`` -> ``w****n``); a short one
    is stars alone."""
    return text[0] + STARS + text[-1] if len(text) > 4 else STARS


def mask(text: str) -> str:
    """One value, by what it looks like: an email, a phone number, or other text."""
    text = str(text).strip()
    if not text:
        return ""
    if "@" in text:
        return mask_email(text)
    if text.lstrip("+").replace(" ", "").replace("-", "").isdigit():
        return mask_phone(text)
    return mask_text(text)


def masked_value(value: Any) -> Any:
    """A stored value as a reader with the field masked gets it (the API's JSON): text masked; the
    emails or phones of a contact (a list of points) each masked, without their extension; anything
    else (a number, a date) stars alone. Empty stays empty."""
    if value is None or value == "" or value == []:
        return value
    if isinstance(value, list):
        return [masked_point(item) for item in value]
    if isinstance(value, str):
        return mask(value)
    return STARS


def masked_point(point: Any) -> Any:
    if isinstance(point, dict):
        kept = {key: item for key, item in point.items() if key not in ("value", "extension")}
        return {**kept, "value": mask(str(point.get("value", ""))), "masked": True}
    return mask(str(point))
