"""资料完整度: how much of a customer's key information is filled in, and what is still missing.

Seed 004's second step asks that customer data be collected completely and kept accurate; a record's
page says what its owner should still find out (行业, 网站, 生日 ...), each missing item a link to its
field on the edit form. The key items are fixed here, each counting the same: those a salesperson
needs to classify, reach and visit the customer. A field the user's role hides is left out of the
count on both sides, so the figure never hints at a value one may not see.

Worked out when the page is shown, from the record and what the page read anyway (a company's
people): no column to keep in step, and nothing for an import to pay. Lists cannot filter by it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from guanxi.customers.models import Account, Contact

#: A key item: what it is called, the form field it is filled in at (the first of ``fields``), the
#: fields whose rules hide it, and whether a record has it (``extra``: what the page read besides).
Filled = Callable[[Any, dict[str, Any]], bool]


@dataclass(frozen=True)
class KeyItem:
    key: str
    label: Any
    fields: tuple[str, ...]
    filled: Filled


def _has(name: str) -> Filled:
    return lambda record, _extra: bool(getattr(record, name))


def _placed(record: Any, _extra: dict[str, Any]) -> bool:
    """In China by province; elsewhere the country says enough (as 客户分布 places them)."""
    return bool(record.province) or record.country not in ("", "CN")


ACCOUNT_ITEMS: tuple[KeyItem, ...] = (
    KeyItem("industry", _("industry"), ("industry",), _has("industry")),
    KeyItem("size", _("company size"), ("size", "employee_count"), lambda r, _e: bool(r.size or r.employee_count)),
    KeyItem("annual_revenue", _("annual revenue"), ("annual_revenue",), lambda r, _e: bool(r.annual_revenue)),
    KeyItem("registration_number", _("registration number"), ("registration_number",), _has("registration_number")),
    KeyItem("website", _("website"), ("website",), _has("website")),
    KeyItem("province", _("province or country"), ("province", "country"), _placed),
    KeyItem("street", _("street address"), ("street",), _has("street")),
    KeyItem("source", _("source"), ("source",), _has("source")),
    # Someone to talk to there: the page's contacts card read them already.
    KeyItem("contacts", _("a contact"), (), lambda _r, extra: bool(extra.get("contacts"))),
)

CONTACT_ITEMS: tuple[KeyItem, ...] = (
    KeyItem("phones", _("phone"), ("phones",), _has("phones")),
    KeyItem("emails", _("email"), ("emails",), _has("emails")),
    KeyItem("wechat_id", _("WeChat ID"), ("wechat_id",), _has("wechat_id")),
    KeyItem("accounts", _("company"), ("accounts",), lambda _r, extra: bool(extra.get("accounts"))),
    KeyItem("title", _("job title"), ("title",), _has("title")),
    KeyItem("department", _("department"), ("department",), _has("department")),
    KeyItem("birthday", _("birthday"), ("birthday",), _has("birthday")),
    KeyItem("province", _("province or country"), ("province", "country"), _placed),
)

ITEMS: dict[type[models.Model], tuple[KeyItem, ...]] = {Account: ACCOUNT_ITEMS, Contact: CONTACT_ITEMS}


@dataclass(frozen=True)
class Completeness:
    """``percent`` of the key items the user may see that are filled in; ``missing``: the others as
    (key, label, form field)."""

    percent: int
    missing: list[tuple[str, Any, str]]


def completeness(record: models.Model, hidden: Collection[str], **extra: Any) -> Completeness | None:
    """The record's completeness for a user whose role hides the fields ``hidden``; None when no key
    item is left to count. ``extra``: what the page read besides the record (``contacts=``, ``accounts=``)."""
    items = [item for item in ITEMS[type(record)] if not any(name in hidden for name in item.fields)]
    if not items:
        return None
    missing = [
        (item.key, item.label, item.fields[0] if item.fields else "")
        for item in items
        if not item.filled(record, extra)
    ]
    done = len(items) - len(missing)
    return Completeness(percent=round(100 * done / len(items)), missing=missing)
