"""Choices of the customer records. Each has a translated label and, where shown as a badge, a colour.

Colours are Tabler colour names (``blue``, ``green``, ``orange``...); ``secondary`` is the fallback.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ColouredChoices(models.TextChoices):
    """Text choices with a badge colour per value (declare ``__colours__ = {value: colour}``)."""

    __colours__: dict[str, str] = {}  # a dunder name, so not an enum member

    @classmethod
    def colour(cls, value: Any) -> str:
        return cls.__colours__.get(str(value), "secondary")


class LifecycleStage(ColouredChoices):
    PROSPECT = "prospect", _("Prospect")
    CUSTOMER = "customer", _("Customer")
    PARTNER = "partner", _("Partner")
    CHURNED = "churned", _("Churned")

    __colours__ = {"prospect": "azure", "customer": "green", "partner": "purple", "churned": "secondary"}


class SizeBand(ColouredChoices):
    """Company size by head count; the bounds are in ``SIZE_BOUNDS``."""

    MICRO = "micro", _("1–9 employees")
    SMALL = "small", _("10–49 employees")
    MEDIUM = "medium", _("50–199 employees")
    LARGE = "large", _("200–999 employees")
    XLARGE = "xlarge", _("1,000–4,999 employees")
    ENTERPRISE = "enterprise", _("5,000+ employees")

    __colours__ = {
        "micro": "secondary",
        "small": "cyan",
        "medium": "blue",
        "large": "indigo",
        "xlarge": "purple",
        "enterprise": "pink",
    }


# (band, lowest head count); a count falls in the last band whose lower bound it reaches.
SIZE_BOUNDS: tuple[tuple[str, int], ...] = (
    (SizeBand.MICRO, 1),
    (SizeBand.SMALL, 10),
    (SizeBand.MEDIUM, 50),
    (SizeBand.LARGE, 200),
    (SizeBand.XLARGE, 1000),
    (SizeBand.ENTERPRISE, 5000),
)


def size_band_for(employees: int | None) -> str:
    """The size band of a head count ("" when unknown)."""
    if not employees or employees < 1:
        return ""
    band = ""
    for value, lowest in SIZE_BOUNDS:
        if employees >= lowest:
            band = value
    return band


class Tier(ColouredChoices):
    A = "A", _("Tier A")
    B = "B", _("Tier B")
    C = "C", _("Tier C")
    D = "D", _("Tier D")

    __colours__ = {"A": "red", "B": "orange", "C": "yellow", "D": "secondary"}


class Industry(ColouredChoices):
    """A short, common list (close to the GB/T 4754 sections, split where CRM users expect it)."""

    AGRICULTURE = "agriculture", _("Agriculture, forestry and fishing")
    MINING = "mining", _("Mining")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    AUTOMOTIVE = "automotive", _("Automotive")
    ELECTRONICS = "electronics", _("Electronics and semiconductors")
    CHEMICALS = "chemicals", _("Chemicals and materials")
    PHARMA = "pharma", _("Pharmaceuticals and biotech")
    ENERGY = "energy", _("Energy and utilities")
    CONSTRUCTION = "construction", _("Construction")
    REAL_ESTATE = "real_estate", _("Real estate")
    RETAIL = "retail", _("Retail")
    WHOLESALE = "wholesale", _("Wholesale and trade")
    ECOMMERCE = "ecommerce", _("E-commerce")
    LOGISTICS = "logistics", _("Transport and logistics")
    HOSPITALITY = "hospitality", _("Hotels and catering")
    INTERNET = "internet", _("Internet")
    SOFTWARE = "software", _("Software and IT services")
    TELECOM = "telecom", _("Telecommunications")
    FINANCE = "finance", _("Banking and finance")
    INSURANCE = "insurance", _("Insurance")
    PROFESSIONAL_SERVICES = "professional_services", _("Business and professional services")
    EDUCATION = "education", _("Education")
    HEALTHCARE = "healthcare", _("Healthcare")
    MEDIA = "media", _("Media, culture and entertainment")
    GOVERNMENT = "government", _("Government and public sector")
    NONPROFIT = "nonprofit", _("Non-profit")
    OTHER = "other", _("Other")


class AccountSource(ColouredChoices):
    """Where an account or a contact came from (来源): ``Account.source`` and ``Contact.source`` share
    these channels, so a company and its people are counted, filtered and imported in the same words.
    Leads carry their own, richer source later."""

    WEBSITE = "website", _("Website")
    REFERRAL = "referral", _("Referral")
    TRADE_SHOW = "trade_show", _("Trade show")
    ADVERTISING = "advertising", _("Advertising")
    COLD_CALL = "cold_call", _("Cold call")
    SOCIAL = "social", _("Social media")
    PARTNER = "partner", pgettext_lazy("where a customer came from", "Partner")  # 合作伙伴, not the stage 代理商
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class DecisionRole(ColouredChoices):
    """A person's part in the customer's buying decision (决策链角色), as a salesperson maps it.

    Declared in the order the account's people are listed in: who decides first.
    """

    DECISION_MAKER = "decision_maker", pgettext_lazy("decision role", "Decision maker")
    BUYER = "buyer", pgettext_lazy("decision role", "Buyer")
    EVALUATOR = "evaluator", pgettext_lazy("decision role", "Technical evaluator")
    INFLUENCER = "influencer", pgettext_lazy("decision role", "Influencer")
    USER = "user", pgettext_lazy("decision role", "User")

    __colours__ = {"decision_maker": "red", "buyer": "orange", "evaluator": "blue", "influencer": "purple"}


class Stance(ColouredChoices):
    """Where a person stands on doing business with us (态度): 支持 / 中立 / 反对."""

    SUPPORTER = "supporter", pgettext_lazy("stance", "Supporter")
    NEUTRAL = "neutral", pgettext_lazy("stance", "Neutral")
    OPPONENT = "opponent", pgettext_lazy("stance", "Opponent")

    __colours__ = {"supporter": "green", "neutral": "secondary", "opponent": "red"}


class RelationKind(ColouredChoices):
    """How two people know each other (人脉关系), across companies. ``REFERRAL`` has a direction: the
    relation's first person referred the second (推荐); the others read the same from both sides."""

    COLLEAGUE = "colleague", _("Colleagues")
    FORMER_COLLEAGUE = "former_colleague", _("Former colleagues")
    CLASSMATE = "classmate", _("Classmates or alumni")
    FRIEND = "friend", _("Friends")
    FAMILY = "family", _("Family")
    REFERRAL = "referral", _("Referral")
    OTHER = "other", pgettext_lazy("a relation between people", "Other")

    __colours__ = {
        "colleague": "blue",
        "former_colleague": "azure",
        "classmate": "purple",
        "friend": "green",
        "family": "pink",
        "referral": "orange",
    }


#: The directed kinds, as each side reads them: (the first person's view, the second's).
DIRECTED_RELATIONS: dict[str, tuple[Any, Any]] = {RelationKind.REFERRAL: (_("Referred"), _("Referred by"))}


class AccountRelationKind(ColouredChoices):
    """How two companies stand to each other beyond a group's parent and subsidiaries (企业关系):
    along the supply chain, as partners or rivals. ``SUPPLIER``, ``DISTRIBUTOR`` and ``INVESTOR``
    have a direction: the relation's first company supplies, distributes for or invests in the
    second; the others read the same from both sides."""

    SUPPLIER = "supplier", _("Supplier and customer")
    DISTRIBUTOR = "distributor", _("Distributor")
    INVESTOR = "investor", _("Investor")
    PARTNER = "partner", _("Partners")
    COMPETITOR = "competitor", _("Competitors")
    OTHER = "other", pgettext_lazy("a relation between companies", "Other")

    __colours__ = {
        "supplier": "teal",
        "distributor": "cyan",
        "investor": "yellow",
        "partner": "purple",
        "competitor": "red",
    }


#: The directed kinds between companies, as each side reads them (the first company's view, the second's).
DIRECTED_ACCOUNT_RELATIONS: dict[str, tuple[Any, Any]] = {
    AccountRelationKind.SUPPLIER: (_("Supplies"), _("Buys from")),
    AccountRelationKind.DISTRIBUTOR: (_("Distributes for"), _("Distributed by")),
    AccountRelationKind.INVESTOR: (_("Invests in"), _("Invested in by")),
}


class Closeness(ColouredChoices):
    """How well one of our people knows a customer's person (我方熟人: "who here knows their 王总?")."""

    CLOSE = "close", _("Knows them well")
    KNOWN = "known", _("Knows them")
    MET = "met", _("Has met them")

    __colours__ = {"close": "green", "known": "blue", "met": "azure"}


class ContactPointKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")


class ContactPointLabel(models.TextChoices):
    WORK = "work", _("Work")
    MOBILE = "mobile", _("Mobile")
    HOME = "home", pgettext_lazy("phone or address label", "Home")
    PERSONAL = "personal", _("Personal")
    FAX = "fax", _("Fax")
    OTHER = "other", _("Other")


class TeamMethod(models.TextChoices):
    """How a team rule shares new accounts among the team's active members."""

    ROUND_ROBIN = "round_robin", _("In turn")
    LEAST_LOADED = "least_loaded", _("Fewest accounts first")


class TimelineKind(models.TextChoices):
    """``TimelineEntry.kind`` values written by the customer services, with the label of their badge."""

    CREATED = "created", _("Created")
    LIFECYCLE_STAGE = "lifecycle_stage", _("Lifecycle stage")
    OWNER = "owner", _("Owner")
    POOL = "pool", _("Customer pool")
    TIER = "tier", _("Tier")
    PARENT = "parent", _("Parent account")
    CONTACT_LINKED = "contact_linked", _("Contact linked")
    CONTACT_UNLINKED = "contact_unlinked", _("Contact unlinked")
    ACCOUNT_LINKED = "account_linked", _("Account linked")
    ACCOUNT_UNLINKED = "account_unlinked", _("Account unlinked")
    MERGED = "merged", _("Merged")
    MERGE_UNDONE = "merge_undone", _("Merge undone")
    RELATION_ADDED = "relation_added", _("Relation added")
    RELATION_REMOVED = "relation_removed", _("Relation removed")
    ACQUAINTANCE_SET = "acquaintance_set", _("Acquaintance recorded")
    ACQUAINTANCE_REMOVED = "acquaintance_removed", _("Acquaintance removed")
