"""Search, filters and sort orders of the customer lists, shared by the API and the list pages."""

from __future__ import annotations

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from guanxi.core.errors import FieldErrors
from guanxi.core.filters import FilterSet, through
from guanxi.customers.models import Account, AccountContact, Contact, ContactPoint, CustomerProfile, TierRule
from guanxi.customers.normalize import normalize_email, normalize_phone, prefix_upper_bound

OWNERSHIP_FILTERS: dict[str, tuple[str, ...]] = {
    "owner": ("exact", "in", "isnull"),
    "team": ("exact", "in", "isnull"),
    "created_at": ("gte", "lte"),
    "updated_at": ("gte", "lte"),
}
PLACE_FILTERS: dict[str, tuple[str, ...]] = {
    "country": ("exact", "in"),
    "province": ("exact", "in"),
    "city": ("exact", "in", "icontains"),
    "district": ("exact", "icontains"),
}


class AccountFilterSet(FilterSet):
    model = Account
    search_fields = ("name", "legal_name", "website")
    search_index = True  # names with their pinyin, websites
    filters = {
        **OWNERSHIP_FILTERS,
        **PLACE_FILTERS,
        "name": ("exact", "icontains", "startswith"),
        "industry": ("exact", "in"),
        "size": ("exact", "in"),
        "lifecycle_stage": ("exact", "in"),
        "source": ("exact", "in"),
        "tier": ("exact", "in"),
        "tier_locked": ("exact",),
        "region": ("exact", "in"),
        "parent": ("exact", "in", "isnull"),
        "annual_revenue": ("gte", "lte"),
        "external_id": ("exact", "in"),
        "employee_count": ("gte", "lte", "isnull"),
        "fit_score": ("gte", "lte", "isnull"),
        "fit_profile": ("exact", "isnull"),
        "tag": ("exact", "in"),
    }
    ordering_fields = ("id", "name", "created_at", "updated_at", "annual_revenue")
    default_ordering = "-updated_at"


def _ids(param: str, raw: str) -> list[int]:
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise FieldErrors({param: [_("Use account ids, e.g. 12 or 12,15.")]}) from None


class ContactFilterSet(FilterSet):
    model = Contact
    search_fields = ("display_name", "title", "department")
    search_index = True  # names with their pinyin, emails, phones, companies (title: its own filter)
    governed_by = {"account": "accounts", "email": "emails", "phone": "phones"}
    filters = {
        **OWNERSHIP_FILTERS,
        **PLACE_FILTERS,
        "display_name": ("exact", "icontains", "startswith"),
        "title": ("exact", "icontains"),
        "department": ("exact", "icontains"),
        "wechat_id": ("exact",),
        "external_id": ("exact", "in"),
        "email_consent": ("exact",),
        "sms_consent": ("exact",),
        "phone_consent": ("exact",),
        "birthday": ("gte", "lte", "isnull"),
        # Custom: contacts linked to an account; by an email; by a phone number or its last digits.
        "account": ("exact", "in", "isnull"),
        "email": ("exact",),
        "phone": ("exact", "endswith"),
        "tag": ("exact", "in"),
    }
    ordering_fields = ("id", "display_name", "created_at", "updated_at")
    default_ordering = "-updated_at"

    def custom_filter(self, qs: models.QuerySet, name: str, lookup: str, raw: str) -> models.QuerySet:
        # Through the link and contact-point tables (``through``: their few ids first, or row by row
        # when they are many). A contact at two of the accounts asked for is listed once.
        if name == "account":
            if lookup == "isnull":
                linked = Exists(AccountContact.objects.filter(contact=OuterRef("pk")))
                return qs.filter(~linked) if raw.lower() in {"true", "1"} else qs.filter(linked)
            ids = _ids(f"account__{lookup}" if lookup != "exact" else "account", raw)
            return through(qs, AccountContact.objects.filter(account_id__in=ids), "contact_id")
        if name == "email":
            try:
                value = normalize_email(raw)
            except ValueError as exc:
                raise FieldErrors({"email": [str(exc)]}) from None
            return through(qs, ContactPoint.objects.filter(kind="email", value=value), "contact_id")
        if name != "phone":
            return super().custom_filter(qs, name, lookup, raw)
        if lookup == "endswith":
            digits = "".join(ch for ch in raw if ch.isdigit())
            if len(digits) < 4:
                raise FieldErrors({"phone__endswith": [_("Give at least the last 4 digits.")]})
            prefix = digits[::-1]
            match = Q(digits_reversed__gte=prefix)
            upper = prefix_upper_bound(prefix)
            if upper is not None:
                match &= Q(digits_reversed__lt=upper)
            return through(qs, ContactPoint.objects.filter(match, kind="phone"), "contact_id")
        try:
            value = normalize_phone(raw).e164
        except ValueError as exc:
            raise FieldErrors({"phone": [str(exc)]}) from None
        return through(qs, ContactPoint.objects.filter(kind="phone", value=value), "contact_id")


class TierRuleFilterSet(FilterSet):
    model = TierRule
    search_fields = ("name", "description")
    filters = {"tier": ("exact", "in"), "is_active": ("exact",)}
    ordering_fields = ("id", "position", "name", "created_at", "updated_at")
    default_ordering = "position"


class CustomerProfileFilterSet(FilterSet):
    model = CustomerProfile
    search_fields = ("name", "description")
    filters = {"is_active": ("exact",)}
    ordering_fields = ("id", "name", "created_at", "updated_at")
    default_ordering = "name"
