"""A customer's structured changes in words, in its change history (``display.register_change_words``).

A person's emails, phones, companies and relations, and a company's relations, are kept in the change
log as lists of data ({"account": 12, "role": "总经理", "is_primary": true}); a rule's conditions as
its criteria. The history shows them as people read them: "上海浦江精密机械 · 总经理 (首选)", "推荐人
王五: 在行业协会年会上介绍认识", "地区: 华东; 年收入: 至少 1000万". A record the reader may not see is
not named (as fields that point at one are not: ``unseen_ids``), and the records a history names are
read in one query per field, whatever its length.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from guanxi.core.views.display import ChangeValueWords, record_names, register_change_words
from guanxi.customers.classification import describe, describe_points
from guanxi.customers.forms import point_label, point_text
from guanxi.customers.models import (
    Account,
    AccountContact,
    Contact,
    CustomerProfile,
    OrderedRule,
)
from guanxi.customers.relations import relation_label, relation_type


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _with_details(text: str, details: list[str]) -> str:
    if not details:
        return text
    joined = pgettext("between details", ", ").join(details)
    return _("%(value)s (%(details)s)") % {"value": text, "details": joined}


def contact_points(kind: str) -> Any:
    """Emails or phones, one a line: "+86 21 6123 4567 ext. 802 (工作)", as the person's page reads them."""

    def prepare(values: list[Any], user: Any) -> ChangeValueWords:
        def words(value: Any, _record_id: Any) -> list[str]:
            out = []
            for point in _items(value):
                label = point_label(point)
                out.append(_with_details(point_text(kind, point), [label] if label else []))
            return out

        return words

    return prepare


def account_links(values: list[Any], user: Any) -> ChangeValueWords:
    """A person's companies, one a line: "上海浦江精密机械有限公司 (总经理, 主要客户)"."""
    ids = {item.get("account") for value in values for item in _items(value)} - {None}
    names = record_names(Account, ids, user)
    primary = str(AccountContact._meta.get_field("is_primary").verbose_name)

    def words(value: Any, _record_id: Any) -> list[str]:
        out = []
        for link in _items(value):
            pk = link.get("account")
            details = [str(link["role"])] if link.get("role") else []
            if link.get("is_primary"):
                details.append(primary)
            out.append(_with_details(names.get(pk, f"#{pk}"), details))
        return out

    return words


def relations_of(model: type[models.Model]) -> Any:
    """A record's relations, read from its side: "推荐人 王五: 在行业协会年会上介绍认识"."""
    kind = relation_type(model)

    def prepare(values: list[Any], user: Any) -> ChangeValueWords:
        ids = {item.get(end) for value in values for item in _items(value) for end in ("first", "second")} - {None}
        names = record_names(model, ids, user)

        def words(value: Any, record_id: Any) -> list[str]:
            out = []
            for item in _items(value):
                first, second, stored = item.get("first") or 0, item.get("second") or 0, str(item.get("kind") or "")
                other = second if first == record_id else first
                try:
                    label = relation_label(kind.table(first_id=first, second_id=second, kind=stored), record_id)
                except ValueError:  # a kind no longer offered: its stored key
                    label = stored
                text = f"{label} {names.get(other, f'#{other}')}"
                if item.get("note"):
                    text = _("%(relation)s: %(note)s") % {"relation": text, "note": item["note"]}
                out.append(text)
            return out

        return words

    return prepare


def criteria(values: list[Any], user: Any) -> ChangeValueWords:
    """A rule's conditions or a profile's criteria, as the rule's page words them."""
    return lambda value, _record_id: describe(value) if isinstance(value, dict) else str(value)


def weights(values: list[Any], user: Any) -> ChangeValueWords:
    """A profile's points per criterion ("行业 40; 地区 30"), of the criteria it weighs."""

    def words(value: Any, _record_id: Any) -> str:
        if not isinstance(value, dict):
            return str(value)
        return describe_points(value)

    return words


def register_change_words_of_customers() -> None:
    for model in (Contact, Account):
        register_change_words(model, "relations", relations_of(model), label=relation_type(model).title)
    register_change_words(Contact, "emails", contact_points("emails"))
    register_change_words(Contact, "phones", contact_points("phones"))
    register_change_words(Contact, "accounts", account_links)
    for rule in OrderedRule.__subclasses__():
        register_change_words(rule, "conditions", criteria)
    register_change_words(CustomerProfile, "criteria", criteria)
    register_change_words(CustomerProfile, "weights", weights)
