"""Customer records: accounts (companies), contacts (people), how they link, and how accounts are classified.

Writes go through ``guanxi.customers.services``; these classes hold structure, not business rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from guanxi.core.db import MonthDay
from guanxi.core.models import (
    CreatedByMixin,
    GuanxiModel,
    PermissionScopeMixin,
    RestrictedManager,
    TimestampMixin,
    VersionMixin,
)
from guanxi.customers.birthdays import month_day
from guanxi.customers.choices import (
    AccountRelationKind,
    AccountSource,
    Closeness,
    ContactPointKind,
    ContactPointLabel,
    DecisionRole,
    Industry,
    LifecycleStage,
    RelationKind,
    SizeBand,
    Stance,
    TeamMethod,
    Tier,
)
from guanxi.customers.normalize import country_name

LIVE = Q(deleted_at__isnull=True)


class BigTableMixin(models.Model):
    """The base mixins' time and recycle-bin fields without their single-column indexes, for tables
    of a million rows. Lists read the partial ``(field, ..., id)`` indexes of live rows and the recycle
    bin a partial index of binned rows (``binned_indexes``); every index costs each inserted row
    (an import writes a million), and these four were never read. Listed first among the bases so
    these definitions win."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("deleted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,
    )

    class Meta:
        abstract = True


def binned_indexes(prefix: str) -> list[models.Index]:
    """The recycle bin's order, and user deletion's SET NULL, over binned rows only (a few)."""
    return [
        models.Index(fields=("deleted_at", "id"), condition=Q(deleted_at__isnull=False), name=f"{prefix}_binned_idx"),
        models.Index(fields=("deleted_by",), condition=Q(deleted_by__isnull=False), name=f"{prefix}_deleted_by_idx"),
    ]


class AddressMixin(models.Model):
    """A postal address; in China the province is checked and the city and district are free text."""

    country = models.CharField(_("country"), max_length=2, default="CN", blank=True, help_text=_("e.g. CN, US"))
    province = models.CharField(_("province / state"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    district = models.CharField(_("district"), max_length=50, blank=True)
    street = models.CharField(_("street address"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)

    #: Stored values shown in words (``display.value_words``): 中国 rather than CN on pages, in lists
    #: and in the change history; exports keep the code, which imports read back.
    value_displays: ClassVar[dict[str, Callable[[str], str]]] = {"country": country_name}

    class Meta:
        abstract = True


class Account(BigTableMixin, AddressMixin, GuanxiModel):
    """A customer organisation (客户/企业), or a person buying as one; may belong to a parent group."""

    followable = True
    revealable = True
    #: What its followers are told of when someone changes it (``guanxi.activities.notifications``);
    #: the figures worked out from other data (fit score, engagement) stay out.
    notify_fields: ClassVar[frozenset[str]] = frozenset(
        {
            *("name", "legal_name", "industry", "size", "employee_count", "annual_revenue", "website", "region"),
            "registration_number",
            *("country", "province", "city", "district", "street", "parent", "lifecycle_stage", "source"),
            *("tier", "owner", "team", "description", "tags"),
        }
    )
    #: Amounts of money (``guanxi.core.money``): typed as 500万, shown as 2.4亿 in the Chinese UI.
    money_fields: ClassVar[frozenset[str]] = frozenset({"annual_revenue"})

    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True, help_text=_("As registered"))
    #: 统一社会信用代码 (18 characters, checked) of a Chinese company; the company or tax number as
    #: written elsewhere. Two accounts with the same one are the same company (``duplicates``).
    registration_number = models.CharField(
        _("registration number"),
        max_length=40,
        blank=True,
        help_text=_("统一社会信用代码 for a company registered in China; the company or tax number elsewhere"),
    )
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    size = models.CharField(_("company size"), max_length=20, choices=SizeBand.choices, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    # Not null so lists can sort by it (keyset pagination compares values); 0 means "not known".
    annual_revenue = models.DecimalField(
        _("annual revenue"), max_digits=18, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    website = models.CharField(_("website"), max_length=200, blank=True)
    region = models.CharField(_("region / territory"), max_length=100, blank=True, help_text=_("e.g. 华东"))
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        db_index=False,  # account_parent_idx starts with it
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    source = models.CharField(_("source"), max_length=20, choices=AccountSource.choices, blank=True)
    tier = models.CharField(_("tier"), max_length=1, choices=Tier.choices, blank=True)
    tier_locked = models.BooleanField(
        _("tier set by hand"), default=False, help_text=_("Tier rules leave a hand-set tier alone.")
    )
    tier_reason = models.CharField(_("why this tier"), max_length=300, blank=True)
    fit_score = models.PositiveSmallIntegerField(
        _("fit score"), null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    fit_profile = models.ForeignKey(
        "customers.CustomerProfile",
        verbose_name=_("best-fitting profile"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    fit_explanation = models.JSONField(_("fit explanation"), default=list, blank=True)
    # Engagement (guanxi.customers.engagement): derived like the fit score, kept up to date when a
    # follow-up is recorded and every night (``guanxi classify``); written without a new version.
    engagement = models.PositiveIntegerField(
        _("interactions (90 days)"),
        default=0,
        editable=False,
        help_text=_("Follow-ups with the company and its contacts in the last 90 days."),
    )
    last_interaction_at = models.DateTimeField(_("last interaction"), null=True, blank=True, editable=False)
    # The customer pool (公海, guanxi.customers.services.pool): an account released by its owner, or
    # taken back by a pool rule after days without a follow-up, waits here without an owner until a
    # salesperson claims it. Everyone who may see accounts sees the pool.
    pooled_at = models.DateTimeField(_("in the pool since"), null=True, blank=True, editable=False)
    pool_reason = models.CharField(_("why it is in the pool"), max_length=300, blank=True, editable=False)
    # When the current owner got the account (claimed, assigned, handed over): a pool rule counts the
    # days without a follow-up from here, so an account just handed over is not taken back at once.
    owner_since = models.DateTimeField(_("owner since"), null=True, blank=True, editable=False)
    # When the pool rules will take the account back unless someone follows it up: written each
    # night for the accounts within their rule's warning days (提前提醒), so the owner sees it coming;
    # a follow-up or a new owner clears it (services.pool). Derived: not in the change log.
    pool_due_at = models.DateTimeField(_("back to the pool on"), null=True, blank=True, editable=False)
    description = models.TextField(_("description"), blank=True)
    # The record's id in another system (ERP, old CRM, a spreadsheet); imports upsert by it.
    external_id = models.CharField(_("external ID"), max_length=100, blank=True, default="")
    # Blocking key of duplicate detection (guanxi.customers.duplicates): the pinyin of the name
    # without company suffixes; records that may be the same company share it.
    dup_key = models.CharField(max_length=100, blank=True, default="", db_default="", editable=False)
    # The web address's host without www. (``normalize.website_domain``), kept with ``dup_key`` by
    # duplicate detection: companies with the same one are likely one.
    domain = models.CharField(max_length=200, blank=True, default="", db_default="", editable=False)

    # The customer pool is open to everyone who may see some accounts (``restrict``, view only):
    # that is how a salesperson finds a company to claim. Changing one takes claiming it first.
    # "Live" again, as the pool's index is: SQLite reads "mine or in the pool" by the two indexes only
    # when each half of the OR names its partial index's condition.
    open_rows = Q(pooled_at__isnull=False, deleted_at__isnull=True)
    # Derived and kept by the pool (``core.audit.snapshot`` leaves it out of the change log).
    unlogged_fields = ("pool_due_at",)

    class Meta(GuanxiModel.Meta):
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ("name", "id")
        indexes = [
            # List pages: live rows, filtered by one of these, sorted by update time or name.
            # Each ends with the id: keyset pages compare (field, id) as a row value (guanxi.core.pagination).
            models.Index(fields=("name", "id"), condition=LIVE, name="account_live_name_idx"),
            models.Index(fields=("updated_at", "id"), condition=LIVE, name="account_live_upd_idx"),
            models.Index(fields=("created_at", "id"), condition=LIVE, name="account_live_created_idx"),
            models.Index(fields=("owner", "updated_at", "id"), condition=LIVE, name="account_owner_upd_idx"),
            models.Index(fields=("team", "updated_at", "id"), condition=LIVE, name="account_team_upd_idx"),
            models.Index(fields=("lifecycle_stage", "updated_at", "id"), condition=LIVE, name="account_stage_upd_idx"),
            models.Index(fields=("tier", "updated_at", "id"), condition=LIVE, name="account_tier_upd_idx"),
            models.Index(fields=("industry", "updated_at", "id"), condition=LIVE, name="account_industry_upd_idx"),
            models.Index(fields=("province", "updated_at", "id"), condition=LIVE, name="account_province_upd_idx"),
            models.Index(fields=("annual_revenue", "id"), condition=LIVE, name="account_revenue_idx"),
            # One company's number: a filter, an import's match and the duplicate check read it. Not
            # partial (WHERE <> ''): SQLite uses a partial index only when the query repeats its
            # condition, and a filter's ``registration_number = ?`` does not.
            models.Index(fields=("registration_number",), name="account_reg_number_idx"),
            models.Index(fields=("engagement", "id"), condition=LIVE, name="account_engagement_idx"),
            # "Best fit first" (seed 004 step 1: work the companies closest to the ideal customer).
            models.Index(fields=("fit_score", "id"), condition=LIVE, name="account_fit_idx"),
            models.Index(fields=("last_interaction_at", "id"), condition=LIVE, name="account_last_touch_idx"),
            # The pool, newest first; only pooled accounts are in it.
            models.Index(
                fields=("pooled_at", "id"), condition=LIVE & Q(pooled_at__isnull=False), name="account_pool_idx"
            ),
            # Accounts going back soon, first due first; only those within a rule's warning days.
            models.Index(
                fields=("pool_due_at", "id"),
                condition=LIVE & Q(pool_due_at__isnull=False),
                name="account_pool_due_idx",
            ),
            models.Index(fields=("country", "province", "city"), condition=LIVE, name="account_place_idx"),
            models.Index(fields=("region",), condition=LIVE, name="account_region_idx"),
            models.Index(fields=("dup_key",), name="account_dup_key_idx"),
            # Plain, as dup_key's (see ``duplicates._live``); most are empty, which no match reads.
            models.Index(fields=("domain",), name="account_domain_idx"),
            # An account's subsidiaries by name (its page), and the walk down a group (hierarchy.py),
            # in the recycle bin too. Only accounts with a parent: with every account in it, each
            # new one went in at a random place by name (account import 4.3k -> 3.3k rows/s).
            models.Index(fields=("parent", "name", "id"), condition=Q(parent__isnull=False), name="account_parent_idx"),
            *binned_indexes("account"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("external_id",), condition=LIVE & ~Q(external_id=""), name="account_external_id_unique"
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="account_not_own_parent"),
            models.CheckConstraint(condition=Q(annual_revenue__gte=0), name="account_revenue_not_negative"),
            models.CheckConstraint(
                condition=Q(fit_score__isnull=True) | Q(fit_score__lte=100), name="account_fit_score_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(BigTableMixin, AddressMixin, GuanxiModel):
    """A person (联系人), usually at one or more accounts.

    ``emails`` and ``phones`` hold the normalised contact points as JSON lists (what reads, the
    change log and field rules see); ``ContactPoint`` rows mirror them for indexed lookups.
    """

    followable = True
    revealable = True
    #: What its followers are told of (``guanxi.activities.notifications``).
    notify_fields: ClassVar[frozenset[str]] = frozenset(
        {
            *("family_name", "given_name", "title", "department", "emails", "phones", "wechat_id"),
            *("reports_to", "decision_role", "stance", "source"),
            *("birthday", "email_consent", "sms_consent", "phone_consent", "owner", "team", "description", "tags"),
            *("country", "province", "city", "district", "street"),
        }
    )
    #: Worked out from the birthday on save: its changes are the birthday's (``core.audit.snapshot``).
    unlogged_fields = ("birthday_lunar_md",)
    # A list sorted by birthday starts at today's date and goes round the year (the next one first).
    cyclic_orderings: ClassVar[dict[str, Callable[[], int]]] = {"birthday_md": lambda: month_day(timezone.localdate())}
    #: A role's rule on the birthday covers the lunar choice too (``core.permissions``).
    field_rules_cover: ClassVar[dict[str, tuple[str, ...]]] = {"birthday": ("birthday_lunar",)}

    family_name = models.CharField(_("family name"), max_length=100, blank=True)
    given_name = models.CharField(_("given name"), max_length=100, blank=True)
    # Denormalised for sorting and search; the services recompute it from the two parts.
    display_name = models.CharField(_("name"), max_length=200, editable=False)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    department = models.CharField(_("department"), max_length=100, blank=True)
    emails = models.JSONField(_("emails"), default=list, blank=True)
    phones = models.JSONField(_("phones"), default=list, blank=True)
    wechat_id = models.CharField(_("WeChat ID"), max_length=64, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    # The birthday's month and day (1225), kept by the database: "birthdays in the next 7 days" is
    # then a range of one index, whatever the year of birth (guanxi.customers.birthdays).
    # Sorted from today's on, round the year: the next birthday first (``pagination._cyclic_segments``).
    birthday_md = models.GeneratedField(
        expression=MonthDay("birthday"),
        output_field=models.SmallIntegerField(null=True),
        db_persist=True,
        verbose_name=_("birthday (month and day)"),
    )
    # Many people in China celebrate on their lunar (农历) birthday: the date of birth stays the solar
    # one (as on an ID card), the lunar month and day are worked out from it on save (a calendar
    # table, not SQL) for "birthdays coming up" (guanxi.customers.birthdays).
    birthday_lunar = models.BooleanField(
        _("lunar birthday"), default=False, help_text=_("They celebrate on the lunar calendar's day (农历生日).")
    )
    birthday_lunar_md = models.SmallIntegerField(_("lunar birthday (month and day)"), null=True, editable=False)
    accounts = models.ManyToManyField(
        Account, through="AccountContact", related_name="contacts", verbose_name=_("accounts"), blank=True
    )
    # The customer's side of the relationship (决策链): whom the person reports to, their part in the
    # buying decision and where they stand. The account's page draws its people as a tree from these
    # (guanxi.customers.org_chart). No plain index on the manager: an import's people have none, and
    # a B-tree keeps an entry for every NULL (the partial index below holds only those with one).
    reports_to = models.ForeignKey(
        "self",
        verbose_name=pgettext_lazy("a person's manager", "reports to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        db_index=False,
    )
    decision_role = models.CharField(
        _("decision role"), max_length=20, choices=DecisionRole.choices, blank=True, default=""
    )
    stance = models.CharField(
        pgettext_lazy("attitude towards us", "stance"), max_length=20, choices=Stance.choices, blank=True, default=""
    )
    # Where the person came from (来源: a trade show, a referral...), in the accounts' words: a
    # company's people may have come another way than the company itself.
    source = models.CharField(_("source"), max_length=20, choices=AccountSource.choices, blank=True)
    email_consent = models.BooleanField(_("agrees to email"), default=False)
    email_consent_source = models.CharField(_("email consent source"), max_length=100, blank=True)
    email_consent_at = models.DateTimeField(_("email consent changed at"), null=True, blank=True)
    sms_consent = models.BooleanField(_("agrees to SMS"), default=False)
    sms_consent_source = models.CharField(_("SMS consent source"), max_length=100, blank=True)
    sms_consent_at = models.DateTimeField(_("SMS consent changed at"), null=True, blank=True)
    phone_consent = models.BooleanField(_("agrees to calls"), default=False)
    phone_consent_source = models.CharField(_("call consent source"), max_length=100, blank=True)
    phone_consent_at = models.DateTimeField(_("call consent changed at"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    # The latest follow-up with the person (guanxi.customers.engagement), derived like the account's:
    # kept when a note is added, deleted or restored, written without a new version.
    last_interaction_at = models.DateTimeField(_("last interaction"), null=True, blank=True, editable=False)
    # The person's id in another system; imports upsert by it.
    external_id = models.CharField(_("external ID"), max_length=100, blank=True, default="")
    # Blocking key of duplicate detection: the letters of the name's pinyin, sorted (张三 = 張三 = San Zhang).
    dup_key = models.CharField(max_length=100, blank=True, default="", db_default="", editable=False)

    CONSENT_CHANNELS: ClassVar[tuple[str, ...]] = ("email", "sms", "phone")

    class Meta(GuanxiModel.Meta):
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ("display_name", "id")
        indexes = [
            # List pages: live rows, by each allowed ordering and by the common filters, newest first;
            # each ends with the id, the keyset tie-break (guanxi.core.pagination).
            models.Index(fields=("display_name", "id"), condition=LIVE, name="contact_live_name_idx"),
            models.Index(fields=("updated_at", "id"), condition=LIVE, name="contact_live_upd_idx"),
            models.Index(fields=("created_at", "id"), condition=LIVE, name="contact_live_created_idx"),
            models.Index(fields=("owner", "updated_at", "id"), condition=LIVE, name="contact_owner_upd_idx"),
            models.Index(fields=("team", "updated_at", "id"), condition=LIVE, name="contact_team_upd_idx"),
            models.Index(fields=("province", "updated_at", "id"), condition=LIVE, name="contact_province_upd_idx"),
            models.Index(fields=("country", "province", "city"), condition=LIVE, name="contact_place_idx"),
            models.Index(fields=("dup_key",), name="contact_dup_key_idx"),
            # Only people someone has followed up: an imported contact (none yet) costs no index entry.
            models.Index(
                fields=("last_interaction_at", "id"),
                condition=LIVE & Q(last_interaction_at__isnull=False),
                name="contact_last_touch_idx",
            ),
            # Only people with a birthday: most imported contacts have none and cost no entry.
            models.Index(
                fields=("birthday_md", "id"),
                condition=LIVE & Q(birthday_md__isnull=False),
                name="contact_birthday_idx",
            ),
            # The account's people (org_chart) and a manager's reports; only people with a manager.
            models.Index(fields=("reports_to",), condition=Q(reports_to__isnull=False), name="contact_reports_to_idx"),
            # Most people have no decision role or stance (none imported has): only those set.
            models.Index(
                fields=("decision_role", "updated_at", "id"),
                condition=LIVE & ~Q(decision_role=""),
                name="contact_decision_role_idx",
            ),
            models.Index(
                fields=("stance", "updated_at", "id"), condition=LIVE & ~Q(stance=""), name="contact_stance_idx"
            ),
            models.Index(
                fields=("birthday_lunar_md", "id"),
                condition=LIVE & Q(birthday_lunar_md__isnull=False),
                name="contact_lunar_birthday_idx",
            ),
            *binned_indexes("contact"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("external_id",), condition=LIVE & ~Q(external_id=""), name="contact_external_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every write through the model keeps the lunar month and day with the birthday; the
        # import's bulk writes call birthdays.refresh_lunar for the rows they write.
        from guanxi.customers.birthdays import lunar_month_day

        self.birthday_lunar_md = lunar_month_day(self.birthday) if self.birthday_lunar and self.birthday else None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"birthday", "birthday_lunar"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "birthday_lunar_md"}
        super().save(*args, **kwargs)

    def get_birthday_display(self) -> str:
        """The birthday on the contact's page and in lists: 1990-10-03, and for one kept on the
        lunar calendar its day there too (1990-10-03 · 农历八月十五)."""
        from guanxi.customers.birthdays import lunar_text

        if self.birthday is None:
            return ""
        if not self.birthday_lunar:
            return self.birthday.isoformat()
        return f"{self.birthday.isoformat()} · {lunar_text(self.birthday)}"


class ContactPoint(models.Model):
    """One email or phone of a contact, normalised, indexed for exact and "ends with" lookups.

    Rewritten by the contact services whenever the contact's ``emails``/``phones`` change.
    """

    # No index of its own: the unique (contact, kind, value) starts with it.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="points", db_index=False)
    kind = models.CharField(_("kind"), max_length=10, choices=ContactPointKind.choices)
    value = models.CharField(_("value"), max_length=254, help_text=_("lower-case email or E.164 phone"))
    extension = models.CharField(_("extension"), max_length=8, blank=True)
    label = models.CharField(_("label"), max_length=10, choices=ContactPointLabel.choices, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    position = models.PositiveSmallIntegerField(default=0)
    # Phone digits last-first: "ends with 8000" is the prefix "0008", served by a plain b-tree.
    digits_reversed = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        ordering = ("contact", "kind", "position")
        indexes = [
            models.Index(fields=("kind", "value"), name="contactpoint_value_idx"),
            # The contact in the index: a list filtered by a phone's last digits reads the contacts'
            # ids from it alone on PostgreSQL (an index-only scan), not ~85 rows of this table.
            models.Index(
                fields=("digits_reversed", "contact"), condition=Q(kind="phone"), name="contactpoint_suffix_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=("contact", "kind", "value"), name="contactpoint_unique_value"),
            models.UniqueConstraint(
                fields=("contact", "kind"), condition=Q(is_primary=True), name="contactpoint_one_primary"
            ),
        ]

    def __str__(self) -> str:
        return self.value


class AccountContact(TimestampMixin, models.Model):
    """A contact at an account, in a role (采购经理, CTO...); at most one primary account per contact."""

    # Links are read by account or contact, never by time: no time indexes (see ``BigTableMixin``).
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # No index of its own: the unique (account, contact) starts with it.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contact_links", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="account_links")
    role = models.CharField(pgettext_lazy("job at an account", "role"), max_length=100, blank=True)
    is_primary = models.BooleanField(_("primary account"), default=False)

    class Meta:
        verbose_name = _("account contact")
        verbose_name_plural = _("account contacts")
        ordering = ("-is_primary", "id")
        constraints = [
            models.UniqueConstraint(fields=("account", "contact"), name="accountcontact_unique_pair"),
            models.UniqueConstraint(
                fields=("contact",), condition=Q(is_primary=True), name="accountcontact_one_primary"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}@{self.account_id}"

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account_id, "role": self.role, "is_primary": self.is_primary}


class Relation(models.Model):
    """Two records of one kind related (``ContactRelation``, ``AccountRelation``): one row a pair and
    kind; a kind without a direction is kept with the lower id first, so 甲–乙 and 乙–甲 are the same
    row. A reader sees a relation when they may see both records (``visible_ref`` on each side); it
    is written through ``services.relation_add`` / ``relation_remove``, with an entry on both
    timelines (``guanxi.customers.relations``)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    first_id: int
    second_id: int
    kind: str

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.first_id}–{self.second_id} ({self.kind})"


class ContactRelation(Relation):
    """Two people who know each other (人脉关系): colleagues, classmates, family, or one who referred
    the other (``RelationKind``)."""

    # No index of its own: the unique (first, second, kind) starts with it.
    first = models.ForeignKey(
        Contact, verbose_name=_("first person"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    second = models.ForeignKey(Contact, verbose_name=_("second person"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("relation"), max_length=20, choices=RelationKind.choices)

    class Meta:
        verbose_name = _("relation between people")
        verbose_name_plural = _("relations between people")
        constraints = [
            models.UniqueConstraint(fields=("first", "second", "kind"), name="contactrelation_unique"),
            models.CheckConstraint(condition=~Q(first=F("second")), name="contactrelation_two_people"),
        ]


class AccountRelation(Relation):
    """Two companies related beyond a group's hierarchy (企业关系): a supplier and its customer, a
    distributor and its brand, an investor, partners, competitors (``AccountRelationKind``)."""

    # No index of its own: the unique (first, second, kind) starts with it.
    first = models.ForeignKey(
        Account, verbose_name=_("first company"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    second = models.ForeignKey(Account, verbose_name=_("second company"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("relation"), max_length=20, choices=AccountRelationKind.choices)

    class Meta:
        verbose_name = _("relation between companies")
        verbose_name_plural = _("relations between companies")
        constraints = [
            models.UniqueConstraint(fields=("first", "second", "kind"), name="accountrelation_unique"),
            models.CheckConstraint(condition=~Q(first=F("second")), name="accountrelation_two_companies"),
        ]


class Acquaintance(models.Model):
    """One of our people who knows a customer's person (我方熟人), and how well: the way in that a
    salesperson asks colleagues for ("who here knows their 王总?"). One row a person and user, written
    by the user themselves (``services.acquaintance_set``); seen by whoever may see the person.
    """

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # No index of its own: the unique (contact, user) starts with it.
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="acquaintances", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="acquaintances",
        db_index=False,
    )
    closeness = models.CharField(_("how well"), max_length=10, choices=Closeness.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("acquaintance")
        verbose_name_plural = _("acquaintances")
        constraints = [models.UniqueConstraint(fields=("contact", "user"), name="acquaintance_unique")]
        # Whom a user knows (their own list; a merge of users): by the user.
        indexes = [models.Index(fields=("user", "contact"), name="acquaintance_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} knows {self.contact_id} ({self.closeness})"


# --- classification -------------------------------------------------------------------------------


class OrderedRule(PermissionScopeMixin, TimestampMixin, CreatedByMixin, VersionMixin):
    """A rule of an ordered list (tier rules, assignment rules): the first active rule (by position)
    whose conditions all hold applies.

    ``conditions`` (all optional): ``min_annual_revenue``, ``max_annual_revenue``, ``sizes``,
    ``lifecycle_stages``, ``industries``, ``regions``, ``tags`` (any one of them: needs, interests),
    ``min_engagement``, ``max_engagement``, and for assignment rules ``tiers``
    (``guanxi.customers.classification``). A rule without conditions matches every account.
    """

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0, help_text=_("Lower runs first."))
    is_active = models.BooleanField(_("active"), default=True)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)

    objects = RestrictedManager()

    class Meta:
        abstract = True
        ordering = ("position", "id")

    def __str__(self) -> str:
        return self.name

    def get_conditions_display(self) -> str:
        from guanxi.customers.classification import describe

        return describe(self.conditions)


class TierRule(OrderedRule):
    """One rule of the tier ladder: the account gets the ``tier`` of the first rule it meets."""

    tier = models.CharField(_("tier"), max_length=1, choices=Tier.choices)

    class Meta(OrderedRule.Meta):
        verbose_name = _("tier rule")
        verbose_name_plural = _("tier rules")


class CustomerProfile(PermissionScopeMixin, TimestampMixin, CreatedByMixin, VersionMixin):
    """An ideal customer profile (理想客户画像): the criteria a good-fit account meets, and their weights.

    ``criteria`` takes the keys of ``TierRule.conditions``; ``weights`` maps a criterion
    (``industries``, ``sizes``, ``regions``, ``tags``, ``annual_revenue``, ``lifecycle_stages``,
    ``engagement``) to points.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    criteria = models.JSONField(_("criteria"), default=dict, blank=True)
    weights = models.JSONField(_("weights"), default=dict, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("ideal customer profile")
        verbose_name_plural = _("ideal customer profiles")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_criteria_display(self) -> str:
        from guanxi.customers.classification import describe

        return describe(self.criteria)

    def get_weights_display(self) -> str:
        from guanxi.customers.classification import describe_weights

        return describe_weights(self.criteria, self.weights)


class AssignmentRule(OrderedRule):
    """An assignment rule (分配规则): who owns a new account nobody assigned (seed 004, step 3).

    The first rule the account meets gives it to ``assignee``, or to one of the active members of
    ``team``: in turn (round robin: ``last_assignee`` is where the turn stands), or, with
    ``team_method`` "least_loaded", to the member who owns the fewest accounts. An account created with an
    owner, or matching no rule, keeps its creator's choice.
    """

    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assign to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # the rule then falls back to its team, or is skipped
        related_name="+",
        help_text=_("One salesperson; or leave empty and choose a team."),
    )
    team = models.ForeignKey(
        "identity.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "Without a salesperson, the team's active members take new accounts: in turn, or fewest accounts first."
        ),
    )
    team_method = models.CharField(
        _("how the team shares"),
        max_length=20,
        choices=TeamMethod.choices,
        default=TeamMethod.ROUND_ROBIN,
        help_text=_(
            "In turn; or to the member who owns the fewest accounts now (equal counts: in turn order), "
            "which evens out a team where someone joined later."
        ),
    )
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta(OrderedRule.Meta):
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def get_target_display(self) -> str:
        """Who the rule gives accounts to, as ``Assigner`` decides it."""
        if self.assignee is not None and self.assignee.is_active:
            return str(self.assignee)
        if self.team is not None and self.team.deleted_at is None:
            if self.team_method == TeamMethod.LEAST_LOADED:
                return gettext("the member of %(team)s with the fewest accounts") % {"team": self.team}
            return gettext("the members of %(team)s in turn") % {"team": self.team}
        return gettext("nobody (the next rule applies)")


class PoolRule(OrderedRule):
    """A pool rule (公海回收规则): an owned account that meets the rule's conditions and has had no
    follow-up for ``idle_days`` goes back to the customer pool (``services.pool.pool_recycle``).

    The first active rule an account meets decides; an account no rule meets stays with its owner.
    Days count from the last follow-up, or from when the owner got the account if that is later.
    ``warn_days`` before, the owner is told (``Account.pool_due_at``)."""

    idle_days = models.PositiveSmallIntegerField(
        _("days without a follow-up"),
        help_text=_("An account that meets the conditions goes back to the pool after this many days without one."),
    )
    warn_days = models.PositiveSmallIntegerField(
        _("warn days before"),
        default=7,
        blank=True,  # left empty: a week, or from the first day for a rule of a week or less
        help_text=_(
            "The owner sees the account as going back soon this many days before, on the home page, "
            "the list and the account's page (0: no warning)."
        ),
    )

    class Meta(OrderedRule.Meta):
        verbose_name = _("pool rule")
        verbose_name_plural = _("pool rules")
        constraints = [models.CheckConstraint(condition=Q(idle_days__gte=1), name="poolrule_idle_days_positive")]


class PoolReason(PermissionScopeMixin, TimestampMixin, CreatedByMixin, VersionMixin):
    """A reason to choose when an account goes back to the customer pool (退回原因): 客户无意向,
    联系不上… The pool's statistics count releases by these; a release may add its own words.

    A shared list, like tags: any role that may read it reads all of it (roles that may change
    accounts read it from the migration on). A reason no longer offered is made inactive, not
    deleted, so that past releases keep their name."""

    label_zh = models.CharField(_("label (Chinese)"), max_length=60)
    label_en = models.CharField(_("label (English)"), max_length=60)
    position = models.PositiveSmallIntegerField(_("position"), default=0, help_text=_("Lower comes first."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Offered when an account is released."))

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("release reason")
        verbose_name_plural = _("release reasons")
        ordering = ("position", "id")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        return self.label_zh if (get_language() or "").startswith("zh") else self.label_en


class PoolMoveKind(models.TextChoices):
    RELEASED = "released", _("Released")  # 退回: by its owner, or by someone who may change it
    TAKEN_BACK = "taken_back", _("Taken back")  # 收回: by a pool rule, at night
    CLAIMED = "claimed", _("Claimed")  # 领取


class PoolMove(models.Model):
    """An account's move into or out of the customer pool, counted by the pool's statistics (公海统计).

    The account's timeline says the same in words to its readers; this row holds it as columns so
    that a month of moves is counted in one grouped read of an index, not by parsing each timeline
    entry's JSON (33,000 moves: 300 ms that way on SQLite). Who may count a move follows who may see
    its account (``visible_ref``); a merge moves the rows to the surviving account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="pool_moves")
    at = models.DateTimeField(_("time"))
    kind = models.CharField(_("kind"), max_length=12, choices=PoolMoveKind.choices)
    # The salesperson the move is about: who let the account go, whose it was, or who claimed it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    reason = models.ForeignKey(PoolReason, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False)
    rule = models.ForeignKey(PoolRule, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False)

    class Meta:
        verbose_name = _("pool move")
        verbose_name_plural = _("pool moves")
        # A period's moves counted from the index alone: the account only for the reader's check of
        # whether they may see it (33,000 moves: 110 -> 67 ms on SQLite).
        indexes = [models.Index(fields=("at", "kind", "user", "reason", "rule", "account"), name="poolmove_at_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.at:%Y-%m-%d}"


# --- duplicates and merges ------------------------------------------------------------------------


class DuplicateRecordType(models.TextChoices):
    CONTACT = "contact", _("Contacts")
    ACCOUNT = "account", _("Accounts")


class DuplicateStatus(models.TextChoices):
    OPEN = "open", _("To review")
    DISMISSED = "dismissed", _("Not a duplicate")
    MERGED = "merged", _("Merged")

    @classmethod
    def colour(cls, value: str) -> str:
        return {"open": "orange", "dismissed": "secondary", "merged": "purple"}.get(value, "secondary")


class DuplicateCandidate(models.Model):
    """Two records that may be the same customer, found by ``guanxi.customers.duplicates``.

    One row per pair (lower id first), whatever finds it again: "not a duplicate" stays dismissed.
    ``reasons`` holds why, as data (``{"kind": "email", "value": ...}``) so it reads in any language.
    Who may see a pair follows the two records: both must be visible.
    """

    record_type = models.CharField(_("type"), max_length=10, choices=DuplicateRecordType.choices)
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField()
    score = models.PositiveSmallIntegerField(_("score"), validators=[MaxValueValidator(100)])
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    created_at = models.DateTimeField(_("found at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey("identity.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merge = models.ForeignKey(
        "customers.Merge", null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=("record_type", "low_id", "high_id"), name="duplicate_unique_pair"),
            models.CheckConstraint(condition=Q(low_id__lt=F("high_id")), name="duplicate_low_first"),
        ]
        indexes = [
            models.Index(fields=("record_type", "status", "-id"), name="duplicate_queue_idx"),
            models.Index(fields=("record_type", "high_id"), name="duplicate_high_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.record_type} {self.low_id} ~ {self.high_id}"


class MergeStatus(models.TextChoices):
    DONE = "done", _("Merged")
    UNDONE = "undone", _("Undone")


class Merge(TimestampMixin):
    """One merge of 2-3 records into a survivor, with what undo needs to put everything back.

    ``survivor_before`` holds the survivor's values that the merge overwrote; ``journal`` what each
    mover of ``guanxi.core.merge`` moved (by mover key). Seen by whoever may see the survivor.
    """

    record_type = models.CharField(_("type"), max_length=10, choices=DuplicateRecordType.choices)
    survivor_id = models.BigIntegerField(_("kept record"))
    loser_ids = models.JSONField(_("merged records"), default=list)
    user = models.ForeignKey(
        "identity.User", verbose_name=_("merged by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    fields = models.JSONField(_("chosen values"), default=dict, blank=True)
    survivor_before = models.JSONField(default=dict, blank=True)
    survivor_version = models.PositiveIntegerField(default=0)
    # Each record's version before the merge: undoing a later merge hands an earlier one its undo back.
    versions_before = models.JSONField(default=dict, blank=True)
    journal = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=MergeStatus.choices, default=MergeStatus.DONE)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        "identity.User", verbose_name=_("undone by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ("-id",)
        indexes = [models.Index(fields=("record_type", "survivor_id"), name="merge_survivor_idx")]

    def __str__(self) -> str:
        return f"{self.record_type} {self.loser_ids} → {self.survivor_id}"


class MergedRecord(models.Model):
    """A record taking part in a merge (the survivor or a merged one): "merged into" links and undo checks."""

    merge = models.ForeignKey(Merge, on_delete=models.CASCADE, related_name="records")
    record_type = models.CharField(max_length=10, choices=DuplicateRecordType.choices)
    record_id = models.BigIntegerField()
    is_survivor = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("merged record")
        verbose_name_plural = _("merged records")
        indexes = [models.Index(fields=("record_type", "record_id"), name="mergedrecord_record_idx")]

    def __str__(self) -> str:
        return f"{self.record_type}#{self.record_id} in merge {self.merge_id}"
