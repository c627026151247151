"""Search, filters and sort orders of the customer lists, shared by the API and the list pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.db.models import Exists, F, Func, OuterRef, Q
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from guanxi.core.errors import FieldErrors
from guanxi.core.filters import FilterSet, through
from guanxi.customers import birthdays
from guanxi.customers.hierarchy import group_ids, group_members
from guanxi.customers.models import (
    Account,
    AccountContact,
    Acquaintance,
    AssignmentRule,
    Contact,
    ContactPoint,
    CustomerProfile,
    PoolReason,
    PoolRule,
    TierRule,
)
from guanxi.customers.normalize import (
    compact_registration_number,
    country_choices,
    normalize_cn_province,
    normalize_country,
    normalize_email,
    normalize_phone,
    prefix_upper_bound,
)
from guanxi.customers.relations import related_ids

OWNERSHIP_FILTERS: dict[str, tuple[str, ...]] = {
    "owner": ("exact", "in", "isnull"),
    "team": ("exact", "in", "isnull"),
    # __lt: before a day, as a month's records are picked (created_at__gte=2025-03-01&created_at__lt=2025-04-01:
    # the days read in the reader's time zone; the breakdown by month added links so).
    "created_at": ("gte", "lte", "lt"),
    "updated_at": ("gte", "lte"),
}
PLACE_FILTERS: dict[str, tuple[str, ...]] = {
    "country": ("exact", "in"),
    "province": ("exact", "in"),
    "city": ("exact", "in", "icontains"),
    "district": ("exact", "icontains"),
}


def _province(text: str) -> str:
    """广东 or Guangdong as stored (广东省); a province or state elsewhere stays as typed."""
    try:
        return normalize_cn_province(text)[0]
    except ValueError:
        return text


# A place filter reads what people type, as the forms and imports do: 中国, 广东.
PLACE_CLEANERS: dict[str, Callable[[str], str]] = {"country": normalize_country, "province": _province}
PLACE_OPTIONS: dict[str, Callable[[], Sequence[tuple[str, str]]]] = {
    "country": lambda: country_choices(get_language() or "")
}


#: ``industry=none``: the accounts that leave a field blank, where a filter on it is offered (a link
#: from the account breakdown's "(none)" row, the list's selects).
EMPTY_VALUE = "none"
#: ``tier=none``: the accounts no tier rule has placed yet, and none set by hand.
NO_TIER = EMPTY_VALUE


class AccountFilterSet(FilterSet):
    model = Account
    search_fields = ("name", "legal_name", "website")
    search_index = True  # names with their pinyin, websites
    # A registration number is looked up as stored (9111 0000-… -> 91110000…), checked or not.
    value_cleaners = {**PLACE_CLEANERS, "registration_number": compact_registration_number}
    option_lists = PLACE_OPTIONS
    empty_values = {
        "tier": (NO_TIER, gettext_lazy("No tier")),
        **{
            name: (EMPTY_VALUE, gettext_lazy("(none)"))
            for name in ("industry", "size", "source", "region", "country", "province")
        },
    }
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
        "registration_number": ("exact", "in"),
        "employee_count": ("gte", "lte", "isnull"),
        "fit_score": ("gte", "lte", "isnull"),
        "fit_profile": ("exact", "isnull"),
        # "Not followed up since …": last_interaction_at__lte, or __isnull=true for never.
        "engagement": ("gte", "lte"),
        "last_interaction_at": ("gte", "lte", "isnull"),
        # The customer pool (公海): pooled_at__isnull=false; since when: __gte / __lte.
        "pooled_at": ("gte", "lte", "isnull"),
        # Going back to the pool soon (the nightly run dates them): pool_due_at__isnull=false.
        "pool_due_at": ("gte", "lte", "isnull"),
        "tag": ("exact", "in", "not"),  # tag__not=意向::*: without any 意向 yet (core.tags)
        "followed": ("exact",),  # followed=me: the records the user follows (关注)
        # Custom: the account ``group=`` names and every account below it, at any depth.
        "group": ("exact",),
        # Custom: the companies related to one (企业关系: its suppliers, customers, partners...).
        "related_to": ("exact",),
    }
    indexed_ranges = ("annual_revenue", "engagement", "last_interaction_at", "fit_score")
    ordering_fields = (
        "id",
        "name",
        "created_at",
        "updated_at",
        "annual_revenue",
        "engagement",
        "last_interaction_at",
        "fit_score",
        "pooled_at",
        "pool_due_at",
    )
    default_ordering = "-updated_at"
    pickers = {
        "group": ("accounts", gettext_lazy("Account group")),
        "related_to": ("accounts", gettext_lazy("Related to")),
    }

    def custom_filter(self, qs: models.QuerySet, name: str, lookup: str, raw: str) -> models.QuerySet:
        if name == "related_to":
            return qs.filter(pk__in=related_ids(self.user, Account, _one_id("related_to", raw)))
        if name != "group":
            return super().custom_filter(qs, name, lookup, raw)
        return qs.filter(pk__in=group_ids(_one_id("group", raw)))


def links_to(qs: models.QuerySet, accounts: Any) -> models.QuerySet:
    """``qs`` (contacts) narrowed to those linked to any of ``accounts`` (ids, or a subquery of them).

    Checked contact by contact (``through``'s second way), the account is compared as ``+account_id``,
    which no index can serve: otherwise SQLite probes the (account, contact) index once per account
    asked for, for every contact down the list, instead of reading the contact's own few links.
    For a group of 2,001 accounts at a million contacts: 224 ms -> 9 ms.
    """
    unindexed = Func(F("account_id"), template="+%(expressions)s", output_field=models.BigIntegerField())
    return through(
        qs,
        AccountContact.objects.filter(account_id__in=accounts),
        "contact_id",
        check=AccountContact.objects.alias(any_account=unindexed).filter(any_account__in=accounts),
    )


def account_ids(param: str, raw: str) -> list[int]:
    """Account ids as a query string gives them, "12" or "12,15"; anything else is a 400 on ``param``."""
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise FieldErrors({param: [_("Use account ids, e.g. 12 or 12,15.")]}) from None


def _days(param: str, raw: str) -> int:
    try:
        days = int(raw)
    except ValueError:
        days = -1
    if not 0 <= days <= birthdays.MAX_DAYS:
        message = _("Give a number of days from 0 (today) to %(most)d.") % {"most": birthdays.MAX_DAYS}
        raise FieldErrors({param: [message]})
    return days


def _one_id(param: str, raw: str, model: type[models.Model] = Account) -> int:
    try:
        return int(raw)
    except ValueError:
        if model is Contact:
            raise FieldErrors({param: [_("Use one contact id, e.g. 12.")]}) from None
        raise FieldErrors({param: [_("Use one account id, e.g. 12.")]}) from None


class ContactFilterSet(FilterSet):
    model = Contact
    search_fields = ("display_name", "title", "department")
    search_index = True  # names with their pinyin, emails, phones, companies (title: its own filter)
    governed_by = {
        "account": "accounts",
        "group": "accounts",
        "email": "emails",
        "phone": "phones",
        "birthday_within": "birthday",
    }
    value_cleaners = PLACE_CLEANERS
    option_lists = PLACE_OPTIONS
    # decision_role=none: the people not yet mapped (a link from the contact breakdown's "(none)" row).
    empty_values = {
        name: (EMPTY_VALUE, gettext_lazy("(none)"))
        for name in ("country", "province", "decision_role", "stance", "source")
    }
    filters = {
        **OWNERSHIP_FILTERS,
        **PLACE_FILTERS,
        "display_name": ("exact", "icontains", "startswith"),
        "title": ("exact", "icontains"),
        "department": ("exact", "icontains"),
        "wechat_id": ("exact",),
        # The customer's people as a salesperson maps them (决策链): who decides, who stands where,
        # who reports to whom (reports_to=12: 12's direct reports).
        "decision_role": ("exact", "in"),
        "stance": ("exact", "in"),
        "reports_to": ("exact", "isnull"),
        # Where the person came from (来源), as an account's source: no index, like an account's.
        "source": ("exact", "in"),
        "external_id": ("exact", "in"),
        "email_consent": ("exact",),
        "sms_consent": ("exact",),
        "phone_consent": ("exact",),
        "birthday": ("gte", "lte", "isnull"),
        # Custom: whose birthday is within that many days from today, whatever the year (0: today).
        "birthday_within": ("exact",),
        # "Not followed up since …"; __isnull=true for never. Its index holds only the people
        # followed up, so that a million imported contacts cost it nothing; sorted by it, the others
        # ("never", first going up) come in id order from the primary key.
        "last_interaction_at": ("gte", "lte", "isnull"),
        # Custom: contacts linked to an account; by an email; by a phone number or its last digits.
        "account": ("exact", "in", "isnull"),
        "email": ("exact",),
        "phone": ("exact", "endswith"),
        "tag": ("exact", "in", "not"),  # tag__not=意向::*: without any 意向 yet (core.tags)
        "followed": ("exact",),  # followed=me: the records the user follows (关注)
        # Custom: contacts at any account of a group (the account and every account below it).
        "group": ("exact",),
        # Custom: the people related to one (人脉关系: colleagues, classmates, whom they referred...).
        "related_to": ("exact",),
        # Custom: the people a user said they know (我方熟人): known_by=me, or a user's id.
        "known_by": ("exact",),
    }
    indexed_ranges = ("last_interaction_at",)
    sparse_columns = {"decision_role": ~Q(decision_role=""), "stance": ~Q(stance="")}
    # birthday_md: by the day of the year the birthday falls on, from today's round the year (the
    # "birthdays coming up" list: 12-28, 12-31, 01-02 in the last week of December).
    ordering_fields = ("id", "display_name", "created_at", "updated_at", "last_interaction_at", "birthday_md")
    default_ordering = "-updated_at"
    pickers = {
        "account": ("accounts", gettext_lazy("Account")),
        "group": ("accounts", gettext_lazy("Account group")),
        "related_to": ("contacts", gettext_lazy("Related to")),
        "known_by": ("users", gettext_lazy("Known by")),
    }
    choice_filters = {
        "birthday_within": (gettext_lazy("Birthday coming up"), birthdays.filter_options),
    }

    def custom_filter(self, qs: models.QuerySet, name: str, lookup: str, raw: str) -> models.QuerySet:
        # Through the link and contact-point tables (``through``: their few ids first, or row by row
        # when they are many). A contact at two of the accounts asked for is listed once.
        if name == "account":
            if lookup == "isnull":
                linked = Exists(AccountContact.objects.filter(contact=OuterRef("pk")))
                return qs.filter(~linked) if raw.lower() in {"true", "1"} else qs.filter(linked)
            ids = account_ids(f"account__{lookup}" if lookup != "exact" else "account", raw)
            return links_to(qs, ids)
        if name == "related_to":
            return qs.filter(pk__in=related_ids(self.user, Contact, _one_id("related_to", raw, Contact)))
        if name == "known_by":
            if raw == "me":
                user_id = int(getattr(self.user, "pk", 0) or 0)  # anonymous: nobody
            else:
                try:
                    user_id = int(raw)
                except ValueError:
                    raise FieldErrors({"known_by": [_("Use me or a user's id, e.g. 12.")]}) from None
            # By the acquaintance table's user index: a user knows a few people, or some thousands.
            return through(qs, Acquaintance.objects.filter(user_id=user_id), "contact_id")
        if name == "group":
            # The group's accounts the user may see, as the group's roll-up counts them.
            return links_to(qs, group_members(self.user, _one_id("group", raw)))
        if name == "birthday_within":
            return qs.filter(birthdays.within(timezone.localdate(), _days("birthday_within", raw)))
        if name == "email":
            try:
                value = normalize_email(raw)
            except ValueError as exc:
                raise FieldErrors({"email": [str(exc)]}) from None
            return through(qs, ContactPoint.objects.filter(kind="email", value=value), "contact_id", few=True)
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
            return through(qs, ContactPoint.objects.filter(match, kind="phone"), "contact_id", few=True)
        try:
            value = normalize_phone(raw).e164
        except ValueError as exc:
            raise FieldErrors({"phone": [str(exc)]}) from None
        return through(qs, ContactPoint.objects.filter(kind="phone", value=value), "contact_id", few=True)


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


class PoolReasonFilterSet(FilterSet):
    model = PoolReason
    search_fields = ("label_zh", "label_en")
    filters = {"is_active": ("exact",)}
    ordering_fields = ("id", "position", "label_zh", "label_en", "created_at", "updated_at")
    default_ordering = "position"


class PoolRuleFilterSet(FilterSet):
    model = PoolRule
    search_fields = ("name", "description")
    filters = {"is_active": ("exact",), "idle_days": ("gte", "lte")}
    ordering_fields = ("id", "position", "name", "idle_days", "created_at", "updated_at")
    default_ordering = "position"


class AssignmentRuleFilterSet(FilterSet):
    model = AssignmentRule
    search_fields = ("name", "description")
    filters = {"is_active": ("exact",), "assignee": ("exact", "in"), "team": ("exact", "in")}
    ordering_fields = ("id", "position", "name", "created_at", "updated_at")
    default_ordering = "position"
