"""Helpers the customer services share: input tidying, places, and queuing reclassification."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from guanxi.core.db import after_commit
from guanxi.core.errors import FieldErrors
from guanxi.customers.models import CustomerProfile, TierRule
from guanxi.customers.normalize import normalize_cn_province, normalize_country

CLASSIFYING_FIELDS = frozenset(
    {"annual_revenue", "size", "employee_count", "lifecycle_stage", "industry", "region", "province", "city"}
)
MAX_HIERARCHY_DEPTH = 20
MAX_CONTACT_POINTS = 20
BATCH_SIZE = 1000


def raise_if(errors: dict[str, list[str]]) -> None:
    """Raise the collected per-field errors, if any (services gather them to report all at once)."""
    if errors:
        raise FieldErrors(errors)


def strip_texts(data: dict[str, Any], *names: str) -> None:
    """Trim the given texts in place and fold runs of spaces (the street keeps its inner spacing)."""
    for name in names:
        if isinstance(data.get(name), str):
            data[name] = " ".join(data[name].split()) if name != "street" else data[name].strip()


def clean_place(data: dict[str, Any], current: Any, errors: dict[str, list[str]]) -> str:
    """Country code and, in China, the full province name; returns the province's region (or "")."""
    strip_texts(data, "province", "city", "district", "street", "postal_code")
    if "country" in data:
        try:
            data["country"] = normalize_country(data["country"] or "")
        except ValueError as exc:
            errors["country"] = [str(exc)]
            return ""
    country = data.get("country", getattr(current, "country", "CN"))
    if data.get("province") and country == "CN":
        try:
            data["province"], region = normalize_cn_province(data["province"])
        except ValueError as exc:
            errors["province"] = [str(exc)]
            return ""
        return region
    return ""


def user_names(*user_ids: Any) -> dict[Any, str]:
    """Display names of users by id, in one query ("—" for none or unknown), for timeline texts."""
    from guanxi.identity.models import User

    ids = [i for i in user_ids if i is not None]
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=ids)} if ids else {}
    return {i: names.get(i, "—") for i in user_ids} | {None: "—"}


def classify_after_commit(account_ids: list[int] | None, *, tiers: bool = True, fit: bool = True) -> None:
    """Queue tier and fit recomputation once the transaction commits (None = every account)."""
    from guanxi.customers import tasks

    def enqueue(gathered: list[int] | None) -> None:
        ids = sorted(set(gathered)) if gathered is not None else None
        if tiers and (ids is None or TierRule.objects.filter(is_active=True).exists()):
            tasks.account_tier_recompute_task.enqueue(account_ids=ids)
        if fit and (ids is None or CustomerProfile.objects.filter(is_active=True).exists()):
            tasks.account_fit_recompute_task.enqueue(account_ids=ids)

    if account_ids is None:
        transaction.on_commit(lambda: enqueue(None), robust=True)
    else:  # a bulk batch's accounts in one task each (``one_unit``)
        after_commit(("classify", tiers, fit), list(account_ids), enqueue)
